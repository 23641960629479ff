/* The losses part of clipmill-eval report (report_losses.c): what the
 * catalog's loss views (schema/007_loss_views.sql, docs/catalog.md "Losses")
 * say, as HTML. Read-only queries; every name from the catalog is escaped. */
#ifndef CLIPMILL_REPORT_LOSSES_H
#define CLIPMILL_REPORT_LOSSES_H

#include <stdio.h>

#include <sqlite3.h>

/* The page's "Losses" section (id 'losses'), meant for its top: one line per
 * row of v_loss_flags ("channel X: 0 of 40 kept, 40 low_score"; at most 50,
 * then how many more), or a line saying nothing was flagged or nothing is
 * decided yet. Returns the number of flagged groups, -1 when the query
 * failed (the section then says so). */
int report_loss_flags(FILE *f, sqlite3 *db);

/* The "Keep rates and hours" section (id 'keep'): per channel and per
 * domain, a table of the groups with the most clips (sources, clips, kept,
 * rejected, undecided, keep rate, rejections by reason, clip hours, kept
 * hours) and a stacked bar chart of
 * each group's clips: kept, each rejection reason, undecided. */
void report_keep_rates(FILE *f, sqlite3 *db);

#endif
