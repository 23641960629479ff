/* clipmill-eval report: the losses part of the page. The flags at the top
 * and the keep rates per channel and per domain read the catalog's loss
 * views (v_loss_flags, v_keep_rates, v_loss_reasons; docs/catalog.md
 * "Losses"), so the page and an analyst's SQL say the same thing. Channel
 * and domain names are untrusted text: every one goes through html_text. */
#include "report_losses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_svg.h"
#include "util.h"

enum {
    FLAGS_LISTED = 50,   /* flag lines on the page; the rest are counted */
    GROUPS_SHOWN = 30,   /* groups per kind in the table and the chart */
    LABEL_CHARS = 40,    /* characters of a group name in the chart */
};

/* ---- flags ---- */

int report_loss_flags(FILE *f, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int n = 0;
    fputs("<h2 id='losses'>Losses</h2>\n", f);
    if (sqlite3_prepare_v2(db, "SELECT summary FROM v_loss_flags", -1, &st, NULL) != SQLITE_OK) {
        cm_log(CM_LOG_WARN, "report: loss flags: %s", sqlite3_errmsg(db));
        fputs("<p class='flags'>The loss flags could not be read (see the log).</p>\n", f);
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == 0)
            fputs("<div class='flags'><p><b>Nearly all the clips of these groups are rejected</b> (at least 90% of at"
                  " least 5 decided clips; <code>SELECT * FROM v_loss_flags</code>). A corpus built from these"
                  " decisions loses what they hold:</p>\n<ul>\n", f);
        if (n < FLAGS_LISTED) {
            fputs("<li>", f);
            html_text(f, (const char *)sqlite3_column_text(st, 0));
            fputs("</li>\n", f);
        }
        n++;
    }
    sqlite3_finalize(st);
    if (n > FLAGS_LISTED) fprintf(f, "<li>and %d more</li>\n", n - FLAGS_LISTED);
    if (n > 0) {
        fputs("</ul></div>\n", f);
    } else {
        double decided = 0;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM decisions", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            decided = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
        fputs(decided > 0 ? "<p>No channel or domain lost nearly all its clips (at least 90% of at least 5 decided"
                            " clips rejected).</p>\n"
                          : "<p>No clip is decided yet (run clipmill-filter): nothing to flag.</p>\n", f);
    }
    return n;
}

/* ---- keep rates ---- */

typedef struct group_row {
    int named;              /* 0: the group of sources without a channel / domain */
    char name[256];
    stacked_bar bar;        /* seg: kept, reasons (see reason_table), undecided */
    long long sources, clips, decided, kept, rejected, undecided;
    double hours, kept_hours;
    char losses[256];       /* "6 static, 2 low_score" */
} group_row;

/* Rejection reasons in the order first met (largest first), the last slot
 * gathering whatever does not fit. Segment 0 is kept, then the reasons,
 * then undecided. */
typedef struct reason_table {
    char names[STACK_SEGMENTS - 2][32];
    int n;
} reason_table;

static int reason_segment(reason_table *t, const char *reason)
{
    const int cap = STACK_SEGMENTS - 2;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->names[i], reason) == 0) return 1 + i;
    if (t->n < cap - 1) {
        snprintf(t->names[t->n], sizeof t->names[0], "%s", reason);
        return 1 + t->n++;
    }
    if (t->n == cap - 1) snprintf(t->names[t->n++], sizeof t->names[0], "other reasons");
    return cap; /* the segment of "other reasons", the last slot */
}

static const char *reason_colour(const char *reason, int i)
{
    static const struct {
        const char *name, *colour;
    } known[] = {
        {"low_score", "#d62728"}, {"duplicate", "#9467bd"}, {"static", "#8c564b"}, {"cuts", "#ff7f0e"},
        {"black", "#333333"},     {"dark", "#7f7f7f"},      {"letterbox", "#17becf"},
    };
    static const char *const spare[] = {"#e377c2", "#bcbd22", "#1f77b4", "#aec7e8"};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (strcmp(known[k].name, reason) == 0) return known[k].colour;
    return spare[i % 4];
}

/* Copies at most LABEL_CHARS characters of UTF-8 s, never splitting one, with
 * an ellipsis when cut. */
