/* NumPy .npy files (format versions 1.0, 2.0 and 3.0), as trainers write
 * them with numpy.save: the header is checked against the file size before
 * any data is read. Only what clipmill reads is accepted: C-order arrays of
 * little-endian or byte-sized integers and floats, up to NPY_MAX_DIMS
 * dimensions. Not for untrusted pickled object arrays ('|O'): refused. */
#ifndef CLIPMILL_NPY_H
#define CLIPMILL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define NPY_MAX_DIMS 8

typedef struct npy_header {
    char kind;                  /* 'u' unsigned, 'i' signed, 'f' float, 'b' bool */
    int item_size;              /* bytes per element: 1, 2, 4 or 8 */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;              /* elements: the product of shape (1 for ndim 0) */
    size_t data_offset;         /* where the data starts in the file */
} npy_header;

/* Parses the header at the start of buf (the whole file or at least its
 * first data_offset bytes, file_size its full size) into h. Returns 0, or -1
 * with e set (naming what is wrong: "not a .npy file", "Fortran order",
 * "data is N bytes, the header says M"). */
int npy_parse_header(const uint8_t *buf, size_t buf_len, size_t file_size, npy_header *h, cm_error *e);

/* Reads the whole file at path; on success *data points to its data (owned
 * by *file, free it with free(*file)) and h describes it. Returns 0, or -1
 * with e set, naming path. */
int npy_read_file(const char *path, npy_header *h, uint8_t **file, const uint8_t **data, cm_error *e);

#endif
