/* The files of a download (docs/downloads.md): hashing a .part's bytes, and
 * the meta files NAME.part.meta (what a resumed transfer may send in
 * If-Range) and NAME.meta (a complete NAME a later run may take as it is). */
#define _GNU_SOURCE /* asprintf */
#include "download_internal.h"
#include "fsio.h"
#include "hash.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

void download_copy_value(char *dst, size_t cap, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) v++, len--;
    while (len && isspace((unsigned char)v[len - 1])) len--;
    if (len >= cap) len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = 0;
}

void dl_one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') *s = ' ';
}

int dl_hash_fd_prefix(EVP_MD_CTX *md, int fd, int64_t len)
{
    char buf[1 << 16];
    for (int64_t off = 0; off < len;) {
        size_t want = len - off < (int64_t)sizeof buf ? (size_t)(len - off) : sizeof buf;
        ssize_t n = pread(fd, buf, want, off);
        if (n <= 0) return -1;
        EVP_DigestUpdate(md, buf, (size_t)n);
        off += n;
    }
    return 0;
}

void dl_digest_hex(EVP_MD_CTX *md, char out[65])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, h, &n);
    for (unsigned i = 0; i < n && i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
    out[64] = 0;
}

/* ---- the meta files: NAME.part.meta and NAME.meta ---------------------- */

int dl_meta_read(const char *path, const char *magic, meta *m)
{
    memset(m, 0, sizeof *m);
    m->total = -1;
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    char line[4400];
    int rc = fgets(line, sizeof line, f) && strncmp(line, magic, strlen(magic)) == 0 && line[strlen(magic)] == '\n'
                 ? 0 : -1;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *v = strchr(line, ' ');
        if (!v) continue;
        *v++ = 0;
        size_t len = strlen(v);
#define KEY(k) (strcmp(line, k) == 0)
        if (KEY("url")) download_copy_value(m->url, sizeof m->url, v, len);
        else if (KEY("etag")) download_copy_value(m->etag, sizeof m->etag, v, len);
        else if (KEY("last-modified")) download_copy_value(m->last_modified, sizeof m->last_modified, v, len);
        else if (KEY("total")) m->total = strtoll(v, NULL, 10);
        else if (KEY("sha256")) download_copy_value(m->sha256, sizeof m->sha256, v, len);
        else if (KEY("content-type")) download_copy_value(m->content_type, sizeof m->content_type, v, len);
        else if (KEY("http-status")) m->http_status = strtol(v, NULL, 10);
        else if (KEY("tries")) m->tries = (int)strtol(v, NULL, 10);
        else if (KEY("resumed")) m->resumed = (int)strtol(v, NULL, 10);
        else if (KEY("seconds")) m->seconds = strtod(v, NULL);
#undef KEY
    }
    fclose(f);
    return rc;
}

/* Writes NAME.part.meta, or NAME.meta when the job is complete (j->r
 * filled). Written to a temporary name and renamed, so a kill leaves the old
 * or the new; not synced, like the .part it describes. Returns 0, or -1 with
 * errno set. */
int dl_meta_write(const job *j, int complete)
{
    cm_atomic_file a;
    cm_error e;
    FILE *f = cm_atomic_open(&a, complete ? j->done_meta_path : j->meta_path, 0, &e);
    if (!f) return -1;
    fprintf(f, "%s\nurl %s\netag %s\nlast-modified %s\ntotal %lld\n", complete ? DONE_MAGIC : PART_MAGIC, j->url,
            j->etag, j->last_modified, (long long)j->total);
    if (complete)
        fprintf(f, "sha256 %s\ncontent-type %s\nhttp-status %ld\ntries %d\nresumed %d\nseconds %.3f\n", j->r.sha256,
                j->r.content_type, j->r.http_status, j->r.tries, j->r.resumed, j->r.seconds);
    return cm_atomic_commit(&a, &e);
}

/* An earlier run (--download-only, --keep-downloads) may have left NAME
 * complete with its NAME.meta: when that is for this url and NAME still has
 * the recorded size and SHA-256 (and the expected one, when given), the job
 * takes NAME as it is, without a request, and returns 1. Otherwise the stale
 * NAME.meta is removed and the file is downloaded again. */
int dl_reuse_complete(job *j)
{
    meta m;
    struct stat st;
    char got[65];
    int fd = -1, ok = stat(j->final_path, &st) == 0 && S_ISREG(st.st_mode) &&
                      dl_meta_read(j->done_meta_path, DONE_MAGIC, &m) == 0 && strcmp(m.url, j->url) == 0 &&
                      m.total == st.st_size && (fd = open(j->final_path, O_RDONLY | O_CLOEXEC)) >= 0 &&
                      cm_sha256_fd(fd, st.st_size, got, NULL) == 0 && strcmp(got, m.sha256) == 0 &&
                      (!j->expected_sha256 || strcasecmp(j->expected_sha256, got) == 0);
    if (fd >= 0) close(fd);
    if (!ok) {
        unlink(j->done_meta_path);
        return 0;
    }
    j->r.ok = j->r.reused = 1;
    j->r.bytes = st.st_size;
    memcpy(j->r.sha256, got, sizeof got);
    snprintf(j->r.path, sizeof j->r.path, "%s", j->final_path);
    snprintf(j->r.content_type, sizeof j->r.content_type, "%s", m.content_type);
    j->r.http_status = m.http_status;
    j->r.tries = m.tries;
    j->r.resumed = m.resumed;
    j->r.seconds = m.seconds;
    return 1;
}

void dl_remove_partial(const job *j)
{
    unlink(j->part_path);
    unlink(j->meta_path);
}

int download_remove_partials(const char *dir, int64_t *bytes)
{
    *bytes = 0;
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        int part = len > 5 && strcmp(de->d_name + len - 5, ".part") == 0;
        int meta = len > 10 && strcmp(de->d_name + len - 10, ".part.meta") == 0;
        if (!part && !meta) continue;
        char *path = cm_path_join(dir, de->d_name);
        struct stat st;
        int64_t size = stat(path, &st) == 0 ? st.st_size : 0;
        if (unlink(path) == 0 && part) {
            n++;
            *bytes += size;
        }
        free(path);
    }
    closedir(dp);
    return n;
}
