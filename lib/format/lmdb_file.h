/* Checking an LMDB data file before LMDB maps it.
 *
 * LMDB maps the whole data file and reads its pages through the map, so a
 * page past the end of a truncated file is not an error LMDB can return: the
 * first read of it kills the process with SIGBUS. Every opener of an LMDB file
 * (the staging stores, the dataset shards, the public reader, verify) calls
 * lmdb_file_check first, so a short file is one error line naming it.
 *
 * What "short" means comes from the file itself. LMDB's two meta pages (pages
 * 0 and 1) each describe one committed snapshot; the one with the larger
 * transaction id is current, and its mm_last_pg is the last page the
 * snapshot may use. The file must hold pages 0..mm_last_pg, except that pages
 * listed in the free-page database may be missing at the end (LMDB does not
 * write a page it allocated and freed in the same transaction: a healthy store
 * can be a page or two shorter). So: when the file is shorter than
 * (mm_last_pg + 1) * page size, the free-page database is walked with pread
 * and every missing page must be free. Nothing is mapped; the meta pages are
 * read before the file's size is taken, so a writer appending at the same time
 * (files only grow, and LMDB writes data pages before the meta page that
 * points at them) cannot make a sound file look short.
 *
 * The layout read here is liblmdb 0.9's on a 64-bit little-endian host (the
 * only one clipmill builds for): page header 16 bytes, MDB_meta after it. */
#ifndef CLIPMILL_LMDB_FILE_H
#define CLIPMILL_LMDB_FILE_H

#include <stdint.h>
#include "util.h"

typedef struct lmdb_file_info {
    int64_t file_bytes;            /* the file's size when checked */
    int64_t needed_bytes;          /* (last page + 1) * page size of the current snapshot */
    uint32_t page_size;
    uint64_t last_page, txnid;     /* of the current meta page */
    int64_t free_tail_pages;       /* pages missing at the end, all free (0 normally) */
} lmdb_file_info;

/* Checks the LMDB data file at path (a data.mdb, or a MDB_NOSUBDIR file such
 * as a dataset shard): both meta pages readable and valid, and every page the
 * current snapshot may read present. expect_bytes >= 0 also requires that
 * exact size (a dataset shard's size in manifest.json). Returns 0 (info
 * filled when not NULL), or -1 with e = "PATH: truncated: N bytes, its LMDB
 * meta page needs M (last page P of S bytes)", "PATH: N bytes, manifest.json
 * says M", "PATH: not an LMDB file (...)" or the system error. */
int lmdb_file_check(const char *path, int64_t expect_bytes, lmdb_file_info *info, cm_error *e);

#endif
