/* Hashes and mixers: CRC-32, SHA-256 of memory, of an open file and of a file
 * by name, and the splitmix64 generator and finaliser. One implementation of
 * each, so a checksum written by one tool is the one another checks. */
#ifndef CLIPMILL_HASH_H
#define CLIPMILL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* CRC-32 (IEEE 802.3, the zlib/PNG polynomial; zlib's crc32 values) through
 * Intel ISA-L's crc32_gzip_refl: ~20-27 GB/s here against ~2 GB/s for zlib
 * and 1.2 GB/s for libavutil's av_crc (same values). */
uint32_t cm_crc32(const void *data, size_t len);
uint32_t cm_crc32_update(uint32_t crc, const void *data, size_t len); /* start with 0 */

/* SHA-256 through OpenSSL EVP; out receives 64 lowercase hex chars and a NUL.
 * Out of memory (OpenSSL cannot set itself up or digest) ends the program as
 * cm_xmalloc does: one error line, exit 3. */
void cm_sha256_hex(const void *data, size_t len, char out[65]);

/* SHA-256 of an open file, read with pread from offset 0 (the file position
 * is not used or moved): the first len bytes, or up to end of file when
 * len < 0. *bytes (may be NULL) receives the number of bytes hashed. Returns
 * 0, or -1 with errno set (EIO when a file of len bytes ends early, ENOMEM
 * when the digest cannot be set up). */
int cm_sha256_fd(int fd, int64_t len, char out[65], int64_t *bytes);

/* SHA-256 of the whole file at path; *bytes (may be NULL) receives its size.
 * Returns 0, or -1 with e set ("PATH: reason"). */
int cm_sha256_file(const char *path, char out[65], int64_t *bytes, cm_error *e);

/* splitmix64 (Steele, Lea, Flood 2014): advances *state by the golden-ratio
 * increment and returns the mixed value. Small, fast, deterministic on every
 * machine: shuffles, initialisations and sampling that must repeat bit for
 * bit from a seed. */
uint64_t cm_splitmix64_next(uint64_t *state);

/* splitmix64's finaliser alone: a bijection of 64-bit values in which every
 * input bit changes about half of the output bits (for hashes, such as FNV,
 * whose high bits barely depend on the last bytes). */
uint64_t cm_mix64(uint64_t z);

#endif
