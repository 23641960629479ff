/* Decisions from the catalog (lib/curate/decide.h); their SQL is lib/corpus/decisions.c's. */
#include "decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dup_index.h"

/* dup_index_fetch from the catalog being decided. */
typedef struct fetch_ctx {
    decisions_batch *b;
    cm_error *e;
} fetch_ctx;

static int fetch_tsig(void *ctx, int64_t rowid, clip_tsig *s)
{
    fetch_ctx *f = ctx;
    const void *blob;
    size_t len;
    if (decisions_batch_tsig(f->b, rowid, &blob, &len, f->e) != 0) return -1;
    if (clip_tsig_unpack(blob, len, s) != 0) {
        /* It unpacked when it entered the index, in this transaction. */
        cm_error_set(f->e, "catalog: the signature of clip row %lld changed while deciding", (long long)rowid);
        return -1;
    }
    return 0;
}

void decide_rules_to_row(const decide_rules *d, decision_rules_row *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->model_sha256, sizeof r->model_sha256, "%s", d->model_sha256);
    r->threshold = d->threshold;
    r->black_max = d->rules.black_frac_max;
    r->luma_min = d->rules.luma_min;
    r->static_max = d->rules.static_frac_max;
    r->cuts_max = d->rules.cuts_per_16s_max;
    r->letterbox_max = d->rules.letterbox_frac_max;
    r->dup_distance = d->rules.phash_distance_max;
    snprintf(r->decided_at, sizeof r->decided_at, "%s", d->decided_at);
}

void decide_rules_from_row(const decision_rules_row *r, decide_rules *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->model_sha256, sizeof d->model_sha256, "%s", r->model_sha256);
    d->threshold = r->threshold;
    d->rules.black_frac_max = r->black_max;
    d->rules.luma_min = r->luma_min;
    d->rules.static_frac_max = r->static_max;
    d->rules.cuts_per_16s_max = r->cuts_max;
    d->rules.letterbox_frac_max = r->letterbox_max;
    d->rules.phash_distance_max = r->dup_distance;
    snprintf(d->decided_at, sizeof d->decided_at, "%s", r->decided_at);
}

/* What the second pass needs of a clip, from the listing. */
typedef struct clip_verdict {
    double score;
    uint64_t phash;
    int64_t source_no;
    unsigned failed;                   /* rules_check's bits, then RULE_DUPLICATE */
    unsigned char scored, has_phash;
} clip_verdict;

/* The near-duplicate rule over the listed clips, in the listing's (clip_id)
 * order: a clip that passes the other rules is a duplicate of the first
 * earlier one of another source it copies (signatures: dup_index, clips
 * without a format-2 signature: their pHash, among themselves, as before);
 * otherwise it becomes an original. Returns 0, or -1 with e set. */
static int mark_duplicates(dup_index *dx, phash_index *ix, clip_verdict *v, int n, fetch_ctx *fc)
{
    dup_index_build(dx);
    for (int k = 0; k < n; k++) {
        /* Only clips without another rule failure enter the duplicate index:
         * a black or static clip is no original for another clip to copy. */
        if (v[k].failed) continue;
        if (dup_index_has_key(dx, k)) {
            int64_t first;
            int found = dup_index_find(dx, k, fetch_tsig, fc, &first, NULL);
            if (found < 0) return -1;
            if (found) v[k].failed |= RULE_DUPLICATE;
            else dup_index_add(dx, k);
        } else if (v[k].has_phash) {
            if (phash_index_find(ix, v[k].phash, v[k].source_no, NULL, NULL) >= 0) v[k].failed |= RULE_DUPLICATE;
            else phash_index_add(ix, v[k].phash, v[k].source_no);
        }
    }
    return 0;
}

