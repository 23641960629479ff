#include "rollout_steps.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame_metrics.h"
#include "fsio.h"
#include "json.h"

void rollout_steps_init(rollout_steps *s)
{
    memset(s, 0, sizeof *s);
}

void rollout_steps_free(rollout_steps *s)
{
    free(s->step);
    memset(s, 0, sizeof *s);
}

void rollout_steps_add(rollout_steps *s, int t, double psnr, double ssim, int has_random, double psnr_random)
{
    if (t >= s->steps) {
        int n = t + 1;
        s->step = cm_xrealloc(s->step, (size_t)n * sizeof *s->step);
        memset(s->step + s->steps, 0, (size_t)(n - s->steps) * sizeof *s->step);
        s->steps = n;
    }
    rollout_step *x = &s->step[t];
    x->n++;
    x->psnr += psnr;
    x->ssim += ssim;
    if (psnr >= FRAME_PSNR_MAX) x->exact++;
    if (has_random) {
        x->n_random++;
        x->psnr_random += psnr_random;
    }
}

/* The totals over every step. */
static rollout_step total_of(const rollout_steps *s)
{
    rollout_step a = {0};
    for (int t = 0; t < s->steps; t++) {
        a.n += s->step[t].n, a.psnr += s->step[t].psnr, a.ssim += s->step[t].ssim, a.exact += s->step[t].exact;
        a.n_random += s->step[t].n_random, a.psnr_random += s->step[t].psnr_random;
    }
    return a;
}

static void print_row(FILE *f, const char *label, const rollout_step *x)
{
    if (x->n == 0) return;
    fprintf(f, "  %-5s %7" PRId64 "  %8.3f  %7.4f", label, x->n, x->psnr / (double)x->n, x->ssim / (double)x->n);
    if (x->n_random == x->n) {
        double r = x->psnr_random / (double)x->n;
        fprintf(f, "  %11.3f  %10.3f", r, x->psnr / (double)x->n - r);
    }
    fputc('\n', f);
}

void rollout_steps_print(const rollout_steps *s, FILE *f, const char *dataset, const char *split)
{
    char buf[512];
    rollout_step all = total_of(s);
    fprintf(f, "rollout: %" PRId64 " predictions, %" PRId64 " frames of %s split %s; %" PRId64
               " exact (PSNR %.0f dB)\n",
            s->rollouts, all.n, cm_clean(dataset, buf, sizeof buf), split, all.exact, FRAME_PSNR_MAX);
    if (all.n == 0) return;
    int random = all.n_random == all.n;
    fprintf(f, "  %-5s %7s  %8s  %7s%s\n", "t", "frames", "PSNR dB", "SSIM",
            random ? "  random PSNR  delta PSNR" : "");
    for (int t = 0; t < s->steps; t++) {
        char label[16];
        snprintf(label, sizeof label, "%d", t);
        print_row(f, label, &s->step[t]);
    }
    print_row(f, "all", &all);
}

/* Metrics go out at full precision (%.17g round-trips a double): a trainer
 * compares runs that differ in the fourth decimal. */
static void json_double(sqlite3_str *j, double v)
{
    if (isfinite(v)) cm_str_appendf(j, "%.17g", v);
    else cm_str_appendf(j, "null");
}

static void json_step(sqlite3_str *j, const rollout_step *x)
{
    cm_str_appendf(j, "\"frames\": %" PRId64 ", \"exact\": %" PRId64 ", \"psnr\": ", x->n, x->exact);
    json_double(j, x->n ? x->psnr / (double)x->n : 0);
    cm_str_appendf(j, ", \"ssim\": ");
    json_double(j, x->n ? x->ssim / (double)x->n : 0);
    if (x->n && x->n_random == x->n) {
        double r = x->psnr_random / (double)x->n;
        cm_str_appendf(j, ", \"psnr_random\": ");
        json_double(j, r);
        cm_str_appendf(j, ", \"delta_psnr\": ");
        json_double(j, x->psnr / (double)x->n - r);
    }
}

