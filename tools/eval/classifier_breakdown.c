/* clipmill-eval classifier's breakdowns (classifier_breakdown.h): per group,
 * per domain, calibration. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "classifier_breakdown.h"
#include "json.h"

/* The distinct values of one string field of v, in order of appearance. */
typedef struct name_list {
    const char **name;
    int n;
} name_list;

static int name_index(name_list *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->name[i], s) == 0) return i;
    l->name = cm_xrealloc(l->name, ((size_t)l->n + 1) * sizeof *l->name);
    l->name[l->n] = s;
    return l->n++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Decisions and ranking of one group of clips. */
typedef struct group_row {
    const char *name;
    int good, bad, kept, rejected;     /* good clips, bad clips, good kept, bad rejected */
    double auc, auc_all_bad;           /* own good vs own bad; own good vs every bad clip of the set */
    float thr_without;                 /* the threshold rule on every other group's clips (NAN: not asked) */
    int kept_without, rejected_without;/* this group's decisions at thr_without */
} group_row;

static double frac(int a, int b)
{
    return b ? (double)a / b : NAN;
}

/* "a/b pct%" into buf, "-" when b is 0: a table cell of clips kept or rejected. */
static const char *count_cell(char *buf, size_t size, int a, int b)
{
    if (b) snprintf(buf, size, "%d/%d %5.1f%%", a, b, 100.0 * a / b);
    else snprintf(buf, size, "-");
    return buf;
}

/* ROC-AUC of the good clips of group g (g < 0: all) against the bad clips
 * of group g (all_bad: of every group). */
static double group_auc(const eval_clip *v, int n, const char *g, int all_bad)
{
    float *s = cm_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    int *y = cm_xmalloc((size_t)(n ? n : 1) * sizeof(int)), m = 0;
    for (int i = 0; i < n; i++) {
        int mine = strcmp(v[i].group, g) == 0;
        if (v[i].y ? mine : (mine || all_bad)) {
            s[m] = v[i].s;
            y[m++] = v[i].y;
        }
    }
    double auc = classifier_roc_auc(s, y, m);
    free(s);
    free(y);
    return auc;
}

/* The threshold that the model's rule (the lowest score whose precision is
 * >= target, classifier_pick_threshold) picks on the clips of every group
 * but g, and g's decisions there: what a group that took no part in picking
 * the threshold meets, as a new game does. The stored threshold of a model
 * trained with --cv was picked on all the out-of-fold scores, the group's
 * own among them, so decisions at it flatter the group; these do not. */
static void group_without(const eval_clip *v, int n, group_row *r, double target)
{
    float *s = cm_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    int *y = cm_xmalloc((size_t)(n ? n : 1) * sizeof(int)), m = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(v[i].group, r->name) == 0) continue;
        s[m] = v[i].s;
        y[m++] = v[i].y;
    }
    r->thr_without = m ? classifier_pick_threshold(s, y, m, target, NULL, NULL) : NAN;
    r->kept_without = r->rejected_without = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(v[i].group, r->name) != 0) continue;
        int keep = v[i].s >= r->thr_without;
        if (v[i].y) r->kept_without += keep;
        else r->rejected_without += !keep;
    }
    free(s);
    free(y);
}

static void json_num(FILE *out, const char *key, double x, int comma)
{
    fprintf(out, "%s\"%s\":", comma ? "," : "", key);
    cm_json_fnumber(out, x);
}

/* A group's value of measure `which` (worst_key's order); NAN where it has
 * none (no good clips, no bad clips, not asked). */
static double worst_value(const group_row *r, int which)
{
    switch (which) {
    case 0: return frac(r->kept, r->good);
    case 1: return frac(r->rejected, r->bad);
    case 2: return r->auc;
    case 3: return r->auc_all_bad;
    case 4: return isnan(r->thr_without) ? NAN : frac(r->kept_without, r->good);
    default: return isnan(r->thr_without) ? NAN : frac(r->rejected_without, r->bad);
    }
}

/* The worst group by one measure (lowest value among groups where it is
 * defined); -1 when none is. */
static int worst_of(const group_row *r, int n, int which)
{
    int w = -1;
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        double x = worst_value(&r[i], which);
        if (isfinite(x) && x < best) {
            best = x;
            w = i;
        }
    }
    return w;
}

#define WORST_MEASURES 6
static const char *worst_key[WORST_MEASURES] = {"good_kept_frac", "bad_rejected_frac", "roc_auc", "roc_auc_vs_all_bad",
                                                "good_kept_frac_without", "bad_rejected_frac_without"};
static const char *worst_text[WORST_MEASURES] = {"good kept", "bad rejected", "ROC-AUC", "ROC-AUC against every bad clip",
                                                 "good kept", "bad rejected"};   /* the last two: "worst without it" */

