/* Shard metadata records and manifest.json parsing (lib/dataset.h); the
 * dataset card's handling of a value it cannot read (dataset_card.h). */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "dataset_card.h"
#include "fsio.h"
#include "util.h"
#include "test.h"

static void test_meta_roundtrip(void)
{
    char ids[3][SHARD_CLIP_ID_SIZE] = {"aaaaaaaaaaaaaaaa-000000", "bbbbbbbbbbbbbbbb-000001", "cccccccccccccccc-000002"};
    uint64_t sizes[3] = {100, 200, 300};
    uint32_t crcs[3] = {1, 0xdeadbeef, 3};
    shard_meta m = {.clip_count = 3, .shard_index = 7, .frames = 160, .height = 90, .width = 160, .channels = 3,
                    .codec = CLIP_CODEC_H264, .split = SPLIT_VAL, .fps_num = 10, .fps_den = 1, .record_bytes = 600,
                    .ids = ids, .rec_bytes = sizes, .payload_crc = crcs};
    uint8_t *buf;
    size_t len;
    shard_meta_encode(&m, &buf, &len);
    CHECK(len == shard_meta_size(3) && len == 64 + 3 * 48);
    shard_meta got;
    cm_error e = {{0}};
    CHECK(shard_meta_parse(buf, len, &got, &e) == 0);
    CHECK(got.clip_count == 3 && got.shard_index == 7 && got.frames == 160 && got.height == 90 && got.width == 160);
    CHECK(got.codec == CLIP_CODEC_H264 && got.split == SPLIT_VAL && got.fps_num == 10 && got.record_bytes == 600);
    CHECK(strcmp(got.ids[1], ids[1]) == 0 && got.rec_bytes[2] == 300 && got.payload_crc[1] == 0xdeadbeef);
    shard_meta_free(&got);

    /* Every single-bit flip anywhere is detected; every truncation too. */
    int undetected = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (shard_meta_parse(buf, len, &got, &e) == 0) {
            undetected++;
            shard_meta_free(&got);
        }
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK_MSG(undetected == 0, "%d bit flips not detected", undetected);
    int truncations = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *t = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        memcpy(t, buf, n);
        if (shard_meta_parse(t, n, &got, &e) == 0) truncations++;
        free(t);
    }
    CHECK(truncations == 0);
    CHECK(shard_meta_parse(buf, len - 1, &got, &e) != 0 && strstr(e.msg, "truncated") == NULL);
    free(buf);

    uint8_t key[8];
    shard_key(258, key);
    CHECK(key[6] == 1 && key[7] == 2 && key[0] == 0);
    shard_key(SHARD_META_KEY, key);
    CHECK(key[0] == 0xff && key[7] == 0xff);
}

static const char good_manifest[] =
    "{\"format\": \"clipmill-dataset\", \"format_version\": 1, \"codec\": \"h264\", \"fps_num\": 10, \"fps_den\": 1,"
    " \"frames_per_clip\": 160, \"height\": 90, \"width\": 160, \"channels\": 3, \"splits\": {"
    " \"train\": {\"clips\": 5, \"hours\": 0.02, \"shards\": ["
    "   {\"file\": \"train/shard-00000.mdb\", \"clips\": 3, \"bytes\": 10, \"sha256\": \"" 
    "0000000000000000000000000000000000000000000000000000000000000000\"},"
    "   {\"file\": \"train/shard-00001.mdb\", \"clips\": 2, \"bytes\": 11, \"sha256\": \""
    "1111111111111111111111111111111111111111111111111111111111111111\"}]},"
    " \"val\": {\"clips\": 0, \"hours\": 0, \"shards\": []}, \"test\": {\"clips\": 0, \"hours\": 0, \"shards\": []}}}";

