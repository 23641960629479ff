/* The downloader against a real HTTP server (tests/http_server.py on
 * 127.0.0.1): plain, redirected, resumed after a dropped connection and after
 * kill -9, retried (500, 429 with Retry-After), refused (404, redirect loop,
 * redirect to file://, too big, wrong SHA-256), stalled, lying about its
 * length, ignoring Range, changing between attempts, web pages with and
 * without yt-dlp (a fake yt-dlp script stands in for the external program),
 * the per-host limit and the disk budget. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "download.h"
#include "../test.h"
#include "hash.h"

#define DATA_SIZE 300000

static pid_t server_pid;
static char base[64];
static char *root_dir, *log_path;

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

static void start_server(void)
{
    const char *src = getenv("CLIPMILL_SRC");
    char script[4096], port_file[4200];
    snprintf(script, sizeof script, "%s/tests/http_server.py", src && *src ? src : ".");
    snprintf(port_file, sizeof port_file, "%s/port", test_tmpdir());
    log_path = cm_path_join(test_tmpdir(), "server.log");
    pid_t parent = getpid();
    server_pid = fork();
    if (server_pid < 0) { perror("fork"); exit(1); }
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* dies with the test, however the test ends */
        if (getppid() != parent) _exit(1);
        execl("/usr/bin/python3", "python3", script, "--root", root_dir, "--port", "0", "--port-file", port_file,
              "--log", log_path, "--max-seconds", "300", (char *)NULL);
        _exit(127);
    }
    atexit(stop_server);
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
            return;
        }
        if (waitpid(server_pid, NULL, WNOHANG) == server_pid) break;
        usleep(50000);
    }
    fprintf(stderr, "the test server (%s) did not start\n", script);
    server_pid = 0;
    exit(1);
}

static uint8_t *make_data(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char *path = cm_path_join(dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) { perror(path); exit(1); }
    free(path);
}

/* 1 if dir/name holds exactly data[0..n). */
static int file_equals(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t *buf = malloc(n + 1);
    size_t got = fread(buf, 1, n + 1, f);
    fclose(f);
    int same = got == n && memcmp(buf, data, n) == 0;
    free(buf);
    return same;
}

static int exists(const char *dir, const char *name)
{
    char *p = cm_path_join(dir, name);
    struct stat st;
    int rc = stat(p, &st) == 0;
    free(p);
    return rc;
}

static int64_t file_size(const char *dir, const char *name)
{
    char *p = cm_path_join(dir, name);
    struct stat st;
    int64_t rc = stat(p, &st) == 0 ? st.st_size : -1;
    free(p);
    return rc;
}

/* Server log lines for exactly this request path that also contain needle. */
static int log_count(const char *path, const char *needle)
{
    FILE *f = fopen(log_path, "r");
    if (!f) return 0;
    char key[512], line[2048];
    snprintf(key, sizeof key, "\"path\":\"%s\"", path);
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, key) && (!needle || strstr(line, needle))) n++;
    fclose(f);
    return n;
}

typedef struct outcome {
    download_result r;
    atomic_int calls;
} outcome;

static void on_done(void *arg, const download_result *r)
{
    outcome *o = arg;
    o->r = *r;
    atomic_fetch_add(&o->calls, 1);
}

static void test_options(download_options *o)
{
    download_options_default(o);
    o->max_parallel = 32;
    o->max_per_host = 32;
    o->connect_timeout_s = 5;
    o->low_speed_time_s = 2;
    o->max_tries = 3;
    o->backoff_base_s = 0.05;
    o->backoff_max_s = 2;
    o->ytdlp_path = "/nonexistent/yt-dlp";
}

static downloader *start(const char *dir, const download_options *o)
{
    downloader *d = NULL;
    cm_error e = {{0}};
    if (downloader_start(&d, dir, o, &e) != 0) {
        fprintf(stderr, "downloader_start: %s\n", e.msg);
        exit(1);
    }
    return d;
}

static void add(downloader *d, const char *path, const char *name, const char *sha, outcome *o)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", strncmp(path, "/", 1) == 0 ? base : "", path);
    downloader_add(d, url, name, sha, on_done, o);
}

#define FAILED_WITH(o, text) ((o).calls == 1 && !(o).r.ok && strstr((o).r.error, text) != NULL)

