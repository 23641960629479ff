/* Merging parts: which parts, in which order, which are refused, and the
 * redecision across them. Folding one part into the catalog is
 * lib/corpus/catalog_merge.c's SQL. */
#include "merge.h"
#include "catalog_merge.h"
#include "corpus.h"
#include "decide.h"
#include "scores.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int merge_part(catalog *c, const char *part_catalog_path, const char *part_name, merge_summary *s,
               decide_rules *rules, int *has_rules, cm_error *e)
{
    catalog_part *p = NULL;
    catalog_part_counts n = {0};
    decision_rules_row part_rules;
    int rc = -1, got_rules = 0;
    *has_rules = 0;
    if (catalog_part_attach(c, part_catalog_path, part_name, &p, e) != 0) goto fail;
    int64_t version = catalog_part_schema_version(p);
    if (version != catalog_schema_version()) {
        cm_error_set(e, "%s: catalog schema version %lld, this build's is %d (%s)", part_name, (long long)version,
                     catalog_schema_version(),
                     version < catalog_schema_version() ? "rerun the part's task with this build to migrate it"
                                                        : "made by a newer clipmill: merge with that build");
        rc = 1;
        goto fail;
    }
    /* A damaged part is refused whole: nothing of it is folded (a flipped
     * byte in a row can drop or rename a clip without SQLite noticing). */
    if (catalog_part_check_damage(p, e) != 0) {
        rc = 1;
        goto fail;
    }
    rc = catalog_part_settings_check(p, e);
    if (rc != 0) goto fail;
    rc = catalog_part_fold(p, &n, &part_rules, &got_rules, e);
    s->runs_added += n.runs_added;
    if (rc != 0) goto fail;
    rc = catalog_part_commit(p, e);
    if (rc != 0) goto fail;
    if (got_rules) decide_rules_from_row(&part_rules, rules);
    *has_rules = got_rules;
    s->sources += n.sources;
    s->clips += n.clips;
    s->scores += n.scores;
    s->decisions += n.decisions;
fail:
    catalog_part_detach(p);
    return rc;
}

typedef struct part_ref {
    int k, n;
    char name[sizeof ((struct dirent *)0)->d_name + 8];
} part_ref;

static int part_order(const void *a, const void *b)
{
    const part_ref *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/* The near-duplicate rule across parts: a filter task saw only its part, so
 * a clip may copy one of another part. Every part filtered alike (the same
 * model, threshold and rules in decision_rules) is redecided here in one
 * transaction by decide_clips, the code clipmill-filter itself ends with,
 * from the merged statistics and scores: no record is read and nothing is
 * rescored. decided_at of a changed decision is the newest part's, so that
 * merging again gives the same catalog. Returns 0 (done, or no part was
 * filtered), 1 when the parts were filtered differently (logged, nothing
 * redecided), -1 on an error (e set). */
static int redecide(catalog *c, const part_ref *parts, const decide_rules *rules, const int *has_rules,
                    const int *merged, int n, merge_summary *s, cm_error *e)
{
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (!merged[i] || !has_rules[i]) continue;
        s->parts_filtered++;
        char why[160];
        if (first < 0) {
            first = i;
        } else if (decide_rules_compare(&rules[first], &rules[i], why, sizeof why) != 0) {
            cm_log(CM_LOG_ERROR, "%s and %s were filtered differently (%s): decisions not redone across parts;"
                   " filter every part with the same model and options", parts[first].name, parts[i].name, why);
            return 1;
        }
    }
    if (first < 0) return 0;
    decide_rules d = rules[first];
    for (int i = 0; i < n; i++) {
        if (!merged[i]) continue;
        if (!has_rules[i])
            cm_log(CM_LOG_WARN, "%s: not filtered yet (no decisions): its clips stay undecided until it is", parts[i].name);
        else if (strcmp(rules[i].decided_at, d.decided_at) > 0)
            snprintf(d.decided_at, sizeof d.decided_at, "%s", rules[i].decided_at);
    }
    double t0 = cm_monotonic_s();
    int64_t model_id = -1;
    int found = models_find_sha256(c, d.model_sha256, &model_id, e);
    if (found < 0) return -1;
    if (found > 0) {
        cm_error_set(e, "redeciding: the parts' model (sha256 %.12s...) is not in the merged models table",
                     d.model_sha256);
        return -1;
    }
    decide_counts dc;
    if (decide_clips(c, model_id, &d, 0, &dc, e) != 0) return -1;
    s->redecided = 1;
    s->decisions_changed = dc.changed;
    s->duplicates = dc.by_reason[__builtin_ctz(RULE_DUPLICATE)];
    s->kept = dc.kept;
    s->rejected = dc.rejected;
    s->undecided = dc.undecided;
    s->decide_seconds = cm_monotonic_s() - t0;
    cm_log(CM_LOG_INFO, "decisions over %d filtered parts: %lld clips, %lld kept, %lld rejected (%lld duplicate),"
           " %lld undecided; %lld changed by the duplicate rule across parts (%.3f s)", s->parts_filtered,
           (long long)dc.clips, (long long)dc.kept, (long long)dc.rejected, (long long)dc.by_reason[__builtin_ctz(RULE_DUPLICATE)],
           (long long)dc.undecided, (long long)dc.changed, s->decide_seconds);
    return 0;
}

