/* Dataset build, temporary builds: the lock each build holds on its
 * temporary directory, and the cleaning of those whose builder is gone
 * (shard_internal.h, docs/reliability.md "Abandoned dataset builds").
 *
 * A build of NAME by process PID writes under DATASETS/NAME.tmp-PID and
 * holds an exclusive flock on DATASETS/NAME.tmp-PID.lock from before its
 * catalog row exists until its directory is renamed or removed; the lock
 * file goes last. The kernel drops the lock when the process dies however it
 * dies (kill -9 included), so "its lock can be taken" is exactly "its builder
 * is gone", whatever became of the pid. A cleaner takes the lock, checks the
 * file it locked is still the one at the path (a builder and a cleaner may
 * race for a lock file the other just removed), then removes the directory
 * and last the lock file, still holding it. A directory without a lock file
 * was written by a clipmill from before the lock: it is abandoned when its
 * pid is not a live process of this machine, as before. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets.h"
#include "fsio.h"
#include "shard_internal.h"

/* fd locks the file at path (not one that replaced it). */
static int same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static char *lock_path(const char *tmp_dir)
{
    size_t n = strlen(tmp_dir) + 6;
    char *p = cm_xmalloc(n);
    snprintf(p, n, "%s.lock", tmp_dir);
    return p;
}

int shard_tmp_begin(build_state *B, cm_error *e)
{
    char *path = lock_path(B->tmp_dir);
    int fd = -1, rc = -1;
    for (int tries = 0; tries < 100; tries++) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            cm_error_set(e, "%s: %s", path, strerror(errno));
            goto done;
        }
        /* Blocking: only a cleaner that opened the file before we locked it
         * can hold it, for as long as it takes to remove a directory. */
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                cm_error_set(e, "%s: flock: %s", path, strerror(errno));
                goto done;
            }
        }
        if (same_file(fd, path)) break;
        close(fd); /* a cleaner removed it under us: lock the new one */
        fd = -1;
    }
    if (fd < 0) {
        cm_error_set(e, "%s: could not hold the lock file", path);
        goto done;
    }
    /* A directory of this name is a dead process's with our pid: ours now. */
    struct stat st;
    if (stat(B->tmp_dir, &st) == 0 && cm_remove_tree(B->tmp_dir) != 0) {
        cm_error_set(e, "%s: cannot remove: %s", B->tmp_dir, strerror(errno));
        goto done;
    }
    B->lock_fd = fd;
    fd = -1;
    rc = 0;
done:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

void shard_tmp_end(build_state *B)
{
    if (B->lock_fd < 0) return;
    char *path = lock_path(B->tmp_dir);
    unlink(path); /* after the directory is renamed or removed, still locked */
    free(path);
    close(B->lock_fd);
    B->lock_fd = -1;
}

/* The name and pid of a temporary entry "NAME.tmp-PID" or "NAME.tmp-PID.lock";
 * 0 when entry is neither. name is cut at the ".tmp-". */
static int parse_tmp(const char *entry, char *name, size_t name_size, long *pid, int *is_lock)
{
    const char *t = strstr(entry, ".tmp-");
    if (!t || t == entry) return 0;
    while (strstr(t + 1, ".tmp-")) t = strstr(t + 1, ".tmp-"); /* the last one */
    char *end;
    errno = 0;
    long v = strtol(t + 5, &end, 10);
    if (end == t + 5 || v <= 0 || errno) return 0;
    if (*end == '\0') *is_lock = 0;
    else if (strcmp(end, ".lock") == 0) *is_lock = 1;
    else return 0;
    size_t n = (size_t)(t - entry);
    if (n >= name_size) return 0;
    memcpy(name, entry, n);
    name[n] = '\0';
    *pid = v;
    return 1;
}

int shard_tmp_claim(const char *tmp_dir, long pid, int *lock_fd)
{
    char *path = lock_path(tmp_dir);
    int fd = open(path, O_RDWR | O_CLOEXEC), claimed = 0;
    *lock_fd = -1;
    if (fd < 0) {
        /* No lock file: a build of a clipmill without the lock, or nothing
         * (the lock file is made first and removed last). */
        claimed = errno == ENOENT && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    } else if (flock(fd, LOCK_EX | LOCK_NB) == 0 && same_file(fd, path)) {
        *lock_fd = fd;
        claimed = 1;
    } else {
        close(fd); /* held by a live build, or replaced */
    }
    free(path);
    return claimed;
}

void shard_tmp_release(const char *tmp_dir, int lock_fd)
{
    if (lock_fd < 0) return;
    char *path = lock_path(tmp_dir);
    unlink(path);
    free(path);
    close(lock_fd);
}

/* Bytes under path (for the message). */
static int64_t tree_bytes(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return (int64_t)st.st_size;
    int64_t n = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *p = cm_path_join(path, de->d_name);
        n += tree_bytes(p);
        free(p);
    }
    if (d) closedir(d);
    return n;
}

