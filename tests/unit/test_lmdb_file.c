/* lmdb_file_check (lib/format/lmdb_file.h) on real LMDB files: a store that
 * grows and shrinks over many transactions passes after every commit, also in
 * the states where LMDB left freed pages at the end unwritten (the file is
 * then shorter than its meta page's last page: the free-list walk must accept
 * it, and LMDB must read every record of it); every truncation the check
 * accepts reads back whole in a child process (no SIGBUS); a truncation of a
 * used page, an empty file, a file that is not LMDB, a damaged meta page and
 * a size other than expected are each one error naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hash.h"
#include "lmdb_file.h"
#include "test.h"

static char path[4200], copy[4200];

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void copy_file(const char *from, const char *to, int64_t bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CHECK(in && out);
    if (!in || !out) goto done;
    char buf[65536];
    int64_t left = bytes;
    size_t n;
    while (left > 0 && (n = fread(buf, 1, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf, in)) > 0) {
        CHECK(fwrite(buf, 1, n, out) == n);
        left -= (int64_t)n;
    }
done:
    if (in) fclose(in);
    if (out) fclose(out);
}

/* Reads every record of the file through LMDB: 0 when all read, 1 on an LMDB
 * error. Run in a child, where a SIGBUS shows as the child's signal. */
static int read_all(const char *p, int64_t *n_records)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (rc == 0) rc = mdb_env_open(env, p, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444);
    if (rc == 0) rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc == 0) rc = mdb_cursor_open(txn, dbi, &cur);
    MDB_val k, v;
    uint32_t sum = 0;
    *n_records = 0;
    if (rc == 0)
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            sum ^= cm_crc32(v.mv_data, v.mv_size); /* touches every byte */
            (*n_records)++;
        }
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    (void)sum;
    return rc == MDB_NOTFOUND ? 0 : 1;
}

/* read_all in a child: 0 all read, 1 an LMDB error, 128+N killed by signal N. */
static int read_all_in_child(const char *p)
{
    pid_t pid = fork();
    if (pid == 0) {
        int64_t n;
        _exit(read_all(p, &n));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static uint64_t rng = 42;
enum { N_TXN = 1000 };

static uint32_t rnd(uint32_t n) { return (uint32_t)(cm_splitmix64_next(&rng) % n); }

/* One write transaction of the kind that leaves loose pages: puts of mixed
 * sizes, then deletes of some of them (pages allocated and freed in the same
 * transaction), sometimes a run of deletes from the start. */
static void one_txn(MDB_env *env, MDB_dbi dbi, uint8_t *val)
{
    MDB_txn *txn;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    static const int counts[] = {1, 10, 300}, sizes[] = {10, 500, 1500, 5000};
    int n = counts[rnd(3)];
    char keys[300][16];
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%08u", rnd(10000000));
        MDB_val k = {8, keys[i]}, v = {(size_t)sizes[rnd(4)], val};
        CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0);
    }
    if (rnd(10) < 7) {
        int del = (int)rnd((uint32_t)n + 1);
        for (int i = 0; i < del; i++) {
            MDB_val k = {8, keys[rnd((uint32_t)n)]};
            int rc = mdb_del(txn, dbi, &k, NULL);
            CHECK(rc == 0 || rc == MDB_NOTFOUND);
        }
    }
    if (rnd(10) < 3) {
        MDB_cursor *cur;
        MDB_val k, v;
        CHECK(mdb_cursor_open(txn, dbi, &cur) == 0);
        int del = (int)rnd(500);
        for (int i = 0; i < del && mdb_cursor_get(cur, &k, &v, i ? MDB_GET_CURRENT : MDB_FIRST) == 0; i++)
            if (mdb_cursor_del(cur, 0) != 0) break;
        mdb_cursor_close(cur);
    }
    CHECK(mdb_txn_commit(txn) == 0);
}

static void expect_error(const char *p, int64_t expect, const char *what, const char *words)
{
    cm_error e = {{0}};
    int rc = lmdb_file_check(p, expect, NULL, &e);
    CHECK_MSG(rc == -1, "%s: accepted", what);
    CHECK_MSG(strstr(e.msg, p) == e.msg && strstr(e.msg, words), "%s: message '%s' lacks the path or '%s'", what,
              e.msg, words);
}