int rollout_steps_write_json(const rollout_steps *s, const char *path, const char *dataset, const char *split,
                             cm_error *e)
{
    sqlite3_str *j = sqlite3_str_new(NULL);
    cm_str_appendf(j, "{\"dataset\": ");
    cm_json_string(j, dataset);
    cm_str_appendf(j, ", \"split\": ");
    cm_json_string(j, split);
    cm_str_appendf(j, ", \"psnr_max\": %.1f, \"rollouts\": %" PRId64 ", ", FRAME_PSNR_MAX, s->rollouts);
    rollout_step all = total_of(s);
    json_step(j, &all);
    cm_str_appendf(j, ",\n \"steps\": [");
    for (int t = 0; t < s->steps; t++) {
        cm_str_appendf(j, "%s\n  {\"t\": %d, ", t ? "," : "", t);
        json_step(j, &s->step[t]);
        cm_str_appendf(j, "}");
    }
    cm_str_appendf(j, "\n]}\n");
    size_t len;
    char *text = cm_str_finish(j, &len);
    int rc = 0;
    if (strcmp(path, "-") == 0) {
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            cm_error_set(e, "stdout: write failed");
            rc = -1;
        }
    } else {
        rc = cm_write_file_atomic(path, text, len, e);
    }
    free(text);
    return rc;
}

/* ---- means ---- */

static rollout_point point_of(const rollout_step *x, int t)
{
    rollout_point p = {t, x->n, x->exact, NAN, NAN, NAN, NAN};
    if (x->n == 0) return p;
    p.psnr = x->psnr / (double)x->n;
    p.ssim = x->ssim / (double)x->n;
    if (x->n_random == x->n) {
        p.psnr_random = x->psnr_random / (double)x->n;
        p.delta_psnr = p.psnr - p.psnr_random;
    }
    return p;
}

void rollout_steps_summary(const rollout_steps *s, const char *dataset, const char *split, rollout_summary *out)
{
    memset(out, 0, sizeof *out);
    out->dataset = cm_xstrdup(dataset);
    out->split = cm_xstrdup(split);
    out->psnr_max = FRAME_PSNR_MAX;
    out->rollouts = s->rollouts;
    rollout_step all = total_of(s);
    out->all = point_of(&all, -1);
    out->has_random = all.n > 0 && all.n_random == all.n;
    out->step = cm_xmalloc((size_t)(s->steps > 0 ? s->steps : 1) * sizeof *out->step);
    for (int t = 0; t < s->steps; t++) out->step[out->steps++] = point_of(&s->step[t], t);
}

void rollout_summary_free(rollout_summary *r)
{
    free(r->dataset);
    free(r->split);
    free(r->step);
    memset(r, 0, sizeof *r);
}

/* ---- reading the JSON back (SQLite's JSON functions, as lib/source does) ---- */

enum { MAX_STEPS = 1000000 };

/* The fields of a point: json_type and json_extract of each, in this order,
 * are the columns of the queries below. */
static const char *const point_fields[] = {"t", "frames", "exact", "psnr", "ssim", "psnr_random", "delta_psnr"};
#define N_POINT_FIELDS 7

/* Fills p from the columns of st (see point_fields); with_t: the step's t is
 * required. Returns 0, or -1 with why[] saying which field is wrong. */
static int read_point(sqlite3_stmt *st, int with_t, rollout_point *p, char *why, size_t cap)
{
    double v[N_POINT_FIELDS];
    for (int i = 0; i < N_POINT_FIELDS; i++) {
        const char *type = (const char *)sqlite3_column_text(st, 2 * i);
        int integer = type && strcmp(type, "integer") == 0, real = type && strcmp(type, "real") == 0;
        int counts = i <= 2, optional = i >= 5 || (i == 0 && !with_t);
        v[i] = NAN;
        if (!type || strcmp(type, "null") == 0) {
            if (counts && !optional) goto bad;
            if (!type && !optional) goto bad;
            continue;
        }
        if (counts ? !integer : !(integer || real)) goto bad;
        v[i] = sqlite3_column_double(st, 2 * i + 1);
        if (counts && !(v[i] >= 0 && v[i] <= 1e15)) goto bad;
        continue;
    bad:
        snprintf(why, cap, "%s %s", point_fields[i], type ? "has the wrong type or value" : "missing");
        return -1;
    }
    if (with_t && v[0] > MAX_STEPS) {
        snprintf(why, cap, "t %.0f is beyond %d", v[0], MAX_STEPS);
        return -1;
    }
    if (v[2] > v[1]) {
        snprintf(why, cap, "more exact frames than frames");
        return -1;
    }
    *p = (rollout_point){with_t ? (int)v[0] : -1, (int64_t)v[1], (int64_t)v[2], v[3], v[4], v[5], v[6]};
    return 0;
}