static void short_label(char *out, size_t cap, const char *s)
{
    size_t i = 0, chars = 0;
    while (s[i] && chars < LABEL_CHARS) {
        size_t j = i + 1;
        while (s[j] && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
        if (j + 4 > cap) break;
        i = j;
        chars++;
    }
    snprintf(out, cap, "%.*s%s", (int)i, s, s[i] ? "\xe2\x80\xa6" : "");
}

static int same_group(const group_row *g, const unsigned char *name)
{
    return name ? g->named && strcmp(g->name, (const char *)name) == 0 : !g->named;
}

/* Reads the GROUPS_SHOWN groups of kind with the most clips into rows;
 * returns how many groups there are in all (-1 on a failed query). */
static int read_groups(sqlite3 *db, const char *kind, group_row *rows, int *n_rows, reason_table *reasons)
{
    sqlite3_stmt *st = NULL;
    int total = 0;
    *n_rows = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT group_name, sources, clips, decided, kept, rejected, undecided, clip_hours, kept_hours"
                           " FROM v_keep_rates"
                           " WHERE group_kind = ?1 ORDER BY clips DESC, group_name",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (total++ >= GROUPS_SHOWN) continue;
        group_row *g = &rows[(*n_rows)++];
        memset(g, 0, sizeof *g);
        const unsigned char *name = sqlite3_column_text(st, 0);
        g->named = name != NULL;
        snprintf(g->name, sizeof g->name, "%s", name ? (const char *)name : "");
        g->sources = sqlite3_column_int64(st, 1);
        g->clips = sqlite3_column_int64(st, 2);
        g->decided = sqlite3_column_int64(st, 3);
        g->kept = sqlite3_column_int64(st, 4);
        g->rejected = sqlite3_column_int64(st, 5);
        g->undecided = sqlite3_column_int64(st, 6);
        g->hours = sqlite3_column_double(st, 7);
        g->kept_hours = sqlite3_column_double(st, 8);
        if (g->named) short_label(g->bar.label, sizeof g->bar.label, g->name);
        else snprintf(g->bar.label, sizeof g->bar.label, "(no %s)", kind);
        snprintf(g->bar.note, sizeof g->bar.note, "%lld of %lld kept", g->kept, g->decided);
        g->bar.seg[0] = (double)g->kept;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT group_name, reason, clips FROM v_loss_reasons WHERE group_kind = ?1"
                               " ORDER BY clips DESC, reason",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        const char *reason = (const char *)sqlite3_column_text(st, 1);
        long long clips = sqlite3_column_int64(st, 2);
        for (int i = 0; i < *n_rows; i++) {
            group_row *g = &rows[i];
            if (!same_group(g, name)) continue;
            g->bar.seg[reason_segment(reasons, reason ? reason : "")] += (double)clips;
            size_t len = strlen(g->losses);
            snprintf(g->losses + len, sizeof g->losses - len, "%s%lld %s", len ? ", " : "", clips,
                     reason ? reason : "");
            break;
        }
    }
    sqlite3_finalize(st);
    return total;
fail:
    cm_log(CM_LOG_WARN, "report: keep rates: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
}

static void keep_rate_table(FILE *f, const char *kind, const group_row *rows, int n)
{
    fprintf(f, "<table><tr><th>%s</th><th>sources</th><th>clips</th><th>kept</th><th>rejected</th>"
               "<th>undecided</th><th>keep rate</th><th>rejected as</th><th>hours</th><th>kept hours</th></tr>\n", kind);
    for (int i = 0; i < n; i++) {
        const group_row *g = &rows[i];
        fputs("<tr><td>", f);
        if (g->named) html_text(f, g->name);
        else fprintf(f, "<i>(no %s)</i>", kind);
        fprintf(f, "</td><td class='num'>%lld</td><td class='num'>%lld</td><td class='num'>%lld</td>"
                   "<td class='num'>%lld</td><td class='num'>%lld</td>",
                g->sources, g->clips, g->kept, g->rejected, g->undecided);
        if (g->decided > 0) fprintf(f, "<td class='num'>%.1f%%</td>", 100.0 * (double)g->kept / (double)g->decided);
        else fputs("<td class='num'>&ndash;</td>", f);
        fputs("<td>", f);
        html_text(f, g->losses);
        fprintf(f, "</td><td class='num'>%.3f</td><td class='num'>%.3f</td></tr>\n", g->hours, g->kept_hours);
    }
    fputs("</table>\n", f);
}

void report_keep_rates(FILE *f, sqlite3 *db)
{
    static const char *const kinds[] = {"channel", "domain"};
    group_row *rows = cm_xmalloc(GROUPS_SHOWN * sizeof *rows);
    fputs("<h2 id='keep'>Keep rates and hours by channel and domain</h2>\n<p>The current decisions of the clips"
          " of each group (<code>v_keep_rates</code>, <code>v_loss_reasons</code>); keep rate is kept / decided;"
          " hours are clip hours.</p>\n",
          f);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        reason_table reasons = {0};
        int n = 0, total = read_groups(db, kinds[k], rows, &n, &reasons);
        fprintf(f, "<h3>By %s</h3>\n", kinds[k]);
        if (total < 0) {
            fputs("<p>The keep rates could not be read (see the log).</p>\n", f);
            continue;
        }
        if (total == 0) {
            fputs("<p>No sources.</p>\n", f);
            continue;
        }
        if (total > n) fprintf(f, "<p>The %d %ss with the most clips, of %d.</p>\n", n, kinds[k], total);
        keep_rate_table(f, kinds[k], rows, n);
        /* Segments: kept, the reasons met, undecided; rows' undecided moved
         * to the slot after the last reason. */
        const char *names[STACK_SEGMENTS], *colours[STACK_SEGMENTS];
        int n_seg = 0;
        names[n_seg] = "kept";
        colours[n_seg++] = "#2ca02c";
        for (int i = 0; i < reasons.n; i++, n_seg++) {
            names[n_seg] = reasons.names[i];
            colours[n_seg] = reason_colour(reasons.names[i], i);
        }
        names[n_seg] = "undecided";
        colours[n_seg++] = "#c7c7c7";
        for (int i = 0; i < n; i++) rows[i].bar.seg[n_seg - 1] = (double)rows[i].undecided;
        stacked_bar *bars = cm_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *bars);
        for (int i = 0; i < n; i++) bars[i] = rows[i].bar;
        svg_stacked_bars(f, bars, n, names, colours, n_seg);
        free(bars);
    }
    free(rows);
}
