/* clipmill-shard subset: a named subset of a finished dataset chosen by SQL
 * over the dataset's own meta.sqlite, written as DATASET/subsets/NAME.subset
 * (lib/format/dataset_subset.h). Nothing of the dataset is rewritten: its
 * manifest.json, shards and meta.sqlite stay as they were built. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_meta.h"
#include "dataset_subset.h"
#include "fsio.h"
#include "hash.h"
#include "shard.h"

/* meta.sqlite opened after its hash is checked against the manifest: the
 * subset is chosen from the rows the dataset was built with. */
static int open_meta(const char *dir, const dataset_manifest *man, sqlite3 **db, cm_error *e)
{
    *db = NULL;
    if (!man->meta.file) {
        cm_error_set(e, "%s: format_version %d has no meta.sqlite to choose a subset from (rebuild it with this "
                     "clipmill-shard)", dir, man->format_version);
        return -1;
    }
    char *path = cm_path_join(dir, man->meta.file), sha[65];
    int64_t bytes = 0, clips[SPLIT_COUNT];
    int rc = -1;
    for (int s = 0; s < SPLIT_COUNT; s++) clips[s] = man->split[s].clips;
    if (cm_sha256_file(path, sha, &bytes, e) != 0) goto done;
    if (strcmp(sha, man->meta.sha256) != 0 || bytes != man->meta.bytes) {
        cm_error_set(e, "%s: SHA-256 or size differs from manifest.json's (clipmill-shard verify)", path);
        goto done;
    }
    if (dataset_meta_open(path, db, e) != 0) goto done;
    rc = dataset_meta_check(*db, path, clips, e);
done:
    if (rc != 0 && *db) {
        sqlite3_close(*db);
        *db = NULL;
    }
    free(path);
    return rc;
}

int shard_subset(const char *dir, const char *name, const char *where, int quiet)
{
    dataset_manifest man;
    dataset_subset sub;
    sqlite3 *db = NULL;
    cm_error e = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    char *sub_dir = cm_path_join(dir, DATASET_SUBSET_DIR), *path = dataset_subset_path(dir, name);
    int code = CM_EXIT_FATAL;
    memset(&sub, 0, sizeof sub);
    if (dataset_manifest_read(dir, &man, &e) != 0) goto done;
    struct stat st;
    if (stat(path, &st) == 0) {
        cm_error_set(&e, "%s already exists; a subset is immutable: choose a new name", path);
        code = CM_EXIT_USAGE;
        goto done;
    }
    if (open_meta(dir, &man, &db, &e) != 0) goto done;
    if (dataset_meta_select(db, DATASET_META_FILE, where, sub.idx, sub.n, &e) != 0) {
        code = CM_EXIT_USAGE;
        goto done;
    }
    if (sub.n[0] + sub.n[1] + sub.n[2] == 0) {
        cm_error_set(&e, "%s: no clip matches --where %s: no subset written", dir, where);
        code = CM_EXIT_PARTIAL;
        goto done;
    }
    for (int s = 0; s < SPLIT_COUNT; s++)
        if (sub.n[s] == 0 && man.split[s].clips > 0)
            cm_log(CM_LOG_WARN, "%s@%s: split %s is empty (%" PRId64 " clips in the dataset, none match)", dir, name,
                   dataset_split_name(s), man.split[s].clips);
    sub.where = cm_xstrdup(where);
    if (dataset_manifest_sha256(dir, sub.manifest_sha256, &e) != 0) goto done;
    dataset_subset_encode(&sub, &buf, &len);
    if (cm_mkdir_p(sub_dir, &e) != 0 || cm_write_file_atomic(path, buf, len, &e) != 0 ||
        cm_fsync_dir(sub_dir, &e) != 0)
        goto done;
    if (!quiet)
        printf("%s@%s: train %" PRId64 " of %" PRId64 ", val %" PRId64 " of %" PRId64 ", test %" PRId64 " of %" PRId64
               " clips\n", dir, name, sub.n[0], man.split[0].clips, sub.n[1], man.split[1].clips, sub.n[2],
               man.split[2].clips);
    code = CM_EXIT_OK;
done:
    if (code != CM_EXIT_OK) cm_log(CM_LOG_ERROR, "%s", e.msg);
    sqlite3_close(db);
    dataset_subset_free(&sub);
    dataset_manifest_free(&man);
    free(buf);
    free(sub_dir);
    free(path);
    return code;
}
