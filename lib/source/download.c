/* HTTP(S) downloads (see download.h and docs/downloads.md).
 *
 * One thread drives a libcurl multi handle. Jobs move between three places:
 * the queue (waiting for a slot, the host limit, disk or a retry time), the
 * active list (a curl transfer is running) and a yt-dlp thread (the url was a
 * web page). Everything a job owns is touched only by whoever holds it at the
 * moment, so jobs need no lock; the mutex guards the hand-over lists and the
 * numbers that other threads read. This file: the downloader thread and
 * the public API; one job's transfers are in download_http.c, its files in
 * download_files.c. */
#define _GNU_SOURCE /* asprintf */
#include "download_internal.h"
#include "stop.h"

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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void dl_list_append(job_list *l, job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail) l->tail->next = j;
    else l->head = j;
    l->tail = j;
    l->n++;
}

void dl_list_remove(job_list *l, job *j)
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
    o->max_bytes = DOWNLOAD_DEFAULT_MAX_BYTES;
    o->min_rate_bytes_s = 32 * 1024;
    o->rate_grace_s = 60;
    o->max_tries = 5;
    o->backoff_base_s = 1;
    o->backoff_max_s = 60;
    o->ytdlp_timeout_s = 600;
    o->ytdlp_min_height = 360;
}
double dl_random_unit(downloader *d) /* xorshift64*, in [0, 1) */
{
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
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
        dl_list_remove(&d->queue, j);
        dl_attempt_start(d, j);
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

/* "12.3 MB", "2.0 KB": decimal units, as the rates the progress line shows. */
static void human_bytes(double b, char *out, size_t n)
{
    if (b >= 1e9) snprintf(out, n, "%.2f GB", b / 1e9);
    else if (b >= 1e6) snprintf(out, n, "%.1f MB", b / 1e6);
    else if (b >= 1e3) snprintf(out, n, "%.1f KB", b / 1e3);
    else snprintf(out, n, "%.0f B", b);
}

void download_progress_line(const download_progress *p, char *out, size_t n)
{
    char url[600];
    cm_clean(p->url, url, sizeof url); /* untrusted: no escape sequence reaches the terminal */
    char got[32], total[32], rate[32], of[64] = "";
    human_bytes((double)p->bytes, got, sizeof got);
    human_bytes(p->rate_bytes_s, rate, sizeof rate);
    if (p->total > 0) {
        human_bytes((double)p->total, total, sizeof total);
        snprintf(of, sizeof of, " of %s (%.1f%%)", total, 100.0 * (double)p->bytes / (double)p->total);
    }
    char try_no[32] = "";
    if (p->try_no > 1) snprintf(try_no, sizeof try_no, ", try %d", p->try_no);
    snprintf(out, n, "%s: %s%s after %.0f s, %s/s%s", url, got, of, p->seconds, rate, try_no);
}

/* Reports every transfer that has run for progress_interval_s, once per
 * interval (downloader thread). */
static void report_slow(downloader *d)
{
    if (!d->o.progress_fn || d->o.progress_interval_s <= 0) return;
    double now = cm_monotonic_s();
    for (job *j = d->active.head; j; j = j->next) {
        double since = now - (j->reported_at > 0 ? j->reported_at : j->attempt_started_at);
        if (since < d->o.progress_interval_s) continue;
        j->reported_at = now;
        double secs = now - j->attempt_started_at;
        download_progress p = {
            .url = j->url,
            .bytes = j->offset + j->written,
            .total = j->total,
            .seconds = secs,
            .rate_bytes_s = secs > 0 ? (double)j->written / secs : 0,
            .try_no = j->r.tries,
        };
        d->o.progress_fn(d->o.progress_arg, &p);
    }
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
            if (j->r.error[0]) dl_job_deliver(d, j); /* refused by downloader_add */
            else dl_list_append(&d->queue, j);
        }
        for (job *j = finished.head, *nx; j; j = nx) {
            nx = j->next;
            pthread_join(j->ytdlp_thread, NULL);
            d->ytdlp_running--;
            dl_job_deliver(d, j);
        }
        if (cm_stop_requested()) {
            /* SIGTERM/SIGINT (stop.h): nothing new starts, transfers in
             * flight end with their .part kept for the rerun, and nothing is
             * delivered; a yt-dlp child is waited for (it got the signal too
             * when it came to the process group). */
            for (job *j = d->queue.head, *nx; j; j = nx) {
                nx = j->next;
                dl_list_remove(&d->queue, j);
                dl_job_cancel(d, j);
            }
            for (job *j = d->active.head, *nx; j; j = nx) {
                nx = j->next;
                dl_list_remove(&d->active, j);
                dl_job_cancel(d, j);
            }
            if (!d->ytdlp_running) break;
            curl_multi_poll(d->multi, NULL, 0, 100, NULL);
            continue;
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
            dl_attempt_done(d, j, m->data.result);
            ended = 1;
        }
        update_stats(d);
        report_slow(d);
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
    if (d->o.max_bytes < 0) d->o.max_bytes = 0;
    if (d->o.min_rate_bytes_s < 0) d->o.min_rate_bytes_s = 0;
    if (d->o.rate_grace_s < 0) d->o.rate_grace_s = 0;
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
        asprintf(&j->done_meta_path, "%s.meta", j->final_path) < 0)
        cm_out_of_memory(strlen(j->final_path) + 16);
    /* A resource limit, not a bug: one error line and exit 3, as in
     * cm_xmalloc (was abort(), a SIGABRT and a core). */
    j->md = EVP_MD_CTX_new();
    if (!j->md || EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1) cm_out_of_memory(sizeof(void *));

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
    dl_list_append(&d->incoming, j);
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
