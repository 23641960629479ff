/* Writing token sets (clipmill/tokens.h, docs/tokens.md "Writing and
 * resuming"). Records are appended to DIR/tokens.journal in the order they
 * come, each whole and self-checked (header CRC, step CRCs), so a run killed
 * at any byte leaves whole records and at most one torn one at the end: the
 * next open keeps the whole ones and cuts the rest. Finishing copies the
 * records in clip order into SPLIT.tok files written under temporary names
 * and renamed, then tokens.json (written last: its presence means the set is
 * complete), then removes the journal. The split files hold nothing that
 * depends on the order or timing of writes, so a resumed run ends with the
 * bytes of an uninterrupted one. Against a kill the journal needs no fsync
 * (the page cache keeps what write() returned); finishing syncs everything. */
#include "clipmill/tokens.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/intreadwrite.h>

#include "dataset.h"
#include "fsio.h"
#include "hash.h"
#include "token_file.h"
#include "util.h"

#include "reader_internal.h"

struct cmr_token_writer {
    char *dir, *journal, *params;
    int fd;                        /* the journal, locked; -1 when finished */
    int finished;
    uint64_t end;                  /* the journal's length: where the next record goes */
    token_manifest m;              /* dataset, tokenizer, shape (height 0: no record yet) */
    int64_t clips[SPLIT_COUNT];
    uint64_t *at[SPLIT_COUNT];     /* journal offset of each clip's record; 0: not written */
};

CMR_API void cmr_tokw_close(cmr_token_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);  /* drops the lock */
    for (int k = 0; k < SPLIT_COUNT; k++) free(w->at[k]);
    free(w->dir);
    free(w->journal);
    free(w->params);
    free(w);
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) errno = EIO;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    for (size_t put = 0; put < n;) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + put, n - put, (off_t)(off + put));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        put += (size_t)r;
    }
    return 0;
}

/* The journal's header: magic, version, size, the parameter text's length and CRC. */
static void journal_header(const char *params, uint8_t out[TOKEN_JOURNAL_HEADER_SIZE])
{
    memset(out, 0, TOKEN_JOURNAL_HEADER_SIZE);
    memcpy(out, TOKEN_JOURNAL_MAGIC, 4);
    AV_WL16(out + 4, TOKEN_FORMAT_VERSION);
    AV_WL16(out + 6, TOKEN_JOURNAL_HEADER_SIZE);
    AV_WL32(out + 8, (uint32_t)strlen(params));
    AV_WL32(out + 12, cm_crc32(params, strlen(params)));
    AV_WL32(out + 60, cm_crc32(out, 60));
}

/* Reads a whole record at off of the journal (len bytes long) into a
 * malloc'd buffer and checks it all; NULL when it is not whole and sound. */
static uint8_t *journal_record(cmr_token_writer *w, uint64_t off, token_record *r)
{
    uint8_t head[TOKEN_RECORD_HEADER_SIZE];
    if (off + TOKEN_RECORD_HEADER_SIZE > w->end || pread_all(w->fd, head, sizeof head, off) != 0 ||
        token_record_parse(head, (size_t)(w->end - off), r, NULL) != 0)
        return NULL;
    uint64_t size = token_record_size(r->steps, r->h, r->w, r->token_bytes);
    uint8_t *rec = malloc((size_t)size);
    int ok = rec && pread_all(w->fd, rec, (size_t)size, off) == 0 && token_record_check_table(rec, r, NULL) == 0;
    for (uint32_t k = 0; ok && k < r->steps; k++) ok = token_record_check_step(rec, r, k, NULL) == 0;
    if (!ok) {
        free(rec);
        return NULL;
    }
    return rec;
}

/* Scans the journal: every whole record in place, the file cut after the
 * last one. A record of another shape or width than the set's, or of a clip
 * out of range, ends the scan like a torn one (only damage makes one). */
