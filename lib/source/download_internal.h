/* Shared between the downloader's sources (download.c, download_ytdlp.c);
 * not an interface for the rest of clipmill, which uses download.h. */
#ifndef CLIPMILL_DOWNLOAD_INTERNAL_H
#define CLIPMILL_DOWNLOAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "download.h"

/* Copies a header value or line into dst (cap bytes, always terminated),
 * without surrounding blanks or the CRLF. */
void download_copy_value(char *dst, size_t cap, const char *v, size_t len);

/* The yt-dlp executable to use: path when given (NULL if it is not
 * executable), else "yt-dlp" looked up on PATH. Returns a malloc'd path, or
 * NULL when there is none. */
char *ytdlp_locate(const char *path);

/* Fetches the video page url with the yt-dlp executable `ytdlp` into
 * dir/name.EXT, killing it (and what it started) after timeout_s. Blocks;
 * the downloader runs it on a thread of its own, with SIGPIPE blocked.
 * Fills r->via_ytdlp, ok, path, bytes and sha256, or error (naming the exit
 * status and yt-dlp's last stderr line) and retryable. A file whose SHA-256
 * differs from expected_sha256 (when not NULL) is deleted. */
void ytdlp_fetch(const char *ytdlp, const char *dir, const char *name, const char *url,
                 const char *expected_sha256, double timeout_s, download_result *r);

#endif