/* Prints worst measures [from, to) as text, "; "-separated. */
static void print_worst_text(FILE *out, const group_row *r, int n, int from, int to)
{
    const char *const *text = worst_text;
    for (int k = from; k < to; k++) {
        int w = worst_of(r, n, k);
        const char *sep = k > from ? ";" : "";
        char name[256];
        if (w < 0) {
            fprintf(out, "%s %s -", sep, text[k]);
            continue;
        }
        cm_clean(r[w].name, name, sizeof name);
        if (k == 2 || k == 3) fprintf(out, "%s %s %.4f (%s)", sep, text[k], worst_value(&r[w], k), name);
        else fprintf(out, "%s %s %.1f%% (%s)", sep, text[k], 100 * worst_value(&r[w], k), name);
    }
    fprintf(out, "\n");
}

static void print_groups(FILE *out, const eval_clip *v, int n, float thr, const char *by, double target, int json)
{
    name_list names = {0};
    for (int i = 0; i < n; i++) name_index(&names, v[i].group);
    qsort(names.name, (size_t)names.n, sizeof *names.name, by_name);
    group_row *r = cm_xcalloc((size_t)(names.n ? names.n : 1), sizeof *r);
    for (int j = 0; j < names.n; j++) r[j].name = names.name[j];
    for (int i = 0; i < n; i++) {
        int j = name_index(&names, v[i].group);
        int keep = v[i].s >= thr;
        if (v[i].y) {
            r[j].good++;
            r[j].kept += keep;
        } else {
            r[j].bad++;
            r[j].rejected += !keep;
        }
    }
    for (int j = 0; j < names.n; j++) {
        r[j].auc = group_auc(v, n, r[j].name, 0);
        r[j].auc_all_bad = group_auc(v, n, r[j].name, 1);
        r[j].thr_without = NAN;
        if (target > 0) group_without(v, n, &r[j], target);
    }
    const int n_worst = target > 0 ? WORST_MEASURES : 4;
    if (json) {
        fprintf(out, ",\"by\":");
        cm_json_fputs(out, by);
        fprintf(out, ",\"groups\":[");
        for (int j = 0; j < names.n; j++) {
            fprintf(out, "%s{\"group\":", j ? "," : "");
            cm_json_fputs(out, r[j].name);
            fprintf(out, ",\"good\":%d,\"bad\":%d,\"good_kept\":%d,\"bad_rejected\":%d", r[j].good, r[j].bad, r[j].kept,
                    r[j].rejected);
            json_num(out, "good_kept_frac", frac(r[j].kept, r[j].good), 1);
            json_num(out, "bad_rejected_frac", frac(r[j].rejected, r[j].bad), 1);
            json_num(out, "roc_auc", r[j].auc, 1);
            json_num(out, "roc_auc_vs_all_bad", r[j].auc_all_bad, 1);
            if (target > 0) {
                /* 9 digits, as the threshold: a float exactly (a clip's score) */
                if (isnan(r[j].thr_without)) fprintf(out, ",\"threshold_without\":null");
                else fprintf(out, ",\"threshold_without\":%.9g", r[j].thr_without);
                fprintf(out, ",\"good_kept_without\":%d,\"bad_rejected_without\":%d", r[j].kept_without,
                        r[j].rejected_without);
                json_num(out, "good_kept_frac_without", worst_value(&r[j], 4), 1);
                json_num(out, "bad_rejected_frac_without", worst_value(&r[j], 5), 1);
            }
            fprintf(out, "}");
        }
        fprintf(out, "],\"worst\":{");
        for (int k = 0; k < n_worst; k++) {
            int w = worst_of(r, names.n, k);
            fprintf(out, "%s\"%s\":", k ? "," : "", worst_key[k]);
            if (w < 0) {
                fprintf(out, "null");
                continue;
            }
            fprintf(out, "{\"group\":");
            cm_json_fputs(out, r[w].name);
            json_num(out, "value", worst_value(&r[w], k), 1);
            fprintf(out, "}");
        }
        fprintf(out, "}");
    } else {
        char by_clean[256];
        fprintf(out, "by %s, at threshold %.4f (ROC-AUC: the group's good clips against its bad ones, and against every "
                "bad clip evaluated):\n", cm_clean(by, by_clean, sizeof by_clean), thr);
        fprintf(out, "  %-16s %5s %5s %8s %12s %18s %18s\n", "group", "good", "bad", "ROC-AUC", "vs all bad", "good kept",
                "bad rejected");
        for (int j = 0; j < names.n; j++) {
            char kept[32], rej[32], name[256];   /* group names (channels, games) come from manifests: sanitised */
            fprintf(out, "  %-16s %5d %5d %8.4f %12.4f %18s %18s\n", cm_clean(r[j].name, name, sizeof name), r[j].good,
                    r[j].bad, r[j].auc, r[j].auc_all_bad, count_cell(kept, sizeof kept, r[j].kept, r[j].good),
                    count_cell(rej, sizeof rej, r[j].rejected, r[j].bad));
        }
        fprintf(out, "worst:");
        print_worst_text(out, r, names.n, 0, 4);
        if (target > 0) {
            fprintf(out, "at the threshold picked without the group (the model's rule, precision >= %.2f, on every other "
                    "group's clips: what a new game meets):\n", target);
            fprintf(out, "  %-16s %9s %18s %18s\n", "group", "threshold", "good kept", "bad rejected");
            for (int j = 0; j < names.n; j++) {
                char kept[32], rej[32], name[256];
                fprintf(out, "  %-16s %9.4f %18s %18s\n", cm_clean(r[j].name, name, sizeof name), r[j].thr_without,
                        count_cell(kept, sizeof kept, r[j].kept_without, r[j].good),
                        count_cell(rej, sizeof rej, r[j].rejected_without, r[j].bad));
            }
            fprintf(out, "worst without it:");
            print_worst_text(out, r, names.n, 4, 6);
        }
    }
    free(r);
    free(names.name);
}