static const char *script_ok =
    "#!/bin/sh\n"
    "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$(dirname \"$0\")/ytdlp-args.txt\"\n"
    "out=\n"
    "while [ $# -gt 0 ]; do case \"$1\" in -o) out=\"$2\"; shift;; esac; shift; done\n"
    "out=$(printf '%s' \"$out\" | sed 's/%(ext)s/mp4/')\n"
    "printf 'fake video from yt-dlp\\n' > \"$out\"\n";
static const char *script_fail = "#!/bin/sh\necho '[generic] looking' >&2\necho 'ERROR: fake failure' >&2\nexit 1\n";
static const char *script_hang = "#!/bin/sh\nsleep 60 &\nwait\n";

static char *write_script(const char *name, const char *text)
{
    char *p = cm_path_join(test_tmpdir(), name);
    write_file(test_tmpdir(), name, text, strlen(text));
    chmod(p, 0755);
    return p;
}

/* Every behaviour that needs no special option, all at once on one
 * downloader, plus max_bytes and yt-dlp on downloaders running beside it. */
static void test_behaviours(const uint8_t *data, const char *sha)
{
    char *dir = cm_path_join(test_tmpdir(), "dl");
    char *dir_big = cm_path_join(test_tmpdir(), "dl-big");
    char *dir_yt = cm_path_join(test_tmpdir(), "dl-yt");
    download_options o;
    test_options(&o);

    /* An earlier run left garbage in a .part for a server that ignores Range. */
    cm_mkdir_p(dir, NULL);
    uint8_t garbage[1000];
    memset(garbage, 0xAB, sizeof garbage);
    write_file(dir, "norange.bin.part", garbage, sizeof garbage);
    char meta[1024];
    snprintf(meta, sizeof meta, "clipmill-part 1\nurl %s/norange/data.bin\netag \"x\"\nlast-modified \ntotal %d\n",
             base, DATA_SIZE);
    write_file(dir, "norange.bin.part.meta", meta, strlen(meta));
    /* ... and a complete .part (killed before the rename), with the ETag the
     * server computes from size and mtime: the server answers 416. */
    struct stat src;
    char *src_path = cm_path_join(root_dir, "data.bin");
    stat(src_path, &src);
    free(src_path);
    write_file(dir, "complete.bin.part", data, DATA_SIZE);
    snprintf(meta, sizeof meta, "clipmill-part 1\nurl %s/data.bin\netag \"%llx-%llx\"\nlast-modified \ntotal %d\n",
             base, (unsigned long long)src.st_size,
             (unsigned long long)src.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)src.st_mtim.tv_nsec,
             DATA_SIZE);
    write_file(dir, "complete.bin.part.meta", meta, strlen(meta));

    outcome plain = {0}, drop = {0}, flaky = {0}, r429 = {0}, r429d = {0}, trickle = {0}, liecl = {0},
            loop = {0}, tofile = {0}, nf = {0}, html = {0}, redirect = {0}, badsha = {0}, norange = {0},
            changing = {0}, nocl = {0}, ftp = {0}, refused = {0}, big = {0}, bignocl = {0}, yt_ok = {0},
            yt_fail = {0}, yt_hang = {0}, complete = {0};
    downloader *d = start(dir, &o);
    add(d, "/data.bin", "plain.bin", sha, &plain);
    add(d, "/drop/data.bin", "drop.bin", NULL, &drop);
    add(d, "/flaky500/2/data.bin", "flaky.bin", NULL, &flaky);
    add(d, "/retry429/data.bin?after=1", "r429.bin", NULL, &r429);
    add(d, "/retry429date/data.bin?after=1", "r429d.bin", NULL, &r429d);
    add(d, "/trickle/data.bin", "trickle.bin", NULL, &trickle);
    add(d, "/liecl/data.bin", "liecl.bin", NULL, &liecl);
    add(d, "/redirloop/data.bin", "loop.bin", NULL, &loop);
    add(d, "/redirfile/data.bin", "tofile.bin", NULL, &tofile);
    add(d, "/404/data.bin", "nf.bin", NULL, &nf);
    add(d, "/html/page", "html.bin", NULL, &html);
    add(d, "/redirect/data.bin", "redirect.bin", NULL, &redirect);
    add(d, "/data.bin", "badsha.bin", "0000000000000000000000000000000000000000000000000000000000000000", &badsha);
    add(d, "/norange/data.bin", "norange.bin", NULL, &norange);
    add(d, "/changing/data.bin", "changing.bin", NULL, &changing);
    add(d, "/nocl/data.bin", "nocl.bin", sha, &nocl);
    add(d, "/data.bin", "complete.bin", sha, &complete);
    add(d, "ftp://127.0.0.1/data.bin", "ftp.bin", NULL, &ftp);
    add(d, "http://127.0.0.1:1/data.bin", "refused.bin", NULL, &refused);

    download_options ob = o;
    ob.max_bytes = 100000;
    downloader *dbig = start(dir_big, &ob);
    add(dbig, "/data.bin", "big.bin", NULL, &big);
    add(dbig, "/nocl/data.bin", "bignocl.bin", NULL, &bignocl);

    char *ok_script = write_script("yt-dlp-ok", script_ok), *fail_script = write_script("yt-dlp-fail", script_fail),
         *hang_script = write_script("yt-dlp-hang", script_hang);
    downloader *dyt[3];
    download_options oy = o;
    oy.ytdlp_path = ok_script;
    dyt[0] = start(dir_yt, &oy);
    oy.ytdlp_path = fail_script;
    dyt[1] = start(dir_yt, &oy);
    oy.ytdlp_path = hang_script;
    oy.ytdlp_timeout_s = 1;
    dyt[2] = start(dir_yt, &oy);
    add(dyt[0], "/html/video", "video1", NULL, &yt_ok);
    add(dyt[1], "/html/video", "video2", NULL, &yt_fail);
    add(dyt[2], "/html/video", "video3", NULL, &yt_hang);

    download_stats st;
    downloader_get_stats(d, &st);
    CHECK(st.active + st.waiting > 0);
    downloader_finish(d);
    downloader_finish(dbig);
    for (int i = 0; i < 3; i++) downloader_finish(dyt[i]);

    /* plain, with the right expected SHA-256 */
    CHECK_MSG(plain.calls == 1 && plain.r.ok, "%s", plain.r.error);
    CHECK(strcmp(plain.r.sha256, sha) == 0 && plain.r.bytes == DATA_SIZE && plain.r.tries == 1);
    CHECK(plain.r.http_status == 200 && !plain.r.resumed && !plain.r.via_ytdlp);
    CHECK(strstr(plain.r.path, "/dl/plain.bin") != NULL && file_equals(plain.r.path, data, DATA_SIZE));
    CHECK(!exists(dir, "plain.bin.part") && !exists(dir, "plain.bin.part.meta"));

    /* dropped mid-body: resumed by Range (with If-Range) in the same run */
    CHECK_MSG(drop.r.ok, "%s", drop.r.error);
    CHECK(drop.r.resumed && drop.r.tries == 2 && drop.r.http_status == 206);
    CHECK(file_equals(drop.r.path, data, DATA_SIZE) && strcmp(drop.r.sha256, sha) == 0);
    CHECK(log_count("/drop/data.bin", "\"range\":\"bytes=150000-\",\"if_range\":\"\\\"") == 1);

    CHECK_MSG(flaky.r.ok && flaky.r.tries == 3, "%s (tries %d)", flaky.r.error, flaky.r.tries);
    CHECK(log_count("/flaky500/2/data.bin", "\"status\":500") == 2);

    /* 429 with Retry-After (seconds and HTTP-date): waited at least that long */
    CHECK_MSG(r429.r.ok && r429.r.tries == 2, "%s", r429.r.error);
    CHECK_MSG(r429.r.seconds >= 1.0, "%.3f s", r429.r.seconds);
    CHECK_MSG(r429d.r.ok && r429d.r.tries == 2, "%s", r429d.r.error);
    CHECK_MSG(r429d.r.seconds >= 1.0, "%.3f s", r429d.r.seconds);
    CHECK(file_equals(r429.r.path, data, DATA_SIZE));

    CHECK_MSG(FAILED_WITH(trickle, "stalled: below 1024 B/s for 2 s"), "%s", trickle.r.error);
    CHECK(trickle.r.retryable == 1 && trickle.r.tries == 3 && !exists(dir, "trickle.bin"));

    CHECK_MSG(FAILED_WITH(liecl, "server sent fewer bytes than Content-Length"), "%s", liecl.r.error);
    CHECK(liecl.r.retryable == 1 && liecl.r.tries == 3 && !exists(dir, "liecl.bin"));

    CHECK_MSG(FAILED_WITH(loop, "too many redirects"), "%s", loop.r.error);
    CHECK(loop.r.retryable == 0 && loop.r.tries == 1);

    CHECK_MSG(FAILED_WITH(tofile, "redirect to a protocol that is not http(s)"), "%s", tofile.r.error);
    CHECK(tofile.r.retryable == 0 && !exists(dir, "tofile.bin") && !exists(dir, "tofile.bin.part"));

    CHECK_MSG(FAILED_WITH(nf, "HTTP 404"), "%s", nf.r.error);
    CHECK(nf.r.retryable == 0 && nf.r.tries == 1 && nf.r.http_status == 404);
    CHECK(log_count("/404/data.bin", NULL) == 1);
    CHECK(!exists(dir, "nf.bin") && !exists(dir, "nf.bin.part"));

    CHECK_MSG(FAILED_WITH(html, "is a web page (text/html), not a media file; install yt-dlp"), "%s",
              html.r.error);
    CHECK(html.r.retryable == 0 && strncmp(html.r.content_type, "text/html", 9) == 0);
    CHECK(!exists(dir, "html.bin.part"));

    CHECK_MSG(redirect.r.ok && file_equals(redirect.r.path, data, DATA_SIZE), "%s", redirect.r.error);

    CHECK_MSG(FAILED_WITH(badsha, "SHA-256 mismatch: expected 0000"), "%s", badsha.r.error);
    CHECK(strstr(badsha.r.error, sha) != NULL && badsha.r.retryable == 0);
    CHECK(!exists(dir, "badsha.bin") && !exists(dir, "badsha.bin.part"));

    /* the server ignored the Range: the garbage prefix was thrown away */
    CHECK_MSG(norange.r.ok && !norange.r.resumed && norange.r.tries == 1, "%s", norange.r.error);
    CHECK(file_equals(norange.r.path, data, DATA_SIZE));
    CHECK(log_count("/norange/data.bin", "\"range\":\"bytes=1000-\",\"if_range\":\"\\\"x\\\"\",\"status\":200") == 1);

    /* changed between attempts: If-Range did not match, whole new version */
    uint8_t *v1 = malloc(DATA_SIZE + 1);
    memcpy(v1, data, DATA_SIZE);
    v1[DATA_SIZE] = 1;
    CHECK_MSG(changing.r.ok && !changing.r.resumed && changing.r.tries == 2, "%s", changing.r.error);
    CHECK(file_equals(changing.r.path, v1, DATA_SIZE + 1));
    CHECK(log_count("/changing/data.bin", "\"range\":\"bytes=150000-\"") == 1);
    CHECK(log_count("/changing/data.bin", "\"status\":200") == 2);
    free(v1);

    CHECK_MSG(nocl.r.ok && file_equals(nocl.r.path, data, DATA_SIZE), "%s", nocl.r.error);

    CHECK_MSG(complete.r.ok && complete.r.resumed && complete.r.tries == 1 && complete.r.http_status == 416, "%s",
              complete.r.error);
    CHECK(file_equals(complete.r.path, data, DATA_SIZE) && strcmp(complete.r.sha256, sha) == 0);
    CHECK(log_count("/data.bin", "\"range\":\"bytes=300000-\"") == 1);

    CHECK_MSG(FAILED_WITH(ftp, "unsupported scheme") && ftp.r.retryable == 0 && ftp.r.tries == 0, "%s",
              ftp.r.error);
    CHECK_MSG(FAILED_WITH(refused, "connection refused") && refused.r.retryable == 1 && refused.r.tries == 3, "%s",
              refused.r.error);

    /* max_bytes: by Content-Length, and while streaming a body without one */
    CHECK_MSG(FAILED_WITH(big, "larger than --max-bytes (100000 bytes)"), "%s", big.r.error);
    CHECK_MSG(FAILED_WITH(bignocl, "larger than --max-bytes (100000 bytes)"), "%s", bignocl.r.error);
    CHECK(big.r.retryable == 0 && bignocl.r.retryable == 0);
    CHECK(!exists(dir_big, "big.bin") && !exists(dir_big, "big.bin.part") && !exists(dir_big, "big.bin.part.meta"));
    CHECK(!exists(dir_big, "bignocl.bin") && !exists(dir_big, "bignocl.bin.part"));

    /* yt-dlp: fake executables stand in for the real one; the HTTP is real */
    const char *fake = "fake video from yt-dlp\n";
    char fake_sha[65];
    cm_sha256_hex(fake, strlen(fake), fake_sha);
    CHECK_MSG(yt_ok.r.ok && yt_ok.r.via_ytdlp, "%s", yt_ok.r.error);
    CHECK(strstr(yt_ok.r.path, "/dl-yt/video1.mp4") != NULL && file_equals(yt_ok.r.path, fake, strlen(fake)));
    CHECK(strcmp(yt_ok.r.sha256, fake_sha) == 0 && yt_ok.r.bytes == (int64_t)strlen(fake));
    char *args_path = cm_path_join(test_tmpdir(), "ytdlp-args.txt");
    char url_line[256];
    snprintf(url_line, sizeof url_line, "--\n%s/html/video\n", base);
    FILE *f = fopen(args_path, "r");
    char args[4096] = {0};
    if (f) {
        if (fread(args, 1, sizeof args - 1, f) == 0) args[0] = 0;
        fclose(f);
    }
    CHECK_MSG(strstr(args, url_line) != NULL && strstr(args, "--no-playlist\n") != NULL, "args: %s", args);
    /* The smallest rendition at least 360 high (the default, 4 x 90). */
    CHECK_MSG(strstr(args, "-S\n+res:360,+size,+br\n") != NULL && strstr(args, "-f\nbv*/b\n") != NULL, "args: %s", args);
    free(args_path);
    CHECK_MSG(FAILED_WITH(yt_fail, "yt-dlp exited with status 1: ERROR: fake failure"), "%s", yt_fail.r.error);
    CHECK(yt_fail.r.via_ytdlp && yt_fail.r.retryable == 1);
    CHECK_MSG(FAILED_WITH(yt_hang, "yt-dlp timed out after 1 s"), "%s", yt_hang.r.error);

    free(ok_script);
    free(fail_script);
    free(hang_script);
    free(dir);
    free(dir_big);
    free(dir_yt);
}

