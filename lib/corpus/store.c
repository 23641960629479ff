/* The LMDB staging store (see store.h). */
#include "store.h"
#include "fsio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "lmdb_file.h"

struct store {
    MDB_env *env;
    MDB_dbi dbi;
    char *dir;
    int readonly;
    size_t max_key; /* LMDB's key size limit */
};

/* Address space only: LMDB grows data.mdb as pages are used, so a huge map
 * costs nothing and means the store never fills up in practice. */
#define STORE_MAP_SIZE (sizeof(size_t) >= 8 ? ((size_t)1 << 40) : ((size_t)1 << 30))
#define STORE_MAX_READERS 512

/* Opens the environment with MDB_NOTLS (read transactions are not bound to a
 * thread's TLS slot, so many threads can read through one env) and
 * MDB_NOMETASYNC (the data pages are still fsync'ed on every commit and the
 * meta page is written after them, so a kill -9 or power cut loses at most
 * the last commit and never corrupts; full MDB_NOSYNC could). Stale reader
 * slots left by killed processes are cleared. On error e names dir. */
int store_open(store **out, const char *dir, int readonly, cm_error *e)
{
    int rc;
    store *s = cm_xcalloc(1, sizeof *s);
    s->dir = cm_xstrdup(dir);
    s->readonly = readonly;
    *out = NULL;

    size_t map_size = STORE_MAP_SIZE;
    if (readonly) {
        char *data = cm_path_join(dir, "data.mdb");
        struct stat st;
        int exists = stat(data, &st) == 0;
        /* A reader maps only what is there (LMDB raises it to the used size):
         * a merged corpus opens hundreds of partition stores at once, and
         * hundreds of 1 TiB maps do not fit in a 47-bit address space. */
        if (exists) map_size = ((size_t)st.st_size + ((size_t)1 << 20)) & ~(((size_t)1 << 20) - 1);
        int err = errno;
        free(data);
        if (!exists) {
            cm_error_set(e, "%s: no store here (data.mdb: %s)", dir, strerror(err));
            goto fail;
        }
    } else if (cm_mkdir_p(dir, e) < 0) {
        goto fail;
    }
    /* An existing data.mdb is checked before LMDB maps it: a page past the end
     * of a truncated file would be a SIGBUS, not an error (lmdb_file.h). */
    char *data = cm_path_join(dir, "data.mdb");
    struct stat dst;
    int checked = stat(data, &dst) != 0 || (!readonly && dst.st_size == 0) ? 0 : lmdb_file_check(data, -1, NULL, e);
    free(data);
    if (checked != 0) goto fail;
    if ((rc = mdb_env_create(&s->env)) != 0) {
        cm_error_set(e, "%s: mdb_env_create: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if ((rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
        (rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0) {
        cm_error_set(e, "%s: configuring LMDB: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    unsigned flags = MDB_NOTLS | MDB_NOMETASYNC | (readonly ? MDB_RDONLY : 0);
    if ((rc = mdb_env_open(s->env, dir, flags, 0664)) != 0) {
        cm_error_set(e, "%s: cannot open LMDB store: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);

    MDB_txn *txn = NULL;
    if ((rc = mdb_txn_begin(s->env, NULL, readonly ? MDB_RDONLY : 0, &txn)) != 0) {
        cm_error_set(e, "%s: mdb_txn_begin: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0) {
        mdb_txn_abort(txn);
        cm_error_set(e, "%s: opening the main database: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        cm_error_set(e, "%s: mdb_txn_commit: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

void store_close(store *s)
{
    if (!s) return;
    if (s->env) mdb_env_close(s->env);
    free(s->dir);
    free(s);
}

/* Checks a key against LMDB's limits (non-empty, at most max_key bytes). */
static int key_ok(store *s, const char *key, MDB_val *k, cm_error *e)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > s->max_key) {
        cm_error_set(e, "%s: bad key \"%s\" (length %zu, must be 1..%zu)", s->dir, key ? key : "",
                     n, s->max_key);
        return -1;
    }
    k->mv_size = n;
    k->mv_data = (void *)key;
    return 0;
}

/* The reason a write to the store failed, for an error line. LMDB turns a
 * short write (what a full disk gives) into EIO: that reads "No space left on
 * device" when the disk is indeed (nearly) full. */
static const char *write_error(const store *s, int rc)
{
    if (rc == EIO && cm_fs_nearly_full(s->dir, (long long)1 << 20)) return strerror(ENOSPC);
    return mdb_strerror(rc);
}

/* One write transaction per put, committed (and synced) before returning 0. */
int store_put(store *s, const char *key, const void *val, size_t len, cm_error *e)
{
    int rc;
    MDB_txn *txn = NULL;
    MDB_val k, v = {.mv_size = len, .mv_data = (void *)val};
    if (key_ok(s, key, &k, e) < 0) return -1;
    if (s->readonly) {
        cm_error_set(e, "%s: store is open read-only, cannot put %s", s->dir, key);
        return -1;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) goto fail;
    if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != 0) goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) goto fail;
    return 0;
fail:
    if (txn) mdb_txn_abort(txn);
    cm_error_set(e, "%s/data.mdb: cannot store %s (%zu bytes): %s", s->dir, key, len, write_error(s, rc));
    return -1;
}

/* Copies the value out of the map inside a short read transaction. */
int store_get(store *s, const char *key, uint8_t **val, size_t *len, cm_error *e)
{
    int rc;
    MDB_txn *txn = NULL;
    MDB_val k, v;
    *val = NULL;
    *len = 0;
    if (key_ok(s, key, &k, e) < 0) return -1;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) goto fail;
    rc = mdb_get(txn, s->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return 1;
    }
    if (rc != 0) goto fail;
    *val = cm_xmalloc(v.mv_size);
    memcpy(*val, v.mv_data, v.mv_size);
    *len = v.mv_size;
    mdb_txn_abort(txn);
    return 0;
fail:
    if (txn) mdb_txn_abort(txn);
    cm_error_set(e, "%s: cannot read %s: %s", s->dir, key, mdb_strerror(rc));
    return -1;
}

static int has_prefix(const MDB_val *k, const char *prefix, size_t n)
{
    return k->mv_size >= n && memcmp(k->mv_data, prefix, n) == 0;
}

/* Walks the keys from the first >= prefix (MDB_SET_RANGE) while they carry
 * the prefix, deleting each, then commits once. */
int store_delete_prefix(store *s, const char *prefix, int64_t *deleted, cm_error *e)
{
    int rc;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int64_t n_deleted = 0;
    size_t n = strlen(prefix);
    if (deleted) *deleted = 0;
    if (s->readonly) {
        cm_error_set(e, "%s: store is open read-only, cannot delete prefix %s", s->dir, prefix);
        return -1;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) goto fail;
    if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) goto fail;
    MDB_val k = {.mv_size = n, .mv_data = (void *)prefix}, v;
    /* LMDB refuses a zero-length key, and an empty prefix means every key. */
    rc = mdb_cursor_get(cur, &k, &v, n ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && has_prefix(&k, prefix, n)) {
        if ((rc = mdb_cursor_del(cur, 0)) != 0) goto fail;
        n_deleted++;
        /* After a delete the cursor already rests on the following key;
         * MDB_GET_CURRENT reads it, or reports the end of the tree. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == EINVAL) rc = MDB_NOTFOUND; /* deleted the last key of the tree */
    }
    if (rc != 0 && rc != MDB_NOTFOUND) goto fail;
    mdb_cursor_close(cur);
    cur = NULL;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) goto fail;
    if (deleted) *deleted = n_deleted;
    return 0;
fail:
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    cm_error_set(e, "%s/data.mdb: cannot delete keys with prefix \"%s\": %s", s->dir, prefix, write_error(s, rc));
    return -1;
}

/* One read transaction for the whole walk; the value pointer handed to fn
 * points into the map and is valid only during the call. */
int store_foreach(store *s, store_visit_fn fn, void *arg, cm_error *e)
{
    int rc, ret = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    char *key = cm_xmalloc(s->max_key + 1);
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) goto fail;
    if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) goto fail;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t n = k.mv_size < s->max_key ? k.mv_size : s->max_key;
        memcpy(key, k.mv_data, n);
        key[n] = '\0';
        ret = fn(key, v.mv_data, v.mv_size, arg);
        if (ret != 0) break;
    }
    if (ret == 0 && rc != MDB_NOTFOUND) goto fail;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    free(key);
    return ret;
fail:
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    free(key);
    cm_error_set(e, "%s: iterating the store: %s", s->dir, mdb_strerror(rc));
    return -1;
}

/* Entries in the main database as of a fresh read transaction; -1 on error. */
int64_t store_count(store *s)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) return -1;
    int rc = mdb_stat(txn, s->dbi, &st);
    mdb_txn_abort(txn);
    return rc == 0 ? (int64_t)st.ms_entries : -1;
}