static int journal_scan(cmr_token_writer *w, cm_error *e)
{
    uint8_t head[TOKEN_JOURNAL_HEADER_SIZE], want[TOKEN_JOURNAL_HEADER_SIZE];
    size_t pl = strlen(w->params);
    char *params = cm_xmalloc(pl + 1);
    journal_header(w->params, want);
    int same = pread_all(w->fd, head, sizeof head, 0) == 0 && memcmp(head, want, sizeof head) == 0 &&
               pread_all(w->fd, params, pl, TOKEN_JOURNAL_HEADER_SIZE) == 0 && memcmp(params, w->params, pl) == 0;
    free(params);
    if (!same) {
        cm_error_set(e, "%s: a journal of another dataset or tokenizer (or damaged): remove it to start over",
                     w->journal);
        return -1;
    }
    uint64_t off = (TOKEN_JOURNAL_HEADER_SIZE + pl + 7) & ~(uint64_t)7;
    for (;;) {
        token_record r;
        uint8_t *rec = journal_record(w, off, &r);
        int fits = rec && r.split < SPLIT_COUNT && (int64_t)r.clip < w->clips[r.split] &&
                   r.token_bytes == w->m.token_bytes && (!w->m.height || (r.h == w->m.height && r.w == w->m.width));
        free(rec);
        if (!fits) break;
        if (!w->at[r.split][r.clip]) w->at[r.split][r.clip] = off;
        w->m.height = r.h;
        w->m.width = r.w;
        off += token_record_size(r.steps, r.h, r.w, r.token_bytes);
    }
    if (off < w->end && ftruncate(w->fd, (off_t)off) != 0) {
        cm_error_set(e, "%s: cannot cut its torn end: %s", w->journal, strerror(errno));
        return -1;
    }
    w->end = off;
    return 0;
}

/* The dataset's name, clip counts and manifest hash; the tokenizer's fields. */
static int load_dataset(cmr_token_writer *w, const char *dataset_dir, const cmr_tokenizer *tok, cm_error *e)
{
    dataset_manifest dm;
    if (dataset_manifest_read(dataset_dir, &dm, e) != 0) return -1;
    for (int k = 0; k < SPLIT_COUNT; k++) w->clips[k] = dm.split[k].clips;
    dataset_manifest_free(&dm);
    char *man = cm_path_join(dataset_dir, "manifest.json");
    int rc = cm_sha256_file(man, w->m.dataset_sha256, NULL, e);
    free(man);
    if (rc != 0) return -1;
    const char *base = strrchr(dataset_dir, '/');
    base = base && base[1] ? base + 1 : dataset_dir;
    snprintf(w->m.dataset_name, sizeof w->m.dataset_name, "%s", base);
    if (!tok || !tok->name || !tok->version || !tok->name[0] || strlen(tok->name) >= TOKEN_NAME_MAX ||
        strlen(tok->version) >= TOKEN_NAME_MAX || tok->codebook < 2 || tok->codebook > ((uint64_t)1 << 32) ||
        tok->patch_size < 0) {
        cm_error_set(e, "tokenizer: a name and version (< %d bytes), patch size >= 0 and codebook of 2 .. 2^32 are needed",
                     TOKEN_NAME_MAX);
        return -1;
    }
    snprintf(w->m.tok.name, sizeof w->m.tok.name, "%s", tok->name);
    snprintf(w->m.tok.version, sizeof w->m.tok.version, "%s", tok->version);
    w->m.tok.patch_size = tok->patch_size;
    w->m.tok.codebook = tok->codebook;
    w->m.token_bytes = token_bytes_for(tok->codebook);
    w->params = token_journal_params(w->m.dataset_sha256, &w->m.tok);
    return 0;
}

/* Split files a killed finish left under their temporary names (NAME.tok.tmp.PID). */
static void remove_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tok.tmp.")) {
            char *p = cm_path_join(dir, de->d_name);
            unlink(p);
            free(p);
        }
    if (d) closedir(d);
}

