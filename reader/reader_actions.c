/* The actions of a clip and of a window (cmr_clip_actions,
 * cmr_read_window_actions): the actions block of the clip's record, read in
 * place from the shard's memory map like its frames (reader.c). */
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader_internal.h"

/* The actions block of a record (view empty, channels 0, when it has none).
 * Returns 0, or -1 with e naming shard, record and clip. */
static int record_actions(const shard_record *sr, actions_view *v, cm_error *e)
{
    memset(v, 0, sizeof *v);
    const uint8_t *block;
    size_t block_len;
    cm_error pe = {{0}};
    if (clip_record_actions(sr->rec, sr->len, &block, &block_len, &pe) == 0 &&
        (!block || actions_view_parse(block, block_len, v, &pe) == 0))
        return 0;
    cm_error_set(e, "%s: record %" PRId64 " (clip %s): corrupt: %s", sr->s->path, sr->local,
                 sr->s->meta.ids[sr->local], pe.msg);
    return -1;
}

CMR_API int cmr_clip_actions(cmr_reader *r, int64_t index, int *count, cmr_action_channel *out, int max, char *err,
                             size_t err_size)
{
    cm_error e = {{0}};
    shard_record sr;
    actions_view v;
    *count = 0;
    if (reader_get_record(r, index, &sr, &e) != 0) goto fail;
    int rc = record_actions(&sr, &v, &e);
    if (rc == 0) {
        *count = v.channels;
        for (int i = 0; i < v.channels && i < max; i++) {
            action_channel ch;
            actions_view_channel(&v, i, &ch);
            memset(&out[i], 0, sizeof out[i]);
            snprintf(out[i].name, sizeof out[i].name, "%s", ch.name);
            out[i].type = ch.type;
            out[i].interp = ch.interp;
        }
    }
    mdb_txn_abort(sr.txn);
    if (rc == 0) return 0;
fail:
    reader_set_err(err, err_size, "%s", e.msg);
    return -1;
}

CMR_API int cmr_read_window_actions(cmr_reader *r, int64_t index, int start, int t, int stride, float *values,
                                    size_t values_count, uint8_t *mask, char *err, size_t err_size)
{
    cm_error e = {{0}};
    shard_record sr;
    actions_view v;
    if (reader_check_window(r, start, t, stride, &e) != 0 || reader_get_record(r, index, &sr, &e) != 0) goto fail;
    int rc = record_actions(&sr, &v, &e);
    if (rc == 0 && values_count < (size_t)t * (size_t)v.channels) {
        cm_error_set(&e, "%s: %zu floats for actions, the window needs %zu (%d frames x %d channels)", r->dir,
                     values_count, (size_t)t * (size_t)v.channels, t, v.channels);
        rc = -1;
    }
    if (rc == 0 && v.channels == 0) {
        memset(mask, 0, (size_t)t); /* no actions: every frame's are missing */
    } else if (rc == 0) {
        int *idx = malloc((size_t)t * sizeof *idx);
        if (!idx) {
            cm_error_set(&e, "%s: out of memory", r->dir);
            rc = -1;
        } else {
            for (int i = 0; i < t; i++) idx[i] = start + i * stride;
            actions_view_rows(&v, idx, t, values, mask);
            free(idx);
        }
    }
    mdb_txn_abort(sr.txn);
    if (rc == 0) return 0;
fail:
    reader_set_err(err, err_size, "%s", e.msg);
    return -1;
}
