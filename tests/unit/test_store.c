/* The LMDB staging store: put/get/delete/foreach semantics, 4 writer threads,
 * kill -9 of a writing process, and clean failures on missing or corrupt stores. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clip_record.h"
#include "store.h"
#include "../test.h"
#include "hash.h"

static char *store_dir(const char *name)
{
    return cm_path_join(test_tmpdir(), name);
}

/* Deterministic value for a key: a raw clip record whose frame count and
 * pixels derive from the key, so a reader can rebuild what must be there. */
static void expected_value(const char *key, uint8_t **val, size_t *len)
{
    uint32_t seed = cm_crc32(key, strlen(key));
    int t = 1 + (int)(seed % 7), h = 12, w = 20;
    size_t n = (size_t)t * h * w * 3;
    uint8_t *frames = malloc(n);
    for (size_t i = 0; i < n; i++) frames[i] = (uint8_t)(seed + i * 31 + (i >> 7));
    cm_error e;
    if (clip_record_encode(frames, t, h, w, 10, 1, NULL, val, len, &e) != 0) {
        fprintf(stderr, "encode: %s\n", e.msg);
        exit(1);
    }
    free(frames);
}

static void test_basic(void)
{
    char *dir = store_dir("basic");
    store *s = NULL;
    cm_error e = {{0}};
    CHECK_MSG(store_open(&s, dir, 0, &e) == 0, "%s", e.msg);
    if (!s) return;
    CHECK(store_count(s) == 0);
    CHECK(store_put(s, "a-000001", "hello", 5, &e) == 0);
    CHECK(store_put(s, "a-000002", "world!", 6, &e) == 0);
    CHECK(store_put(s, "b-000001", "x", 1, &e) == 0);
    CHECK(store_put(s, "a-000001", "HELLO again", 11, &e) == 0); /* overwrite */
    CHECK(store_put(s, "", "x", 1, &e) == -1 && strstr(e.msg, "bad key"));
    CHECK(store_put(s, "empty", "", 0, &e) == 0);
    CHECK(store_count(s) == 4);

    uint8_t *v = NULL;
    size_t len = 0;
    CHECK(store_get(s, "a-000001", &v, &len, &e) == 0 && len == 11 && memcmp(v, "HELLO again", 11) == 0);
    free(v);
    CHECK(store_get(s, "empty", &v, &len, &e) == 0 && len == 0);
    free(v);
    CHECK(store_get(s, "a-000003", &v, &len, &e) == 1 && v == NULL);
    CHECK(store_get(s, "a-00000", &v, &len, &e) == 1);

    /* Prefix deletion spanning many LMDB pages, with neighbours on both sides. */
    char key[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "m-%06d", i);
        if (store_put(s, key, key, strlen(key), &e) != 0) break;
    }
    CHECK(store_count(s) == 3004);
    int64_t deleted = -1;
    CHECK(store_delete_prefix(s, "m-0010", &deleted, &e) == 0 && deleted == 100);
    CHECK(store_get(s, "m-000999", &v, &len, &e) == 0);
    free(v);
    CHECK(store_get(s, "m-001000", &v, &len, &e) == 1);
    CHECK(store_get(s, "m-001100", &v, &len, &e) == 0);
    free(v);
    CHECK(store_delete_prefix(s, "m-", &deleted, &e) == 0 && deleted == 2900);
    CHECK(store_delete_prefix(s, "zzz", &deleted, &e) == 0 && deleted == 0);
    CHECK(store_delete_prefix(s, "a-", NULL, &e) == 0);
    CHECK(store_count(s) == 2);
    CHECK(store_get(s, "b-000001", &v, &len, &e) == 0 && len == 1 && v[0] == 'x');
    free(v);
    store_close(s);

    /* Reopen read-only: data survived; writes are refused. */
    CHECK_MSG(store_open(&s, dir, 1, &e) == 0, "%s", e.msg);
    if (s) {
        CHECK(store_count(s) == 2);
        CHECK(store_put(s, "c", "y", 1, &e) == -1 && strstr(e.msg, "read-only"));
        CHECK(store_delete_prefix(s, "b", NULL, &e) == -1);
        store_close(s);
    }
    /* An empty prefix deletes everything, including the last key in the tree. */
    CHECK(store_open(&s, dir, 0, &e) == 0);
    if (s) {
        CHECK(store_delete_prefix(s, "", &deleted, &e) == 0 && deleted == 2);
        CHECK(store_count(s) == 0);
        store_close(s);
    }
    free(dir);
}

