#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include "fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

char *cm_temp_path(const char *path)
{
    size_t n = strlen(path) + 32;
    char *tmp = cm_xmalloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    return tmp;
}

int cm_fsync_dir(const char *dir, cm_error *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        cm_error_set(e, "%s: cannot sync directory: %s", dir, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The directory part of path ("." when it has none), malloc'd. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return cm_xstrdup(".");
    if (slash == path) return cm_xstrdup("/");
    char *d = cm_xstrdup(path);
    d[slash - path] = '\0';
    return d;
}

static int fsync_path(const char *path, cm_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        cm_error_set(e, "%s: cannot sync: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Syncs the directory that holds path. */
static int fsync_parent(const char *path, cm_error *e)
{
    char *dir = parent_dir(path);
    int rc = cm_fsync_dir(dir, e);
    free(dir);
    return rc;
}

int cm_commit_temp(const char *tmp, const char *path, int durable, cm_error *e)
{
    if (durable && fsync_path(tmp, e) != 0) goto fail;
    if (rename(tmp, path) != 0) {
        cm_error_set(e, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        goto fail;
    }
    return durable ? fsync_parent(path, e) : 0;
fail:
    unlink(tmp);
    return -1;
}

static void atomic_free(cm_atomic_file *a)
{
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    a->f = NULL;
}

FILE *cm_atomic_open(cm_atomic_file *a, const char *path, int durable, cm_error *e)
{
    a->path = cm_xstrdup(path);
    a->tmp = cm_temp_path(path);
    a->durable = durable;
    a->f = fopen(a->tmp, "wbe");
    if (!a->f) {
        cm_error_set(e, "%s: cannot create %s: %s", path, a->tmp, strerror(errno));
        atomic_free(a);
        return NULL;
    }
    return a->f;
}

int cm_atomic_commit(cm_atomic_file *a, cm_error *e)
{
    int rc = -1;
    FILE *f = a->f;
    a->f = NULL;
    /* Synced here, through the open file, rather than by cm_commit_temp. */
    if (ferror(f) | (fflush(f) != 0) | (a->durable && fsync(fileno(f)) != 0)) {
        cm_error_set(e, "%s: write failed: %s", a->path, strerror(errno));
        fclose(f);
        unlink(a->tmp);
    } else if (fclose(f) != 0) {
        cm_error_set(e, "%s: close failed: %s", a->path, strerror(errno));
        unlink(a->tmp);
    } else {
        rc = cm_commit_temp(a->tmp, a->path, 0, e);
        if (rc == 0 && a->durable) rc = fsync_parent(a->path, e);
    }
    atomic_free(a);
    return rc;
}

void cm_atomic_abort(cm_atomic_file *a)
{
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    atomic_free(a);
}

int cm_write_file_atomic(const char *path, const void *data, size_t len, cm_error *e)
{
    cm_atomic_file a;
    FILE *f = cm_atomic_open(&a, path, 1, e);
    if (!f) return -1;
    if (len && fwrite(data, 1, len, f) != len) {
        cm_error_set(e, "%s: write failed: %s", path, strerror(errno));
        cm_atomic_abort(&a);
        return -1;
    }
    return cm_atomic_commit(&a, e);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int cm_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int cm_fs_nearly_full(const char *path, long long margin)
{
    struct statvfs v;
    if (statvfs(path, &v) != 0) return 0;
    unsigned long long blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
    return (long double)blocks * v.f_frsize < (long double)margin;
}

int cm_read_file(const char *path, uint8_t **data, size_t *len, cm_error *e)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cm_error_set(e, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        cm_error_set(e, "%s: out of memory for %zu bytes", path, n);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            /* A file truncated while it is read ends early: an error, not a
             * short result. */
            cm_error_set(e, "%s: read %zu of %zu bytes%s%s", path, got, n, k < 0 ? ": " : "",
                         k < 0 ? strerror(errno) : "");
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)k;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}
