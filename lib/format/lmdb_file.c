/* LMDB data files checked before they are mapped (lmdb_file.h). The offsets
 * follow liblmdb 0.9's mdb.c (MDB_page, MDB_meta, MDB_db, MDB_node) on LP64. */
#include "lmdb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(size_t) == 8, "lmdb_file.c reads LMDB's 64-bit page layout");

#define LM_MAGIC 0xBEEFC0DEu
#define LM_DATA_VERSION 1u
#define LM_PAGE_HDR 16             /* pgno u64, pad u16, flags u16, lower u16, upper u16 */
#define LM_P_BRANCH 0x01
#define LM_P_LEAF 0x02
#define LM_P_OVERFLOW 0x04
#define LM_P_META 0x08
#define LM_F_BIGDATA 0x01          /* node flag: the value sits on overflow pages */
#define LM_NODE_HDR 8              /* lo u16, hi u16, flags u16, ksize u16 */
/* MDB_meta, from the end of the page header: magic u32, version u32,
 * address ptr, mapsize u64, dbs[2] (48 bytes each: pad u32 (the free db's is
 * the page size), flags u16, depth u16, branch, leaf, overflow pages, entries,
 * root: u64 each), last_pg u64, txnid u64. */
#define LM_META_DBS 24
#define LM_DB_SIZE 48
#define LM_META_LAST_PG (LM_META_DBS + 2 * LM_DB_SIZE)
#define LM_META_TXNID (LM_META_LAST_PG + 8)
#define LM_META_SIZE (LM_META_TXNID + 8)
#define LM_INVALID_PGNO UINT64_MAX
#define LM_MAX_DEPTH 64
/* A healthy store is short by the pages LMDB allocated and freed in its last
 * transaction: a few. Beyond this many missing pages the free list is not
 * walked (the file is truncated). */
#define LM_MAX_FREE_TAIL (1 << 20)

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

typedef struct lm_meta {
    uint32_t psize;
    uint64_t last_pg, txnid, free_root;
    uint16_t free_depth;
} lm_meta;

