/* Telling a manifest from a media file or a frame folder (see inputs.h). */
#include "inputs.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#define SNIFF_BYTES (64 * 1024)

static const char *const manifest_extensions[] = {"jsonl", "ndjson", "json", "txt", "list", NULL};
static const char *const media_extensions[] = {"mp4", "m4v", "mkv", "webm", "mov", "avi", "flv", "wmv", "mpg",
                                               "mpeg", "ts", "mts", "m2ts", "3gp", "ogv", "y4m", "gif", NULL};

/* 1 when path's file name ends in ".EXT" for one of exts (case-insensitive). */
static int has_extension(const char *path, const char *const *exts)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return 0;
    for (int i = 0; exts[i]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0) return 1;
    return 0;
}

/* Length of the UTF-8 sequence starting at p (at most n bytes available), or
 * 0 when it is not valid UTF-8 (overlong forms, surrogates and code points
 * past U+10FFFF included). A sequence cut off by the end of the buffer counts
 * as valid: the sample may end in the middle of a character. */
static size_t utf8_length(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    for (size_t i = 1; i < len; i++) {
        if (i >= n) return n; /* cut off by the sample's end */
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

int input_is_text(const unsigned char *buf, size_t len, size_t *bad_at)
{
    size_t odd = 0, first_odd = len;
    for (size_t i = 0; i < len;) {
        unsigned c = buf[i];
        if (c == 0) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        size_t n = utf8_length(buf + i, len - i);
        int ok = n > 0 && (c >= 0x20 || c == '\t' || c == '\n' || c == '\r' || c == '\f') && c != 0x7F;
        if (!ok) {
            if (odd++ == 0) first_odd = i;
            n = 1;
        }
        i += n;
    }
    if (odd * 100 > len) {
        if (bad_at) *bad_at = first_odd;
        return 0;
    }
    return 1;
}

/* 1 when libavformat recognises the content of the file whose first len
 * bytes are buf (padded as AVProbeData requires), as avformat_open_input
 * would: a score above AVPROBE_SCORE_RETRY. */
static int media_probe(const char *path, unsigned char *buf, size_t len)
{
    AVProbeData pd = {.filename = path, .buf = buf, .buf_size = (int)len};
    int score = 0;
    const AVInputFormat *f = av_probe_input_format3(&pd, 1, &score);
    return f && score > AVPROBE_SCORE_RETRY;
}

int input_classify(const char *path, input_kind *kind, cm_error *e)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        cm_error_set(e, "%s: %s", path, errno == ENOENT ? "no such file or directory" : strerror(errno));
        return -2;
    }
    if (S_ISDIR(st.st_mode)) {
        *kind = INPUT_FRAMES;
        return 0;
    }
    if (!S_ISREG(st.st_mode)) { /* /dev/stdin, a FIFO: read as it comes, no peeking */
        *kind = INPUT_MANIFEST;
        return 0;
    }
    int named_manifest = has_extension(path, manifest_extensions);
    if (!named_manifest && has_extension(path, media_extensions)) {
        *kind = INPUT_MEDIA;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cm_error_set(e, "%s: cannot open: %s", path, strerror(errno));
        return -2;
    }
    unsigned char *buf = cm_xcalloc(1, SNIFF_BYTES + AVPROBE_PADDING_SIZE);
    size_t len = 0;
    while (len < SNIFF_BYTES) {
        ssize_t n = read(fd, buf + len, SNIFF_BYTES - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            cm_error_set(e, "%s: cannot read: %s", path, strerror(errno));
            close(fd);
            free(buf);
            return -2;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    int rc = 0;
    size_t bad_at = 0;
    int utf16 = len >= 2 && ((buf[0] == 0xFF && buf[1] == 0xFE) || (buf[0] == 0xFE && buf[1] == 0xFF));
    if (input_is_text(buf, len, &bad_at)) {
        *kind = INPUT_MANIFEST;
    } else if (named_manifest || utf16) {
        if (utf16)
            cm_error_set(e, "%s: not a manifest: UTF-16 text; a manifest is UTF-8 (save it as UTF-8)", path);
        else
            cm_error_set(e, "%s: not a manifest: binary data (byte %zu is 0x%02x); a manifest is UTF-8 text: JSON "
                         "Lines, or one path or URL per line", path, bad_at, buf[bad_at]);
        rc = -1;
    } else if (media_probe(path, buf, len)) {
        *kind = INPUT_MEDIA;
    } else {
        cm_error_set(e, "%s: neither a manifest (not UTF-8 text: byte %zu is 0x%02x) nor a media file FFmpeg "
                     "recognises", path, bad_at, buf[bad_at]);
        rc = -1;
    }
    free(buf);
    return rc;
}

/* For finding a url given by two arguments: entries sorted by url, then by
 * position (the first given is kept). */
typedef struct url_ref {
    const char *url;
    int index;
} url_ref;

static int url_ref_cmp(const void *a, const void *b)
{
    const url_ref *x = a, *y = b;
    int c = strcmp(x->url, y->url);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* "PATH:LINE", or "PATH" for an argument's own entry (line 0). */
static void entry_place(const input_entry *ie, char *out, size_t n)
{
    if (ie->e->line > 0) snprintf(out, n, "%s:%d", ie->m->path, ie->e->line);
    else snprintf(out, n, "%s", ie->m->path);
}

/* Leaves out every entry whose url an earlier entry (of another argument)
 * already has; one warning line each. */
static void drop_repeats(input_list *l)
{
    url_ref *refs = cm_xcalloc((size_t)(l->count > 0 ? l->count : 1), sizeof *refs);
    char *drop = cm_xcalloc((size_t)(l->count > 0 ? l->count : 1), 1);
    for (int i = 0; i < l->count; i++) refs[i] = (url_ref){l->entries[i].e->url, i};
    qsort(refs, (size_t)l->count, sizeof *refs, url_ref_cmp);
    for (int i = 1; i < l->count; i++) {
        if (strcmp(refs[i].url, refs[i - 1].url) != 0) continue;
        int first = i - 1;
        while (first > 0 && drop[refs[first].index]) first--;
        drop[refs[i].index] = 1;
        char here[4200], there[4200];
        entry_place(&l->entries[refs[i].index], here, sizeof here);
        entry_place(&l->entries[refs[first].index], there, sizeof there);
        cm_log(CM_LOG_WARN, "%s: duplicate url %s (first at %s), skipped", here, refs[i].url, there);
    }
    int kept = 0;
    for (int i = 0; i < l->count; i++)
        if (!drop[i]) l->entries[kept++] = l->entries[i];
    l->count = kept;
    free(drop);
    free(refs);
}

int inputs_read(const char *const *paths, int n, input_list *l)
{
    memset(l, 0, sizeof *l);
    l->manifests = cm_xcalloc((size_t)(n > 0 ? n : 1), sizeof *l->manifests);
    int rc = CM_EXIT_OK;
    cm_error e = {{0}};
    /* Every argument is checked, so that one run names every wrong one. */
    for (int i = 0; i < n; i++) {
        input_kind kind;
        cm_error_clear(&e);
        int failed = CM_EXIT_OK;
        manifest *m = &l->manifests[l->n_manifests];
        int got = input_classify(paths[i], &kind, &e);
        if (got != 0) failed = got == -1 ? CM_EXIT_USAGE : CM_EXIT_FATAL;
        else if (kind == INPUT_MANIFEST && manifest_read(paths[i], m, &e) != 0) failed = CM_EXIT_FATAL;
        else if (kind != INPUT_MANIFEST && manifest_from_path(paths[i], m, &e) != 0) failed = CM_EXIT_FATAL;
        if (failed != CM_EXIT_OK) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            if (failed > rc) rc = failed; /* fatal (3) over usage (2) */
            continue;
        }
        l->n_manifests++;
        l->count += m->count;
        l->bad_lines += m->bad_lines;
    }
    if (rc != CM_EXIT_OK) {
        inputs_free(l);
        return rc;
    }
    l->entries = cm_xcalloc((size_t)(l->count > 0 ? l->count : 1), sizeof *l->entries);
    int k = 0;
    for (int i = 0; i < l->n_manifests; i++)
        for (int j = 0; j < l->manifests[i].count; j++)
            l->entries[k++] = (input_entry){&l->manifests[i], &l->manifests[i].entries[j]};
    if (l->n_manifests > 1) drop_repeats(l);
    return CM_EXIT_OK;
}

void inputs_free(input_list *l)
{
    if (!l) return;
    for (int i = 0; i < l->n_manifests; i++) manifest_free(&l->manifests[i]);
    free(l->manifests);
    free(l->entries);
    memset(l, 0, sizeof *l);
}
