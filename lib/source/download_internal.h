/* Shared between the downloader's sources: download.c (the downloader thread
 * and the public API), download_http.c (one job's transfers: libcurl
 * callbacks, retries, completion), download_files.c (the .part and meta
 * files) and download_ytdlp.c (web pages through yt-dlp). Not an interface
 * for the rest of clipmill, which uses download.h. */
#ifndef CLIPMILL_DOWNLOAD_INTERNAL_H
#define CLIPMILL_DOWNLOAD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "download.h"

#define RATE_SAMPLES 8 /* one every 0.5 s: the recent rate covers ~4 s */

enum abort_reason { ABORT_NONE, ABORT_TOO_BIG, ABORT_HTML, ABORT_BAD_RANGE, ABORT_WRITE, ABORT_TOO_SLOW };

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
    double attempt_started_at, reported_at; /* the current attempt's start; its last progress report */

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

/* ---- download.c ---- */

/* Appends j to / removes j from a job list (no lock: the caller owns it). */
void dl_list_append(job_list *l, job *j);
void dl_list_remove(job_list *l, job *j);

/* A uniform random number in [0, 1) from the downloader's generator
 * (retry jitter); downloader thread only. */
double dl_random_unit(downloader *d);

/* ---- download_files.c ---- */

/* Replaces CR and LF in s by blanks (an error message is one line). */
void dl_one_line(char *s);

/* Feeds bytes [0, len) of fd into md. Returns 0, or -1 when they cannot be read. */
int dl_hash_fd_prefix(EVP_MD_CTX *md, int fd, int64_t len);

/* Finalises md into 64 lowercase hex digits. */
void dl_digest_hex(EVP_MD_CTX *md, char out[65]);

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

/* Reads the meta file path, which must start with magic. Returns 0 and m
 * (total -1 when absent), or -1 when it is missing or of another kind. */
int dl_meta_read(const char *path, const char *magic, meta *m);

/* Writes NAME.part.meta, or NAME.meta when complete (j->r filled), through a
 * temporary file and a rename. Returns 0, or -1 with errno set. */
int dl_meta_write(const job *j, int complete);

/* Takes a complete NAME left by an earlier run when its NAME.meta is for
 * this url and its size and SHA-256 still hold: fills j->r and returns 1;
 * else removes the stale NAME.meta and returns 0. */
int dl_reuse_complete(job *j);

/* Removes NAME.part and NAME.part.meta. */
void dl_remove_partial(const job *j);

/* ---- download_http.c ---- */

/* Hands j's result to its callback and frees j (downloader thread). */
void dl_job_deliver(downloader *d, job *j);
/* Drops j without delivering it (the run is stopping on a signal): ends its
 * transfer, keeps its .part for a later run to resume, frees it. */
void dl_job_cancel(downloader *d, job *j);

/* Starts an attempt of j (opening and resuming its .part), or delivers a
 * complete NAME of an earlier run. Returns 0, or -1 after failing the job. */
int dl_attempt_start(downloader *d, job *j);

/* A transfer of j ended with res: completes, requeues for a retry, hands it
 * to yt-dlp, or fails it for good. */
void dl_attempt_done(downloader *d, job *j, CURLcode res);

/* ---- download_files.c (also used by download_ytdlp.c) ---- */

/* Copies a header value or line into dst (cap bytes, always terminated),
 * without surrounding blanks or the CRLF. */
void download_copy_value(char *dst, size_t cap, const char *v, size_t len);

/* ---- download_ytdlp.c ---- */

/* The yt-dlp executable to use: path when given (NULL if it is not
 * executable), else "yt-dlp" looked up on PATH. Returns a malloc'd path, or
 * NULL when there is none. */
char *ytdlp_locate(const char *path);

/* Fetches the video page url with the yt-dlp executable `ytdlp` into
 * dir/name.EXT, killing it (and what it started) after timeout_s. Blocks;
 * the downloader runs it on a thread of its own, with SIGPIPE blocked.
 * Fills r->via_ytdlp, ok, path, bytes and sha256, or error (naming the exit
 * status and yt-dlp's last stderr line) and retryable. A file whose SHA-256
 * differs from expected_sha256 (when not NULL) is deleted. min_height > 0
 * asks for the smallest rendition at least that high (download.h);
 * max_bytes > 0 is passed as --max-filesize, and a file larger than it is
 * deleted and fails as too large. */
void ytdlp_fetch(const char *ytdlp, const char *dir, const char *name, const char *url,
                 const char *expected_sha256, int min_height, int64_t max_bytes, double timeout_s,
                 download_result *r);

#endif
