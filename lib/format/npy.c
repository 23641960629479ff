#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsio.h"

/* Finds 'key': in the header dict and returns a pointer just after the colon
 * and any spaces, or NULL. */
static const char *dict_value(const char *dict, const char *key)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(dict, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

int npy_parse_header(const uint8_t *buf, size_t buf_len, size_t file_size, npy_header *h, cm_error *e)
{
    memset(h, 0, sizeof *h);
    if (buf_len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        cm_error_set(e, "not a .npy file (no \\x93NUMPY magic)");
        return -1;
    }
    int major = buf[6];
    size_t hlen, pre;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        pre = 10;
    } else if (major == 2 || major == 3) {
        if (buf_len < 12) {
            cm_error_set(e, "truncated .npy header");
            return -1;
        }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        pre = 12;
    } else {
        cm_error_set(e, ".npy format version %d is not supported (1, 2 or 3)", major);
        return -1;
    }
    if (hlen > 65536 || pre + hlen > buf_len || pre + hlen > file_size) {
        cm_error_set(e, "truncated .npy header (%zu bytes announced)", hlen);
        return -1;
    }
    char dict[65537];
    memcpy(dict, buf + pre, hlen);
    dict[hlen] = '\0';
    if (strlen(dict) != hlen) {
        cm_error_set(e, ".npy header holds a NUL byte");
        return -1;
    }
    const char *d = dict_value(dict, "descr");
    if (!d || (d[0] != '\'' && d[0] != '"') || strlen(d) < 5) {
        cm_error_set(e, ".npy header has no 'descr'");
        return -1;
    }
    char order = d[1], kind = d[2];
    int size = 0;
    if (d[3] >= '1' && d[3] <= '9' && d[4] == d[0]) size = d[3] - '0';
    if (!size || !(order == '<' || order == '|' || order == '=') || !strchr("uifb", kind) ||
        !(size == 1 || size == 2 || size == 4 || size == 8) || (order == '|' && size != 1) ||
        (kind == 'f' && size < 2)) {
        cm_error_set(e, ".npy dtype %.8s is not supported (little-endian integers, floats or bool)", d);
        return -1;
    }
    h->kind = kind;
    h->item_size = size;
    const char *f = dict_value(dict, "fortran_order");
    if (!f || strncmp(f, "False", 5) != 0) {
        cm_error_set(e, ".npy array is in Fortran order (C order expected)");
        return -1;
    }
    const char *s = dict_value(dict, "shape");
    if (!s || *s != '(') {
        cm_error_set(e, ".npy header has no 'shape'");
        return -1;
    }
    s++;
    int64_t count = 1;
    for (;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        if (*s < '0' || *s > '9' || h->ndim == NPY_MAX_DIMS) {
            cm_error_set(e, ".npy shape is not a tuple of up to %d sizes", NPY_MAX_DIMS);
            return -1;
        }
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || v < 0 || (v > 0 && count > INT64_MAX / 8 / v)) {
            cm_error_set(e, ".npy shape is too large");
            return -1;
        }
        h->shape[h->ndim++] = v;
        count *= v;
        s = end;
        while (*s == 'L') s++;
    }
    h->count = count;
    h->data_offset = pre + hlen;
    uint64_t data_bytes = (uint64_t)count * (uint64_t)size;
    if ((uint64_t)(file_size - h->data_offset) != data_bytes) {
        cm_error_set(e, ".npy data is %zu bytes, the header says %llu", file_size - h->data_offset,
                     (unsigned long long)data_bytes);
        return -1;
    }
    return 0;
}

int npy_read_file(const char *path, npy_header *h, uint8_t **file, const uint8_t **data, cm_error *e)
{
    *data = NULL;
    size_t n;
    if (cm_read_file(path, file, &n, e) != 0) return -1;
    cm_error pe = {{0}};
    if (npy_parse_header(*file, n, n, h, &pe) != 0) {
        cm_error_set(e, "%s: %s", path, pe.msg);
        free(*file);
        *file = NULL;
        return -1;
    }
    *data = *file + h->data_offset;
    return 0;
}
