/* Manifest reading: JSON Lines and plain lines, bad lines (logged and
 * counted, the rest still read), duplicates, CRLF, BOM, long lines, url kinds
 * and local paths. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "inputs.h"
#include "manifest.h"
#include "util.h"

static char *write_file(const char *name, const char *text, size_t len)
{
    char *path = cm_path_join(test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
    return path;
}

/* Reads path with stderr captured into *log (malloc'd) so that the logged
 * "PATH:LINE: reason" lines can be checked. */
static int read_capturing(const char *path, manifest *m, cm_error *e, char **log)
{
    char *log_path = cm_path_join(test_tmpdir(), "stderr.txt");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    close(fd);
    int rc = manifest_read(path, m, e);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *f = fopen(log_path, "rb");
    *log = cm_xcalloc(1, 1 << 16);
    if (f) {
        size_t n = fread(*log, 1, (1 << 16) - 1, f);
        (*log)[n] = '\0';
        fclose(f);
    }
    fputs(*log, stderr); /* still visible in the test output */
    free(log_path);
    return rc;
}

static const manifest_entry *find_url(const manifest *m, const char *url)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->entries[i].url, url) == 0) return &m->entries[i];
    return NULL;
}

static void check_mixed(void)
{
    static const char text[] =
        "\xEF\xBB\xBF{\"url\": \"videos/a.mp4\", \"title\": \"SuperTux speedrun\", \"domain\": \"platformer\","
        " \"frame_rate\": 30, \"sha256\": \"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\"}\r\n"
        "# a comment line\r\n"
        "\r\n"
        "   /abs/path/b.mkv   \r\n"                                           /* 4: not JSON */
        "{\"url\": \"c.mp4\", \"title\": 7}\n"                                  /* 5: wrong type */
        "{\"url\": \"d.mp4\", \"title\": \"unterminated}\n"                     /* 6: invalid JSON */
        "{\"title\": \"no url\"}\n"                                             /* 7: missing url */
        "[\"e.mp4\"]\n"                                                         /* 8: not an object */
        "{\"url\": \"videos/a.mp4\", \"title\": \"again\"}\n"                   /* 9: duplicate */
        "{\"url\": \"https://example.com/v.mp4\", \"description\": \"d\", \"channel\": \"ch\", \"license\": \"CC-BY\","
        " \"extra\": [1, 2]}\n"                                                  /* 10 */
        "{\"url\": \"f.mp4\", \"frame_rate\": \"25\"}\n"                        /* 11: wrong type */
        "{\"url\": \"g.mp4\", \"frame_rate\": -1}\n"                            /* 12: out of range */
        "{\"url\": \"h.mp4\", \"sha256\": \"xyz\"}\n"                           /* 13: bad hash */
        "{\"url\": \"\"}\n"                                                     /* 14: empty url */
        "{\"url\": null, \"title\": \"null url\"}\n"                            /* 15: missing url */
        "{\"url\": \"i.mp4\", \"title\": null, \"domain\": true}\n"             /* 16: wrong type */
        "{\"url\": \"j.mp4\", \"title\": \"caf\\u00e9 \\\"quoted\\\"\"}";       /* 17: no final newline */
    char *path = write_file("mixed.jsonl", text, sizeof text - 1);
    manifest m;
    cm_error e = {{0}};
    char *log = NULL;
    CHECK_MSG(read_capturing(path, &m, &e, &log) == 0, "%s", e.msg);
    CHECK_MSG(m.count == 3, "count %d", m.count);
    CHECK_MSG(m.bad_lines == 11, "bad_lines %d", m.bad_lines);
    char expect[4400];
    static const struct {
        int line;
        const char *reason;
    } errors[] = {
        {4, "not a JSON object (this manifest is JSON Lines)"},
        {8, "not a JSON object (this manifest is JSON Lines)"},
        {5, "\"title\" must be a string, not a number"},
        {6, "invalid JSON"},
        {7, "no \"url\""},
        {11, "\"frame_rate\" must be a number, not a string"},
        {12, "\"frame_rate\" must be above 0"},
        {13, "\"sha256\" must be 64 hex digits"},
        {14, "empty \"url\""},
        {15, "no \"url\""},
        {16, "\"domain\" must be a string, not a boolean"},
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        snprintf(expect, sizeof expect, "error: %s:%d: %s", path, errors[i].line, errors[i].reason);
        CHECK_MSG(strstr(log, expect) != NULL, "log lacks \"%s\"", expect);
    }
    snprintf(expect, sizeof expect, "warning: %s:9: duplicate url videos/a.mp4 (first on line 1)", path);
    CHECK_MSG(strstr(log, expect) != NULL, "log lacks \"%s\"", expect);

    const manifest_entry *a = find_url(&m, "videos/a.mp4");
    CHECK(a && a->line == 1 && strcmp(a->title, "SuperTux speedrun") == 0 && strcmp(a->domain, "platformer") == 0);
    CHECK(a && a->frame_rate == 30.0);
    CHECK(a && strcmp(a->sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789") == 0);
    CHECK(a && a->json && a->json[0] == '{' && a->json[strlen(a->json) - 1] == '}'); /* no BOM, no CR */
    CHECK(a && strcmp(a->description, "") == 0 && strcmp(a->channel, "") == 0 && strcmp(a->license, "") == 0);

    CHECK(find_url(&m, "/abs/path/b.mkv") == NULL);
    const manifest_entry *h = find_url(&m, "https://example.com/v.mp4");
    CHECK(h && h->line == 10 && strcmp(h->description, "d") == 0 && strcmp(h->channel, "ch") == 0 &&
          strcmp(h->license, "CC-BY") == 0 && strstr(h->json, "\"extra\""));
    const manifest_entry *j = find_url(&m, "j.mp4");
    CHECK(j && strcmp(j->title, "caf\xC3\xA9 \"quoted\"") == 0);
    CHECK(find_url(&m, "c.mp4") == NULL && find_url(&m, "i.mp4") == NULL);
    /* Entries keep manifest order. */
    CHECK(m.count == 3 && m.entries[0].line == 1 && m.entries[1].line == 10 && m.entries[2].line == 17);
    CHECK(m.dir && m.dir[0] == '/');
    manifest_free(&m);
    free(log);
    free(path);
}

/* A plain-text manifest: one path per line, trimmed; a '{' line is still JSON. */
static void check_plain(void)
{
    static const char text[] =
        "# plain list\r\n"
        "   /abs/path/b.mkv   \r\n"
        "\tvideos/with space.mp4\n"
        "[e].mp4\n"
        "{\"url\": \"x.mp4\", \"title\": \"from JSON\"}\n"
        "{\"url\": 42}\n"
        "videos/with space.mp4\n"
        "https://example.com/v.mp4";
    char *path = write_file("plain.txt", text, sizeof text - 1);
    manifest m;
    cm_error e = {{0}};
    char *log = NULL;
    CHECK_MSG(read_capturing(path, &m, &e, &log) == 0, "%s", e.msg);
    CHECK_MSG(m.count == 5 && m.bad_lines == 1, "count %d, bad %d", m.count, m.bad_lines);
    const manifest_entry *b = find_url(&m, "/abs/path/b.mkv");
    CHECK(b && b->line == 2 && b->json == NULL && strcmp(b->title, "") == 0 && b->frame_rate == 0);
    const manifest_entry *w = find_url(&m, "videos/with space.mp4");
    CHECK(w && w->line == 3);
    CHECK(find_url(&m, "[e].mp4") != NULL);
    const manifest_entry *x = find_url(&m, "x.mp4");
    CHECK(x && strcmp(x->title, "from JSON") == 0 && x->json != NULL);
    CHECK(find_url(&m, "https://example.com/v.mp4") != NULL);
    char expect[4400];
    snprintf(expect, sizeof expect, "%s:6: \"url\" must be a string, not a number", path);
    CHECK_MSG(strstr(log, expect) != NULL, "log lacks \"%s\"", expect);
    snprintf(expect, sizeof expect, "%s:7: duplicate url videos/with space.mp4 (first on line 3)", path);
    CHECK_MSG(strstr(log, expect) != NULL, "log lacks \"%s\"", expect);
    manifest_free(&m);
    free(log);
    free(path);
}

static void check_long_and_missing(void)
{
    /* A 1 MB description: getline has no line-length limit. */
    size_t big = 1 << 20;
    char *text = cm_xmalloc(big + 256);
    int n = snprintf(text, 256, "{\"url\": \"long.mp4\", \"description\": \"");
    memset(text + n, 'x', big);
    strcpy(text + n + big, "\"}\n{\"url\": \"short.mp4\"}\n");
    char *path = write_file("long.jsonl", text, strlen(text));
    manifest m;
    cm_error e = {{0}};
    CHECK_MSG(manifest_read(path, &m, &e) == 0, "%s", e.msg);
    CHECK(m.count == 2 && m.bad_lines == 0);
    CHECK(m.count == 2 && strlen(m.entries[0].description) == big && strcmp(m.entries[1].url, "short.mp4") == 0);
    CHECK(m.count == 2 && m.entries[1].line == 2);
    manifest_free(&m);
    free(text);
    free(path);

    char *missing = cm_path_join(test_tmpdir(), "no-such-manifest.jsonl");
    cm_error_clear(&e);
    CHECK(manifest_read(missing, &m, &e) == -1);
    CHECK_MSG(strstr(e.msg, "no-such-manifest.jsonl") && strstr(e.msg, "No such file"), "%s", e.msg);
    CHECK(m.count == 0 && m.entries == NULL);
    free(missing);

    char *empty = write_file("empty.txt", "", 0);
    CHECK(manifest_read(empty, &m, &e) == 0 && m.count == 0 && m.bad_lines == 0);
    manifest_free(&m);
    free(empty);
}

static void check_url_kinds(void)
{
    CHECK(manifest_url_kind("http://example.com/a.mp4") == URL_HTTP);
    CHECK(manifest_url_kind("HTTPS://example.com/a.mp4") == URL_HTTP);
    CHECK(manifest_url_kind("file:///data/a.mp4") == URL_LOCAL);
    CHECK(manifest_url_kind("/data/a.mp4") == URL_LOCAL);
    CHECK(manifest_url_kind("videos/a.mp4") == URL_LOCAL);
    CHECK(manifest_url_kind("./odd:name.mp4") == URL_LOCAL);
    CHECK(manifest_url_kind("ftp://example.com/a.mp4") == URL_UNSUPPORTED);
    CHECK(manifest_url_kind("s3://bucket/a.mp4") == URL_UNSUPPORTED);
    CHECK(manifest_url_kind("data:video/mp4;base64,AAAA") == URL_UNSUPPORTED);
    CHECK(manifest_url_kind("git+ssh://host/x") == URL_UNSUPPORTED);
}

static void check_local_paths(void)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.dir = "/srv/manifests";
    static const struct {
        const char *url, *path; /* path NULL: no local path */
        const char *why;        /* then a word of manifest_local_path_error's reason */
    } cases[] = {
        {"videos/a.mp4", "/srv/manifests/videos/a.mp4", NULL},
        {"./b.mp4", "/srv/manifests/./b.mp4", NULL},
        {"/data/c.mp4", "/data/c.mp4", NULL},
        {"a%20b.mp4", "/srv/manifests/a%20b.mp4", NULL},            /* plain paths are taken literally */
        {"file:///data/my%20clip%231.mp4", "/data/my clip#1.mp4", NULL},
        {"file://localhost/data/x.mp4", "/data/x.mp4", NULL},
        {"file:/data/y.mp4", "/data/y.mp4", NULL},
        {"file:///data/z.mp4?t=3#frag", "/data/z.mp4", NULL},
        {"file:rel/v.mp4", "/srv/manifests/rel/v.mp4", NULL},
        {"file:///data/caf%C3%A9.mp4", "/data/caf\xC3\xA9.mp4", NULL},
        {"file://otherhost/data/x.mp4", NULL, "remote file:// hosts are not supported"},
        {"file:///data/bad%2", NULL, "malformed"},
        {"file:///data/bad%zz.mp4", NULL, "malformed"},
        {"file:///data/nul%00.mp4", NULL, "NUL"},
        {"https://example.com/a.mp4", NULL, "not a local"},
        {"s3://bucket/a.mp4", NULL, "not a local"},
        {"", NULL, "empty"},
        {"file://otherhost", NULL, "another host"},
        {"file://", NULL, "without a path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = manifest_local_path(&m, cases[i].url);
        int ok = cases[i].path ? p && strcmp(p, cases[i].path) == 0 : p == NULL;
        CHECK_MSG(ok, "%s -> %s, expected %s", cases[i].url, p ? p : "NULL", cases[i].path ? cases[i].path : "NULL");
        const char *why = manifest_local_path_error(cases[i].url);
        if (cases[i].path) CHECK_MSG(why == NULL, "%s: unexpected reason %s", cases[i].url, why);
        else CHECK_MSG(why && strstr(why, cases[i].why), "%s: reason %s lacks %s", cases[i].url, why ? why : "NULL",
                       cases[i].why);
        free(p);
    }
    /* Relative to the real manifest's directory, which manifest_read makes absolute. */
    char *path = write_file("rel.txt", "clip.mp4\n", 9);
    cm_error e = {{0}};
    CHECK(manifest_read(path, &m, &e) == 0 && m.count == 1);
    char *p = m.count == 1 ? manifest_local_path(&m, m.entries[0].url) : NULL;
    char *expect = realpath(test_tmpdir(), NULL);
    char *want = expect ? cm_path_join(expect, "clip.mp4") : NULL;
    CHECK_MSG(p && want && strcmp(p, want) == 0, "%s vs %s", p ? p : "NULL", want ? want : "NULL");
    free(p);
    free(want);
    free(expect);
    manifest_free(&m);
    free(path);
}

/* What counts as text when an argument is told from a media file (inputs.h). */
static void check_text_sniff(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        int text;
    } cases[] = {
        {"a.mp4\nb.mp4\n", 12, 1},
        {"{\"url\": \"caf\xc3\xa9.mp4\"}\r\n", 22, 1},           /* UTF-8, CRLF */
        {"\xe6\x97\xa5\xe6\x9c\xac\n", 7, 1},                     /* three-byte sequences */
        {"a.mp4\n\xe6\x97", 8, 1},                               /* cut off by the sample's end */
        {"", 0, 1},
        {"a\0b", 3, 0},                                           /* NUL */
        {"caf\xe9\n", 5, 0},                                     /* Latin-1 in a short file: 20% */
        {"\xc0\xaf\xc0\xaf", 4, 0},                               /* overlong */
        {"\x1b[2J\x1b[H", 7, 0},                                  /* escape sequences */
        {"\x00\x00\x00\x18" "ftypisom", 12, 0},                    /* an MP4's first box */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(input_is_text((const unsigned char *)cases[i].bytes, cases[i].len, NULL) == cases[i].text,
                  "case %zu: expected %s", i, cases[i].text ? "text" : "binary");
    /* One Latin-1 byte in 200 is a stray title, not binary. */
    char big[200];
    memset(big, 'x', sizeof big);
    big[100] = (char)0xe9;
    CHECK(input_is_text((const unsigned char *)big, sizeof big, NULL) == 1);
    size_t at = 0;
    CHECK(input_is_text((const unsigned char *)"ab\0", 3, &at) == 0 && at == 2);
}

int main(void)
{
    cm_log_set_program("test_manifest");
    check_mixed();
    check_plain();
    check_long_and_missing();
    check_url_kinds();
    check_local_paths();
    check_text_sniff();
    return test_summary();
}
