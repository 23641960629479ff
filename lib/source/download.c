/* HTTP(S) downloads (see download.h and docs/downloads.md).
 *
 * One thread drives a libcurl multi handle. Jobs move between three places:
 * the queue (waiting for a slot, the host limit, disk or a retry time), the
 * active list (a curl transfer is running) and a yt-dlp thread (the url was a
 * web page). Everything a job owns is touched only by whoever holds it at the
 * moment, so jobs need no lock; the mutex guards the hand-over lists and the
 * numbers that other threads read. */
#define _GNU_SOURCE /* asprintf */
#include "download_internal.h"
#include "fsio.h"
#include "hash.h"

#include <ctype.h>
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

#ifndef CLIPMILL_VERSION
#define CLIPMILL_VERSION "0"
#endif

#define RATE_SAMPLES 8 /* one every 0.5 s: the recent rate covers ~4 s */

enum abort_reason { ABORT_NONE, ABORT_TOO_BIG, ABORT_HTML, ABORT_BAD_RANGE, ABORT_WRITE };

typedef struct job job;
struct job {
    job *prev, *next;
    downloader *d;
    char *url, *name, *expected_sha256, *host;
    char *final_path, *part_path, *meta_path, *done_meta_path; /* NAME, NAME.part, NAME.part.meta, NAME.meta */
    download_done_fn fn;
    void *arg;
    download_result r;
    double started_at, not_before;

    /* The current attempt. md covers the first `hashed` bytes of the .part
     * and survives between attempts, so a retry does not re-read the file. */
    CURL *easy;
    struct curl_slist *headers;
    int fd;
    EVP_MD_CTX *md;
    int64_t hashed, offset, written, total;
    long status;
    char reason[64];
    int writing; /* 1: the current response's body goes into the .part */
    enum abort_reason abort_reason;
    int write_errno;
    double retry_after_s;
    int64_t content_length;
    int64_t range_start, range_total;
    char etag[256], last_modified[64];
    char validator[256]; /* sent in If-Range, "" when not resuming */
    int headers_done;    /* later header lines are trailers */
    char errbuf[CURL_ERROR_SIZE];

    pthread_t ytdlp_thread;
};

typedef struct job_list {
    job *head, *tail;
    int n;
} job_list;

struct downloader {
    download_options o;
    char *dir;
    char *ytdlp; /* resolved executable, NULL if none */
    CURLM *multi;
    pthread_t thread;
    uint64_t rng;

    /* Owned by the downloader thread. */
    job_list queue, active;
    int ytdlp_running;

    pthread_mutex_t mu; /* guards everything below */
    job_list incoming, ytdlp_done;
    int stopping;
    int64_t disk_bytes;
    int stat_active, stat_waiting;
    double rate;
    double sample_t[RATE_SAMPLES];
    int64_t sample_bytes[RATE_SAMPLES];
    int sample_next;
    _Atomic int64_t bytes_received;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void list_append(job_list *l, job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail) l->tail->next = j;
    else l->head = j;
    l->tail = j;
    l->n++;
}

static void list_remove(job_list *l, job *j)
{
    if (j->prev) j->prev->next = j->next;
    else l->head = j->next;
    if (j->next) j->next->prev = j->prev;
    else l->tail = j->prev;
    j->prev = j->next = NULL;
    l->n--;
}

void download_options_default(download_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_parallel = 8;
    o->max_per_host = 4;
    o->connect_timeout_s = 30;
    o->low_speed_bytes = 1024;
    o->low_speed_time_s = 30;
    o->max_redirects = 5;
    o->max_tries = 5;
    o->backoff_base_s = 1;
    o->backoff_max_s = 60;
    o->ytdlp_timeout_s = 600;
}

/* ---- small helpers ---------------------------------------------------- */

static double random_unit(downloader *d) /* xorshift64*, in [0, 1) */
{
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

void download_copy_value(char *dst, size_t cap, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) v++, len--;
    while (len && isspace((unsigned char)v[len - 1])) len--;
    if (len >= cap) len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = 0;
}

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') *s = ' ';
}