/* "SELECT json_type(value, '$.t'), json_extract(value, '$.t'), ... FROM " from */
static char *point_query(const char *from)
{
    sqlite3_str *q = sqlite3_str_new(NULL);
    cm_str_appendf(q, "SELECT ");
    for (int i = 0; i < N_POINT_FIELDS; i++)
        cm_str_appendf(q, "%sjson_type(value, '$.%s'), json_extract(value, '$.%s')", i ? ", " : "", point_fields[i],
                       point_fields[i]);
    cm_str_appendf(q, " FROM %s", from);
    return cm_str_finish(q, NULL);
}

int rollout_summary_read_json(const char *path, rollout_summary *out, cm_error *e)
{
    memset(out, 0, sizeof *out);
    uint8_t *text = NULL;
    size_t len = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *sql = NULL, why[256] = "";
    int rc = -1, cap = 0;
    if (cm_read_file(path, &text, &len, e) != 0) return -1;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "sqlite: %s", db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    if (sqlite3_prepare_v2(db, "SELECT json_valid(?1), json_type(?1), json_type(?1, '$.steps'),"
                               " json_type(?1, '$.dataset'), json_extract(?1, '$.dataset'),"
                               " json_type(?1, '$.split'), json_extract(?1, '$.split'),"
                               " json_type(?1, '$.psnr_max'), json_extract(?1, '$.psnr_max'),"
                               " json_type(?1, '$.rollouts'), json_extract(?1, '$.rollouts')",
                           -1, &st, NULL) != SQLITE_OK)
        goto sql_fail;
    sqlite3_bind_text(st, 1, (const char *)text, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) goto sql_fail;
#define TYPE_IS(col, name) (sqlite3_column_text(st, col) && strcmp((const char *)sqlite3_column_text(st, col), name) == 0)
    if (!sqlite3_column_int(st, 0) || !TYPE_IS(1, "object")) {
        snprintf(why, sizeof why, "not a JSON object");
        goto fail;
    }
    if (!TYPE_IS(2, "array") || !TYPE_IS(3, "text") || !TYPE_IS(5, "text") ||
        !(TYPE_IS(7, "real") || TYPE_IS(7, "integer")) || !TYPE_IS(9, "integer")) {
        snprintf(why, sizeof why, "steps, dataset, split, psnr_max or rollouts missing or of the wrong type");
        goto fail;
    }
#undef TYPE_IS
    out->dataset = cm_xstrdup((const char *)sqlite3_column_text(st, 4));
    out->split = cm_xstrdup((const char *)sqlite3_column_text(st, 6));
    out->psnr_max = sqlite3_column_double(st, 8);
    out->rollouts = sqlite3_column_int64(st, 10);
    sqlite3_finalize(st);
    st = NULL;
    sql = point_query("(SELECT ?1 AS value)");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) goto sql_fail;
    sqlite3_bind_text(st, 1, (const char *)text, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) goto sql_fail;
    if (read_point(st, 0, &out->all, why, sizeof why) != 0) goto fail;
    out->has_random = !isnan(out->all.psnr_random);
    sqlite3_finalize(st);
    st = NULL;
    free(sql);
    sql = point_query("json_each(?1, '$.steps') ORDER BY key");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) goto sql_fail;
    sqlite3_bind_text(st, 1, (const char *)text, (int)len, SQLITE_STATIC);
    int got;
    while ((got = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->steps == MAX_STEPS) {
            snprintf(why, sizeof why, "more than %d steps", MAX_STEPS);
            goto fail;
        }
        if (out->steps == cap) out->step = cm_xrealloc(out->step, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *out->step);
        char field[128];
        if (read_point(st, 1, &out->step[out->steps], field, sizeof field) != 0) {
            snprintf(why, sizeof why, "steps[%d]: %s", out->steps, field);
            goto fail;
        }
        if (out->steps > 0 && out->step[out->steps].t <= out->step[out->steps - 1].t) {
            snprintf(why, sizeof why, "steps[%d]: t does not follow the step before", out->steps);
            goto fail;
        }
        out->steps++;
    }
    if (got != SQLITE_DONE) goto sql_fail;
    rc = 0;
    goto done;
sql_fail:
    snprintf(why, sizeof why, "sqlite: %s", sqlite3_errmsg(db));
fail:
    cm_error_set(e, "%s: not the JSON of clipmill-eval rollout (%s)", path, why);
    rollout_summary_free(out);
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(sql);
    free(text);
    return rc;
}
