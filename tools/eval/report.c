/* clipmill-eval report: one self-contained HTML page about a corpus (the
 * groups losing nearly all their clips, the funnel from manifest to kept
 * clips, keep rates and hours by domain and channel, scores, ROC, rejection
 * reasons, statistic distributions, contact sheets of the best, worst and
 * borderline clips). Plots are inline SVG, images are PNG
 * data URIs: the file makes no request and runs no script. docs/report.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "catalog.h"
#include "classifier.h"
#include "clip_record.h"
#include "corpus.h"
#include "eval.h"
#include "fsio.h"
#include "model_ref.h"
#include "export.h"
#include "report_calibration.h"
#include "report_losses.h"
#include "report_rollout.h"
#include "report_svg.h"
#include "util.h"

/* ---- small helpers ---- */

/* Runs sql (one optional int64 parameter ?1) and returns its first column as a double (NAN when NULL / error). */
static double q1(sqlite3 *db, const char *sql, int64_t p1)
{
    sqlite3_stmt *st = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, p1);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_double(st, 0);
    } else {
        cm_log(CM_LOG_WARN, "report query failed: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return v;
}

static series query_series(sqlite3 *db, const char *sql, int64_t p1)
{
    series s = {0};
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return s;
    if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, p1);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) series_push(&s, sqlite3_column_double(st, 0));
    sqlite3_finalize(st);
    return s;
}

/* ---- contact sheets ---- */

/* Writes <img> of an 8-frame contact sheet of clip_id as a PNG data URI.
 * Returns 0, corpus_clip_record's CORPUS_NOT_FOUND or CORPUS_STORE_FAILED, or
 * -1, with e set. */
static int contact_sheet(FILE *f, corpus *cp, const char *clip_id, cm_error *e)
{
    uint8_t *rec = NULL, *frames = NULL, *png = NULL;
    unsigned char *b64 = NULL;
    int rc = -1;
    size_t len = 0;
    if ((rc = corpus_clip_record(cp, clip_id, &rec, &len, e)) != 0) goto fail;
    rc = -1;
    clip_header h;
    if (clip_record_parse(rec, len, &h, 0, e) != 0) goto fail;
    enum { N_SHEET = 8 };
    int idx[N_SHEET];
    for (int i = 0; i < N_SHEET; i++) idx[i] = (int)((2 * i + 1) * (int64_t)h.frames / (2 * N_SHEET));
    const size_t fb = (size_t)h.height * h.width * 3;
    frames = cm_xmalloc(N_SHEET * fb);
    if (clip_record_read_frame_list(rec, len, idx, N_SHEET, frames, e) != 0) goto fail;
    size_t n = 0;
    if (clip_png_sheet(frames, N_SHEET, h.height, h.width, 1, 4, clip_id, &png, &n, e) != 0) goto fail;
    b64 = cm_xmalloc(4 * (n + 2) / 3 + 1);
    EVP_EncodeBlock(b64, png, (int)n);
    fprintf(f, "<img alt='%s' src='data:image/png;base64,%s'>", clip_id, b64);
    rc = 0;
fail:
    free(rec);
    free(frames);
    free(png);
    free(b64);
    return rc;
}