static int hash_fd_prefix(EVP_MD_CTX *md, int fd, int64_t len)
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

static void digest_hex(EVP_MD_CTX *md, char out[65])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, h, &n);
    for (unsigned i = 0; i < n && i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
    out[64] = 0;
}

/* ---- the meta files: NAME.part.meta and NAME.meta ---------------------- */

#define PART_MAGIC "clipmill-part 1"
#define DONE_MAGIC "clipmill-file 1"

/* NAME.part.meta has the fields up to total; NAME.meta, written when NAME is
 * complete, has them all, so a later run can deliver NAME as it is. */
typedef struct meta {
    char url[4096], etag[256], last_modified[64];
    int64_t total;
    char sha256[65], content_type[128];
    long http_status;
    int tries, resumed;
    double seconds;
} meta;

static int meta_read(const char *path, const char *magic, meta *m)
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
static int meta_write(const job *j, int complete)
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
static int reuse_complete(job *j)
{
    meta m;
    struct stat st;
    char got[65];
    int fd = -1, ok = stat(j->final_path, &st) == 0 && S_ISREG(st.st_mode) &&
                      meta_read(j->done_meta_path, DONE_MAGIC, &m) == 0 && strcmp(m.url, j->url) == 0 &&
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

static void remove_partial(const job *j)
{
    unlink(j->part_path);
    unlink(j->meta_path);
}

/* ---- curl callbacks ---------------------------------------------------- */

/* Called once the headers of a response are complete: decides whether its
 * body belongs in the .part, before a single body byte is written. Returns 0
 * to abort the transfer. */
static int on_headers_done(job *j)
{
    downloader *d = j->d;
    j->writing = 0;
    if (j->status < 200 || j->status >= 300) return 1; /* 1xx, redirect, error: body is discarded */
    if (strncasecmp(j->r.content_type, "text/html", 9) == 0 ||
        strncasecmp(j->r.content_type, "application/xhtml+xml", 21) == 0) {
        j->abort_reason = ABORT_HTML;
        return 0;
    }
    if (j->status == 206) {
        if (j->range_start != j->offset) {
            j->abort_reason = ABORT_BAD_RANGE;
            return 0;
        }
        j->total = j->range_total;
        j->r.resumed = j->offset > 0;
    } else {
        if (j->offset > 0) { /* Range ignored or validator changed: start over */
            if (ftruncate(j->fd, 0) != 0) {
                j->abort_reason = ABORT_WRITE;
                j->write_errno = errno;
                return 0;
            }
            j->offset = 0;
            j->hashed = 0;
            EVP_DigestInit_ex(j->md, EVP_sha256(), NULL);
        }
        j->r.resumed = 0;
        j->total = j->content_length;
    }
    if (d->o.max_bytes > 0 && j->total > d->o.max_bytes) {
        j->abort_reason = ABORT_TOO_BIG;
        return 0;
    }
    if (meta_write(j, 0) != 0) {
        j->abort_reason = ABORT_WRITE;
        j->write_errno = errno;
        return 0;
    }
    j->writing = 1;
    return 1;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
    job *j = arg;
    size_t len = size * nitems;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a new response (after a redirect or 1xx) */
        j->status = 0;
        j->reason[0] = j->etag[0] = j->last_modified[0] = j->r.content_type[0] = 0;
        j->content_length = j->range_start = j->range_total = -1;
        j->retry_after_s = -1;
        j->headers_done = 0;
        const char *p = memchr(buf, ' ', len);
        if (p) {
            char line[128];
            download_copy_value(line, sizeof line, p, len - (size_t)(p - buf));
            char *end = NULL;
            j->status = strtol(line, &end, 10);
            download_copy_value(j->reason, sizeof j->reason, end, strlen(end));
        }
        return len;
    }
    if (j->headers_done) return len;
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        j->headers_done = 1;
        return on_headers_done(j) ? len : 0;
    }

    const char *colon = memchr(buf, ':', len);
    if (!colon) return len;
    size_t name_len = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = len - name_len - 1;
    char value[512];
    download_copy_value(value, sizeof value, v, vlen);
