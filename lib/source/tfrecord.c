/* TFRecord framing (tfrecord.h). */
#include "tfrecord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <isa-l/crc.h>

uint32_t tfrecord_crc32c(const void *data, size_t len)
{
    /* ISA-L's crc32_iscsi is CRC-32C without the final inversion; it takes
     * an int length, so long buffers go in pieces. */
    const unsigned char *p = data;
    uint32_t crc = 0xffffffffu;
    while (len > 0) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;
        crc = crc32_iscsi((unsigned char *)p, n, crc);
        p += n;
        len -= (size_t)n;
    }
    return ~crc;
}

uint32_t tfrecord_masked_crc(const void *data, size_t len)
{
    uint32_t c = tfrecord_crc32c(data, len);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tfrecord_open(tfrecord_reader *r, const char *path, cm_error *e)
{
    memset(r, 0, sizeof *r);
    struct stat st;
    r->f = fopen(path, "rb");
    if (!r->f || fstat(fileno(r->f), &st) != 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        if (r->f) fclose(r->f);
        r->f = NULL;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        cm_error_set(e, "%s: not a regular file", path);
        fclose(r->f);
        r->f = NULL;
        return -1;
    }
    r->size = (uint64_t)st.st_size;
    r->name = cm_xstrdup(path);
    return 0;
}

void tfrecord_open_mem(tfrecord_reader *r, const uint8_t *mem, size_t len, const char *name)
{
    memset(r, 0, sizeof *r);
    r->mem = mem;
    r->size = len;
    r->name = cm_xstrdup(name);
}

void tfrecord_close(tfrecord_reader *r)
{
    if (r->f) fclose(r->f);
    free(r->buf);
    free(r->name);
    memset(r, 0, sizeof *r);
}

/* n bytes at the current offset: a pointer into memory or into r->buf. */
static const uint8_t *take(tfrecord_reader *r, size_t n, cm_error *e)
{
    if (r->mem) {
        const uint8_t *p = r->mem + r->offset;
        r->offset += n;
        return p;
    }
    if (n > r->cap) {
        free(r->buf);
        r->buf = cm_xmalloc(n ? n : 1);
        r->cap = n;
    }
    if (n && fread(r->buf, 1, n, r->f) != n) {
        cm_error_set(e, "%s: record %" PRId64 ": read error: %s", r->name, r->index,
                     ferror(r->f) ? strerror(errno) : "the file shrank");
        return NULL;
    }
    r->offset += n;
    return r->buf;
}

int tfrecord_next(tfrecord_reader *r, const uint8_t **data, size_t *len, cm_error *e)
{
    uint64_t left = r->size - r->offset;
    const int64_t i = r->index;
    if (left == 0) return 0;
    if (left < 12) {
        if (i == 0) cm_error_set(e, "%s: not a TFRecord file: %" PRIu64 " bytes, a record header is 12", r->name, left);
        else cm_error_set(e, "%s: record %" PRId64 ": truncated: %" PRIu64 " bytes left at offset %" PRIu64
                          ", a record header is 12", r->name, i, left, r->offset);
        return -1;
    }
    const uint8_t *h = take(r, 12, e);
    if (!h) return -1;
    uint64_t n = get_le64(h);
    uint32_t stored = get_le32(h + 8), computed = tfrecord_masked_crc(h, 8);
    if (stored != computed) {
        if (i == 0) cm_error_set(e, "%s: not a TFRecord file (the first record's length CRC does not match)", r->name);
        else cm_error_set(e, "%s: record %" PRId64 ": bad length CRC (stored 0x%08x, computed 0x%08x)", r->name, i,
                          stored, computed);
        return -1;
    }
    if (n > TFRECORD_MAX_RECORD) {
        cm_error_set(e, "%s: record %" PRId64 ": length %" PRIu64 " above the limit of %" PRIu64 " bytes", r->name, i,
                     n, TFRECORD_MAX_RECORD);
        return -1;
    }
    if (n + 4 > r->size - r->offset) {
        cm_error_set(e, "%s: record %" PRId64 ": truncated: %" PRIu64 " bytes of data and CRC, %" PRIu64
                     " left in the file", r->name, i, n + 4, r->size - r->offset);
        return -1;
    }
    const uint8_t *d = take(r, (size_t)n + 4, e);
    if (!d) return -1;
    stored = get_le32(d + n);
    computed = tfrecord_masked_crc(d, (size_t)n);
    if (stored != computed) {
        cm_error_set(e, "%s: record %" PRId64 ": bad data CRC (stored 0x%08x, computed 0x%08x)", r->name, i, stored,
                     computed);
        return -1;
    }
    r->index++;
    *data = d;
    *len = (size_t)n;
    return 1;
}

int tfrecord_write(FILE *f, const void *data, size_t len)
{
    uint8_t h[12];
    uint64_t n = len;
    for (int i = 0; i < 8; i++) h[i] = (uint8_t)(n >> (8 * i));
    uint32_t c = tfrecord_masked_crc(h, 8);
    for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(c >> (8 * i));
    uint8_t t[4];
    c = tfrecord_masked_crc(data, len);
    for (int i = 0; i < 4; i++) t[i] = (uint8_t)(c >> (8 * i));
    if (fwrite(h, 1, 12, f) != 12 || fwrite(data, 1, len, f) != len || fwrite(t, 1, 4, f) != 4) return -1;
    return 0;
}