/* One gallery: the clips `sql` (?1 = model id) lists as clip_id, score, decision, reason. */
static int gallery(FILE *f, corpus *cp, const char *title, const char *sql, int64_t model_id,
                   int *bad_images)
{
    sqlite3 *db = catalog_db(corpus_catalog(cp));
    sqlite3_stmt *st = NULL;
    fprintf(f, "<h3>%s</h3>\n<div class='gallery'>\n", title);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        cm_log(CM_LOG_ERROR, "report: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, model_id);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        cm_error e = {{0}};
        fputs("<figure>", f);
        int got = contact_sheet(f, cp, id, &e);
        if (got != 0) {
            /* A store that failed to open was reported with its first clip. */
            if (got != CORPUS_STORE_FAILED) cm_log(CM_LOG_WARN, "report: contact sheet of %s: %s", id, e.msg);
            fputs("<div class='missing'>(no image: ", f);
            html_text(f, e.msg);
            fputs(")</div>", f);
            (*bad_images)++;
        }
        fprintf(f, "<figcaption>%s &middot; score %.3f &middot; %s", id, sqlite3_column_double(st, 1),
                sqlite3_column_type(st, 2) == SQLITE_NULL ? "undecided" : (const char *)sqlite3_column_text(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            fputs(" (", f);
            html_text(f, (const char *)sqlite3_column_text(st, 3));
            fputs(")", f);
        }
        fputs("</figcaption></figure>\n", f);
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0) fputs("<p>No scored clips.</p>\n", f);
    fputs("</div>\n", f);
    return 0;
}

/* A two-or-more column table from sql (?1 = model id), header from the column names. */
static void sql_table(FILE *f, sqlite3 *db, const char *sql, int64_t p1, horiz_bar *bars, int *n_bars, int max_bars,
                      int bar_label_col, int bar_value_col)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        cm_log(CM_LOG_WARN, "report query failed: %s", sqlite3_errmsg(db));
        return;
    }
    if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, p1);
    int nc = sqlite3_column_count(st);
    fputs("<table><tr>", f);
    for (int c = 0; c < nc; c++) {
        fputs("<th>", f);
        html_text(f, sqlite3_column_name(st, c));
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    if (n_bars) *n_bars = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        fputs("<tr>", f);
        for (int c = 0; c < nc; c++) {
            fputs(sqlite3_column_type(st, c) == SQLITE_TEXT ? "<td>" : "<td class='num'>", f);
            const char *t = (const char *)sqlite3_column_text(st, c);
            html_text(f, t ? t : "");
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
        if (bars && *n_bars < max_bars) {
            const char *l = (const char *)sqlite3_column_text(st, bar_label_col);
            snprintf(bars[*n_bars].label, sizeof bars[*n_bars].label, "%s", l ? l : "(none)");
            bars[(*n_bars)++].value = sqlite3_column_double(st, bar_value_col);
        }
    }
    fputs("</table>\n", f);
    sqlite3_finalize(st);
}