#define IS(h) (name_len == sizeof(h) - 1 && strncasecmp(buf, h, name_len) == 0)
    if (IS("ETag")) download_copy_value(j->etag, sizeof j->etag, v, vlen);
    else if (IS("Last-Modified")) download_copy_value(j->last_modified, sizeof j->last_modified, v, vlen);
    else if (IS("Content-Type")) download_copy_value(j->r.content_type, sizeof j->r.content_type, v, vlen);
    else if (IS("Content-Length")) j->content_length = strtoll(value, NULL, 10);
    else if (IS("Content-Range")) {
        long long start, end, total;
        char rest[32];
        if (sscanf(value, "bytes %lld-%lld/%31s", &start, &end, rest) == 3) {
            j->range_start = start;
            j->range_total = rest[0] == '*' ? -1 : strtoll(rest, NULL, 10);
        } else if (sscanf(value, "bytes */%lld", &total) == 1) { /* in a 416 */
            j->range_total = total;
        }
    } else if (IS("Retry-After")) {
        if (isdigit((unsigned char)value[0])) {
            j->retry_after_s = strtod(value, NULL);
        } else {
            time_t when = curl_getdate(value, NULL);
            if (when != -1) j->retry_after_s = fmax(0, difftime(when, time(NULL)));
        }
    }
