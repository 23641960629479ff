/* The staging store: one LMDB environment (a directory holding data.mdb and
 * lock.mdb) mapping clip ids to clip records. Several processes and threads
 * may use one store; LMDB serialises writers. Writes are durable once
 * store_put / store_delete_prefix return 0 (the transaction is committed and
 * synced), which is what lets the catalog be committed after the store
 * without ever pointing at a clip that is not there.
 * Open a given directory at most once per process and share the store *
 * among threads (an LMDB rule: closing a second handle on the same files in
 * one process drops the locks of the first). Do not use a store across
 * fork(); open it in the child. */
#ifndef CLIPMILL_STORE_H
#define CLIPMILL_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

typedef struct store store;

/* Opens (creating dir if needed) the store in directory dir. readonly=1 opens
 * for reading only (and fails if the store does not exist). Returns 0 and
 * *out, or -1 with e naming dir. */
int store_open(store **out, const char *dir, int readonly, cm_error *e);
void store_close(store *s);

/* Stores value under key (overwriting) in one committed transaction.
 * Returns 0, or -1 with e set (e.g. map full, disk full). */
int store_put(store *s, const char *key, const void *val, size_t len, cm_error *e);

/* Copies the value of key into a malloc'd buffer. Returns 0 (found: *val,
 * *len set), 1 (not found), or -1 with e set. */
int store_get(store *s, const char *key, uint8_t **val, size_t *len, cm_error *e);

/* Deletes every key that starts with prefix, in one committed transaction;
 * *deleted (may be NULL) receives how many. Returns 0, or -1 with e set. */
int store_delete_prefix(store *s, const char *prefix, int64_t *deleted, cm_error *e);

/* Calls fn(key, value, len, arg) for every record in key order, inside one
 * read transaction; stops early and returns fn's value when it is non-zero.
 * value points into the memory map and is valid only during the call; fn must
 * not write to this store. Returns 0 when all were visited, -1 with e set on
 * an LMDB error. */
typedef int (*store_visit_fn)(const char *key, const uint8_t *val, size_t len, void *arg);
int store_foreach(store *s, store_visit_fn fn, void *arg, cm_error *e);

/* Number of records, or -1 on an LMDB error. */
int64_t store_count(store *s);

#endif
