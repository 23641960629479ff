/* Fault injection by LD_PRELOAD, in the manner of SQLite's I/O-error and
 * out-of-memory tests (tests/e2e/fault_injection.sh): fails the Nth call of
 * one kind of operation in a clipmill tool, so that a test can walk N over
 * every call a run makes and check that each failure ends in one clear error
 * (never a signal) and that the rerun equals a clean run.
 *
 * Kinds and the calls they count (all threads together, from the moment main
 * is called: this library wraps __libc_start_main, so start-up, the program's
 * constructors included, is not counted):
 *   write   write, pwrite, pwrite64, writev      (fails with EIO by default)
 *   fsync   fsync, fdatasync, msync              (EIO)
 *   rename  rename, renameat, renameat2          (EIO)
 *   malloc  malloc, calloc, realloc, posix_memalign, aligned_alloc (ENOMEM)
 *   lmdb    mdb_put                              (MDB_MAP_FULL)
 *
 * Environment:
 *   CLIPMILL_FAULT=KIND:N[+][:ERRNO]  fail the Nth call of KIND (1-based);
 *       with '+', that call and every later one of the kind (a disk that
 *       stays full). ERRNO is a name: EIO, ENOSPC, EDQUOT, ENOMEM, EROFS,
 *       or for lmdb MAP_FULL (default) or EIO.
 *   CLIPMILL_FAULT_COUNT=FILE  at exit, append "KIND COUNT" lines: the calls
 *       of each kind this process made (the range of N for a test).
 *   CLIPMILL_FAULT_LOG=FILE    append one line when the fault fires (so a
 *       test knows the point was reached).
 *
 * Writes to file descriptors 0-2 are neither counted nor failed: a terminal
 * or pipe is not storage, and the test reads the error line the tool prints.
 * The calls are passed through to the next definition (RTLD_NEXT, or glibc's
 * __libc_* allocator, which needs no dlsym and so allocates nothing while
 * resolving). Not for sanitizer builds: ASan replaces the allocator itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lmdb.h>

enum { K_WRITE, K_FSYNC, K_RENAME, K_MALLOC, K_LMDB, K_COUNT };
static const char *const kind_names[K_COUNT] = {"write", "fsync", "rename", "malloc", "lmdb"};

static long counts[K_COUNT];
static int fault_kind = -1;     /* no fault: count only */
static long fault_at;           /* the Nth call fails */
static int fault_sticky;        /* and every later one */
static int fault_errno;
static int armed;               /* set once the environment is read */
static char log_path[4096], count_path[4096];

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static int errno_by_name(const char *s, int kind)
{
    static const struct { const char *name; int value; } names[] = {
        {"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"ENOMEM", ENOMEM},
        {"EROFS", EROFS}, {"EACCES", EACCES}, {"MAP_FULL", MDB_MAP_FULL},
    };
    if (s) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(s, names[i].name) == 0) return names[i].value;
    }
    return kind == K_MALLOC ? ENOMEM : kind == K_LMDB ? MDB_MAP_FULL : EIO;
}

/* Appends text to path with the real write (never counted, never failed). */
static void append_file(const char *path, const char *text)
{
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!real_write) real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || !real_write) return;
    ssize_t w = real_write(fd, text, strlen(text));
    (void)w;
    close(fd);
}

__attribute__((constructor)) static void fault_init(void)
{
    const char *spec = getenv("CLIPMILL_FAULT");
    const char *log = getenv("CLIPMILL_FAULT_LOG");
    const char *cnt = getenv("CLIPMILL_FAULT_COUNT");
    if (log) snprintf(log_path, sizeof log_path, "%s", log);
    if (cnt) snprintf(count_path, sizeof count_path, "%s", cnt);
    if (spec && *spec) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", spec);
        char *n = strchr(buf, ':');
        if (n) {
            *n++ = '\0';
            for (int k = 0; k < K_COUNT; k++)
                if (strcmp(buf, kind_names[k]) == 0) fault_kind = k;
            char *end;
            fault_at = strtol(n, &end, 10);
            if (*end == '+') { fault_sticky = 1; end++; }
            fault_errno = errno_by_name(*end == ':' ? end + 1 : NULL, fault_kind);
        }
        if (fault_kind < 0 || fault_at < 1) {
            static const char msg[] = "faultinject: CLIPMILL_FAULT must be KIND:N[+][:ERRNO]\n";
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            _exit(99);
        }
    }
}