static void test_manifest(void)
{
    dataset_manifest m;
    cm_error e = {{0}};
    CHECK_MSG(dataset_manifest_parse(good_manifest, strlen(good_manifest), "m", &m, &e) == 0, "%s", e.msg);
    CHECK(m.split[SPLIT_TRAIN].clips == 5 && m.split[SPLIT_TRAIN].n_shards == 2 && m.split[SPLIT_VAL].n_shards == 0);
    CHECK(strcmp(m.split[0].shards[1].file, "train/shard-00001.mdb") == 0 && m.split[0].shards[1].bytes == 11);
    CHECK(strcmp(m.codec, "h264") == 0 && m.frames == 160 && m.height == 90);
    dataset_manifest_free(&m);

    struct { const char *from, *to, *why; } bad[] = {
        {"\"clips\": 5", "\"clips\": 6", "shards hold"},
        {"train/shard-00000.mdb", "../../etc/passwd", "bad file"},
        {"\"format_version\": 1", "\"format_version\": 3", "unsupported format_version 3"},
        {"\"format_version\": 1", "\"format_version\": 0", "unsupported format_version 0"},
        /* version 2 needs its metadata and card entries */
        {"\"format_version\": 1", "\"format_version\": 2", "needs \"metadata\""},
        {"\"h264\"", "\"mpeg\"", "codec"},
        {"\"channels\": 3", "\"channels\": 4", "frame size"},
        {"clipmill-dataset", "something-else", "format"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[sizeof good_manifest + 64];
        const char *at = strstr(good_manifest, bad[i].from);
        size_t pre = (size_t)(at - good_manifest);
        snprintf(text, sizeof text, "%.*s%s%s", (int)pre, good_manifest, bad[i].to, at + strlen(bad[i].from));
        CHECK_MSG(dataset_manifest_parse(text, strlen(text), "m", &m, &e) != 0 && strstr(e.msg, bad[i].why),
                  "case %zu: %s", i, e.msg);
    }
    CHECK(m.meta.file == NULL && m.card.file == NULL);   /* version 1: none */

    /* version 2: metadata and card, checked like shard entries */
    static const char v2_files[] =
        "\"format_version\": 2, \"metadata\": {\"file\": \"meta.sqlite\", \"bytes\": 4096, \"sha256\": \""
        "2222222222222222222222222222222222222222222222222222222222222222\"}, \"card\": {\"file\": \"card.md\","
        " \"bytes\": 12, \"sha256\": \"3333333333333333333333333333333333333333333333333333333333333333\"}";
    char v2[sizeof good_manifest + sizeof v2_files];
    const char *ver = strstr(good_manifest, "\"format_version\": 1");
    snprintf(v2, sizeof v2, "%.*s%s%s", (int)(ver - good_manifest), good_manifest, v2_files,
             ver + strlen("\"format_version\": 1"));
    CHECK_MSG(dataset_manifest_parse(v2, strlen(v2), "m", &m, &e) == 0, "%s", e.msg);
    CHECK(m.format_version == 2 && m.meta.file && strcmp(m.meta.file, "meta.sqlite") == 0 && m.meta.bytes == 4096 &&
          m.meta.sha256[0] == '2' && m.card.file && strcmp(m.card.file, "card.md") == 0);
    dataset_manifest_free(&m);
    struct { const char *from, *to; } bad2[] = {
        {"\"meta.sqlite\"", "\"../meta.sqlite\""},
        {"\"card.md\"", "\"/etc/card.md\""},
        {"\"bytes\": 4096", "\"bytes\": 0"},
        {"2222222222222222222222222222222222222222222222222222222222222222", "22"},
        {"\"card\": {", "\"kard\": {"},
    };
    for (size_t i = 0; i < sizeof bad2 / sizeof bad2[0]; i++) {
        char text[sizeof v2 + 64];
        const char *at = strstr(v2, bad2[i].from);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - v2), v2, bad2[i].to, at + strlen(bad2[i].from));
        CHECK_MSG(dataset_manifest_parse(text, strlen(text), "m", &m, &e) != 0 && strstr(e.msg, "needs"),
                  "v2 case %zu: %s", i, e.msg);
    }
    for (size_t n = 0; n < strlen(good_manifest); n += 7)
        CHECK(dataset_manifest_parse(good_manifest, n, "m", &m, &e) != 0);
    CHECK(dataset_manifest_read("/nonexistent-dir", &m, &e) != 0 && strstr(e.msg, "/nonexistent-dir/manifest.json"));
}

/* The clips table meta.sqlite's card reads; a test adds its rows and info. */
#define CARD_CLIPS_TABLE \
    "CREATE TABLE IF NOT EXISTS clips (split, source_id, duration_s, frames, fps, domain, channel, license," \
    " decision, decision_reason);"