/* DIR/parts/K-of-N/catalog.sqlite, malloc'd. */
static char *part_catalog_path(const char *corpus_dir, const char *part_name)
{
    char *part = cm_path_join(corpus_dir, part_name), *path = cm_path_join(part, CORPUS_CATALOG);
    free(part);
    return path;
}

int merge_corpus(const char *corpus_dir, merge_summary *s, cm_error *e)
{
    memset(s, 0, sizeof *s);
    double t0 = cm_monotonic_s();
    char *parts_dir = cm_path_join(corpus_dir, CORPUS_PARTS);
    corpus *cp = NULL;
    catalog *c = NULL;
    part_ref *parts = NULL;
    decide_rules *rules = NULL;
    int *has_rules = NULL, *merged = NULL;
    int rc = -1, cap = 0;
    DIR *d = opendir(parts_dir);
    if (!d) {
        cm_error_set(e, "%s: no parts to merge (%m)", parts_dir);
        goto done;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        part_ref p;
        char extra;
        if (sscanf(de->d_name, "%d-of-%d%c", &p.k, &p.n, &extra) != 2 || p.k < 0 || p.k >= p.n) continue;
        snprintf(p.name, sizeof p.name, CORPUS_PARTS "/%s", de->d_name);
        char *part_cat = part_catalog_path(corpus_dir, p.name);
        struct stat st;
        int has = stat(part_cat, &st) == 0;
        free(part_cat);
        if (!has) continue; /* a task that has not started yet */
        if (s->parts == cap) {
            cap = cap ? cap * 2 : 64;
            parts = cm_xrealloc(parts, (size_t)cap * sizeof *parts);
        }
        parts[s->parts++] = p;
    }
    closedir(d);
    if (s->parts == 0) {
        cm_error_set(e, "%s: no parts to merge (no K-of-N/catalog.sqlite)", parts_dir);
        goto done;
    }
    qsort(parts, (size_t)s->parts, sizeof *parts, part_order);
    rules = cm_xcalloc((size_t)s->parts, sizeof *rules);
    has_rules = cm_xcalloc((size_t)s->parts, sizeof *has_rules);
    merged = cm_xcalloc((size_t)s->parts, sizeof *merged);
    if (corpus_open(&cp, corpus_dir, CORPUS_CREATE, e) != 0) goto done;
    c = corpus_catalog(cp);
    /* The corpus catalog too: parts are not folded into a damaged one. */
    if (catalog_check_damage(c, "main", NULL, e) != 0) goto done;
    rc = 0;
    for (int i = 0; i < s->parts; i++) {
        char *part_cat = part_catalog_path(corpus_dir, parts[i].name);
        int64_t sources0 = s->sources, clips0 = s->clips;
        cm_error pe = {{0}};
        int got = merge_part(c, part_cat, parts[i].name, s, &rules[i], &has_rules[i], &pe);
        if (got == 0) {
            s->parts_merged++;
            merged[i] = 1;
            cm_log(CM_LOG_INFO, "%s: merged %lld sources, %lld clips", parts[i].name, (long long)(s->sources - sources0),
                   (long long)(s->clips - clips0));
        } else {
            if (got > 0) s->parts_refused++;
            else s->parts_failed++;
            cm_log(CM_LOG_ERROR, "%s%s", pe.msg, got > 0 ? " (not merged)" : "");
            rc = 1;
        }
        free(part_cat);
    }
    int rd = redecide(c, parts, rules, has_rules, merged, s->parts, s, e);
    if (rd != 0) rc = rd < 0 ? -1 : 1;
    s->clips_in_catalog = catalog_clip_count(c);
done:
    free(rules);
    free(has_rules);
    free(merged);
    corpus_close(cp);
    free(parts);
    free(parts_dir);
    s->seconds = cm_monotonic_s() - t0;
    return rc;
}