CMR_API int cmr_tokw_open(cmr_token_writer **out, const char *dataset_dir, const char *out_dir,
                          const cmr_tokenizer *tok, char *err, size_t err_size)
{
    cm_error e = {{0}};
    *out = NULL;
    cmr_token_writer *w = cm_xcalloc(1, sizeof *w);
    w->fd = -1;
    w->dir = token_set_path(dataset_dir, out_dir ? out_dir : "");
    out_dir = w->dir;
    if (!out_dir[0] || load_dataset(w, dataset_dir, tok, &e) != 0 || cm_mkdir_p(out_dir, &e) != 0) {
        if (!out_dir[0]) cm_error_set(&e, "%s: no token set name or directory", dataset_dir);
        goto fail;
    }
    w->journal = cm_path_join(out_dir, TOKEN_JOURNAL);
    char *man = cm_path_join(out_dir, TOKEN_MANIFEST);
    struct stat st;
    int finished = stat(man, &st) == 0;
    free(man);
    if (finished) {
        token_manifest fm;
        if (token_manifest_read(out_dir, &fm, &e) != 0) goto fail;
        if (strcmp(fm.dataset_sha256, w->m.dataset_sha256) != 0 || strcmp(fm.tok.name, w->m.tok.name) != 0 ||
            strcmp(fm.tok.version, w->m.tok.version) != 0 || fm.tok.patch_size != w->m.tok.patch_size ||
            fm.tok.codebook != w->m.tok.codebook) {
            cm_error_set(&e, "%s: a finished token set of another dataset or tokenizer is there (immutable)", out_dir);
            goto fail;
        }
        w->finished = 1;
        unlink(w->journal);        /* killed after tokens.json, before the journal went */
        *out = w;
        return 0;
    }
    remove_temporaries(out_dir);
    for (int k = 0; k < SPLIT_COUNT; k++) w->at[k] = cm_xcalloc((size_t)w->clips[k] + 1, sizeof *w->at[k]);
    w->fd = open(w->journal, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->fd < 0 || fstat(w->fd, &st) != 0) {
        cm_error_set(&e, "%s: %s", w->journal, strerror(errno));
        goto fail;
    }
    if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
        cm_error_set(&e, "%s: another writer has it open", w->journal);
        goto fail;
    }
    w->end = (uint64_t)st.st_size;
    size_t pl = strlen(w->params), start = (TOKEN_JOURNAL_HEADER_SIZE + pl + 7) & ~(size_t)7;
    if (w->end < start) {          /* new, or killed before its header and parameters were whole */
        uint8_t *p = cm_xcalloc(1, start);
        journal_header(w->params, p);
        memcpy(p + TOKEN_JOURNAL_HEADER_SIZE, w->params, pl);
        int rc = ftruncate(w->fd, 0) == 0 && pwrite_all(w->fd, p, start, 0) == 0 ? 0 : -1;
        free(p);
        if (rc != 0) {
            cm_error_set(&e, "%s: %s", w->journal, strerror(errno));
            goto fail;
        }
        w->end = start;
    } else if (journal_scan(w, &e) != 0) {
        goto fail;
    }
    *out = w;
    return 0;
fail:
    reader_set_err(err, err_size, "%s", e.msg);
    cmr_tokw_close(w);
    return -1;
}

CMR_API int cmr_tokw_written(const cmr_token_writer *w, const char *split, int64_t index)
{
    int k = dataset_split_parse(split ? split : "");
    if (k < 0 || index < 0 || index >= w->clips[k]) return -1;
    return w->finished || w->at[k][index] != 0;
}

