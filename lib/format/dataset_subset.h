/* Subsets of a dataset: DATASET/subsets/NAME.subset, written by
 * `clipmill-shard subset DATASET NAME --where SQL` and read by every reader
 * opening "DATASET@NAME" (docs/shard-format.md "Subsets", docs/reader.md).
 * The dataset itself (its manifest.json, shards and meta.sqlite) is never
 * rewritten: a subset is a small file of its own, checked by its own CRCs,
 * bound to the dataset by the SHA-256 of the dataset's manifest.json.
 *
 * Little-endian. Header (96 bytes): magic "CMSB", u16 version 1, u16 header
 * size 96, u64 clips per split (train, val, test), u32 length of the SQL
 * text, u32 0, u64 body size, 32 bytes SHA-256 of manifest.json, u32 body
 * CRC-32, u32 0, u32 0, u32 header CRC-32 (of bytes 0..91). Body: the
 * indices of each split (u64, strictly ascending, below the split's clip
 * count), train then val then test, then the SQL text (no NUL). */
#ifndef CLIPMILL_DATASET_SUBSET_H
#define CLIPMILL_DATASET_SUBSET_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "util.h"

#define DATASET_SUBSET_MAGIC "CMSB"
#define DATASET_SUBSET_VERSION 1
#define DATASET_SUBSET_HEADER_SIZE 96
#define DATASET_SUBSET_DIR "subsets"
#define DATASET_SUBSET_EXT ".subset"

typedef struct dataset_subset {
    int64_t n[SPLIT_COUNT];
    int64_t *idx[SPLIT_COUNT];     /* malloc'd; ascending */
    uint8_t manifest_sha256[32];
    char *where;                   /* the SQL that chose it */
} dataset_subset;

/* Encodes s into a malloc'd buffer. Never fails (aborts on OOM). */
void dataset_subset_encode(const dataset_subset *s, uint8_t **out, size_t *len);
/* Decodes and checks len bytes (CRCs, sizes, indices ascending); split_clips
 * (may be NULL) bounds the indices. Returns 0, or -1 with e (s empty). */
int dataset_subset_parse(const uint8_t *buf, size_t len, const int64_t split_clips[SPLIT_COUNT], dataset_subset *s,
                         cm_error *e);
void dataset_subset_free(dataset_subset *s);

/* The SHA-256 of DIR/manifest.json, binary. Returns 0, or -1 with e. */
int dataset_manifest_sha256(const char *dataset_dir, uint8_t out[32], cm_error *e);

/* DIR/subsets/NAME.subset (malloc'd). */
char *dataset_subset_path(const char *dataset_dir, const char *name);

/* Reads DIR/subsets/NAME.subset and checks it against the dataset: parse,
 * indices within man's splits, bound to this manifest.json. Returns 0, or -1
 * with e naming the file. */
int dataset_subset_read(const char *dataset_dir, const char *name, const dataset_manifest *man, dataset_subset *s,
                        cm_error *e);

/* A subset name: letters, digits, '-', '_', '.', not starting with '.', at
 * most 200 bytes. */
int dataset_subset_name_ok(const char *name);

#endif
