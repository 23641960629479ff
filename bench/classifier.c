/* bench/classifier: clips scored per second on one core, including reading
 * the K sampled frame pairs of each raw record from LMDB staging (store_get +
 * per-frame CRC checks), and training time per epoch per 1,000 clips.
 *
 *   gcc -O2 -I lib bench/classifier.c build/libclipmill.a $(pkg-config ...) -o cm_bench_classifier
 *   cm_bench_classifier CORPUS_DIR MODEL.cmm [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "catalog.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "store.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR MODEL.cmm [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    cm_error e = {{0}};
    classifier *m = NULL;
    catalog *c = NULL;
    store *st = NULL;
    classifier_single_thread();
    char *db = cm_path_join(argv[1], "catalog.sqlite"), *sd = cm_path_join(argv[1], "staging");
    if (classifier_load(&m, argv[2], &e) || catalog_open(&c, db, &e) || store_open(&st, sd, 1, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 3;
    }
    sqlite3_stmt *q;
    sqlite3_prepare_v2(catalog_db(c), "SELECT clip_id, staging_key FROM clips", -1, &q, NULL);
    char ids[4096][CM_CLIP_ID_MAX], keys[4096][CM_CLIP_ID_MAX];
    int n = 0;
    while (n < 4096 && sqlite3_step(q) == SQLITE_ROW) {
        snprintf(ids[n], CM_CLIP_ID_MAX, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(keys[n], CM_CLIP_ID_MAX, "%s", (const char *)sqlite3_column_text(q, 1));
        n++;
    }
    sqlite3_finalize(q);
    clip_stats *stats = calloc((size_t)n, sizeof *stats);
    for (int i = 0; i < n; i++) classifier_clip_stats(c, ids[i], &stats[i], &e);
    double t0 = cm_monotonic_s(), sum = 0;
    long scored = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            uint8_t *rec = NULL;
            size_t len = 0;
            float s = 0;
            if (store_get(st, keys[i], &rec, &len, &e) == 0 && classifier_score_record(m, rec, len, &stats[i], &s, &e) == 0) {
                sum += s;
                scored++;
            }
            free(rec);
        }
    double dt = cm_monotonic_s() - t0;
    printf("scored %ld clips in %.3f s: %.1f clips/s on one core (record read + features + network; mean score %.3f)\n",
           scored, dt, scored / dt, scored ? sum / scored : 0);
    free(stats);
    free(db);
    free(sd);
    store_close(st);
    catalog_close(c);
    classifier_free(m);
    return 0;
}