#undef IS
    return len;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *arg)
{
    job *j = arg;
    size_t len = size * nitems;
    if (!j->writing) return len;
    int64_t end = j->offset + j->written + (int64_t)len;
    if (j->d->o.max_bytes > 0 && end > j->d->o.max_bytes) {
        j->abort_reason = ABORT_TOO_BIG;
        return 0;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(j->fd, buf + done, len - done, j->offset + j->written + (int64_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            j->abort_reason = ABORT_WRITE;
            j->write_errno = n < 0 ? errno : ENOSPC;
            return 0;
        }
        done += (size_t)n;
    }
    EVP_DigestUpdate(j->md, buf, len);
    j->written += (int64_t)len;
    j->hashed = j->offset + j->written;
    atomic_fetch_add(&j->d->bytes_received, (int64_t)len);
    return len;
}

/* ---- job lifecycle ----------------------------------------------------- */

static void job_free(job *j)
{
    if (j->fd >= 0) close(j->fd);
    EVP_MD_CTX_free(j->md);
    free(j->url);
    free(j->name);
    free(j->expected_sha256);
    free(j->host);
    free(j->final_path);
    free(j->part_path);
    free(j->meta_path);
    free(j->done_meta_path);
    free(j);
}

/* Hands the result to the caller and frees the job. */
static void job_deliver(downloader *d, job *j)
{
    if (!j->r.reused) j->r.seconds = cm_monotonic_s() - j->started_at;
    if (j->r.ok) {
        pthread_mutex_lock(&d->mu);
        d->disk_bytes += j->r.bytes;
        pthread_mutex_unlock(&d->mu);
    } else {
        one_line(j->r.error);
    }
    if (j->fn) j->fn(j->arg, &j->r);
    job_free(j);
}

static void job_fail(downloader *d, job *j, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_fail(downloader *d, job *j, int retryable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->r.error, sizeof j->r.error, fmt, ap);
    va_end(ap);
    j->r.ok = 0;
    j->r.retryable = retryable;
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
    struct stat st;
    /* Kept when a later run can resume it. */
    if (!retryable || (stat(j->part_path, &st) == 0 && st.st_size == 0)) remove_partial(j);
    job_deliver(d, j);
}

/* Opens the .part and starts a transfer, resuming when the .part and its
 * meta file allow; on the first attempt, delivers a complete NAME left by an
 * earlier run instead. Returns 0, or -1 after failing the job. */
static int attempt_start(downloader *d, job *j)
{
    if (j->r.tries == 0 && reuse_complete(j)) {
        job_deliver(d, j);
        return 0;
    }
    j->r.tries++;
    j->fd = open(j->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (j->fd < 0 || fstat(j->fd, &st) != 0) {
        job_fail(d, j, 1, "cannot open %s: %s", j->part_path, strerror(errno));
        return -1;
    }
    meta m;
    const char *validator = NULL;
    int64_t have = st.st_size;
    if (have > 0 && meta_read(j->meta_path, PART_MAGIC, &m) == 0 && (m.total < 0 || have <= m.total) &&
        (d->o.max_bytes <= 0 || have <= d->o.max_bytes)) {
        /* A weak ETag may not be used in If-Range (RFC 9110 13.1.5). A strong
         * one names the bytes wherever they come from; a date only means
         * something for the same url. */
        if (m.etag[0] && strncmp(m.etag, "W/", 2) != 0) validator = m.etag;
        else if (m.last_modified[0] && strcmp(m.url, j->url) == 0) validator = m.last_modified;
    }
    j->offset = validator ? have : 0;
    snprintf(j->validator, sizeof j->validator, "%s", validator ? validator : "");
    if (!validator && have > 0 && ftruncate(j->fd, 0) != 0) {
        job_fail(d, j, 1, "cannot truncate %s: %s", j->part_path, strerror(errno));
        return -1;
    }
    if (j->hashed != j->offset) {
        EVP_DigestInit_ex(j->md, EVP_sha256(), NULL);
        j->hashed = 0;
        if (hash_fd_prefix(j->md, j->fd, j->offset) != 0) {
            job_fail(d, j, 1, "cannot read %s: %s", j->part_path, strerror(errno));
            return -1;
        }
        j->hashed = j->offset;
    }
    j->written = 0;
    j->total = -1;
    j->writing = 0;
    j->abort_reason = ABORT_NONE;
    j->status = 0;
    j->errbuf[0] = 0;

    CURL *c = j->easy = curl_easy_init();
    if (!c) {
        job_fail(d, j, 1, "curl_easy_init failed");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "clipmill/" CLIPMILL_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)d->o.max_redirects);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, d->o.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, d->o.low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, d->o.low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
    if (j->offset > 0) {
        /* CURLOPT_RANGE rather than CURLOPT_RESUME_FROM_LARGE: with the
         * latter curl fails a 200 answer (CURLE_RANGE_ERROR) after its
         * headers, where we want to take the whole new body instead. */
        char h[300], range[32];
        snprintf(h, sizeof h, "If-Range: %s", validator);
        snprintf(range, sizeof range, "%lld-", (long long)j->offset);
        j->headers = curl_slist_append(NULL, h);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    if (curl_multi_add_handle(d->multi, c) != CURLM_OK) {
        job_fail(d, j, 1, "curl_multi_add_handle failed");
        return -1;
    }
    list_append(&d->active, j);
    return 0;
}

static void attempt_cleanup(downloader *d, job *j)
{
    curl_multi_remove_handle(d->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
}

/* The body is complete: verify, rename into place, deliver. */
static void job_complete(downloader *d, job *j)
{
    char got[65];
    digest_hex(j->md, got);
    j->hashed = -1; /* the context is finalised */
    int64_t size = j->offset + j->written;
    if (j->expected_sha256 && strcasecmp(j->expected_sha256, got) != 0) {
        job_fail(d, j, 0, "SHA-256 mismatch: expected %s, got %s", j->expected_sha256, got);
        return;
    }
    if (rename(j->part_path, j->final_path) != 0) {
        job_fail(d, j, 1, "cannot rename %s to %s: %s", j->part_path, j->final_path, strerror(errno));
        return;
    }
    j->r.ok = 1;
    j->r.retryable = 0;
    j->r.bytes = j->total = size;
    memcpy(j->r.sha256, got, sizeof got);
    snprintf(j->r.path, sizeof j->r.path, "%s", j->final_path);
    j->r.seconds = cm_monotonic_s() - j->started_at;
    /* Without NAME.meta, NAME is merely fetched again by a later run. */
    if (meta_write(j, 1) != 0) cm_log(CM_LOG_DEBUG, "%s: cannot write %s: %m", j->url, j->done_meta_path);
    unlink(j->meta_path);
    job_deliver(d, j);
}

static int retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static void *ytdlp_main(void *arg)
{
    job *j = arg;
    downloader *d = j->d;
    ytdlp_fetch(d->ytdlp, d->dir, j->name, j->url, j->expected_sha256, d->o.ytdlp_timeout_s, &j->r);
    pthread_mutex_lock(&d->mu);
    list_append(&d->ytdlp_done, j);
    pthread_mutex_unlock(&d->mu);
    curl_multi_wakeup(d->multi);
    return NULL;
}

/* The response was a web page: hand it to yt-dlp on a thread of its own. */
static void job_to_ytdlp(downloader *d, job *j)
{
    remove_partial(j);
    if (!d->ytdlp) {
        job_fail(d, j, 0, "is a web page (%s), not a media file; install yt-dlp (Debian package yt-dlp) to "
                 "fetch video pages", "text/html");
        return;
    }
    if (pthread_create(&j->ytdlp_thread, NULL, ytdlp_main, j) != 0) {
        job_fail(d, j, 1, "cannot start a thread for yt-dlp");
        return;
    }
    d->ytdlp_running++;
}

/* A transfer ended: complete, retry after a delay, or fail for good. */
static void attempt_done(downloader *d, job *j, CURLcode res)
{
    list_remove(&d->active, j);
    curl_off_t connect_us = 0;
    long os_errno = 0;
    curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &os_errno);
    attempt_cleanup(d, j);
    j->r.http_status = j->status;
    one_line(j->errbuf);

    int retry = 1, immediately = 0;
    char msg[CM_ERROR_MAX];
    if (j->abort_reason == ABORT_HTML) {
        job_to_ytdlp(d, j);
        return;
    } else if (j->abort_reason == ABORT_TOO_BIG) {
        job_fail(d, j, 0, "larger than --max-bytes (%lld bytes)", (long long)d->o.max_bytes);
        return;
    } else if (j->abort_reason == ABORT_WRITE) {
        job_fail(d, j, 1, "cannot write %s: %s", j->part_path, strerror(j->write_errno));
        return;
    } else if (j->abort_reason == ABORT_BAD_RANGE) {
        snprintf(msg, sizeof msg, "server answered a Range request from byte %lld with bytes from %lld",
                 (long long)j->offset, (long long)j->range_start);
        if (truncate(j->part_path, 0) != 0) remove_partial(j);
        immediately = 1;
    } else if (res == CURLE_OK && j->status >= 200 && j->status < 300) {
        if (j->total < 0 || j->offset + j->written == j->total) {
            job_complete(d, j);
            return;
        }
        snprintf(msg, sizeof msg, "server sent fewer bytes than Content-Length");
    } else if (res == CURLE_OK) {
        snprintf(msg, sizeof msg, "HTTP %ld%s%s", j->status, j->reason[0] ? " " : "", j->reason);
        if (j->status == 416 && j->offset > 0 && j->range_total == j->offset &&
            (j->etag[0] ? strcmp(j->etag, j->validator) == 0 : !j->last_modified[0] ||
                                                                 strcmp(j->last_modified, j->validator) == 0)) {
            /* Nothing after our last byte, and the validator (when the 416
             * carries one) still matches: the .part was already complete. */
            j->total = j->offset;
            j->r.resumed = 1;
            job_complete(d, j);
            return;
        }
        if (j->status == 416) { /* our Range is past the end: the file changed, start over */
            remove_partial(j);
            immediately = 1;
        } else {
            retry = retryable_status(j->status);
        }
    } else {
        switch (res) {
        case CURLE_TOO_MANY_REDIRECTS:
            snprintf(msg, sizeof msg, "too many redirects (more than %d)", d->o.max_redirects);
            retry = 0;
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
            snprintf(msg, sizeof msg, "redirect to a protocol that is not http(s)");
            retry = 0;
            break;
        case CURLE_OPERATION_TIMEDOUT:
            if (connect_us == 0 && j->status == 0)
                snprintf(msg, sizeof msg, "connection timed out after %ld s", d->o.connect_timeout_s);
            else
                snprintf(msg, sizeof msg, "stalled: below %ld B/s for %ld s", d->o.low_speed_bytes,
                         d->o.low_speed_time_s);
            break;
        case CURLE_COULDNT_CONNECT:
            if (os_errno == ECONNREFUSED) snprintf(msg, sizeof msg, "connection refused");
            else if (os_errno) snprintf(msg, sizeof msg, "cannot connect: %s", strerror((int)os_errno));
            else snprintf(msg, sizeof msg, "cannot connect: %s", j->errbuf);
            break;
        case CURLE_COULDNT_RESOLVE_HOST:
            snprintf(msg, sizeof msg, "cannot resolve host %s", j->host);
            break;
        case CURLE_PARTIAL_FILE:
            snprintf(msg, sizeof msg, "server sent fewer bytes than Content-Length");
            break;
        case CURLE_PEER_FAILED_VERIFICATION:
            snprintf(msg, sizeof msg, "TLS certificate not accepted: %s", j->errbuf);
            retry = 0;
            break;
        default:
            snprintf(msg, sizeof msg, "%s%s%s", curl_easy_strerror(res), j->errbuf[0] ? ": " : "", j->errbuf);
            break;
        }
    }
    if (!retry || j->r.tries >= d->o.max_tries) {
        job_fail(d, j, retry, "%s", msg);
        return;
    }
    double delay = 0;
    if (!immediately) {
        delay = d->o.backoff_base_s * pow(2, j->r.tries - 1) * (0.75 + 0.5 * random_unit(d));
        if (j->retry_after_s >= 0) delay = fmax(delay, j->retry_after_s);
        delay = fmin(delay, d->o.backoff_max_s);
    }
    cm_log(CM_LOG_DEBUG, "%s: %s; try %d of %d in %.2f s", j->url, msg, j->r.tries + 1, d->o.max_tries, delay);
    j->not_before = cm_monotonic_s() + delay;
    list_append(&d->queue, j);
}

/* ---- the downloader thread --------------------------------------------- */

static int host_active(const downloader *d, const char *host)
{
    int n = 0;
    for (const job *a = d->active.head; a; a = a->next) n += strcasecmp(a->host, host) == 0;
    return n;
}

/* Starts every queued job that may start now; returns the seconds until the
 * earliest retry that is not due yet (or 1). */
static double start_ready(downloader *d, int64_t disk_bytes)
{
    double now = cm_monotonic_s(), next = 1;
    int disk_full = d->o.max_disk_bytes > 0 && disk_bytes >= d->o.max_disk_bytes;
    for (job *j = d->queue.head, *nx; j && d->active.n < d->o.max_parallel; j = nx) {
        nx = j->next;
        if (j->not_before > now) {
            next = fmin(next, j->not_before - now);
            continue;
        }
        if ((disk_full && j->r.tries == 0) || host_active(d, j->host) >= d->o.max_per_host) continue;
        list_remove(&d->queue, j);
        attempt_start(d, j);
    }
    return next;
}

static void update_stats(downloader *d)
{
    double now = cm_monotonic_s();
    int64_t bytes = atomic_load(&d->bytes_received);
    pthread_mutex_lock(&d->mu);
    int last = (d->sample_next + RATE_SAMPLES - 1) % RATE_SAMPLES;
    if (d->sample_t[last] == 0 || now - d->sample_t[last] >= 0.5) {
        int oldest = d->sample_next;
        d->sample_t[d->sample_next] = now;
        d->sample_bytes[d->sample_next] = bytes;
        d->sample_next = (d->sample_next + 1) % RATE_SAMPLES;
        if (d->sample_t[oldest] == 0) oldest = 0;
        double dt = now - d->sample_t[oldest];
        d->rate = dt > 0 ? (double)(bytes - d->sample_bytes[oldest]) / dt : 0;
    }
    d->stat_active = d->active.n + d->ytdlp_running;
    d->stat_waiting = d->queue.n;
    pthread_mutex_unlock(&d->mu);
}

static void *downloader_main(void *arg)
{
    downloader *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        job_list added = d->incoming, finished = d->ytdlp_done;
        d->stat_waiting += added.n; /* until update_stats counts them in the queue */
        memset(&d->incoming, 0, sizeof d->incoming);
        memset(&d->ytdlp_done, 0, sizeof d->ytdlp_done);
        int stopping = d->stopping;
        int64_t disk = d->disk_bytes;
        pthread_mutex_unlock(&d->mu);

        for (job *j = added.head, *nx; j; j = nx) {
            nx = j->next;
            if (j->r.error[0]) job_deliver(d, j); /* refused by downloader_add */
            else list_append(&d->queue, j);
        }
        for (job *j = finished.head, *nx; j; j = nx) {
            nx = j->next;
            pthread_join(j->ytdlp_thread, NULL);
            d->ytdlp_running--;
            job_deliver(d, j);
        }
        if (stopping && !d->queue.n && !d->active.n && !d->ytdlp_running) break;

        double next = start_ready(d, disk);
        int running = 0, msgs = 0, ended = 0;
        curl_multi_perform(d->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(d->multi, &msgs))) {
            if (m->msg != CURLMSG_DONE) continue;
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            attempt_done(d, j, m->data.result);
            ended = 1;
        }
        update_stats(d);
        if (ended || added.n || finished.n) continue;
        long curl_ms = -1;
        curl_multi_timeout(d->multi, &curl_ms);
        long wait_ms = (long)(next * 1000) + 1;
        if (curl_ms >= 0 && curl_ms < wait_ms) wait_ms = curl_ms;
        curl_multi_poll(d->multi, NULL, 0, (int)wait_ms, NULL);
    }
    update_stats(d);
    return NULL;
}

