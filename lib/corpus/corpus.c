/* A corpus directory: its layout, its catalog and its staging stores (see corpus.h). */
#include "corpus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct open_store {
    char *name;                    /* as the catalog names it, relative to the corpus */
    store *st;                     /* NULL: it could not be opened (error) */
    int writable;
    char *error;                   /* why, for the later callers */
} open_store;

struct corpus {
    char *dir;
    catalog *cat;
    pthread_mutex_t lock;          /* the store cache */
    open_store *stores;
    int n_stores, cap_stores;
};

int corpus_open(corpus **out, const char *dir, corpus_mode mode, cm_error *e)
{
    corpus *c = cm_xcalloc(1, sizeof *c);
    c->dir = cm_xstrdup(dir);
    pthread_mutex_init(&c->lock, NULL);
    char *cat_path = cm_path_join(dir, CORPUS_CATALOG);
    int rc = -1;
    *out = NULL;
    if (mode == CORPUS_EXISTING) {
        /* Checked first: SQLite would create the file. */
        struct stat st;
        if (stat(cat_path, &st) != 0) {
            cm_error_set(e, "%s: no catalog (run clipmill-ingest first)", cat_path);
            goto fail;
        }
    } else if (cm_mkdir_p(dir, e) != 0) {
        goto fail;
    }
    if (catalog_open(&c->cat, cat_path, e) != 0) goto fail;
    *out = c;
    rc = 0;
fail:
    free(cat_path);
    if (rc != 0) corpus_close(c);
    return rc;
}

void corpus_close(corpus *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_stores; i++) {
        store_close(c->stores[i].st);
        free(c->stores[i].name);
        free(c->stores[i].error);
    }
    free(c->stores);
    catalog_close(c->cat);
    pthread_mutex_destroy(&c->lock);
    free(c->dir);
    free(c);
}

const char *corpus_dir(const corpus *c) { return c->dir; }

catalog *corpus_catalog(corpus *c) { return c->cat; }

char *corpus_path(const corpus *c, const char *rel) { return cm_path_join(c->dir, rel); }

int corpus_check_store_name(const char *name, cm_error *e)
{
    if (!name[0] || name[0] == '/') goto refused;
    /* ".." as a whole component, wherever it is. */
    for (const char *p = name; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == name || p[-1] == '/') && (p[2] == '\0' || p[2] == '/')) goto refused;
    return 0;
refused:
    cm_error_set(e, "staging store '%s' refused: not a path inside the corpus", name);
    return -1;
}

int corpus_store(corpus *c, const char *name, int writable, store **out, cm_error *e)
{
    if (!name) name = CORPUS_STAGING;
    *out = NULL;
    if (corpus_check_store_name(name, e) != 0) return -1;
    int rc = -1;
    char *dir = NULL;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->n_stores; i++) {
        open_store *s = &c->stores[i];
        if (strcmp(s->name, name) != 0) continue;
        if (!s->st) {
            cm_error_set(e, "%s", s->error);
            rc = CORPUS_STORE_FAILED;
            goto fail;
        }
        if (writable && !s->writable) {
            cm_error_set(e, "%s/%s: staging store already open read-only", c->dir, name);
            goto fail;
        }
        *out = s->st;
        rc = 0;
        goto fail;
    }
    dir = cm_path_join(c->dir, name);
    store *st = NULL;
    int opened = store_open(&st, dir, !writable, e);
    if (c->n_stores == c->cap_stores) {
        c->cap_stores = c->cap_stores ? 2 * c->cap_stores : 8;
        c->stores = cm_xrealloc(c->stores, (size_t)c->cap_stores * sizeof *c->stores);
    }
    /* A store that cannot be opened (a truncated data.mdb, say) is remembered
     * with its error: the next clips of it fail at once, as CORPUS_STORE_FAILED. */
    c->stores[c->n_stores++] = (open_store){.name = cm_xstrdup(name), .st = st, .writable = writable,
                                            .error = opened != 0 ? cm_xstrdup(e->msg) : NULL};
    *out = st;
    rc = opened != 0 ? -1 : 0;
fail:
    pthread_mutex_unlock(&c->lock);
    free(dir);
    return rc;
}

int corpus_read_record(corpus *c, const char *staging, const char *key, uint8_t **rec, size_t *len, cm_error *e)
{
    store *st = NULL;
    *rec = NULL;
    *len = 0;
    int opened = corpus_store(c, staging, 0, &st, e);
    if (opened != 0) return opened;
    int got = store_get(st, key, rec, len, e);
    if (got == 1) {
        cm_error_set(e, "not in staging store %s (key %s)", staging ? staging : CORPUS_STAGING, key);
        return CORPUS_NOT_FOUND;
    }
    return got;
}

int corpus_clip_record(corpus *c, const char *clip_id, uint8_t **rec, size_t *len, cm_error *e)
{
    sqlite3 *db = catalog_db(c->cat);
    sqlite3_stmt *q = NULL;
    int rc = -1;
    *rec = NULL;
    *len = 0;
    if (sqlite3_prepare_v2(db, "SELECT staging, staging_key FROM clips WHERE clip_id = ?1", -1, &q, NULL) !=
        SQLITE_OK) {
        cm_error_set(e, "catalog: clip %s: %s", clip_id, sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_bind_text(q, 1, clip_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_DONE) {
        cm_error_set(e, "no clip %s in the catalog", clip_id);
        rc = CORPUS_NOT_FOUND;
        goto fail;
    }
    if (step != SQLITE_ROW) {
        cm_error_set(e, "catalog: clip %s: %s", clip_id, sqlite3_errmsg(db));
        goto fail;
    }
    rc = corpus_read_record(c, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1), rec,
                            len, e);
fail:
    sqlite3_finalize(q);
    return rc;
}

int corpus_clip_frames(corpus *c, const char *clip_id, clip_header *h, uint8_t **frames, cm_error *e)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    *frames = NULL;
    int rc = corpus_clip_record(c, clip_id, &rec, &len, e);
    if (rc != 0) goto fail;
    rc = -1;
    if (clip_record_parse(rec, len, h, 1, e) != 0) goto fail;
    *frames = cm_xmalloc((size_t)h->frames * h->height * h->width * h->channels);
    if (clip_record_decode(rec, len, 0, (int)h->frames, *frames, e) != 0) {
        free(*frames);
        *frames = NULL;
        goto fail;
    }
    rc = 0;
fail:
    free(rec);
    return rc;
}