int shard_tmp_clean_own(build_state *B, int finish, cm_error *e)
{
    DIR *d = opendir(B->datasets_dir);
    if (!d) return 0;
    struct dirent *de;
    char name[256];
    long pid;
    int is_lock, rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (!parse_tmp(de->d_name, name, sizeof name, &pid, &is_lock) || strcmp(name, B->o->name) != 0 ||
            pid == (long)getpid())
            continue;
        char *p = cm_path_join(B->datasets_dir, de->d_name);
        if (is_lock) p[strlen(p) - 5] = '\0';
        struct stat st;
        int fd = -1, has_dir = stat(p, &st) == 0;
        if (is_lock && has_dir) {
            /* its directory's entry decides */
        } else if (!shard_tmp_claim(p, pid, &fd)) {
            cm_error_set(e, "%s: process %ld is writing this dataset", p, pid);
            rc = -1;
        } else if (finish && has_dir) {
            char *m = cm_path_join(p, "manifest.json");
            if (stat(m, &st) == 0 && rename(p, B->final_dir) == 0) {
                cm_fsync_dir(B->datasets_dir, NULL);
                rc = 1;
            }
            free(m);
        } else if (has_dir) {
            cm_log(CM_LOG_INFO, "removing %s, left by an interrupted run", p);
            if (cm_remove_tree(p) != 0) {
                cm_error_set(e, "%s: cannot remove: %s", p, strerror(errno));
                rc = -1;
            }
        }
        /* The lock file goes once its directory is gone (renamed or removed). */
        if (fd >= 0) {
            if (stat(p, &st) == 0) close(fd);
            else shard_tmp_release(p, fd);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* Does DATASETS hold a temporary entry of name (directory or lock file)? */
static int has_tmp_entry(const char *datasets_dir, const char *name)
{
    DIR *d = opendir(datasets_dir);
    struct dirent *de;
    int found = 0;
    char n[256];
    long pid;
    int is_lock;
    while (d && !found && (de = readdir(d)))
        found = parse_tmp(de->d_name, n, sizeof n, &pid, &is_lock) && strcmp(n, name) == 0;
    if (d) closedir(d);
    return found;
}

/* One abandoned entry of another name: removed, or, a finished build the
 * catalog has complete, renamed to its name as its own rerun would. */
static void clean_entry(build_state *B, const char *entry, const char *name, long pid, int is_lock)
{
    char *path = cm_path_join(B->datasets_dir, entry), *tmp = path;
    if (is_lock) {
        tmp = cm_xstrdup(path);
        tmp[strlen(tmp) - 5] = '\0';
        struct stat st;
        if (stat(tmp, &st) == 0) goto done; /* its directory's turn comes */
    }
    int fd;
    if (!shard_tmp_claim(tmp, pid, &fd)) goto done;
    if (!is_lock) {
        char *final = cm_path_join(B->datasets_dir, name), *manifest = cm_path_join(tmp, "manifest.json");
        int64_t id = 0;
        cm_error e = {{0}};
        struct stat st;
        if (stat(manifest, &st) == 0 && stat(final, &st) != 0 &&
            datasets_state(corpus_catalog(B->corpus), name, &id, &e) == DATASET_COMPLETE) {
            if (rename(tmp, final) == 0) {
                cm_fsync_dir(B->datasets_dir, NULL);
                cm_log(CM_LOG_INFO, "%s: finished, left by an interrupted build (renamed from %s)", final, tmp);
            }
        } else {
            int64_t bytes = tree_bytes(tmp);
            if (cm_remove_tree(tmp) == 0)
                cm_log(CM_LOG_INFO, "removed %s (%.1f MB), left by an interrupted build", tmp, bytes / 1e6);
            else
                cm_log(CM_LOG_WARN, "%s: cannot remove: %s", tmp, strerror(errno));
        }
        free(final);
        free(manifest);
    }
    shard_tmp_release(tmp, fd);
done:
    if (tmp != path) free(tmp);
    free(path);
}

int shard_clean_abandoned(build_state *B, cm_error *e)
{
    catalog *c = corpus_catalog(B->corpus);
    dataset_writing *rows = NULL;
    int n_rows = 0;
    /* The writing rows first: a row seen here had its builder's lock file
     * made before it, so the scan below sees that lock while the builder
     * lives. */
    if (datasets_writing(c, &rows, &n_rows, e) != 0) return -1;
    DIR *d = opendir(B->datasets_dir);
    struct dirent *de;
    char name[256];
    long pid;
    int is_lock;
    while (d && (de = readdir(d))) {
        if (!parse_tmp(de->d_name, name, sizeof name, &pid, &is_lock) || strcmp(name, B->o->name) == 0) continue;
        clean_entry(B, de->d_name, name, pid, is_lock);
    }
    if (d) closedir(d);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    int rc = 0;
    for (int i = 0; i < n_rows && rc == 0; i++) {
        const dataset_writing *w = &rows[i];
        if (strcmp(w->name, B->o->name) == 0 || has_tmp_entry(B->datasets_dir, w->name)) continue;
        /* A run of a clipmill without the lock still going on this machine. */
        if (!w->ended && w->pid > 0 && strcmp(w->host, host) == 0 && kill((pid_t)w->pid, 0) == 0) continue;
        rc = datasets_delete(c, w->dataset_id, e);
        if (rc == 0)
            cm_log(CM_LOG_INFO, "removed the catalog row of dataset %s (writing since run %" PRId64
                   ", left by an interrupted build)", w->name, w->run_id);
    }
    datasets_writing_free(rows, n_rows);
    return rc;
}