/* Arms the counters as main is entered (constructors have run by then). */
static int (*real_main)(int, char **, char **);

static int main_armed(int argc, char **argv, char **envp)
{
    memset(counts, 0, sizeof counts);
    __atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
    return real_main(argc, argv, envp);
}

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    __typeof__(&__libc_start_main) next = (__typeof__(&__libc_start_main))dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return next(main_armed, argc, argv, init, fini, rtld_fini, stack_end);
}

__attribute__((destructor)) static void fault_fini(void)
{
    if (!count_path[0]) return;
    __atomic_store_n(&armed, 0, __ATOMIC_RELEASE);
    char text[512];
    size_t len = 0;
    for (int k = 0; k < K_COUNT; k++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s %ld\n", kind_names[k],
                                __atomic_load_n(&counts[k], __ATOMIC_RELAXED));
    append_file(count_path, text);
}

/* Counts one call of kind k; returns the errno to fail it with, or 0. */
static int fault_hit(int k)
{
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE)) return 0;
    long n = __atomic_add_fetch(&counts[k], 1, __ATOMIC_RELAXED);
    if (k != fault_kind || n < fault_at || (n > fault_at && !fault_sticky)) return 0;
    if (n == fault_at && log_path[0]) {
        char line[128];
        snprintf(line, sizeof line, "fired %s %ld\n", kind_names[k], n);
        append_file(log_path, line);
    }
    return fault_errno;
}

/* real_NAME: the definition this library hides, looked up on first use. */
#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* ---- write */
ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    int e = fd > 2 ? fault_hit(K_WRITE) : 0;
    if (e) { errno = e; return -1; }
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    int e = fd > 2 ? fault_hit(K_WRITE) : 0;
    if (e) { errno = e; return -1; }
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64);
    int e = fd > 2 ? fault_hit(K_WRITE) : 0;
    if (e) { errno = e; return -1; }
    return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(writev);
    int e = fd > 2 ? fault_hit(K_WRITE) : 0;
    if (e) { errno = e; return -1; }
    return real_writev(fd, iov, cnt);
}

/* ---- fsync */
int fsync(int fd)
{
    REAL(fsync);
    int e = fault_hit(K_FSYNC);
    if (e) { errno = e; return -1; }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    int e = fault_hit(K_FSYNC);
    if (e) { errno = e; return -1; }
    return real_fdatasync(fd);
}

int msync(void *addr, size_t len, int flags)
{
    REAL(msync);
    int e = (flags & MS_SYNC) ? fault_hit(K_FSYNC) : 0;
    if (e) { errno = e; return -1; }
    return real_msync(addr, len, flags);
}

/* ---- rename */
int rename(const char *from, const char *to)
{
    REAL(rename);
    int e = fault_hit(K_RENAME);
    if (e) { errno = e; return -1; }
    return real_rename(from, to);
}

int renameat(int dfrom, const char *from, int dto, const char *to)
{
    REAL(renameat);
    int e = fault_hit(K_RENAME);
    if (e) { errno = e; return -1; }
    return real_renameat(dfrom, from, dto, to);
}

int renameat2(int dfrom, const char *from, int dto, const char *to, unsigned flags)
{
    REAL(renameat2);
    int e = fault_hit(K_RENAME);
    if (e) { errno = e; return -1; }
    return real_renameat2(dfrom, from, dto, to, flags);
}

/* ---- malloc: glibc's own entry points, so no dlsym (which may allocate). */
void *malloc(size_t n)
{
    if (fault_hit(K_MALLOC)) { errno = ENOMEM; return NULL; }
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (fault_hit(K_MALLOC)) { errno = ENOMEM; return NULL; }
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees: not an allocation that can fail. */
    if ((n || !p) && fault_hit(K_MALLOC)) { errno = ENOMEM; return NULL; }
    return __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    REAL(posix_memalign);
    if (fault_hit(K_MALLOC)) return ENOMEM;
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    REAL(aligned_alloc);
    if (fault_hit(K_MALLOC)) { errno = ENOMEM; return NULL; }
    return real_aligned_alloc(align, n);
}

/* ---- LMDB: the tools call mdb_put through the PLT of liblmdb.so. */
int mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags)
{
    REAL(mdb_put);
    int e = fault_hit(K_LMDB);
    if (e) return e;
    return real_mdb_put(txn, dbi, key, data, flags);
}
