/* TFRecord files (docs/robotics.md, "TFRecord"): a sequence of records, each
 *   uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes,
 *   length bytes of data, uint32 masked CRC-32C of the data,
 * where masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8. Both CRCs are
 * checked; a record that does not fit in the file is truncated. */
#ifndef CLIPMILL_TFRECORD_H
#define CLIPMILL_TFRECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

#define TFRECORD_MAX_RECORD ((uint64_t)1 << 31)  /* 2 GiB: larger lengths are refused */

uint32_t tfrecord_crc32c(const void *data, size_t len);
uint32_t tfrecord_masked_crc(const void *data, size_t len);

/* Reads records from a file or from memory. */
typedef struct tfrecord_reader {
    FILE *f;                 /* NULL when reading memory */
    const uint8_t *mem;
    char *name;              /* for messages */
    uint64_t size, offset;   /* bytes in all, bytes consumed */
    int64_t index;           /* records returned so far */
    uint8_t *buf;
    size_t cap;
} tfrecord_reader;

/* Opens path. Returns 0, or -1 with e set ("PATH: no such file or directory"). */
int tfrecord_open(tfrecord_reader *r, const char *path, cm_error *e);
/* Reads len bytes at mem (not copied; must outlive r); name is for messages. */
void tfrecord_open_mem(tfrecord_reader *r, const uint8_t *mem, size_t len, const char *name);
void tfrecord_close(tfrecord_reader *r);

/* The next record: returns 1 with *data (valid until the next call) and *len,
 * 0 at a clean end of the file, -1 with e set to one line naming the file and
 * the record ("x.tfrecord: record 3: bad data CRC (stored 0x..., computed
 * 0x...)", "...: record 2: truncated: ...", "...: not a TFRecord file: ..."
 * for a first record whose length CRC does not match). */
int tfrecord_next(tfrecord_reader *r, const uint8_t **data, size_t *len, cm_error *e);

/* Writes one record (framing and both CRCs) to f. Returns 0 or -1 (errno). */
int tfrecord_write(FILE *f, const void *data, size_t len);

#endif