/* ---- public API ---------------------------------------------------------- */

int downloader_start(downloader **out, const char *dir, const download_options *o, cm_error *e)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        cm_error_set(e, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
        return -1;
    }
    if (cm_mkdir_p(dir, e) != 0) return -1;
    downloader *d = cm_xcalloc(1, sizeof *d);
    download_options def;
    download_options_default(&def);
    d->o = o ? *o : def;
    if (d->o.max_parallel <= 0) d->o.max_parallel = def.max_parallel;
    if (d->o.max_per_host <= 0) d->o.max_per_host = def.max_per_host;
    if (d->o.connect_timeout_s <= 0) d->o.connect_timeout_s = def.connect_timeout_s;
    if (d->o.low_speed_bytes <= 0) d->o.low_speed_bytes = def.low_speed_bytes;
    if (d->o.low_speed_time_s <= 0) d->o.low_speed_time_s = def.low_speed_time_s;
    if (d->o.max_redirects < 0) d->o.max_redirects = def.max_redirects;
    if (d->o.max_tries <= 0) d->o.max_tries = def.max_tries;
    if (d->o.backoff_base_s < 0) d->o.backoff_base_s = def.backoff_base_s;
    if (d->o.backoff_max_s <= 0) d->o.backoff_max_s = def.backoff_max_s;
    if (d->o.ytdlp_timeout_s <= 0) d->o.ytdlp_timeout_s = def.ytdlp_timeout_s;
    d->dir = cm_xstrdup(dir);
    d->ytdlp = ytdlp_locate(d->o.ytdlp_path);
    d->o.ytdlp_path = NULL; /* the caller's string is not ours to keep */
    d->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)d ^ 1;
    pthread_mutex_init(&d->mu, NULL);
    d->multi = curl_multi_init();
    if (!d->multi) {
        cm_error_set(e, "curl_multi_init failed");
        goto fail;
    }
    /* A peer closing a socket mid-write must give EPIPE, not kill the process:
     * the thread (and the yt-dlp threads it starts) inherit a blocked SIGPIPE. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = pthread_create(&d->thread, NULL, downloader_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        cm_error_set(e, "cannot start the downloader thread: %s", strerror(rc));
        goto fail;
    }
    *out = d;
    return 0;
fail:
    if (d->multi) curl_multi_cleanup(d->multi);
    pthread_mutex_destroy(&d->mu);
    free(d->ytdlp);
    free(d->dir);
    free(d);
    return -1;
}

static int valid_name(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

void downloader_add(downloader *d, const char *url, const char *name, const char *expected_sha256,
                    download_done_fn fn, void *arg)
{
    job *j = cm_xcalloc(1, sizeof *j);
    j->d = d;
    j->fd = -1;
    j->url = cm_xstrdup(url ? url : "");
    j->name = cm_xstrdup(valid_name(name) ? name : "download");
    if (expected_sha256 && *expected_sha256) j->expected_sha256 = cm_xstrdup(expected_sha256);
    j->fn = fn;
    j->arg = arg;
    j->started_at = cm_monotonic_s();
    j->final_path = cm_path_join(d->dir, j->name);
    if (asprintf(&j->part_path, "%s.part", j->final_path) < 0 ||
        asprintf(&j->meta_path, "%s.part.meta", j->final_path) < 0 ||
        asprintf(&j->done_meta_path, "%s.meta", j->final_path) < 0) {
        fprintf(stderr, "clipmill: out of memory\n");
        abort();
    }
    j->md = EVP_MD_CTX_new();
    if (!j->md || !EVP_DigestInit_ex(j->md, EVP_sha256(), NULL)) {
        fprintf(stderr, "clipmill: cannot create a SHA-256 context\n");
        abort();
    }

    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!valid_name(name)) {
        snprintf(j->r.error, sizeof j->r.error, "invalid file name \"%s\"", name ? name : "(null)");
    } else if (!u || curl_url_set(u, CURLUPART_URL, j->url, 0) != CURLUE_OK ||
               curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(j->r.error, sizeof j->r.error, "not a valid URL");
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(j->r.error, sizeof j->r.error, "unsupported scheme \"%s\" (only http and https)", scheme);
    } else {
        j->host = cm_xstrdup(host);
    }
    if (j->r.error[0]) j->r.retryable = 0;
    if (!j->host) j->host = cm_xstrdup("");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);

    pthread_mutex_lock(&d->mu);
    list_append(&d->incoming, j);
    pthread_mutex_unlock(&d->mu);
    curl_multi_wakeup(d->multi);
}

void downloader_release(downloader *d, int64_t bytes)
{
    pthread_mutex_lock(&d->mu);
    d->disk_bytes -= bytes;
    if (d->disk_bytes < 0) d->disk_bytes = 0;
    pthread_mutex_unlock(&d->mu);
    curl_multi_wakeup(d->multi);
}

void downloader_get_stats(downloader *d, download_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!d) return;
    s->bytes_received = atomic_load(&d->bytes_received);
    pthread_mutex_lock(&d->mu);
    s->rate_bytes_s = d->rate;
    s->active = d->stat_active;
    s->waiting = d->stat_waiting + d->incoming.n;
    s->disk_bytes = d->disk_bytes;
    pthread_mutex_unlock(&d->mu);
}

void downloader_finish(downloader *d)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_mutex_unlock(&d->mu);
    curl_multi_wakeup(d->multi);
    pthread_join(d->thread, NULL);
    curl_multi_cleanup(d->multi);
    pthread_mutex_destroy(&d->mu);
    free(d->ytdlp);
    free(d->dir);
    free(d);
}

int download_delete(const char *path)
{
    char *record = NULL;
    if (asprintf(&record, "%s.meta", path) >= 0) {
        unlink(record);
        free(record);
    }
    return unlink(path);
}
