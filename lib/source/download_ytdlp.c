/* The yt-dlp runner behind the downloader (see docs/downloads.md, "Web pages
 * and yt-dlp"): a response that is a web page is handed to yt-dlp, run with an
 * argument vector (no shell) in a process group of its own so a timeout also
 * kills what it started, and the file it leaves is found and hashed. */
#define _GNU_SOURCE /* asprintf, pipe2 */
#include "download_internal.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Video is decoded small (160x90), so a small rendition is plenty: with
 * min_height > 0, yt-dlp sorts renditions by "+res:H" (the smallest at least
 * H pixels high, or the largest when none is; docs/downloads.md "Web pages"),
 * then the fewest bytes; with 0, its best. Formats with video first
 * (bv*): those need no merge, and no ffmpeg, inside yt-dlp. */
#define YTDLP_FORMAT "bv*/b"

char *ytdlp_locate(const char *path)
{
    if (path && *path) return access(path, X_OK) == 0 ? cm_xstrdup(path) : NULL;
    const char *search = getenv("PATH");
    if (!search) return NULL;
    char *copy = cm_xstrdup(search), *save = NULL, *found = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *p = cm_path_join(*dir ? dir : ".", "yt-dlp");
        if (access(p, X_OK) == 0) found = p;
        else free(p);
    }
    free(copy);
    return found;
}

/* dir/NAME.EXT as yt-dlp left it: NAME. followed by one extension, not one
 * of its temporary or partial files. */
static int find_output(const char *dirname, const char *name, char *out, size_t cap, int64_t *size)
{
    DIR *dir = opendir(dirname);
    if (!dir) return -1;
    size_t nlen = strlen(name);
    int found = -1;
    time_t newest = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        const char *ext = de->d_name + nlen + 1;
        if (strncmp(de->d_name, name, nlen) != 0 || de->d_name[nlen] != '.' || !*ext || strchr(ext, '.') ||
            strcmp(ext, "part") == 0 || strcmp(ext, "ytdl") == 0 || strcmp(ext, "temp") == 0 ||
            strcmp(ext, "meta") == 0)
            continue;
        char *p = cm_path_join(dirname, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (found < 0 || st.st_mtime >= newest)) {
            snprintf(out, cap, "%s", p);
            *size = st.st_size;
            newest = st.st_mtime;
            found = 0;
        }
        free(p);
    }
    closedir(dir);
    return found;
}

/* Runs yt-dlp with stdin and stdout on /dev/null and stderr into a pipe, of
 * which the last non-empty line is kept. Returns the wait status, or -1 when
 * it could not be started (last_line says why). */
static int run(const char *ytdlp, const char *dir, const char *name, const char *url, int min_height,
               int64_t max_bytes, double timeout_s, char *last_line, size_t cap, int *timed_out)
{
    char *out_template = NULL;
    if (asprintf(&out_template, "%s/%s.%%(ext)s", dir, name) < 0) return -1;
    char sort[64], max_size[32];
    snprintf(sort, sizeof sort, "+res:%d,+size,+br", min_height);
    snprintf(max_size, sizeof max_size, "%lld", (long long)max_bytes);
    char *argv[20];
    int a = 0;
    argv[a++] = (char *)ytdlp;
    argv[a++] = "--no-playlist";
    argv[a++] = "--no-progress";
    argv[a++] = "--no-mtime";
    argv[a++] = "--socket-timeout";
    argv[a++] = "30";
    argv[a++] = "-f";
    argv[a++] = YTDLP_FORMAT;
    if (min_height > 0) {
        argv[a++] = "-S";
        argv[a++] = sort;
    }
    if (max_bytes > 0) {
        argv[a++] = "--max-filesize";
        argv[a++] = max_size;
    }
    argv[a++] = "-o";
    argv[a++] = out_template;
    argv[a++] = "--";
    argv[a++] = (char *)url;
    argv[a] = NULL;
    int errpipe[2] = {-1, -1}, status = -1;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    last_line[0] = 0;
    *timed_out = 0;
    if (pipe2(errpipe, O_CLOEXEC) != 0) goto done;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errpipe[1], 2);
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none); /* this thread blocks SIGPIPE */
    posix_spawnattr_setsigdefault(&attr, &deflt);
    int err = posix_spawn(&pid, ytdlp, &fa, &attr, argv, environ);
    close(errpipe[1]);
    if (err != 0) {
        snprintf(last_line, cap, "cannot run %s: %s", ytdlp, strerror(err));
        pid = -1;
        goto done;
    }
    double deadline = cm_monotonic_s() + timeout_s;
    char line[1024];
    size_t used = 0;
    for (;;) {
        double left = deadline - cm_monotonic_s();
        if (left <= 0) {
            *timed_out = 1;
            break;
        }
        struct pollfd pfd = {errpipe[0], POLLIN, 0};
        if (poll(&pfd, 1, left > 1 ? 1000 : (int)(left * 1000) + 1) <= 0) continue;
        char buf[512];
        ssize_t n = read(errpipe[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || buf[i] == '\r') {
                if (used) download_copy_value(last_line, cap, line, used);
                used = 0;
            } else if (used < sizeof line - 1) {
                line[used++] = buf[i];
            }
        }
    }
    while (!*timed_out && waitpid(pid, &status, WNOHANG) == 0) {
        if (cm_monotonic_s() >= deadline) *timed_out = 1;
        else usleep(20000);
    }
    if (*timed_out) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }
done:
    if (errpipe[0] >= 0) close(errpipe[0]);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(out_template);
    return pid < 0 ? -1 : status;
}

void ytdlp_fetch(const char *ytdlp, const char *dir, const char *name, const char *url,
                 const char *expected_sha256, int min_height, int64_t max_bytes, double timeout_s,
                 download_result *r)
{
    char last[400];
    int timed_out = 0, fd = -1;
    int status = run(ytdlp, dir, name, url, min_height, max_bytes, timeout_s, last, sizeof last, &timed_out);
    r->via_ytdlp = 1;
    r->ok = 0;
    r->retryable = 1;
    if (timed_out) {
        snprintf(r->error, sizeof r->error, "yt-dlp timed out after %.0f s", timeout_s);
    } else if (status == -1) {
        snprintf(r->error, sizeof r->error, "%s", last[0] ? last : "cannot run yt-dlp");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[64];
        if (WIFEXITED(status)) snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        else snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        snprintf(r->error, sizeof r->error, "yt-dlp %s%s%s", how, last[0] ? ": " : "", last);
        /* The page says the video is gone: asking again will not help. */
        if (strstr(last, "Unsupported URL") || strstr(last, "unavailable") || strstr(last, "Private video"))
            r->retryable = 0;
    } else if (find_output(dir, name, r->path, sizeof r->path, &r->bytes) != 0) {
        /* yt-dlp skips a file over --max-filesize with status 0, saying so
         * on stdout (which is /dev/null). */
        snprintf(r->error, sizeof r->error, "yt-dlp exited with status 0 but left no %s.* file%s", name,
                 max_bytes > 0 ? " (larger than --max-bytes?)" : "");
    } else if (max_bytes > 0 && r->bytes > max_bytes) { /* its size was not known before the download */
        snprintf(r->error, sizeof r->error, "larger than --max-bytes (%lld bytes): yt-dlp wrote %lld bytes",
                 (long long)max_bytes, (long long)r->bytes);
        r->retryable = 0;
        unlink(r->path);
    } else if ((fd = open(r->path, O_RDONLY | O_CLOEXEC)) < 0 || cm_sha256_fd(fd, r->bytes, r->sha256, NULL) != 0) {
        snprintf(r->error, sizeof r->error, "cannot read the file yt-dlp wrote: %s", strerror(errno));
    } else if (expected_sha256 && strcasecmp(expected_sha256, r->sha256) != 0) {
        snprintf(r->error, sizeof r->error, "SHA-256 mismatch: expected %s, got %s", expected_sha256, r->sha256);
        r->retryable = 0;
        unlink(r->path);
    } else {
        r->ok = 1;
        r->retryable = 0;
    }
    if (fd >= 0) close(fd);
    if (!r->ok) r->path[0] = 0;
}
