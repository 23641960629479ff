/* Writing files and directories so that a crash or a kill leaves the old
 * version or the new one, never a torn one: the bytes go to a temporary name
 * in the target's directory (PATH.tmp.PID, unique per process), are synced,
 * and are renamed onto the target, and the directory is synced so the rename
 * itself survives a power loss. */
#ifndef CLIPMILL_FSIO_H
#define CLIPMILL_FSIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* PATH.tmp.PID, malloc'd: the temporary name of path, in path's directory
 * so that the final rename() is atomic. */
char *cm_temp_path(const char *path);

/* Syncs directory dir, making creations, renames and removals in it durable.
 * Returns 0, or -1 with e set. */
int cm_fsync_dir(const char *dir, cm_error *e);

/* Puts the finished file tmp in place as path: syncs tmp's bytes (when
 * durable), renames it onto path, and syncs path's directory (when durable).
 * durable = 0 is atomic against a kill but not a power loss, for files
 * whose companions are not synced either. On failure removes tmp and returns
 * -1 with e set ("PATH: reason"). */
int cm_commit_temp(const char *tmp, const char *path, int durable, cm_error *e);

/* A file being written under its temporary name. */
typedef struct cm_atomic_file {
    FILE *f;       /* write here between open and commit */
    char *path;    /* the target */
    char *tmp;     /* cm_temp_path(path) */
    int durable;
} cm_atomic_file;

/* Creates a->tmp for writing (truncating a leftover of this pid). Returns
 * a->f, or NULL with e set and nothing to clean up. */
FILE *cm_atomic_open(cm_atomic_file *a, const char *path, int durable, cm_error *e);

/* Flushes, syncs (when durable) and closes a->f, then renames it onto the
 * target (cm_commit_temp). Write errors on a->f since the open are caught
 * here. Frees a's names either way; on failure the temporary file is
 * removed and the target is left as it was. Returns 0, or -1 with e set. */
int cm_atomic_commit(cm_atomic_file *a, cm_error *e);

/* Closes and removes the temporary file and frees a's names; the target is
 * left as it was. For the failure paths of callers (a zeroed a is fine). */
void cm_atomic_abort(cm_atomic_file *a);

/* len bytes of data as the whole new content of path, durably. Returns 0,
 * or -1 with e set. */
int cm_write_file_atomic(const char *path, const void *data, size_t len, cm_error *e);

/* 1 when the file system holding path has fewer than margin bytes left for
 * this process (f_bfree for root, f_bavail for others), else 0 (also when it
 * cannot be asked). For naming a failed write "No space left on device"
 * when the writer only said EIO: LMDB reports a short write, which is what
 * a full disk gives, as EIO. */
int cm_fs_nearly_full(const char *path, long long margin);

/* rm -r path (not following symbolic links). Returns 0, or -1 with errno
 * set; a missing path is an error (ENOENT). */
int cm_remove_tree(const char *path);

/* Reads the whole regular file at path into *data (malloc'd, free it; one
 * spare NUL byte after the end) and *len. A FIFO, device or directory is
 * refused. Returns 0, or -1 with e set naming path. */
int cm_read_file(const char *path, uint8_t **data, size_t *len, cm_error *e);

#endif