int eval_report_main(int argc, char **argv)
{
    const char *dir = ".", *out_path = NULL, *model_arg = NULL, *rollout_path = NULL;
    int64_t model_id = 0;
    int sheets = 4;
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &dir, "corpus directory (default .)"),
        CM_STRING("output", 'o', "FILE", &out_path, "the report (default DIR/report.html)"),
        CM_STRING("model", 'm', "ID|FILE", &model_arg, "whose scores (a model id of the catalog, or a model file it\n"
                  "registered; default: the model of most decisions, else the newest)"),
        CM_INT("sheets", 0, "N", &sheets, 0, 50, "contact sheets of the N best, worst and borderline clips (default 4)"),
        CM_STRING("rollout", 0, "FILE", &rollout_path, "adds a section with the curves of a world model's rollouts:\n"
                  "the JSON of clipmill-eval rollout --json"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-eval report",
        .usage =
        "usage: clipmill-eval report [-C DIR] [-o FILE] [--model ID|FILE] [--sheets N]\n"
        "                            [--rollout FILE]\n"
        "\n"
        "Writes one self-contained HTML report (inline SVG plots, PNG contact sheets\n"
        "as data URIs; no scripts, no external requests) about DIR/catalog.sqlite:\n"
        "channels and domains whose clips are nearly all rejected, the funnel\n"
        "sources -> decoded -> with clips -> clips -> decided -> kept, keep rates\n"
        "(rejections by reason) and hours by domain and channel, the score histogram\n"
        "with the threshold, the ROC curve on labelled clips (label >= 4 good,\n"
        "<= 2 bad), reasons for rejection, statistic distributions and contact\n"
        "sheets; with --rollout, PSNR, SSIM and delta-t PSNR of predicted frames\n"
        "over rollout time.\n"
        "\n",
        .options = options,
        .footer = EVAL_EXIT_STATUS,
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args > 0) return cm_cli_usage_error(&cli, "unexpected argument '%s'", argv[1]);
    char *default_out = cm_path_join(dir, "report.html");
    if (!out_path) out_path = default_out;
    corpus *cp = NULL;
    cm_error e = {{0}};
    FILE *f = NULL;
    cm_atomic_file out = {0};
    int rc = CM_EXIT_FATAL, bad_images = 0, bad_rollout = 0;
    rollout_summary rollout = {0};
    if (corpus_open(&cp, dir, CORPUS_EXISTING, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    sqlite3 *db = catalog_db(corpus_catalog(cp));
    if (model_arg) {
        model_ref ref;
        int got = model_ref_resolve(corpus_catalog(cp), dir, model_arg, 0, &ref, &e);
        model_id = ref.model_id;
        model_ref_free(&ref);
        if (got != 0 || model_id == 0) {
            if (got == 0) cm_error_set(&e, "--model %s: not registered in this catalog, so it has no scores here",
                                       model_arg);
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            rc = got == 0 ? CM_EXIT_USAGE : CM_EXIT_FATAL;
            goto done;
        }
    }
    if (model_id <= 0) {
        double m = q1(db, "SELECT model_id FROM decisions WHERE model_id IS NOT NULL GROUP BY model_id"
                          " ORDER BY count(*) DESC LIMIT 1", 0);
        if (isnan(m)) m = q1(db, "SELECT max(model_id) FROM models", 0);
        model_id = isnan(m) ? 0 : (int64_t)m;
    }
    double threshold = q1(db, "SELECT threshold FROM decisions WHERE model_id = ?1 GROUP BY threshold"
                              " ORDER BY count(*) DESC LIMIT 1", model_id);
    if (isnan(threshold)) threshold = q1(db, "SELECT threshold FROM models WHERE model_id = ?1", model_id);

    if (!(f = cm_atomic_open(&out, out_path, 1, &e))) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    char now[32];
    cm_utc_now_iso(now);
    fprintf(f, "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
               "<meta name='viewport' content='width=device-width'><title>clipmill report: ");
    html_text(f, dir);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>clipmill corpus report</h1>\n<p>Corpus <code>", report_css);
    html_text(f, dir);
    fprintf(f, "</code>, generated %s.", now);
    {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT name, arch, threshold, sha256 FROM models WHERE model_id = ?1", -1, &st,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, model_id);
            if (sqlite3_step(st) == SQLITE_ROW) {
                fprintf(f, " Model #%lld <b>", (long long)model_id);
                html_text(f, (const char *)sqlite3_column_text(st, 0));
                fputs("</b> (", f);
                html_text(f, (const char *)sqlite3_column_text(st, 1));
                fprintf(f, ", sha256 %.12s&hellip;), decision threshold %.4f.", sqlite3_column_text(st, 3),
                        threshold);
            } else {
                fputs(" No model has scored this corpus yet (run clipmill-filter).", f);
            }
        }
        sqlite3_finalize(st);
    }
    fputs("</p>\n", f);
    report_loss_flags(f, db);

    /* Funnel (the catalog's v_funnel). */
    fputs("<h2 id='funnel'>Funnel: manifest to kept clips</h2>\n", f);
    horiz_bar bars[40];
    int nb = 0;
    sql_table(f, db, "SELECT what AS step, items, hours, frac FROM v_funnel AS v ORDER BY v.step", 0, bars, &nb, 6,
              0, 1);
    fputs("<p>Steps 2&ndash;6 narrow the step before them (frac: the share of it that got through; clips and"
          " decided clips are of different units). The last rows are the sources that gave no clips, by status"
          " (frac: of all sources). Hours of sources are their probed durations (unknown for sources never"
          " opened); clips count clip hours.</p>\n", f);
    svg_bars(f, bars, nb, "");

    report_keep_rates(f, db);

    /* Scores and ROC. */
    fputs("<h2 id='scores'>Scores</h2>\n<div class='row'><div><h4>Score histogram</h4>\n", f);
    series sc = query_series(db, "SELECT score FROM scores WHERE model_id = ?1", model_id);
    svg_histogram(f, &sc, 0, 1, 20, threshold, "p(good)");
    fprintf(f, "<p>%d clips scored.</p></div><div><h4>ROC on labelled clips</h4>\n", sc.n);
    free(sc.v);
    {
        sqlite3_stmt *st = NULL;
        scored_label *p = NULL;
        int np = 0, cap = 0, pos = 0;
        if (sqlite3_prepare_v2(db, "SELECT s.score, l.label >= 4 FROM scores AS s JOIN v_clip_label AS l USING"
                                   " (clip_id) WHERE s.model_id = ?1 AND l.label != 3", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, model_id);
            while (sqlite3_step(st) == SQLITE_ROW) {
                if (np == cap) p = cm_xrealloc(p, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *p);
                p[np].s = sqlite3_column_double(st, 0);
                pos += p[np++].y = sqlite3_column_int(st, 1);
            }
        }
        sqlite3_finalize(st);
        if (pos > 0 && pos < np) {
            double auc = 0;
            svg_roc(f, p, np, &auc);
            fprintf(f, "<p>%d labelled clips (%d good: label &ge; 4, %d bad: label &le; 2), ROC-AUC %.4f. Labelled"
                       " clips include those the model trained on, so this is optimistic; see"
                       " <code>clipmill-eval classifier</code> for held-out figures.</p>\n",
                    np, pos, np - pos, auc);
        } else {
            fprintf(f, "<p>Needs scored clips labelled both good and bad (have %d labelled, %d good).</p>\n", np,
                    pos);
        }
        free(p);
    }
    fputs("</div></div>\n", f);
    report_calibration(f, db, model_id);

    /* Reasons for rejection. */
    fputs("<h2 id='reasons'>Decisions and reasons</h2>\n", f);
    sql_table(f, db,
              "SELECT decision, coalesce(reason, '') AS reason, count(*) AS clips,"
              " round(sum(c.duration_s) / 3600.0, 3) AS hours FROM decisions JOIN clips AS c USING (clip_id)"
              " GROUP BY 1, 2 ORDER BY decision DESC, clips DESC",
              0, bars, &nb, 20, 1, 2);
    svg_bars(f, bars, nb, "clips");

    /* Statistic distributions. */
    char sql[1024];
    fputs("<h2 id='stats'>Clip statistics</h2>\n<div class='row'>\n", f);
    static const struct {
        const char *col, *label;
        double lo, hi;
    } stat_plots[] = {
        {"motion", "motion (mean |dY| per pair)", 0, 20}, {"static_frac", "static_frac", 0, 1},
        {"luma_mean", "luma_mean", 0, 255}, {"luma_std", "luma_std", 0, 100},
        {"black_frac", "black_frac", 0, 1}, {"hard_cuts", "hard_cuts", 0, 20},
    };
    for (size_t i = 0; i < sizeof stat_plots / sizeof stat_plots[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT %s FROM clips", stat_plots[i].col);
        series s = query_series(db, sql, 0);
        fprintf(f, "<div class='stat'><h4>%s</h4>\n", stat_plots[i].label);
        svg_histogram(f, &s, stat_plots[i].lo, stat_plots[i].hi, 20, NAN, stat_plots[i].col);
        fputs("</div>\n", f);
        free(s.v);
    }
    fputs("</div>\n", f);

    /* A world model's rollouts, when asked for; a JSON that cannot be read
     * is said on the page and in the exit status, the rest of the page stands. */
    if (rollout_path) {
        cm_error re = {{0}};
        if (rollout_summary_read_json(rollout_path, &rollout, &re) == 0) {
            report_rollout_section(f, &rollout, rollout_path);
        } else {
            cm_log(CM_LOG_ERROR, "%s", re.msg);
            fputs("<h2 id='rollout'>Rollout: predicted frames against the dataset</h2>\n<p class='flags'>", f);
            html_text(f, re.msg);
            fputs("</p>\n", f);
            bad_rollout = 1;
        }
    }

    /* Contact sheets. */
    fputs("<h2 id='sheets'>Contact sheets</h2>\n<p>8 frames evenly spread over each clip.</p>\n", f);
    if (sheets > 0) {
        const char *gsql = "SELECT s.clip_id, s.score, d.decision, d.reason FROM scores AS s"
                           " LEFT JOIN decisions AS d USING (clip_id) WHERE s.model_id = ?1 ORDER BY %s LIMIT %d";
        char order[128];
        snprintf(sql, sizeof sql, gsql, "s.score DESC, s.clip_id", sheets);
        gallery(f, cp, "Best scores", sql, model_id, &bad_images);
        snprintf(sql, sizeof sql, gsql, "s.score ASC, s.clip_id", sheets);
        gallery(f, cp, "Worst scores", sql, model_id, &bad_images);
        snprintf(order, sizeof order, "abs(s.score - %.9g), s.clip_id", isnan(threshold) ? 0.5 : threshold);
        snprintf(sql, sizeof sql, gsql, order, sheets);
        gallery(f, cp, "Borderline (closest to the threshold)", sql, model_id, &bad_images);
    }
    fputs("</body></html>\n", f);
    f = NULL;
    if (cm_atomic_commit(&out, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    fprintf(stderr, "clipmill-eval: wrote %s\n", out_path);
    rc = bad_images || bad_rollout ? CM_EXIT_PARTIAL : CM_EXIT_OK;
done:
    rollout_summary_free(&rollout);
    cm_atomic_abort(&out);
    free(default_out);
    corpus_close(cp);
    return rc;
}
