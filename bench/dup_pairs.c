/* bench/dup_pairs: the temporal-signature distances between every two clips
 * of different sources of a catalog (docs/filter.md, "What a duplicate is"),
 * one line per pair: key distance, word distance, cell distance, whether the
 * copy test holds, and the two clips (url, clip index). Built and run by
 * bench/dup_pairs.sh; O(n^2): for footage-sized catalogs.
 *
 *   cm_bench_dup_pairs CATALOG */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsig.h"

typedef struct clip {
    char *url, *source;
    int index;
    clip_tsig *s;
} clip;

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CATALOG\n", argv[0]);
        return 2;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT s.url, c.source_id, c.clip_index, c.tsig FROM clips c JOIN sources s USING (source_id)"
                               " ORDER BY c.clip_id", -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    clip *c = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        clip_tsig *s = malloc(sizeof *s);
        if (clip_tsig_unpack(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), s) != 0 || s->words == 0) {
            free(s);
            continue;
        }
        if (n == cap) c = realloc(c, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *c);
        const char *url = (const char *)sqlite3_column_text(st, 0), *slash = strrchr(url, '/');
        c[n++] = (clip){strdup(slash ? slash + 1 : url), strdup((const char *)sqlite3_column_text(st, 1)),
                        sqlite3_column_int(st, 2), s};
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("key\tword\tcell\tcopy\ta\ta_clip\tb\tb_clip\n");
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (strcmp(c[i].source, c[j].source) == 0) continue;
            printf("%d\t%.3f\t%.3f\t%d\t%s\t%d\t%s\t%d\n", clip_tsig_key_distance(c[i].s, c[j].s),
                   clip_tsig_distance(c[i].s, c[j].s, 5), clip_tsig_cell_distance(c[i].s, c[j].s, 3),
                   clip_tsig_is_copy(c[i].s, c[j].s), c[i].url, c[i].index, c[j].url, c[j].index);
        }
    return 0;
}