typedef struct visit_state {
    int n;
    char last[64];
    int ordered;
} visit_state;

static int visit(const char *key, const uint8_t *val, size_t len, void *arg)
{
    visit_state *st = arg;
    if (st->n > 0 && strcmp(st->last, key) >= 0) st->ordered = 0;
    if (len != strlen(key) || memcmp(val, key, len) != 0) st->ordered = 0;
    snprintf(st->last, sizeof st->last, "%s", key);
    st->n++;
    return 0;
}

static int stop_at_3(const char *key, const uint8_t *val, size_t len, void *arg)
{
    (void)key, (void)val, (void)len;
    int *n = arg;
    return ++*n == 3 ? 42 : 0;
}

static void test_foreach(void)
{
    char *dir = store_dir("foreach");
    store *s = NULL;
    cm_error e;
    CHECK(store_open(&s, dir, 0, &e) == 0);
    if (!s) return;
    const char *keys[] = {"k-3", "k-1", "k-10", "k-2", "j", "l"};
    for (int i = 0; i < 6; i++) CHECK(store_put(s, keys[i], keys[i], strlen(keys[i]), &e) == 0);
    visit_state st = {.ordered = 1};
    CHECK(store_foreach(s, visit, &st, &e) == 0);
    CHECK(st.n == 6 && st.ordered);
    int n = 0;
    CHECK(store_foreach(s, stop_at_3, &n, &e) == 42 && n == 3);
    store_close(s);
    free(dir);
}

typedef struct writer_arg {
    store *s;
    int id, n, failures;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    char key[64];
    for (int i = 0; i < a->n; i++) {
        snprintf(key, sizeof key, "t%d-%06d", a->id, i);
        uint8_t *val;
        size_t len;
        expected_value(key, &val, &len);
        cm_error e;
        if (store_put(a->s, key, val, len, &e) != 0) a->failures++;
        /* A read in the same thread through the shared env (MDB_NOTLS). */
        uint8_t *got = NULL;
        size_t got_len = 0;
        if (store_get(a->s, key, &got, &got_len, &e) != 0 || got_len != len || memcmp(got, val, len) != 0)
            a->failures++;
        free(got);
        free(val);
    }
    return NULL;
}