CMR_API int cmr_tokw_write(cmr_token_writer *w, const char *split, int64_t index, const void *tokens, int in_bytes,
                           int32_t steps, int32_t h, int32_t width, char *err, size_t err_size)
{
    int k = dataset_split_parse(split ? split : "");
    const char *name = w->dir;
    if (w->finished) {
        reader_set_err(err, err_size, "%s: the token set is finished (immutable)", name);
        return -1;
    }
    if (k < 0 || index < 0 || index >= w->clips[k]) {
        reader_set_err(err, err_size, "%s: no clip %" PRId64 " in split \"%s\" (%" PRId64 " clips)", name, index,
                       split ? split : "", k < 0 ? 0 : w->clips[k]);
        return -1;
    }
    if ((in_bytes != 2 && in_bytes != 4) || steps < 1 || h < 1 || h > 65535 || width < 1 || width > 65535 ||
        (w->m.height && (h != w->m.height || width != w->m.width))) {
        reader_set_err(err, err_size, "%s: %s[%" PRId64 "]: tokens of %d bytes, shape (%d, %d, %d): want 2 or 4 bytes "
                       "and the shape (T, %d, %d) of the set's other clips", name, split, index, in_bytes, steps, h,
                       width, w->m.height, w->m.width);
        return -1;
    }
    size_t n = (size_t)steps * (size_t)h * (size_t)width;
    int tb = w->m.token_bytes;
    uint8_t *vals = cm_xmalloc(n * (size_t)tb);
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        if (in_bytes == 2) v = AV_RN16((const uint8_t *)tokens + 2 * i);
        else v = AV_RN32((const uint8_t *)tokens + 4 * i);
        if ((uint64_t)v >= w->m.tok.codebook) {
            reader_set_err(err, err_size, "%s: %s[%" PRId64 "]: token %u at %zu is not below the codebook size %" PRIu64,
                           name, split, index, v, i, w->m.tok.codebook);
            free(vals);
            return -1;
        }
        if (tb == 2) AV_WL16(vals + 2 * i, (uint16_t)v);
        else AV_WL32(vals + 4 * i, v);
    }
    token_record r = {.split = (uint8_t)k, .token_bytes = (uint8_t)tb, .clip = (uint64_t)index,
                      .steps = (uint32_t)steps, .h = (uint16_t)h, .w = (uint16_t)width};
    uint64_t size = token_record_size(r.steps, r.h, r.w, r.token_bytes);
    uint8_t *rec = cm_xmalloc((size_t)size);
    token_record_encode(&r, vals, rec);
    free(vals);
    int rc = 0;
    if (w->at[k][index]) {         /* a resumed run writing it again: must be the same */
        uint8_t *old = cm_xmalloc((size_t)size);
        uint8_t head[TOKEN_RECORD_HEADER_SIZE];
        int same = pread_all(w->fd, head, sizeof head, w->at[k][index]) == 0 && memcmp(head, rec, sizeof head) == 0 &&
                   pread_all(w->fd, old, (size_t)size, w->at[k][index]) == 0 && memcmp(old, rec, (size_t)size) == 0;
        free(old);
        rc = same ? 1 : -1;
        if (!same)
            reader_set_err(err, err_size, "%s: %s[%" PRId64 "] was written before with other tokens", name, split,
                           index);
    } else if (pwrite_all(w->fd, rec, (size_t)size, w->end) != 0) {
        reader_set_err(err, err_size, "%s: %s", w->journal, strerror(errno));
        if (ftruncate(w->fd, (off_t)w->end) != 0) { /* the next open cuts it anyway */
        }
        rc = -1;
    } else {
        w->at[k][index] = w->end;
        w->end += size;
        w->m.height = h;
        w->m.width = width;
    }
    free(rec);
    return rc;
}