/* Reads exactly n bytes at off; 0, or -1 with errno (0 at end of file). */
static int read_at(int fd, void *buf, size_t n, int64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = 0;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Decodes the meta page at off (page header then MDB_meta). */
static int read_meta(int fd, const char *path, int64_t off, lm_meta *m, cm_error *e)
{
    uint8_t b[LM_PAGE_HDR + LM_META_SIZE];
    if (read_at(fd, b, sizeof b, off) != 0) {
        if (errno) cm_error_set(e, "%s: reading the LMDB meta page at byte %" PRId64 ": %s", path, off, strerror(errno));
        else cm_error_set(e, "%s: truncated: it ends before its LMDB meta page at byte %" PRId64, path, off);
        return -1;
    }
    const uint8_t *mm = b + LM_PAGE_HDR;
    if (!(rd16(b + 10) & LM_P_META) || rd32(mm) != LM_MAGIC) {
        cm_error_set(e, "%s: not an LMDB file (no meta page at byte %" PRId64 ")", path, off);
        return -1;
    }
    if (rd32(mm + 4) != LM_DATA_VERSION) {
        cm_error_set(e, "%s: LMDB data format version %u, this build reads %u", path, rd32(mm + 4), LM_DATA_VERSION);
        return -1;
    }
    m->psize = rd32(mm + LM_META_DBS);
    m->free_depth = rd16(mm + LM_META_DBS + 6);
    m->free_root = rd64(mm + LM_META_DBS + 40);
    m->last_pg = rd64(mm + LM_META_LAST_PG);
    m->txnid = rd64(mm + LM_META_TXNID);
    if (m->psize < 512 || m->psize > (1u << 16) || (m->psize & (m->psize - 1)) || m->last_pg < 1 ||
        m->last_pg > ((uint64_t)1 << 48)) {
        cm_error_set(e, "%s: damaged LMDB meta page at byte %" PRId64 " (page size %u, last page %" PRIu64 ")", path,
                     off, m->psize, m->last_pg);
        return -1;
    }
    return 0;
}

/* The walk of the free-page database: marks free pages >= first in a bitmap
 * of the missing tail, and fails when a page it needs lies past the end. */
typedef struct free_walk {
    int fd;
    const char *path;
    uint32_t psize;
    uint64_t file_pages, first, last;   /* missing pages: first..last */
    uint8_t *missing_free;              /* bit per missing page */
    uint64_t visited;
    int short_file;                     /* stopped at a page past the end */
    cm_error *e;
} free_walk;

/* A page the free list needs lies past the end: the file is truncated (the
 * caller says so). */
static int walk_short(free_walk *w)
{
    w->short_file = 1;
    return -1;
}

static int walk_page(free_walk *w, uint64_t pgno, int depth, uint8_t *page);

static void mark_free(free_walk *w, uint64_t pg)
{
    if (pg >= w->first && pg <= w->last) w->missing_free[(pg - w->first) / 8] |= (uint8_t)(1u << ((pg - w->first) % 8));
}

/* One freeDB record: an ID list (count, then page numbers). */
static void mark_idl(free_walk *w, const uint8_t *d, size_t len)
{
    if (len < 8) return;
    uint64_t n = rd64(d);
    if (n > len / 8 - 1) n = len / 8 - 1;
    for (uint64_t i = 1; i <= n; i++) mark_free(w, rd64(d + 8 * i));
}

static int walk_leaf(free_walk *w, uint64_t pgno, const uint8_t *page)
{
    uint16_t lower = rd16(page + 12);
    if (lower < LM_PAGE_HDR || lower > w->psize) goto bad;
    for (unsigned i = 0; i < (unsigned)(lower - LM_PAGE_HDR) / 2; i++) {
        uint16_t off = rd16(page + LM_PAGE_HDR + 2 * i);
        if ((size_t)off + LM_NODE_HDR > w->psize) goto bad;
        const uint8_t *node = page + off;
        uint32_t dsize = rd16(node) | (uint32_t)rd16(node + 2) << 16;
        uint16_t flags = rd16(node + 4), ksize = rd16(node + 6);
        size_t data = (size_t)off + LM_NODE_HDR + ksize;
        if (flags & LM_F_BIGDATA) {
            if (data + 8 > w->psize) goto bad;
            uint64_t ov = rd64(page + data);
            uint64_t npages = ((uint64_t)dsize + LM_PAGE_HDR + w->psize - 1) / w->psize;
            if (ov >= w->file_pages || npages > w->file_pages - ov)
                return walk_short(w);
            uint8_t *buf = malloc((size_t)npages * w->psize);
            if (!buf) {
                cm_error_set(w->e, "%s: out of memory reading the free list", w->path);
                return -1;
            }
            int rc = read_at(w->fd, buf, (size_t)npages * w->psize, (int64_t)(ov * w->psize));
            if (rc == 0) mark_idl(w, buf + LM_PAGE_HDR, dsize);
            else cm_error_set(w->e, "%s: reading page %" PRIu64 ": %s", w->path, ov, errno ? strerror(errno) : "end of file");
            free(buf);
            if (rc != 0) return -1;
        } else {
            if (data + dsize > w->psize) goto bad;
            mark_idl(w, page + data, dsize);
        }
    }
    return 0;
bad:
    cm_error_set(w->e, "%s: damaged LMDB free-list page %" PRIu64, w->path, pgno);
    return -1;
}

static int walk_branch(free_walk *w, uint64_t pgno, int depth, const uint8_t *page)
{
    uint16_t lower = rd16(page + 12);
    if (lower < LM_PAGE_HDR || lower > w->psize) goto bad;
    unsigned n = (unsigned)(lower - LM_PAGE_HDR) / 2;
    uint8_t *child = malloc(w->psize);
    if (!child) {
        cm_error_set(w->e, "%s: out of memory reading the free list", w->path);
        return -1;
    }
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        uint16_t off = rd16(page + LM_PAGE_HDR + 2 * i);
        if ((size_t)off + LM_NODE_HDR > w->psize) {
            free(child);
            goto bad;
        }
        const uint8_t *node = page + off;
        uint64_t c = rd16(node) | (uint64_t)rd16(node + 2) << 16 | (uint64_t)rd16(node + 4) << 32;
        rc = walk_page(w, c, depth + 1, child);
    }
    free(child);
    return rc;
bad:
    cm_error_set(w->e, "%s: damaged LMDB free-list page %" PRIu64, w->path, pgno);
    return -1;
}