static void print_domains(FILE *out, const eval_clip *v, int n, float thr, int json)
{
    name_list names = {0};
    for (int i = 0; i < n; i++) name_index(&names, v[i].domain);
    qsort(names.name, (size_t)names.n, sizeof *names.name, by_name);
    int *cnt = cm_xcalloc((size_t)(names.n ? names.n : 1) * 4, sizeof(int)); /* good, bad, kept, rejected */
    for (int i = 0; i < n; i++) {
        int *c = cnt + 4 * name_index(&names, v[i].domain);
        c[v[i].y ? 0 : 1]++;
        c[v[i].s >= thr ? 2 : 3]++;
    }
    if (json) fprintf(out, ",\"domains\":[");
    else fprintf(out, "decisions by domain at threshold %.4f:\n  %-16s %5s %5s %5s %6s %9s\n", thr, "domain", "clips",
                 "good", "bad", "kept", "rejected");
    for (int j = 0; j < names.n; j++) {
        const int *c = cnt + 4 * j;
        if (json) {
            fprintf(out, "%s{\"domain\":", j ? "," : "");
            cm_json_fputs(out, names.name[j]);
            fprintf(out, ",\"clips\":%d,\"good\":%d,\"bad\":%d,\"kept\":%d,\"rejected\":%d}", c[0] + c[1], c[0], c[1], c[2],
                    c[3]);
        } else {
            char name[256];   /* domains come from manifests: sanitised */
            fprintf(out, "  %-16s %5d %5d %5d %6d %9d\n", names.name[j][0] ? cm_clean(names.name[j], name, sizeof name)
                                                                             : "(none)",
                    c[0] + c[1], c[0], c[1], c[2], c[3]);
        }
    }
    if (json) fprintf(out, "]");
    free(cnt);
    free(names.name);
}

void eval_print_breakdown(FILE *out, const eval_clip *v, int n, float thr, const char *by, double target, int json)
{
    if (by) print_groups(out, v, n, thr, by, target, json);
    print_domains(out, v, n, thr, json);
}

void eval_print_calibration(FILE *out, const eval_clip *v, int n, int json)
{
    float *s = cm_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    int *y = cm_xmalloc((size_t)(n ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++) {
        s[i] = v[i].s;
        y[i] = v[i].y;
    }
    classifier_calibration c;
    classifier_calibrate(s, y, n, &c);
    free(s);
    free(y);
    if (json) fprintf(out, ",\"calibration\":[");
    else fprintf(out, "calibration (score bin: clips, mean score, fraction good, gap):\n");
    for (int b = 0, first = 1; b < CLASSIFIER_CAL_BINS; b++) {
        if (!c.clips[b]) continue;
        double mean = c.score_sum[b] / c.clips[b], good = (double)c.good[b] / c.clips[b];
        double lo = (double)b / CLASSIFIER_CAL_BINS, hi = (double)(b + 1) / CLASSIFIER_CAL_BINS;
        if (json)
            fprintf(out, "%s{\"lo\":%.1f,\"hi\":%.1f,\"clips\":%d,\"mean_score\":%.4f,\"good_frac\":%.4f}", first ? "" : ",",
                    lo, hi, c.clips[b], mean, good);
        else
            fprintf(out, "  %.1f-%.1f: %4d  %.3f  %.3f  %.3f\n", lo, hi, c.clips[b], mean, good, fabs(mean - good));
        first = 0;
    }
    if (json) {
        fprintf(out, "]");
        json_num(out, "ece", c.ece, 1);
        json_num(out, "mce", c.mce, 1);
    } else {
        fprintf(out, "expected calibration error %.4f, largest bin gap %.4f\n", c.ece, c.mce);
    }
}
