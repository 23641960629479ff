/* HTTP(S) downloads for ingest: libcurl's multi interface on one thread of
 * its own, many transfers at once, resumable, retried, bounded and hashed.
 *
 * A download of url into dir/NAME goes through dir/NAME.part (the bytes so
 * far) and dir/NAME.part.meta (validators: ETag, Last-Modified, total size,
 * as one small text file written atomically). A retry, a crash or a kill -9
 * continues a .part file with a Range request (If-Range with the validator),
 * and starts over when the server ignores Range or the validators changed.
 * When complete, the SHA-256 is checked (if expected), NAME.part is
 * renamed to NAME, and NAME.meta records the validators and the SHA-256: a
 * later download of the same url into the same dir delivers NAME as it is,
 * without a request, while it still has that SHA-256. See docs/downloads.md. */
#ifndef CLIPMILL_DOWNLOAD_H
#define CLIPMILL_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* What a progress report says about one running transfer. */
typedef struct download_progress {
    const char *url;           /* as given to downloader_add (untrusted: may hold control characters) */
    int64_t bytes;             /* of the file so far, a resumed .part's bytes included */
    int64_t total;             /* the whole file's size, -1 when the server did not say */
    double seconds;            /* since this attempt started */
    double rate_bytes_s;       /* this attempt's average */
    int try_no;                /* 1 for the first attempt */
} download_progress;

typedef void (*download_progress_fn)(void *arg, const download_progress *p);

/* One line describing p, its url made terminal-safe (cm_clean: control
 * characters escaped), e.g. "http://h/v.mp4: 1.2 MB of 1.00 GB (0.1%) after
 * 45 s, 2.0 KB/s". */
void download_progress_line(const download_progress *p, char *out, size_t n);

typedef struct download_options {
    int max_parallel;          /* transfers at once (--downloads), default 8 */
    int max_per_host;          /* transfers at once to one host, default 4 */
    long connect_timeout_s;    /* default 30 */
    long low_speed_bytes;      /* abort a transfer slower than this ... (default 1024 B/s) */
    long low_speed_time_s;     /* ... for this long (default 30 s) */
    int64_t max_bytes;         /* refuse bodies larger than this (Content-Length and while streaming);
                                  default DOWNLOAD_DEFAULT_MAX_BYTES (4 GiB); 0 = no limit */
    int64_t min_rate_bytes_s;  /* each attempt must average at least this many B/s after its first
                                  rate_grace_s (so N bytes take at most rate_grace_s + N / min_rate s),
                                  else it is aborted as too slow; default 32 KiB/s; 0 = no minimum */
    double rate_grace_s;       /* default 60 */
    double progress_interval_s; /* a transfer running this long is reported through progress_fn, then
                                  once per interval; 0 (the default) = never */
    int max_redirects;         /* default 5 */
    int max_tries;             /* HTTP attempts per url within one run, default 5 */
    double backoff_base_s;     /* first retry delay, doubled each time, with jitter; default 1 */
    double backoff_max_s;      /* cap on one delay (and on Retry-After honoured), default 60 */
    int64_t max_disk_bytes;    /* downloaded-but-not-released bytes allowed on disk; new transfers
                                  wait while at or above it; 0 = no limit (--max-disk) */
    const char *ytdlp_path;    /* yt-dlp executable for web pages; NULL = look for "yt-dlp" on PATH */
    double ytdlp_timeout_s;    /* default 600 */
    int ytdlp_min_height;      /* yt-dlp fetches the smallest rendition at least this high (the largest when
                                  none is); 0 = its best; default 360 (4 x 90, the output height) */
    download_progress_fn progress_fn; /* called on the downloader's thread; NULL = no reports */
    void *progress_arg;
} download_options;

#define DOWNLOAD_DEFAULT_MAX_BYTES ((int64_t)4 << 30)

void download_options_default(download_options *o);

typedef struct download_result {
    int ok;                    /* 1: the file is complete at path */
    char path[4096];           /* final file (dir/NAME, or dir/NAME.EXT for yt-dlp) */
    char sha256[65];           /* of the complete file */
    int64_t bytes;             /* size of the complete file */
    long http_status;          /* last HTTP status seen (0 if none) */
    int tries;                 /* HTTP attempts made in this run */
    int resumed;               /* 1 if a Range request continued an earlier partial file */
    int via_ytdlp;             /* 1 if the url was a web page fetched by yt-dlp */
    char content_type[128];
    double seconds;            /* wall time from start to completion */
    char error[CM_ERROR_MAX];  /* when !ok: one line, e.g. "HTTP 404 Not Found", "larger than --max-bytes (...)",
                                  "too slow: ..." */
    int retryable;             /* when !ok: 1 if a later run may succeed (timeouts, 5xx, 429), 0 if not (404, too big, bad hash) */
    int reused;                /* 1: dir/NAME was already complete (an earlier run kept it, with its NAME.meta)
                                  and no request was made; http_status, content_type, tries, resumed and
                                  seconds are those of the download that fetched it */
} download_result;

typedef struct download_stats {
    int64_t bytes_received;    /* body bytes received in this process */
    double rate_bytes_s;       /* recent download rate */
    int active;                /* transfers in progress */
    int waiting;               /* queued, waiting for a slot, for the host limit, for disk, or for a retry */
    int64_t disk_bytes;        /* completed bytes not yet released */
} download_stats;

typedef struct downloader downloader;

/* Called on the downloader's thread once per download_add, when the download
 * has finished for good (success, or failure after its tries). r is valid
 * only during the call. Must not call downloader_* functions except
 * downloader_release. */
typedef void (*download_done_fn)(void *arg, const download_result *r);

/* Starts the downloader thread, creating dir if needed. Returns 0, or -1
 * with e set. */
int downloader_start(downloader **out, const char *dir, const download_options *o, cm_error *e);

/* Queues url (http:// or https:// only; anything else fails through the
 * callback) to be saved as dir/name. expected_sha256 may be NULL or "". */
void downloader_add(downloader *d, const char *url, const char *name, const char *expected_sha256,
                    download_done_fn fn, void *arg);

/* Tells the downloader that `bytes` of completed downloads no longer count
 * against max_disk_bytes (the file was decoded and deleted, or kept). */
void downloader_release(downloader *d, int64_t bytes);

void downloader_get_stats(downloader *d, download_stats *s);

/* Deletes a complete download (a download_result's path) and the NAME.meta
 * kept next to it. Returns 0, or -1 with errno set when path could not be
 * deleted (the NAME.meta is gone either way). */
int download_delete(const char *path);

/* Deletes every partial download (NAME.part and its NAME.part.meta) in dir,
 * for when they hold the disk full. Returns how many .part files were
 * deleted (0 when dir does not exist), and their bytes in *bytes. */
int download_remove_partials(const char *dir, int64_t *bytes);

/* Waits until every queued download has called back, stops the thread and
 * frees d. NULL is allowed. Downloads held back by max_disk_bytes wait for
 * downloader_release from other threads (or the callbacks) meanwhile. */
void downloader_finish(downloader *d);

#endif