/* Writes split k's file from the journal under a temporary name and renames it. */
static int write_split(cmr_token_writer *w, int k, cm_error *e)
{
    token_file_header fh = {.split = (uint8_t)k, .token_bytes = (uint8_t)w->m.token_bytes,
                            .h = (uint16_t)w->m.height, .w = (uint16_t)w->m.width, .clips = (uint64_t)w->clips[k],
                            .codebook = w->m.tok.codebook};
    size_t index_len = (size_t)w->clips[k] * TOKEN_INDEX_ENTRY_SIZE;
    uint8_t *index = cm_xcalloc(1, index_len + 1);
    token_index_entry *ents = cm_xcalloc((size_t)w->clips[k] + 1, sizeof *ents);
    uint64_t off = TOKEN_FILE_HEADER_SIZE + index_len;
    int64_t tokens = 0;
    for (int64_t i = 0; i < w->clips[k]; i++) {
        token_record r;
        uint8_t head[TOKEN_RECORD_HEADER_SIZE];
        if (pread_all(w->fd, head, sizeof head, w->at[k][i]) != 0 || 
            token_record_parse(head, (size_t)(w->end - w->at[k][i]), &r, e) != 0) {
            cm_error_set(e, "%s: record of %s[%" PRId64 "] unreadable", w->journal, dataset_split_name(k), i);
            free(index);
            free(ents);
            return -1;
        }
        token_index_entry en = {.offset = off, .bytes = token_record_size(r.steps, r.h, r.w, r.token_bytes),
                                .steps = r.steps, .header_crc = r.header_crc};
        token_index_put(index + (size_t)i * TOKEN_INDEX_ENTRY_SIZE, &en);
        ents[i] = en;
        off += en.bytes;
        tokens += (int64_t)r.steps * r.h * r.w;
    }
    fh.data_bytes = off - TOKEN_FILE_HEADER_SIZE - index_len;
    fh.file_size = off;
    fh.index_crc = cm_crc32(index, index_len);
    uint8_t head[TOKEN_FILE_HEADER_SIZE];
    token_file_header_encode(&fh, head);
    snprintf(w->m.split[k].file, sizeof w->m.split[k].file, "%s.tok", dataset_split_name(k));
    char *path = cm_path_join(w->dir, w->m.split[k].file);
    cm_atomic_file a = {0};
    FILE *f = cm_atomic_open(&a, path, 1, e);
    int rc = f ? 0 : -1;
    if (f && (fwrite(head, 1, sizeof head, f) != sizeof head || fwrite(index, 1, index_len, f) != index_len)) rc = -1;
    uint8_t *buf = NULL;
    for (int64_t i = 0; rc == 0 && i < w->clips[k]; i++) {
        const token_index_entry en = ents[i];
        buf = cm_xrealloc(buf, (size_t)en.bytes);
        if (pread_all(w->fd, buf, (size_t)en.bytes, w->at[k][i]) != 0 || fwrite(buf, 1, (size_t)en.bytes, f) != en.bytes)
            rc = -1;
    }
    free(buf);
    free(index);
    free(ents);
    if (rc != 0 && f) {
        cm_error_set(e, "%s: write error: %s", a.tmp, strerror(errno));
        cm_atomic_abort(&a);
    } else if (rc == 0) {
        rc = cm_atomic_commit(&a, e);
    }
    if (rc == 0) rc = cm_sha256_file(path, w->m.split[k].sha256, &w->m.split[k].bytes, e);
    w->m.split[k].clips = w->clips[k];
    w->m.split[k].tokens = tokens;
    free(path);
    return rc;
}

CMR_API int cmr_tokw_finish(cmr_token_writer *w, char *err, size_t err_size)
{
    cm_error e = {{0}};
    if (w->finished) return 0;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        int64_t missing = 0, first = -1;
        for (int64_t i = 0; i < w->clips[k]; i++)
            if (!w->at[k][i] && missing++ == 0) first = i;
        if (missing) {
            reader_set_err(err, err_size, "%s: %" PRId64 " of %" PRId64 " clips of split %s not written yet (first: %"
                           PRId64 ")", w->dir, missing, w->clips[k], dataset_split_name(k), first);
            return -1;
        }
    }
    if (!w->m.height) {
        reader_set_err(err, err_size, "%s: the dataset has no clips: nothing to write", w->dir);
        return -1;
    }
    for (int k = 0; k < SPLIT_COUNT; k++)
        if (write_split(w, k, &e) != 0) goto fail;
    size_t len;
    char *text = token_manifest_encode(&w->m, &len), *man = cm_path_join(w->dir, TOKEN_MANIFEST);
    int rc = cm_write_file_atomic(man, text, len, &e);
    free(text);
    free(man);
    if (rc != 0) goto fail;
    close(w->fd);
    w->fd = -1;
    unlink(w->journal);
    cm_fsync_dir(w->dir, NULL);
    w->finished = 1;
    return 0;
fail:
    reader_set_err(err, err_size, "%s", e.msg);
    return -1;
}