/* Runs sql on meta (an SQLite file), then writes card from it. Returns the
 * card's text (NUL-terminated, to free), or NULL with e set when the card
 * was not written or could not be read back. */
static char *card_from_sql(const char *meta, const char *card, const char *sql, cm_error *e)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(meta, &db) == SQLITE_OK);
    CHECK_MSG(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    if (dataset_card_write(meta, card, e) != 0) return NULL;
    uint8_t *data = NULL;
    size_t n = 0;
    if (cm_read_file(card, &data, &n, e) != 0) return NULL;
    return (char *)data; /* NUL-terminated by cm_read_file */
}

/* A setting the card cannot read is an error, never a row quietly left out
 * (the fault-injection run: a failed allocation while reading the codec
 * dropped that row and clipmill-shard exited 0). Here reading 'codec' fails
 * for real: info is a view whose codec value overflows when computed. */
static void test_card_unreadable_setting(void)
{
    char *meta = cm_path_join(test_tmpdir(), "card-meta.sqlite");
    char *card = cm_path_join(test_tmpdir(), "card.md");
    cm_error e = {{0}};
    char *text = card_from_sql(meta, card,
                               CARD_CLIPS_TABLE "CREATE VIEW info (key, value) AS SELECT 'name', 'd'"
                               " UNION ALL SELECT 'seed', '7' UNION ALL SELECT 'codec', abs(-9223372036854775807 - 1);",
                               &e);
    CHECK(text == NULL);
    CHECK_MSG(strstr(e.msg, "card-meta.sqlite: integer overflow") != NULL, "got: %s", e.msg);
    CHECK(access(card, F_OK) != 0);

    /* The same file with a readable codec: a card with both rows. */
    text = card_from_sql(meta, card,
                         "DROP VIEW info; CREATE VIEW info (key, value) AS SELECT 'name', 'd'"
                         " UNION ALL SELECT 'seed', '7' UNION ALL SELECT 'codec', 'raw';",
                         &e);
    CHECK(text && strstr(text, "| codec | raw |") && strstr(text, "| shuffle seed | 7 |"));
    free(text);
    free(meta);
    free(card);
}

/* Catalog text in the card (name, channels, the query) renders as itself:
 * no raw HTML, no link or remote image, no terminal escape, no cell break. */
static void test_card_escapes_catalog_text(void)
{
    char *meta = cm_path_join(test_tmpdir(), "card-esc.sqlite");
    char *card = cm_path_join(test_tmpdir(), "card-esc.md");
    cm_error e = {{0}};
    char *text = card_from_sql(
        meta, card,
        CARD_CLIPS_TABLE "INSERT INTO clips VALUES ('train', 1, 16, 160, 10, 'game',"
        " '<script>alert(1)</script> ![x](http://e/t.png) [a](http://e) *b* a|b', 'x&y', NULL, NULL);"
        "CREATE VIEW info (key, value) AS SELECT 'name', 'd' || char(27) || '[2J' || char(7)"
        " UNION ALL SELECT 'query', 'SELECT * FROM clips WHERE title LIKE ''%_`x`\\%''';",
        &e);
    CHECK_MSG(text != NULL, "%s", e.msg);
    CHECK(text && !strchr(text, 27) && !strchr(text, 7));
    CHECK(text && strstr(text, "# Dataset d\\\\x1B\\[2J\\\\x07\n"));
    CHECK(text && !strstr(text, "<script") && strstr(text, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(text && strstr(text, "\\!\\[x\\](http://e/t.png) \\[a\\](http://e) \\*b\\* a\\|b | 1 |"));
    CHECK(text && strstr(text, "| x&amp;y | 1 |"));
    CHECK(text && strstr(text, "| selection query | SELECT \\* FROM clips WHERE title LIKE '%\\_\\`x\\`\\\\%' |"));
    free(text);
    free(meta);
    free(card);
}

int main(void)
{
    test_meta_roundtrip();
    test_manifest();
    test_card_unreadable_setting();
    test_card_escapes_catalog_text();
    CHECK(dataset_split_parse("val") == SPLIT_VAL && dataset_split_parse("dev") == -1);
    return test_summary();
}