int decide_clips(catalog *c, int64_t model_id, const decide_rules *d, int64_t run_id, decide_counts *dc,
                 cm_error *e)
{
    decisions_batch *b = NULL;
    decision_clip clip;
    decision_rules_row row;
    int rc = -1, got, n = 0, cap = 0;
    const rules_config *r = &d->rules;
    const int dup_rule = r->phash_distance_max >= 0;
    phash_index *ix = dup_rule ? phash_index_new(r->phash_distance_max) : NULL;
    dup_index *dx = dup_rule ? dup_index_new() : NULL;
    clip_verdict *v = NULL;
    fetch_ctx fc = {NULL, e};
    int64_t source_no = -1;
    char last_source[CM_SOURCE_ID_LEN + 1] = "";
    const char *clip_id;
    memset(dc, 0, sizeof *dc);
    /* The batch lists the clips in clip_id order (source id, then clip
     * index): the canonical order that makes "the first clip of a
     * near-duplicate group" a property of the clips, not of when or in which
     * part they were ingested. Two passes: the listing (each clip's row read
     * once: rules, score, signature keys), the duplicate rule over every
     * clip's keys (dup_index is built from all of them before the first
     * query), then the decisions put by clip id from the primary key's index
     * (docs/filter.md, "The index"). */
    if (decisions_batch_begin(c, model_id, d->decided_at, run_id, &b, e) != 0) goto fail;
    fc.b = b;
    while ((got = decisions_batch_next(b, &clip, e)) == 1) {
        if (strcmp(clip.source_id, last_source) != 0) {
            snprintf(last_source, sizeof last_source, "%s", clip.source_id);
            source_no++;
        }
        if (n == cap) {
            if (cap > INT32_MAX / 2) abort();
            cap = cap ? 2 * cap : 1024;
            v = cm_xrealloc(v, (size_t)cap * sizeof *v);
        }
        clip_verdict *cv = &v[n++];
        cv->failed = rules_check(r, &clip.stats, clip.duration_s, clip.width, clip.height);
        cv->scored = (unsigned char)clip.scored;
        cv->score = clip.score;
        cv->has_phash = (unsigned char)clip.has_phash;
        cv->phash = clip.stats.phash;
        cv->source_no = source_no;
        if (dx) {
            /* A signature of no words (two frames or fewer) or of the first
             * format finds nothing: such a clip takes the pHash rule. */
            uint64_t key[TSIG_VIEWS];
            dup_index_put(dx, clip_tsig_unpack_keys(clip.tsig, clip.tsig_len, key) > 0 ? key : NULL, source_no,
                          clip.rowid);
        }
    }
    if (got < 0) goto fail;
    if (dx && mark_duplicates(dx, ix, v, n, &fc) != 0) goto fail;
    for (int k = 0; k < n; k++) {
        if ((got = decisions_batch_next_id(b, &clip_id, e)) != 1) {
            /* Both listings run in this transaction: the same clips. */
            if (got == 0) cm_error_set(e, "catalog: %d clips listed, then fewer ids", n);
            goto fail;
        }
        dc->clips++;
        const clip_verdict *cv = &v[k];
        const char *reason = rules_reason(cv->failed);
        int keep = 0;
        if (!reason && !cv->scored) {
            dc->undecided++;
            continue;
        }
        if (!reason) {
            keep = cv->score >= d->threshold;
            reason = keep ? "good_score" : "low_score";
        }
        if (keep) {
            dc->kept++;
        } else {
            dc->rejected++;
            int j = 0;
            while (j < RULES_COUNT && !(cv->failed & (1u << j))) j++;
            dc->by_reason[j]++;
        }
        const decision_row dr = {clip_id, keep, reason, cv->scored, cv->score, d->threshold};
        int changed = decisions_batch_put(b, &dr, e);
        if (changed < 0) goto fail;
        dc->changed += changed;
    }
    if (n > 0 && (got = decisions_batch_next_id(b, &clip_id, e)) != 0) {
        if (got == 1) cm_error_set(e, "catalog: %d clips listed, then more ids", n);
        goto fail;
    }
    decide_rules_to_row(d, &row);
    if (decisions_batch_commit(b, &row, e) != 0) goto fail;
    rc = 0;
fail:
    decisions_batch_end(b);
    phash_index_free(ix);
    dup_index_free(dx);
    free(v);
    return rc;
}

int decide_rules_compare(const decide_rules *a, const decide_rules *b, char *why, size_t n)
{
    /* Exact comparisons: every value went through the same float parsing
     * and SQLite REAL round trip, so equal options give equal bits. */
    const struct { const char *name; double x, y; } v[] = {
        {"threshold", a->threshold, b->threshold},
        {"black-max", a->rules.black_frac_max, b->rules.black_frac_max},
        {"luma-min", a->rules.luma_min, b->rules.luma_min},
        {"static-max", a->rules.static_frac_max, b->rules.static_frac_max},
        {"cuts-max", a->rules.cuts_per_16s_max, b->rules.cuts_per_16s_max},
        {"letterbox-max", a->rules.letterbox_frac_max, b->rules.letterbox_frac_max},
        {"dup-distance", a->rules.phash_distance_max, b->rules.phash_distance_max},
    };
    if (strcmp(a->model_sha256, b->model_sha256) != 0) {
        snprintf(why, n, "model sha256 %.12s... and %.12s...", a->model_sha256, b->model_sha256);
        return 1;
    }
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i].x != v[i].y) {
            snprintf(why, n, "%s %g and %g", v[i].name, v[i].x, v[i].y);
            return 1;
        }
    }
    return 0;
}