/* max_per_host = 2 with 6 slow downloads: the server never sees 3 at once,
 * but does see 2. Also the disk budget: with max_disk_bytes reached, the
 * next download waits until downloader_release. */
static void test_limits(void)
{
    char *dir = cm_path_join(test_tmpdir(), "dl-limits");
    download_options o;
    test_options(&o);
    o.max_per_host = 2;
    outcome slow[6];
    memset(slow, 0, sizeof slow);
    downloader *d = start(dir, &o);
    for (int i = 0; i < 6; i++) {
        char path[64], name[64];
        snprintf(path, sizeof path, "/slow/small%d.bin", i);
        snprintf(name, sizeof name, "small%d.bin", i);
        add(d, path, name, NULL, &slow[i]);
    }
    downloader_finish(d);
    int max_seen = 0;
    for (int i = 0; i < 6; i++) {
        CHECK_MSG(slow[i].r.ok && slow[i].r.bytes == 25000, "%d: %s", i, slow[i].r.error);
        char path[64];
        snprintf(path, sizeof path, "/slow/small%d.bin", i);
        for (int c = 1; c <= 6; c++) {
            char needle[32];
            snprintf(needle, sizeof needle, "\"concurrent\":%d,", c);
            if (log_count(path, needle) && c > max_seen) max_seen = c;
        }
    }
    CHECK_MSG(max_seen == 2, "the server saw %d at once", max_seen);

    o.max_parallel = 1; /* one at a time, so each start sees the previous one's bytes */
    o.max_disk_bytes = 1;
    outcome disk[3];
    memset(disk, 0, sizeof disk);
    d = start(dir, &o);
    add(d, "/small0.bin", "disk0.bin", NULL, &disk[0]);
    add(d, "/small1.bin", "disk1.bin", NULL, &disk[1]);
    add(d, "/small2.bin", "disk2.bin", NULL, &disk[2]);
    for (int round = 1; round <= 3; round++) {
        int done = 0;
        for (int i = 0; i < 1000 && done < round; i++) {
            done = disk[0].calls + disk[1].calls + disk[2].calls;
            usleep(10000);
        }
        usleep(300000); /* room for a wrong start */
        done = disk[0].calls + disk[1].calls + disk[2].calls;
        download_stats st;
        downloader_get_stats(d, &st);
        CHECK_MSG(done == round, "round %d: %d done", round, done);
        CHECK_MSG(st.disk_bytes == 25000 && st.active == 0 && st.waiting == 3 - round,
                  "round %d: disk %lld active %d waiting %d", round, (long long)st.disk_bytes, st.active, st.waiting);
        CHECK(st.bytes_received == 25000LL * round);
        downloader_release(d, 25000);
    }
    downloader_finish(d);
    for (int i = 0; i < 3; i++) CHECK_MSG(disk[i].r.ok, "%s", disk[i].r.error);
    free(dir);
}