static void test_threads(void)
{
    char *dir = store_dir("threads");
    store *s = NULL;
    cm_error e;
    CHECK(store_open(&s, dir, 0, &e) == 0);
    if (!s) return;
    enum { N_THREADS = 4, PER_THREAD = 50 };
    pthread_t th[N_THREADS];
    writer_arg args[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = (writer_arg){.s = s, .id = i, .n = PER_THREAD};
        pthread_create(&th[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(args[i].failures == 0, "thread %d: %d failures", i, args[i].failures);
    }
    CHECK(store_count(s) == N_THREADS * PER_THREAD);
    store_close(s);
    free(dir);
}

/* Every present record must match its deterministic content and parse. */
typedef struct verify_state {
    int present, bad;
    uint8_t *seen; /* seen[i] for key k-%06d */
    int max;
} verify_state;

static int verify(const char *key, const uint8_t *val, size_t len, void *arg)
{
    verify_state *st = arg;
    if (strncmp(key, "k-", 2) != 0) {
        if (strcmp(key, "after-crash") != 0 || len != 2 || memcmp(val, "ok", 2) != 0) st->bad++;
        return 0;
    }
    uint8_t *exp;
    size_t exp_len;
    expected_value(key, &exp, &exp_len);
    cm_error e;
    if (len != exp_len || memcmp(val, exp, len) != 0 || clip_record_parse(val, len, NULL, 1, &e) != 0) {
        fprintf(stderr, "record %s is damaged\n", key);
        st->bad++;
    }
    int i;
    if (sscanf(key, "k-%d", &i) == 1 && i >= 0 && i < st->max) st->seen[i] = 1;
    st->present++;
    free(exp);
    return 0;
}

/* A child process puts records in a loop and reports each committed key on a
 * pipe; the parent SIGKILLs it mid-stream, several times, and checks that the
 * store reopens, every record in it is intact, and none it was told about is missing. */
static void test_kill9(void)
{
    char *dir = store_dir("kill9");
    enum { MAX_KEYS = 100000 };
    int next = 0; /* first key index of the next child */
    int committed_max = -1;
    uint8_t *committed = calloc(MAX_KEYS, 1);
    int kill_after[] = {1, 25, 60};
    for (int round = 0; round < 3; round++) {
        int fds[2];
        if (pipe(fds) != 0) { perror("pipe"); exit(1); }
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            store *s;
            cm_error e;
            if (store_open(&s, dir, 0, &e) != 0) _exit(3);
            char key[64];
            for (int i = next; i < MAX_KEYS; i++) {
                snprintf(key, sizeof key, "k-%06d", i);
                uint8_t *val;
                size_t len;
                expected_value(key, &val, &len);
                if (store_put(s, key, val, len, &e) != 0) _exit(4);
                free(val);
                int32_t msg = i;
                if (write(fds[1], &msg, sizeof msg) != sizeof msg) _exit(5);
            }
            _exit(0);
        }
        close(fds[1]);
        int32_t msg;
        int got = 0;
        while (got < kill_after[round] && read(fds[0], &msg, sizeof msg) == sizeof msg) {
            committed[msg] = 1;
            if (msg > committed_max) committed_max = msg;
            got++;
        }
        kill(pid, SIGKILL);
        /* Reports written before the kill are committed too. */
        while (read(fds[0], &msg, sizeof msg) == sizeof msg) {
            committed[msg] = 1;
            if (msg > committed_max) committed_max = msg;
        }
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "round %d: child status %d", round, status);
        CHECK_MSG(got == kill_after[round], "round %d: child reported %d commits", round, got);
        next = committed_max + 2; /* leave a gap so each child's first put is a new key */

        store *s = NULL;
        cm_error e = {{0}};
        CHECK_MSG(store_open(&s, dir, 0, &e) == 0, "round %d: reopen: %s", round, e.msg);
        if (!s) break;
        verify_state st = {.seen = calloc(MAX_KEYS, 1), .max = MAX_KEYS};
        CHECK(store_foreach(s, verify, &st, &e) == 0);
        CHECK(st.bad == 0);
        int missing = 0, reported = 0;
        for (int i = 0; i <= committed_max; i++) {
            reported += committed[i];
            if (committed[i] && !st.seen[i]) missing++;
        }
        /* At most the one put in flight at the kill may be there unreported. */
        CHECK(st.present >= reported && st.present <= reported + round + 1);
        CHECK_MSG(missing == 0, "round %d: %d committed records missing", round, missing);
        /* The store is still writable after the crash (the dead writer's lock is recovered). */
        CHECK(store_put(s, "after-crash", "ok", 2, &e) == 0);
        printf("kill -9 round %d: %d records present, %d reported committed\n", round, st.present, reported);
        free(st.seen);
        store_close(s);
    }
    free(committed);
    free(dir);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) { perror(path); exit(1); }
    fclose(f);
}

static void test_open_failures(void)
{
    store *s = NULL;
    cm_error e = {{0}};
    char *missing = store_dir("does-not-exist");
    CHECK(store_open(&s, missing, 1, &e) == -1 && s == NULL);
    CHECK_MSG(strstr(e.msg, missing) && strstr(e.msg, "no store"), "%s", e.msg);
    struct stat st;
    CHECK(stat(missing, &st) != 0); /* read-only open created nothing */
    free(missing);

    /* Garbage, zeros, and a truncated real store in data.mdb: errors, not crashes. */
    char *dir = store_dir("corrupt");
    cm_mkdir_p(dir, &e);
    char *data = cm_path_join(dir, "data.mdb");
    size_t n = 64 * 1024;
    uint8_t *junk = malloc(n);
    for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)(i * 2654435761u >> 13);
    write_file(data, junk, n);
    e.msg[0] = 0;
    CHECK(store_open(&s, dir, 0, &e) == -1 && s == NULL && strstr(e.msg, dir));
    printf("garbage data.mdb: %s\n", e.msg);
    CHECK(store_open(&s, dir, 1, &e) == -1 && s == NULL);
    memset(junk, 0, n);
    write_file(data, junk, n);
    CHECK(store_open(&s, dir, 0, &e) == -1 && s == NULL);
    write_file(data, "CMCR", 4);
    CHECK(store_open(&s, dir, 1, &e) == -1 && s == NULL);
    free(junk);
    free(data);
    free(dir);

    /* A regular file where the directory should be. */
    char *file = store_dir("plain-file");
    write_file(file, "x", 1);
    CHECK(store_open(&s, file, 0, &e) == -1 && s == NULL);
    free(file);
}

int main(void)
{
    test_basic();
    test_foreach();
    test_threads();
    test_kill9();
    test_open_failures();
    return test_summary();
}