/* Reads page pgno into page (psize bytes) and walks it. */
static int walk_page(free_walk *w, uint64_t pgno, int depth, uint8_t *page)
{
    if (depth > LM_MAX_DEPTH || ++w->visited > w->last + 1) {
        cm_error_set(w->e, "%s: damaged LMDB free list (a cycle or a tree deeper than %d)", w->path, LM_MAX_DEPTH);
        return -1;
    }
    if (pgno >= w->file_pages) return walk_short(w);
    if (read_at(w->fd, page, w->psize, (int64_t)(pgno * w->psize)) != 0) {
        cm_error_set(w->e, "%s: reading page %" PRIu64 ": %s", w->path, pgno, errno ? strerror(errno) : "end of file");
        return -1;
    }
    uint16_t flags = rd16(page + 10);
    if (flags & LM_P_LEAF) return walk_leaf(w, pgno, page);
    if (flags & LM_P_BRANCH) return walk_branch(w, pgno, depth, page);
    cm_error_set(w->e, "%s: damaged LMDB free-list page %" PRIu64 " (flags 0x%x)", w->path, pgno, flags);
    return -1;
}

/* The file holds file_pages of the pages 0..m->last_pg: are all the others
 * free? 1 yes, 0 no (also when the free list itself is cut off), -1 with e
 * set when the free list cannot be read or is damaged. */
static int missing_pages_free(int fd, const char *path, const lm_meta *m, uint64_t file_pages, cm_error *e)
{
    uint64_t missing = m->last_pg + 1 - file_pages;
    if (missing > LM_MAX_FREE_TAIL || m->free_root == LM_INVALID_PGNO) return 0;
    free_walk w = {.fd = fd, .path = path, .psize = m->psize, .file_pages = file_pages, .first = file_pages,
                   .last = m->last_pg, .e = e};
    w.missing_free = calloc((size_t)(missing + 7) / 8, 1);
    uint8_t *root = malloc(m->psize);
    int ok = 0;
    if (!w.missing_free || !root) {
        cm_error_set(e, "%s: out of memory reading the free list", path);
        ok = -1;
    } else if (walk_page(&w, m->free_root, 0, root) != 0) {
        ok = w.short_file ? 0 : -1;
    } else {
        ok = 1;
        for (uint64_t i = 0; i < missing && ok; i++) ok = (w.missing_free[i / 8] >> (i % 8)) & 1;
    }
    free(root);
    free(w.missing_free);
    return ok;
}

int lmdb_file_check(const char *path, int64_t expect_bytes, lmdb_file_info *info, cm_error *e)
{
    lm_meta m0, m1;
    struct stat st;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        cm_error_set(e, "%s: not a regular file", path);
        goto done;
    }
    if (st.st_size == 0) {
        cm_error_set(e, "%s: empty file (0 bytes): not an LMDB file", path);
        goto done;
    }
    /* Meta pages first, the size after (see lmdb_file.h). */
    if (read_meta(fd, path, 0, &m0, e) != 0 || read_meta(fd, path, m0.psize, &m1, e) != 0) goto done;
    if (m1.psize != m0.psize) {
        cm_error_set(e, "%s: damaged LMDB meta pages (page sizes %u and %u)", path, m0.psize, m1.psize);
        goto done;
    }
    const lm_meta *m = m1.txnid > m0.txnid ? &m1 : &m0;
    if (fstat(fd, &st) != 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        goto done;
    }
    int64_t needed = (int64_t)((m->last_pg + 1) * m->psize);
    uint64_t file_pages = (uint64_t)st.st_size / m->psize;
    lmdb_file_info in = {.file_bytes = st.st_size, .needed_bytes = needed, .page_size = m->psize,
                         .last_page = m->last_pg, .txnid = m->txnid};
    if (expect_bytes >= 0 && st.st_size != expect_bytes) {
        cm_error_set(e, "%s: %s: %" PRId64 " bytes where %" PRId64 " were expected", path,
                     st.st_size < expect_bytes ? "truncated" : "wrong size", (int64_t)st.st_size, expect_bytes);
        goto done;
    }
    if (st.st_size < needed) {
        int free_tail = missing_pages_free(fd, path, m, file_pages, e);
        if (free_tail < 0) goto done;
        if (free_tail == 0) {
            cm_error_set(e, "%s: truncated: %" PRId64 " bytes, its LMDB meta page needs %" PRId64 " (last page %" PRIu64
                         " of %u bytes)", path, (int64_t)st.st_size, needed, m->last_pg, m->psize);
            goto done;
        }
        in.free_tail_pages = (int64_t)(m->last_pg + 1 - file_pages);
    }
    if (info) *info = in;
    rc = 0;
done:
    close(fd);
    return rc;
}
