/* Token set formats (lib/format/token_file.h, docs/tokens.md): a split file
 * and tokens.json round trip; every bit flip of the split file is caught by
 * the checks the reader and verify make (header and index at open; record
 * header against the index, step table, every step, padding), every
 * truncation by the size check; every bit flip and truncation of tokens.json
 * by its CRC or parser. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>

#include "hash.h"
#include "test.h"
#include "token_file.h"

enum { CLIPS = 3, H = 2, W = 3, CODEBOOK = 50 };
static const uint32_t steps[CLIPS] = {3, 2, 4};

static uint16_t value(int clip, size_t i)
{
    return (uint16_t)((clip * 31 + i * 7) % CODEBOOK);
}

/* A split file of CLIPS records, built as the writer builds it. */
static uint8_t *make_file(size_t *len)
{
    size_t index_len = CLIPS * TOKEN_INDEX_ENTRY_SIZE, off = TOKEN_FILE_HEADER_SIZE + index_len, total = off;
    for (int c = 0; c < CLIPS; c++) total += token_record_size(steps[c], H, W, 2);
    uint8_t *b = calloc(1, total);
    for (int c = 0; c < CLIPS; c++) {
        size_t n = (size_t)steps[c] * H * W;
        uint8_t *vals = malloc(2 * n);
        for (size_t i = 0; i < n; i++) AV_WL16(vals + 2 * i, value(c, i));
        token_record r = {.split = 1, .token_bytes = 2, .clip = (uint64_t)c, .steps = steps[c], .h = H, .w = W};
        token_record_encode(&r, vals, b + off);
        free(vals);
        token_index_entry en = {.offset = off, .bytes = token_record_size(steps[c], H, W, 2), .steps = steps[c],
                                .header_crc = r.header_crc};
        token_index_put(b + TOKEN_FILE_HEADER_SIZE + (size_t)c * TOKEN_INDEX_ENTRY_SIZE, &en);
        off += en.bytes;
    }
    token_file_header h = {.split = 1, .token_bytes = 2, .h = H, .w = W, .clips = CLIPS, .codebook = CODEBOOK,
                           .data_bytes = total - TOKEN_FILE_HEADER_SIZE - index_len, .file_size = total,
                           .index_crc = cm_crc32(b + TOKEN_FILE_HEADER_SIZE, index_len)};
    token_file_header_encode(&h, b);
    *len = total;
    return b;
}

/* Every check of reader and verify; 0 when the file is sound, with its tokens equal to value(). */
static int check_all(const uint8_t *b, size_t len)
{
    token_file_header h;
    if (token_file_parse(b, len, &h, NULL) != 0) return -1;
    if (h.split != 1 || h.clips != CLIPS || h.h != H || h.w != W || h.codebook != CODEBOOK || h.token_bytes != 2)
        return -1;
    for (uint64_t c = 0; c < h.clips; c++) {
        token_index_entry en;
        token_index_get(b, c, &en);
        const uint8_t *rec = b + en.offset;
        token_record r;
        if (token_record_parse(rec, (size_t)en.bytes, &r, NULL) != 0 || r.header_crc != en.header_crc ||
            r.clip != c || r.split != 1 || r.steps != en.steps || r.h != H || r.w != W || r.token_bytes != 2 ||
            token_record_check_table(rec, &r, NULL) != 0)
            return -1;
        for (uint32_t k = 0; k < r.steps; k++)
            if (token_record_check_step(rec, &r, k, NULL) != 0) return -1;
        for (const uint8_t *p = token_record_step(rec, &r, r.steps); p < rec + en.bytes; p++)
            if (*p) return -1;
    }
    return 0;
}

static void test_file(void)
{
    size_t len;
    uint8_t *b = make_file(&len);
    CHECK(check_all(b, len) == 0);
    int equal = 1;
    for (int c = 0; c < CLIPS; c++) {
        token_index_entry en;
        token_index_get(b, (uint64_t)c, &en);
        token_record r;
        CHECK(token_record_parse(b + en.offset, (size_t)en.bytes, &r, NULL) == 0);
        for (uint32_t k = 0; k < r.steps; k++)
            for (size_t i = 0; i < H * W; i++)
                equal &= AV_RL16(token_record_step(b + en.offset, &r, k) + 2 * i) == value(c, k * H * W + i);
    }
    CHECK(equal);
    int accepted = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (check_all(b, len) == 0) {
            accepted++;
            fprintf(stderr, "flip of bit %zu accepted\n", bit);
        }
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK_MSG(accepted == 0, "%d of %zu bit flips of the split file accepted", accepted, len * 8);
    int truncated_ok = 0;
    for (size_t n = 0; n < len; n++) truncated_ok += token_file_parse(b, n, &(token_file_header){0}, NULL) == 0;
    CHECK_MSG(truncated_ok == 0, "%d truncations accepted", truncated_ok);
    CHECK(check_all(b, len) == 0);
    free(b);
}

static void test_manifest(void)
{
    token_manifest m = {0}, got;
    snprintf(m.dataset_name, sizeof m.dataset_name, "raw");
    memset(m.dataset_sha256, 'a', 64);
    snprintf(m.tok.name, sizeof m.tok.name, "patch \"mean\"");
    snprintf(m.tok.version, sizeof m.tok.version, "1.2");
    m.tok.patch_size = 4;
    m.tok.codebook = 70000;
    m.token_bytes = 4;
    m.height = 23;
    m.width = 40;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        snprintf(m.split[k].file, sizeof m.split[k].file, "%s.tok", dataset_split_name(k));
        m.split[k].clips = k;
        m.split[k].tokens = 920 * k;
        m.split[k].bytes = 64 + k;
        memset(m.split[k].sha256, '0' + k, 64);
    }
    size_t len;
    char *text = token_manifest_encode(&m, &len);
    cm_error e = {{0}};
    CHECK_MSG(token_manifest_parse(text, len, "t", &got, &e) == 0, "%s", e.msg);
    CHECK(strcmp(got.tok.name, m.tok.name) == 0 && got.tok.codebook == 70000 && got.token_bytes == 4 &&
          got.split[2].clips == 2 && strcmp(got.split[1].sha256, m.split[1].sha256) == 0 && got.height == 23);
    int accepted = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        text[bit / 8] ^= (char)(1u << (bit % 8));
        accepted += token_manifest_parse(text, len, "t", &got, NULL) == 0;
        text[bit / 8] ^= (char)(1u << (bit % 8));
    }
    CHECK_MSG(accepted == 0, "%d of %zu bit flips of tokens.json accepted", accepted, len * 8);
    int truncated_ok = 0;
    for (size_t n = 0; n < len; n++) truncated_ok += token_manifest_parse(text, n, "t", &got, NULL) == 0;
    CHECK_MSG(truncated_ok == 0, "%d truncations of tokens.json accepted", truncated_ok);
    m.token_bytes = 2;             /* a codebook above 65536 in 2 bytes */
    free(text);
    text = token_manifest_encode(&m, &len);
    CHECK(token_manifest_parse(text, len, "t", &got, NULL) != 0);
    free(text);
}

int main(void)
{
    test_file();
    test_manifest();
    CHECK(token_bytes_for(65536) == 2 && token_bytes_for(65537) == 4);
    return test_summary();
}
