/* A corpus: one directory, laid out as
 *
 *   catalog.sqlite      the catalog (catalog.h): sources, clips, scores, labels, models, datasets
 *   staging/            the staging store (store.h) of the clips ingested here
 *   parts/K-of-N/       the parts of a partitioned run (partition.h), each a corpus of its own;
 *                       once merged, the catalog names their stores "parts/K-of-N/staging"
 *   models/             models trained here, NAME.cmm
 *   datasets/           datasets built here, NAME/
 *   downloads/          downloads in flight (ingest)
 *
 * This file is the one place that spells that layout, and the one walk from a
 * clip id to its staging store and record. A clip's store is named in the
 * catalog (clips.staging, relative to the corpus; NULL in old catalogs means
 * "staging"), and a corpus may name any number of them: each is opened on
 * first use, once, and kept until corpus_close.
 *
 * A corpus handle may be shared by threads for corpus_store and
 * corpus_read_record (the store cache is locked; LMDB reads are
 * thread-safe); the catalog and corpus_clip_record use the catalog handle,
 * which callers serialise (catalog.h). */
#ifndef CLIPMILL_CORPUS_H
#define CLIPMILL_CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include "catalog.h"
#include "clip_record.h"
#include "store.h"
#include "util.h"

/* The layout, relative to the corpus directory. */
#define CORPUS_CATALOG "catalog.sqlite"
#define CORPUS_STAGING "staging"
#define CORPUS_PARTS "parts"
#define CORPUS_MODELS "models"
#define CORPUS_DATASETS "datasets"
#define CORPUS_DOWNLOADS "downloads"

/* The one "not found" return of the clip lookups below, and the return of a
 * staging store that already failed to open in this process (e repeats its
 * error: a caller reporting each clip leaves it out, since the first failure
 * returned -1 with the same message). */
enum { CORPUS_NOT_FOUND = 1, CORPUS_STORE_FAILED = 2 };

typedef struct corpus corpus;

typedef enum corpus_mode {
    CORPUS_EXISTING,   /* the directory must hold a catalog; nothing is created */
    CORPUS_CREATE,     /* the directory and its catalog are made when missing (clipmill-ingest, merge) */
} corpus_mode;

/* Opens the corpus in dir and its catalog (migrated to the newest schema).
 * With CORPUS_EXISTING a directory without a catalog is refused, before
 * anything is created, with e = "DIR/catalog.sqlite: no catalog (run
 * clipmill-ingest first)". Returns 0 and *out, or -1 with e set (one line
 * naming the path). */
int corpus_open(corpus **out, const char *dir, corpus_mode mode, cm_error *e);

/* Closes the catalog and every store opened through c. NULL is allowed. */
void corpus_close(corpus *c);

const char *corpus_dir(const corpus *c);   /* as given to corpus_open */
catalog *corpus_catalog(corpus *c);

/* dir/rel, malloc'd: the path of a layout entry (CORPUS_MODELS, ...) or of a
 * store named in the catalog. */
char *corpus_path(const corpus *c, const char *rel);

/* Checks a staging store name as read from a catalog: relative to the corpus
 * and inside it ("staging", "parts/3-of-9/staging"): not empty, not
 * absolute, no ".." component. Returns 0, or -1 with e naming it. */
int corpus_check_store_name(const char *name, cm_error *e);

/* The staging store named name (NULL: CORPUS_STAGING), opened on first use
 * (read-only unless writable; writable creates it) and cached by name.
 * A store first opened read-only is not reopened writable (-1). A store that
 * cannot be opened is not tried again: later calls return CORPUS_STORE_FAILED
 * with the same e. Returns 0 and *out (owned by c), or -1 with e set. */
int corpus_store(corpus *c, const char *name, int writable, store **out, cm_error *e);

/* Reads the record under key in the store named staging (NULL:
 * CORPUS_STAGING), as the catalog's clips.staging and clips.staging_key give
 * them. Returns 0 with *rec (malloc'd) and *len, CORPUS_NOT_FOUND with e =
 * "not in staging store NAME (key KEY)", CORPUS_STORE_FAILED (see
 * corpus_store), or -1 with e set (the store cannot be opened or read). */
int corpus_read_record(corpus *c, const char *staging, const char *key, uint8_t **rec, size_t *len, cm_error *e);

/* Reads clip_id's record: its store and key from the catalog, then
 * corpus_read_record. Returns 0 with *rec and *len, CORPUS_NOT_FOUND with e
 * set when the catalog has no such clip or its store lacks the record,
 * CORPUS_STORE_FAILED, or -1 with e set. */
int corpus_clip_record(corpus *c, const char *clip_id, uint8_t **rec, size_t *len, cm_error *e);

/* corpus_clip_record, then the record checked (payload CRC included) and all
 * of its frames decoded: *h and *frames (malloc'd, T*H*W*C bytes). Returns 0,
 * CORPUS_NOT_FOUND, CORPUS_STORE_FAILED, or -1 with e set (also for a damaged
 * record). */
int corpus_clip_frames(corpus *c, const char *clip_id, clip_header *h, uint8_t **frames, cm_error *e);

#endif
