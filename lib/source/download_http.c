/* One download job's transfers (see download.h and docs/downloads.md): the
 * libcurl callbacks that decide, header by header, whether a response's body
 * goes into NAME.part; starting and resuming an attempt; and what a finished
 * attempt becomes: a complete file, a retry after a delay, a web page for
 * yt-dlp, or a failure. Runs on the downloader thread (download.c). */
#define _GNU_SOURCE
#include "download_internal.h"

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
    if (dl_meta_write(j, 0) != 0) {
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

/* libcurl's progress callback (at least once a second): after the grace
 * period, an attempt must have averaged min_rate_bytes_s, so that a body of
 * N bytes ends within rate_grace_s + N / min_rate_bytes_s or is aborted. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    job *j = arg;
    const download_options *o = &j->d->o;
    if (o->min_rate_bytes_s <= 0) return 0;
    double late = cm_monotonic_s() - j->attempt_started_at - o->rate_grace_s;
    if (late > 0 && (double)j->written < (double)o->min_rate_bytes_s * late) {
        j->abort_reason = ABORT_TOO_SLOW;
        return 1;
    }
    return 0;
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
void dl_job_deliver(downloader *d, job *j)
{
    if (!j->r.reused) j->r.seconds = cm_monotonic_s() - j->started_at;
    if (j->r.ok) {
        pthread_mutex_lock(&d->mu);
        d->disk_bytes += j->r.bytes;
        pthread_mutex_unlock(&d->mu);
    } else {
        dl_one_line(j->r.error);
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
    if (!retryable || (stat(j->part_path, &st) == 0 && st.st_size == 0)) dl_remove_partial(j);
    dl_job_deliver(d, j);
}

/* Opens the .part and starts a transfer, resuming when the .part and its
 * meta file allow; on the first attempt, delivers a complete NAME left by an
 * earlier run instead. Returns 0, or -1 after failing the job. */
int dl_attempt_start(downloader *d, job *j)
{
    if (j->r.tries == 0 && dl_reuse_complete(j)) {
        dl_job_deliver(d, j);
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
    if (have > 0 && dl_meta_read(j->meta_path, PART_MAGIC, &m) == 0 && (m.total < 0 || have <= m.total) &&
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
        if (dl_hash_fd_prefix(j->md, j->fd, j->offset) != 0) {
            job_fail(d, j, 1, "cannot read %s: %s", j->part_path, strerror(errno));
            return -1;
        }
        j->hashed = j->offset;
    }
    j->written = 0;
    j->total = -1;
    j->attempt_started_at = cm_monotonic_s();
    j->reported_at = 0;
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
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, j);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
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
    dl_list_append(&d->active, j);
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

void dl_job_cancel(downloader *d, job *j)
{
    if (j->easy) attempt_cleanup(d, j);
    job_free(j);
}

/* The body is complete: verify, rename into place, deliver. */
static void job_complete(downloader *d, job *j)
{
    char got[65];
    dl_digest_hex(j->md, got);
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
    if (dl_meta_write(j, 1) != 0) cm_log(CM_LOG_DEBUG, "%s: cannot write %s: %m", j->url, j->done_meta_path);
    unlink(j->meta_path);
    dl_job_deliver(d, j);
}

static int retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static void *ytdlp_main(void *arg)
{
    job *j = arg;
    downloader *d = j->d;
    ytdlp_fetch(d->ytdlp, d->dir, j->name, j->url, j->expected_sha256, d->o.ytdlp_min_height, d->o.max_bytes,
                d->o.ytdlp_timeout_s, &j->r);
    pthread_mutex_lock(&d->mu);
    dl_list_append(&d->ytdlp_done, j);
    pthread_mutex_unlock(&d->mu);
    curl_multi_wakeup(d->multi);
    return NULL;
}

/* The response was a web page: hand it to yt-dlp on a thread of its own. */
static void job_to_ytdlp(downloader *d, job *j)
{
    dl_remove_partial(j);
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
void dl_attempt_done(downloader *d, job *j, CURLcode res)
{
    dl_list_remove(&d->active, j);
    curl_off_t connect_us = 0;
    long os_errno = 0;
    curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &os_errno);
    attempt_cleanup(d, j);
    j->r.http_status = j->status;
    dl_one_line(j->errbuf);

    int retry = 1, immediately = 0;
    char msg[CM_ERROR_MAX];
    if (j->abort_reason == ABORT_HTML) {
        job_to_ytdlp(d, j);
        return;
    } else if (j->abort_reason == ABORT_TOO_BIG) {
        job_fail(d, j, 0, "larger than --max-bytes (%lld bytes)", (long long)d->o.max_bytes);
        return;
    } else if (j->abort_reason == ABORT_WRITE) {
        if (j->write_errno == ENOSPC || j->write_errno == EDQUOT) {
            /* Kept, the .part would hold the disk full: the catalog could
             * not record this failure and the next run could not even start.
             * Deleted, the next run fetches it again from byte 0. */
            int64_t had = j->offset + j->written;
            dl_remove_partial(j);
            job_fail(d, j, 1, "cannot write %s: %s; the partial download (%lld bytes) was deleted to free the "
                     "space, a later run fetches it again", j->part_path, strerror(j->write_errno), (long long)had);
            return;
        }
        job_fail(d, j, 1, "cannot write %s: %s", j->part_path, strerror(j->write_errno));
        return;
    } else if (j->abort_reason == ABORT_TOO_SLOW) {
        double secs = cm_monotonic_s() - j->attempt_started_at, rate = secs > 0 ? (double)j->written / secs : 0;
        char whole[128] = "";
        if (j->total > 0 && rate > 0) {
            double left = (double)(j->total - j->offset - j->written) / rate;
            snprintf(whole, sizeof whole, "; the rest of its %lld bytes would take %.1f h at this rate",
                     (long long)j->total, left / 3600);
        }
        snprintf(msg, sizeof msg, "too slow: %lld bytes in %.0f s, %.0f B/s on average, below --min-rate %lld B/s "
                 "(after the first %.0f s)%s", (long long)j->written, secs, rate, (long long)d->o.min_rate_bytes_s,
                 d->o.rate_grace_s, whole);
    } else if (j->abort_reason == ABORT_BAD_RANGE) {
        snprintf(msg, sizeof msg, "server answered a Range request from byte %lld with bytes from %lld",
                 (long long)j->offset, (long long)j->range_start);
        if (truncate(j->part_path, 0) != 0) dl_remove_partial(j);
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
            dl_remove_partial(j);
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
        delay = d->o.backoff_base_s * pow(2, j->r.tries - 1) * (0.75 + 0.5 * dl_random_unit(d));
        if (j->retry_after_s >= 0) delay = fmax(delay, j->retry_after_s);
        delay = fmin(delay, d->o.backoff_max_s);
    }
    cm_log(CM_LOG_DEBUG, "%s: %s; try %d of %d in %.2f s", j->url, msg, j->r.tries + 1, d->o.max_tries, delay);
    j->not_before = cm_monotonic_s() + delay;
    dl_list_append(&d->queue, j);
}