/* A process killed by SIGKILL mid-download leaves NAME.part + meta; the
 * next run continues it with a Range request from the .part size. */
static void test_kill9(const uint8_t *data, const char *sha)
{
    char *dir = cm_path_join(test_tmpdir(), "dl-kill");
    cm_mkdir_p(dir, NULL);
    pid_t child = fork();
    if (child == 0) {
        download_options o;
        test_options(&o);
        downloader *d = start(dir, &o);
        outcome out = {0};
        add(d, "/slow/k9.bin", "k9.bin", NULL, &out);
        downloader_finish(d);
        _exit(0);
    }
    int64_t part = 0;
    for (int i = 0; i < 100 && part < 60000; i++) { /* wait for some bytes, then kill */
        usleep(20000);
        part = file_size(dir, "k9.bin.part");
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    part = file_size(dir, "k9.bin.part");
    CHECK_MSG(part > 0 && part < DATA_SIZE, "part %lld", (long long)part);
    CHECK(exists(dir, "k9.bin.part.meta"));

    download_options o;
    test_options(&o);
    downloader *d = start(dir, &o);
    outcome out = {0};
    char url_path[64];
    snprintf(url_path, sizeof url_path, "/k9.bin");
    add(d, url_path, "k9.bin", sha, &out);
    downloader_finish(d);
    CHECK_MSG(out.r.ok && out.r.resumed && out.r.http_status == 206, "%s", out.r.error);
    CHECK(file_equals(out.r.path, data, DATA_SIZE));
    char needle[64];
    snprintf(needle, sizeof needle, "\"range\":\"bytes=%lld-\"", (long long)part);
    CHECK_MSG(log_count("/k9.bin", needle) == 1, "no request for %s", needle);
    CHECK(!exists(dir, "k9.bin.part") && !exists(dir, "k9.bin.part.meta"));
    free(dir);
}

/* The defaults bound every download, and a progress line shows no control
 * character of the (untrusted) url. */
static void test_defaults_and_progress_line(void)
{
    download_options o;
    download_options_default(&o);
    CHECK(o.max_bytes == (int64_t)4 << 30 && o.min_rate_bytes_s == 32 * 1024 && o.rate_grace_s == 60);
    download_progress p = {.url = "http://h/a\x1b]0;owned\x07" "b\r\n.mp4", .bytes = 1234567, .total = 1000000000,
                           .seconds = 45, .rate_bytes_s = 2048, .try_no = 2};
    char line[512];
    download_progress_line(&p, line, sizeof line);
    CHECK_MSG(strcmp(line, "http://h/a\\e]0;owned\\x07b\\r\\n.mp4: 1.2 MB of 1.00 GB (0.1%) after 45 s, "
                           "2.0 KB/s, try 2") == 0, "%s", line);
    p.total = -1;
    p.try_no = 1;
    download_progress_line(&p, line, sizeof line);
    CHECK_MSG(strstr(line, ": 1.2 MB after 45 s, 2.0 KB/s") != NULL, "%s", line);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_defaults_and_progress_line();
    root_dir = cm_path_join(test_tmpdir(), "root");
    cm_mkdir_p(root_dir, NULL);
    uint8_t *data = make_data(DATA_SIZE, 7);
    char sha[65];
    cm_sha256_hex(data, DATA_SIZE, sha);
    write_file(root_dir, "data.bin", data, DATA_SIZE);
    write_file(root_dir, "k9.bin", data, DATA_SIZE);
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "small%d.bin", i);
        uint8_t *small = make_data(25000, 100 + i);
        write_file(root_dir, name, small, 25000);
        free(small);
    }
    start_server();

    test_behaviours(data, sha);
    test_limits();
    test_kill9(data, sha);

    stop_server();
    free(data);
    free(root_dir);
    free(log_path);
    return test_summary();
}