int main(void)
{
    const char *dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/store.mdb", dir);
    snprintf(copy, sizeof copy, "%s/copy.mdb", dir);
    uint8_t *val = malloc(5000);
    for (int i = 0; i < 5000; i++) val[i] = (uint8_t)(i * 13);

    /* --- a store over many transactions: never refused */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_mapsize(env, (size_t)1 << 32) == 0);
    /* NOSYNC: what reaches the file is the same, without an fsync per commit. */
    CHECK(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0644) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, NULL, 0, &dbi) == 0 && mdb_txn_commit(txn) == 0);
    int refused = 0, short_states = 0, short_read = 0;
    for (int t = 0; t < N_TXN; t++) {
        one_txn(env, dbi, val);
        lmdb_file_info in;
        cm_error e = {{0}};
        if (lmdb_file_check(path, -1, &in, &e) != 0) {
            if (refused++ < 3) fprintf(stderr, "transaction %d: refused: %s\n", t, e.msg);
            continue;
        }
        CHECK(in.file_bytes == file_size(path) && in.page_size >= 512);
        if (in.free_tail_pages > 0) {
            CHECK(in.file_bytes < in.needed_bytes);
            /* LMDB reads this healthy but short file whole. */
            if (short_states++ == 0) short_read = read_all_in_child(path) == 0;
        } else {
            CHECK(in.file_bytes >= in.needed_bytes);
        }
    }
    mdb_env_close(env);
    CHECK_MSG(refused == 0, "%d healthy states refused", refused);
    printf("%d transactions, %d states shorter than the meta page's last page (free pages at the end)\n", N_TXN,
           short_states);
    CHECK_MSG(short_states > 0, "no short state met: the free-list walk was not exercised");
    CHECK_MSG(short_states == 0 || short_read, "LMDB could not read a short state the check accepted");

    /* --- truncations: the check's word against LMDB's reads in a child */
    lmdb_file_info full;
    cm_error e = {{0}};
    CHECK(lmdb_file_check(path, -1, &full, &e) == 0);
    int64_t size = full.file_bytes, psize = full.page_size;
    int accepted = 0, refused_cuts = 0, bad = 0;
    copy_file(path, copy, size);
    for (int64_t cut = psize / 2; cut <= 16 * psize; cut += psize / 2) {
        CHECK(truncate(copy, size - cut) == 0);
        cm_error ce = {{0}};
        if (lmdb_file_check(copy, -1, NULL, &ce) == 0) {
            accepted++;
            int r = read_all_in_child(copy);
            if (r != 0) {
                bad++;
                fprintf(stderr, "cut of %lld bytes accepted, reading it: %d\n", (long long)cut, r);
            }
        } else {
            refused_cuts++;
            CHECK_MSG(strstr(ce.msg, "truncated"), "%s", ce.msg);
        }
    }
    CHECK_MSG(bad == 0, "%d accepted truncations could not be read", bad);
    CHECK(refused_cuts > 0);
    printf("truncations: %d accepted (all read back), %d refused\n", accepted, refused_cuts);
    /* The last page of a store just written by one transaction is in use. */
    {
        char p2[4300];
        snprintf(p2, sizeof p2, "%s/one.mdb", dir);
        CHECK(mdb_env_create(&env) == 0 && mdb_env_set_mapsize(env, 64 << 20) == 0);
        CHECK(mdb_env_open(env, p2, MDB_NOSUBDIR | MDB_NOLOCK, 0644) == 0);
        CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, NULL, 0, &dbi) == 0);
        for (int i = 0; i < 20; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%03d", i);
            MDB_val kv = {4, k}, v = {5000, val};
            CHECK(mdb_put(txn, dbi, &kv, &v, 0) == 0);
        }
        CHECK(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
        int64_t n = file_size(p2);
        CHECK(lmdb_file_check(p2, n, NULL, &e) == 0);
        CHECK(truncate(p2, n - 4096) == 0);
        expect_error(p2, -1, "one page short", "truncated");
        expect_error(p2, n, "shorter than expected", "truncated");
        CHECK(truncate(p2, 4096) == 0);
        expect_error(p2, -1, "one page left", "truncated");
    }

    /* --- not LMDB at all, empty, damaged meta page, wrong size */
    char p3[4300];
    snprintf(p3, sizeof p3, "%s/other.mdb", dir);
    FILE *f = fopen(p3, "wb");
    for (int i = 0; i < 3 * 4096; i++) fputc('x', f);
    fclose(f);
    expect_error(p3, -1, "not LMDB", "not an LMDB file");
    CHECK(truncate(p3, 0) == 0);
    expect_error(p3, -1, "empty", "empty file");
    copy_file(path, copy, size);
    f = fopen(copy, "r+b");
    fseek(f, 16, SEEK_SET); /* the first meta page's magic */
    fputc(0, f);
    fclose(f);
    expect_error(copy, -1, "damaged magic", "not an LMDB file");
    copy_file(path, copy, size);
    expect_error(copy, size - 1, "larger than expected", "wrong size");
    snprintf(p3, sizeof p3, "%s/none.mdb", dir);
    expect_error(p3, -1, "missing file", "No such file");
    CHECK(lmdb_file_check(dir, -1, NULL, &e) == -1 && strstr(e.msg, "not a regular file"));

    free(val);
    return test_summary();
}
