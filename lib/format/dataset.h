/* Dataset shards (writer side and the formats both sides share).
 * docs/shard-format.md describes every byte. A dataset is a directory
 * corpus/datasets/NAME/ holding manifest.json and SPLIT/shard-NNNNN.mdb files;
 * each shard is one LMDB file (MDB_NOSUBDIR) whose keys are the 0-based record
 * index as a big-endian u64 and whose values are clip records
 * (docs/clip-format.md), plus one metadata record under SHARD_META_KEY. */
#ifndef CLIPMILL_DATASET_H
#define CLIPMILL_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "clip_record.h"
#include "util.h"

#define DATASET_FORMAT_VERSION 2       /* 2: meta.sqlite and card.md; readers also read 1 */
#define DATASET_FORMAT_VERSION_MIN 1
#define SHARD_META_MAGIC "CMSH"
#define SHARD_META_VERSION 1
#define SHARD_META_HEADER_SIZE 64
#define SHARD_META_ENTRY_SIZE 48      /* per clip: id[32], record bytes u64, payload crc u32, reserved u32 */
#define SHARD_CLIP_ID_SIZE 32
#define SHARD_META_KEY UINT64_MAX     /* all-0xFF key: sorts after every record */
#define SHARD_KEY_SIZE 8

typedef enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2, SPLIT_COUNT = 3 } dataset_split;
const char *dataset_split_name(int split);
int dataset_split_parse(const char *name);          /* -1 when unknown */

/* The shard metadata record, decoded. Arrays are malloc'd by
 * shard_meta_parse / owned by the caller for shard_meta_encode. */
typedef struct shard_meta {
    uint32_t clip_count;
    uint32_t shard_index;
    uint32_t frames;               /* T of every clip in the shard */
    uint16_t height, width;
    uint8_t channels, codec, split;
    uint32_t fps_num, fps_den;
    uint64_t record_bytes;         /* sum of the record sizes */
    char (*ids)[SHARD_CLIP_ID_SIZE];   /* NUL-padded clip ids */
    uint64_t *rec_bytes;           /* size of each record */
    uint32_t *payload_crc;         /* each record header's payload_crc */
} shard_meta;

/* Byte size of the encoded metadata for n clips. */
size_t shard_meta_size(uint32_t n);
/* Encodes m into a malloc'd buffer (*out, *len). Never fails (aborts on OOM). */
void shard_meta_encode(const shard_meta *m, uint8_t **out, size_t *len);
/* Validates and decodes len bytes (header CRC, sizes, body CRC) into m,
 * allocating its arrays. Never reads past len. Returns 0, or -1 with e
 * saying which check failed (m is then empty). */
int shard_meta_parse(const uint8_t *buf, size_t len, shard_meta *m, cm_error *e);
void shard_meta_free(shard_meta *m);

/* The big-endian key of record index i. */
void shard_key(uint64_t i, uint8_t key[SHARD_KEY_SIZE]);

/* manifest.json, as much of it as readers need. */
typedef struct dataset_shard_file {
    char *file;                    /* relative to the dataset directory, e.g. "train/shard-00000.mdb" */
    int64_t clips, bytes;
    char sha256[65];
} dataset_shard_file;

typedef struct dataset_manifest {
    int format_version;
    char codec[8];
    int fps_num, fps_den, frames, height, width, channels;
    struct {
        int64_t clips;
        double hours;
        int n_shards;
        dataset_shard_file *shards;
    } split[SPLIT_COUNT];
    /* Version 2: "metadata" (meta.sqlite) and "card" (card.md), checksummed
     * like the shards (clips unused); file NULL in a version 1 manifest. */
    dataset_shard_file meta, card;
} dataset_manifest;

/* Parses manifest.json text (len bytes, need not be NUL-terminated) with
 * SQLite's JSON functions. Returns 0, or -1 with e set (name is used in the
 * message). */
int dataset_manifest_parse(const char *text, size_t len, const char *name, dataset_manifest *m, cm_error *e);
/* Reads DIR/manifest.json. Returns 0, or -1 with e naming the file. */
int dataset_manifest_read(const char *dataset_dir, dataset_manifest *m, cm_error *e);
void dataset_manifest_free(dataset_manifest *m);


#endif
