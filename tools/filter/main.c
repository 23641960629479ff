/* clipmill-filter: scores every clip of a corpus with a quality model and
 * decides keep / reject per clip (rule checks first, then the score against
 * the model's threshold). docs/filter.md describes the rules and figures.
 *
 *   clipmill-filter -C corpus --model models/default.cmm [--threshold T] [-j N] [--partition K/N]
 *
 * Scoring runs on N threads, each with its own model copy and LMDB read
 * transactions; scores are written to the catalog under one mutex in
 * transactions of BATCH clips, so a killed run keeps what it committed and a
 * rerun scores only the rest. Decisions are recomputed for every clip at the
 * end in one transaction (lib/decide.h: they are cheap and depend on all clips
 * through the duplicate rule), which makes a resumed run decide exactly like a
 * clean one. With --partition K/N the run is on the part corpus/parts/K-of-N
 * alone, a corpus of its own; clipmill-ingest merge folds the parts' scores
 * and decisions together and redoes the duplicate rule across them. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "classifier.h"
#include "decide.h"
#include "partition.h"
#include "progress.h"
#include "rules.h"
#include "store.h"
#include "util.h"

enum { EXIT_OK = 0, EXIT_PARTIAL = 1, EXIT_USAGE = 2, EXIT_FATAL = 3 };

static void usage(FILE *f)
{
    fprintf(f,
"usage: clipmill-filter [OPTIONS] --model FILE\n"
"\n"
"Gives every clip of DIR/catalog.sqlite a quality score (table scores, per\n"
"model) and a keep / reject decision with its reason (table decisions).\n"
"Rules on the clip statistics come first (black, dark, static, cuts,\n"
"letterbox, duplicate, in that order: the first failing one is the reason);\n"
"a clip that passes them is kept when its score >= the threshold. Clips the\n"
"model already scored are not scored again, so a rerun (or a run after a\n"
"crash) only does what is left.\n"
"\n"
"  -C, --corpus DIR          corpus directory (default .)\n"
"      --partition K/N       only part K of N, DIR/parts/K-of-N (made by clipmill-ingest\n"
"                            --partition K/N); in a Slurm array task K/N defaults to the\n"
"                            task's index and count. Decisions there see only that\n"
"                            part: clipmill-ingest merge folds the parts and redoes the\n"
"                            duplicate rule across them. --partition none: the corpus itself\n"
"  -m, --model FILE          quality model (e.g. models/default.cmm); registered in\n"
"                            the catalog's models table if it is not yet\n"
"  -t, --threshold T         keep when score >= T (default: the model's threshold)\n"
"  -j, --jobs N              scoring threads (default: number of cores)\n"
"      --rescore             score clips again even if this model scored them\n"
"      --static-max F        reject when static_frac >= F (default 0.9)\n"
"      --black-max F         reject when black_frac >= F (default 0.5)\n"
"      --luma-min L          reject when luma_mean < L (default 16)\n"
"      --cuts-max N          reject when hard cuts per 16 s >= N (default 4)\n"
"      --letterbox-max F     reject when bars cover > F of the height or width (default 0.10)\n"
"      --dup-distance D      reject when the pHash is within D bits of a clip of another\n"
"                            source that comes first in clip_id order and is not rejected\n"
"                            itself (default 4; -1 turns the rule off)\n"
"      --batch N             clips per score transaction (default 64)\n"
"      --json                print a JSON summary on stdout\n"
"  -q, --quiet               no progress line\n"
"  -h, --help                this help\n"
"  -V, --version             print the version\n"
"\n"
"Exit status: 0 ok; 1 partial (some clips could not be read or scored);\n"
"2 usage error; 3 fatal (catalog or model unusable).\n");
}

typedef struct filter_clip {
    char clip_id[CM_CLIP_ID_MAX];
    int store_no;
    char *key;
    clip_stats stats;
    int has_phash;
    double duration_s;
    int width, height;
    int scored;                 /* a score of this model exists */
    float score;
} filter_clip;

typedef struct filter_job {
    const char *model_path;
    catalog *cat;
    int64_t model_id, run_id;
    store **stores;                /* one per staging store (partition) named by the clips */
    filter_clip *clips;
    int *todo;                  /* indices into clips of those to score */
    int n_todo;
    int batch;                  /* clips per score transaction */
    long crash_after;           /* test hook: SIGKILL itself once this many are committed (0: never) */
    atomic_int next;
    pthread_mutex_t db_lock;    /* the catalog handle and writes */
    int fatal;                  /* a catalog write failed: stop (under db_lock) */
    cm_error fatal_error;
    atomic_long scored, failed;
    progress *prog;
} filter_job;

static int exec(sqlite3 *db, const char *sql, cm_error *e)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) return 0;
    cm_error_set(e, "catalog: %s: %s", sql, sqlite3_errmsg(db));
    return -1;
}

/* Writes n (clip index, score) pairs in one transaction. Called with db_lock held. */
static int write_scores(filter_job *j, const int *idx, const float *score, int n, cm_error *e)
{
    sqlite3 *db = catalog_db(j->cat);
    sqlite3_stmt *ins = NULL;
    int rc = -1, in_txn = 0;
    char now[32];
    cm_utc_now_iso(now);
    if (exec(db, "BEGIN IMMEDIATE", e) != 0) goto fail;
    in_txn = 1;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO scores (model_id, clip_id, score, scored_at, run_id)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ins, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(db));
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, j->model_id);
        sqlite3_bind_text(ins, 2, j->clips[idx[i]].clip_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 3, score[i]);
        sqlite3_bind_text(ins, 4, now, -1, SQLITE_STATIC);
        if (j->run_id > 0) sqlite3_bind_int64(ins, 5, j->run_id);
        else sqlite3_bind_null(ins, 5);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            cm_error_set(e, "catalog: writing score of %s: %s", j->clips[idx[i]].clip_id, sqlite3_errmsg(db));
            goto fail;
        }
    }
    if (exec(db, "COMMIT", e) != 0) goto fail;
    in_txn = 0;
    rc = 0;
fail:
    if (in_txn) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    return rc;
}

static int flush(filter_job *j, const int *idx, const float *score, int n)
{
    if (n == 0) return 0;
    pthread_mutex_lock(&j->db_lock);
    int rc = -1;
    if (!j->fatal) {
        cm_error e = {{0}};
        rc = write_scores(j, idx, score, n, &e);
        if (rc != 0) {
            j->fatal = 1;
            j->fatal_error = e;
        }
    }
    pthread_mutex_unlock(&j->db_lock);
    return rc;
}

static void *score_worker(void *arg)
{
    filter_job *j = arg;
    classifier *m = NULL;
    cm_error e = {{0}};
    int *idx = cm_xmalloc((size_t)j->batch * sizeof *idx);
    float *score = cm_xmalloc((size_t)j->batch * sizeof *score);
    int n = 0;
    if (classifier_load(&m, j->model_path, &e) != 0) {
        pthread_mutex_lock(&j->db_lock);
        if (!j->fatal) {
            j->fatal = 1;
            j->fatal_error = e;
        }
        pthread_mutex_unlock(&j->db_lock);
        goto done;
    }
    for (;;) {
        int t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_todo) break;
        filter_clip *c = &j->clips[j->todo[t]];
        uint8_t *rec = NULL;
        size_t len = 0;
        float s = 0;
        cm_error ce = {{0}};
        int got = store_get(j->stores[c->store_no], c->key, &rec, &len, &ce);
        if (got == 1) cm_error_set(&ce, "not in its staging store (key %s)", c->key);
        if (got != 0 || classifier_score_record(m, rec, len, &c->stats, &s, &ce) != 0) {
            progress_clear_line(j->prog);
            cm_log(CM_LOG_ERROR, "clip %s: %s", c->clip_id, ce.msg);
            atomic_fetch_add(&j->failed, 1);
            free(rec);
            progress_add(j->prog, 0, 0, 0, 1);
            continue;
        }
        free(rec);
        c->score = s;
        c->scored = 1;
        idx[n] = j->todo[t];
        score[n++] = s;
        if (n == j->batch) {
            if (flush(j, idx, score, n) != 0) break;
            long done = atomic_fetch_add(&j->scored, n) + n;
            if (j->crash_after > 0 && done >= j->crash_after) raise(SIGKILL);
            n = 0;
        }
        progress_add(j->prog, 0, 1, c->duration_s, 1);
    }
    if (n > 0 && flush(j, idx, score, n) == 0) atomic_fetch_add(&j->scored, n);
done:
    classifier_free(m);
    free(idx);
    free(score);
    return NULL;
}

/* Reads every clip with its score by model_id, and opens the staging stores
 * they name. */
static int list_clips(filter_job *j, const char *corpus, char ***store_names, int *n_stores, int *n_clips, cm_error *e)
{
    sqlite3 *db = catalog_db(j->cat);
    sqlite3_stmt *sel = NULL;
    int rc = -1, cap = 0, n = 0, step;
    if (sqlite3_prepare_v2(db,
            "SELECT c.clip_id, coalesce(c.staging, 'staging'), c.staging_key, " CATALOG_CLIP_STATS_COLUMNS("c.") ","
            " coalesce(c.duration_s, c.frames / nullif(c.fps, 0), 0), c.width, c.height, sc.score"
            " FROM clips AS c LEFT JOIN scores AS sc ON sc.model_id = ?1 AND sc.clip_id = c.clip_id"
            " ORDER BY c.clip_id",
            -1, &sel, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: listing clips: %s", sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_bind_int64(sel, 1, j->model_id);
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            j->clips = cm_xrealloc(j->clips, (size_t)cap * sizeof *j->clips);
        }
        filter_clip *c = &j->clips[n];
        memset(c, 0, sizeof *c);
        snprintf(c->clip_id, sizeof c->clip_id, "%s", (const char *)sqlite3_column_text(sel, 0));
        const char *sname = (const char *)sqlite3_column_text(sel, 1);
        int k;
        for (k = 0; k < *n_stores && strcmp((*store_names)[k], sname) != 0; k++) {
        }
        if (k == *n_stores) {
            j->stores = cm_xrealloc(j->stores, (size_t)(k + 1) * sizeof *j->stores);
            *store_names = cm_xrealloc(*store_names, (size_t)(k + 1) * sizeof **store_names);
            char *dir = cm_path_join(corpus, sname);
            int orc = store_open(&j->stores[k], dir, 1, e);
            free(dir);
            if (orc != 0) {
                n++;
                goto fail;
            }
            (*store_names)[(*n_stores)++] = cm_xstrdup(sname);
        }
        c->store_no = k;
        c->key = cm_xstrdup((const char *)sqlite3_column_text(sel, 2));
        /* With the activity statistics: the classifier reads them. */
        catalog_clip_stats_from_row(sel, 3, &c->stats, &c->has_phash);
        const int col = 3 + CATALOG_CLIP_STATS_NCOLUMNS;
        c->duration_s = sqlite3_column_double(sel, col);
        c->width = sqlite3_column_int(sel, col + 1);
        c->height = sqlite3_column_int(sel, col + 2);
        c->scored = sqlite3_column_type(sel, col + 3) != SQLITE_NULL;
        c->score = (float)sqlite3_column_double(sel, col + 3);
        n++;
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "catalog: listing clips: %s", sqlite3_errmsg(db));
        goto fail;
    }
    rc = 0;
fail:
    *n_clips = n;
    sqlite3_finalize(sel);
    return rc;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "clipmill-filter: bad %s '%s'\nTry 'clipmill-filter --help'.\n", what, arg);
    return EXIT_USAGE;
}

/* The model's name for the models table: the file name without directory and ".cmm". */
static char *model_name(const char *path)
{
    const char *b = strrchr(path, '/');
    char *name = cm_xstrdup(b ? b + 1 : path);
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".cmm") == 0) name[n - 4] = '\0';
    return name;
}

enum { OPT_JSON = 256, OPT_BATCH, OPT_RESCORE, OPT_STATIC, OPT_BLACK, OPT_LUMA, OPT_CUTS, OPT_LETTERBOX, OPT_DUP,
       OPT_PARTITION };

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-filter");
    const char *corpus = ".", *model_path = NULL, *partition_arg = NULL;
    double threshold_opt = -1, dv;
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), batch = 64, json = 0, quiet = 0, rescore = 0;
    rules_config rcfg;
    rules_config_default(&rcfg);
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, 'C'}, {"model", required_argument, NULL, 'm'},
        {"threshold", required_argument, NULL, 't'}, {"jobs", required_argument, NULL, 'j'},
        {"rescore", no_argument, NULL, OPT_RESCORE}, {"static-max", required_argument, NULL, OPT_STATIC},
        {"black-max", required_argument, NULL, OPT_BLACK}, {"luma-min", required_argument, NULL, OPT_LUMA},
        {"cuts-max", required_argument, NULL, OPT_CUTS}, {"letterbox-max", required_argument, NULL, OPT_LETTERBOX},
        {"dup-distance", required_argument, NULL, OPT_DUP}, {"json", no_argument, NULL, OPT_JSON},
        {"batch", required_argument, NULL, OPT_BATCH}, {"partition", required_argument, NULL, OPT_PARTITION},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "C:m:t:j:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'C': corpus = optarg; break;
        case OPT_PARTITION: partition_arg = optarg; break;
        case 'm': model_path = optarg; break;
        case 't':
            if (parse_double(optarg, 0, 1, &threshold_opt) != 0) return bad_usage("--threshold (0..1)", optarg);
            break;
        case 'j':
            if (parse_double(optarg, 1, 256, &dv) != 0 || dv != (int)dv) return bad_usage("--jobs", optarg);
            jobs = (int)dv;
            break;
        case OPT_RESCORE: rescore = 1; break;
        case OPT_STATIC:
            if (parse_double(optarg, 0, 1.01, &rcfg.static_frac_max) != 0) return bad_usage("--static-max", optarg);
            break;
        case OPT_BLACK:
            if (parse_double(optarg, 0, 1.01, &rcfg.black_frac_max) != 0) return bad_usage("--black-max", optarg);
            break;
        case OPT_LUMA:
            if (parse_double(optarg, 0, 255, &rcfg.luma_min) != 0) return bad_usage("--luma-min", optarg);
            break;
        case OPT_CUTS:
            if (parse_double(optarg, 1, 1e6, &rcfg.cuts_per_16s_max) != 0) return bad_usage("--cuts-max", optarg);
            break;
        case OPT_LETTERBOX:
            if (parse_double(optarg, 0, 1, &rcfg.letterbox_frac_max) != 0) return bad_usage("--letterbox-max", optarg);
            break;
        case OPT_DUP:
            if (parse_double(optarg, -1, 63, &dv) != 0 || dv != (int)dv) return bad_usage("--dup-distance", optarg);
            rcfg.phash_distance_max = (int)dv;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_BATCH:
            if (parse_double(optarg, 1, 100000, &dv) != 0 || dv != (int)dv) return bad_usage("--batch", optarg);
            batch = (int)dv;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': printf("clipmill-filter %s\n", CLIPMILL_VERSION); return EXIT_OK;
        default: fprintf(stderr, "Try 'clipmill-filter --help'.\n"); return EXIT_USAGE;
        }
    }
    if (optind < argc) return bad_usage("argument", argv[optind]);
    if (!model_path) {
        fprintf(stderr, "clipmill-filter: --model FILE is required\nTry 'clipmill-filter --help'.\n");
        return EXIT_USAGE;
    }
    if (jobs < 1) jobs = 1;
    /* The same rules, and the same error lines, as clipmill-ingest's. */
    partition part;
    cm_error pe = {{0}};
    int parted = partition_resolve(partition_arg, &part, &pe);
    if (parted < 0) {
        fprintf(stderr, "clipmill-filter: %s\n", pe.msg);
        return EXIT_USAGE;
    }
    char *part_corpus = NULL;
    if (parted) {
        char dir[64];
        partition_dir(&part, dir, sizeof dir);
        corpus = part_corpus = cm_path_join(corpus, dir);
    }
    classifier_single_thread();

    cm_error e = {{0}};
    catalog *cat = NULL;
    classifier *m = NULL;
    filter_job j = {.model_path = model_path, .batch = batch};
    /* Crash injection for tests/e2e/filter_*.sh: a kill at a known point. */
    const char *crash = getenv("CLIPMILL_FILTER_CRASH_AFTER");
    if (crash) j.crash_after = strtol(crash, NULL, 10);
    char **store_names = NULL;
    int n_stores = 0, n_clips = 0, rc = EXIT_FATAL;
    int64_t run_id = 0;
    double t0 = cm_monotonic_s();
    pthread_mutex_init(&j.db_lock, NULL);

    char *cat_path = cm_path_join(corpus, "catalog.sqlite");
    if (access(cat_path, F_OK) != 0) {
        cm_log(CM_LOG_ERROR, "%s: no catalog (run clipmill-ingest first)", cat_path);
        free(cat_path);
        goto done;
    }
    int orc = catalog_open(&cat, cat_path, &e);
    free(cat_path);
    if (orc != 0) goto fail;
    j.cat = cat;
    if (classifier_load(&m, model_path, &e) != 0) goto fail;
    char *args = cm_join_args(argc - 1, argv + 1);
    if (catalog_run_begin(cat, "clipmill-filter", args, &run_id, &e) != 0) goto fail_args;
    free(args);
    j.run_id = run_id;
    int found = classifier_find_model(cat, m, &j.model_id, &e);
    if (found < 0) goto fail;
    if (found == 1) {
        char *name = model_name(model_path);
        int reg = classifier_register(cat, m, name, model_path, "{}", "{}", 0, run_id, &j.model_id, &e);
        free(name);
        if (reg != 0) goto fail;
    }
    const float threshold = threshold_opt >= 0 ? (float)threshold_opt : classifier_get_info(m)->threshold;

    if (list_clips(&j, corpus, &store_names, &n_stores, &n_clips, &e) != 0) goto fail;
    j.todo = cm_xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *j.todo);
    for (int i = 0; i < n_clips; i++)
        if (rescore || !j.clips[i].scored) j.todo[j.n_todo++] = i;
    const int64_t skipped = n_clips - j.n_todo;
    if (jobs > j.n_todo) jobs = j.n_todo > 0 ? j.n_todo : 1;
    j.prog = progress_new("filter", quiet ? PROGRESS_QUIET : PROGRESS_AUTO, 0, j.n_todo, 2.0);
    pthread_t *th = cm_xcalloc((size_t)jobs, sizeof *th);
    int started = 0;
    for (int i = 0; i < jobs && j.n_todo > 0; i++)
        if (pthread_create(&th[i], NULL, score_worker, &j) == 0) started++;
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    progress_finish(j.prog);
    if (j.n_todo > 0 && started == 0) {
        cm_error_set(&e, "cannot start scoring threads");
        goto fail;
    }
    if (j.fatal) {
        e = j.fatal_error;
        goto fail;
    }
    decide_rules dr = {.threshold = threshold, .rules = rcfg};
    snprintf(dr.model_sha256, sizeof dr.model_sha256, "%s", classifier_get_info(m)->sha256);
    cm_utc_now_iso(dr.decided_at);
    decide_counts dc;
    if (decide_clips(cat, j.model_id, &dr, run_id, &dc, &e) != 0) goto fail;
    const double seconds = cm_monotonic_s() - t0;
    const long scored = atomic_load(&j.scored), failed = atomic_load(&j.failed);
    rc = failed ? EXIT_PARTIAL : EXIT_OK;
    if (!quiet) {
        fprintf(stderr,
                "clipmill-filter: %d clips: %ld scored, %lld already scored, %ld failed; %lld kept, %lld rejected "
                "(threshold %.4f, model_id %lld), %lld decisions changed, %.1f s\n",
                n_clips, scored, (long long)skipped, failed, (long long)dc.kept, (long long)dc.rejected,
                threshold, (long long)j.model_id, (long long)dc.changed, seconds);
    }
    if (json) {
        printf("{\"model_id\":%lld,\"threshold\":%.6g,\"clips\":%d,\"scored\":%ld,\"skipped\":%lld,\"failed\":%ld,"
               "\"kept\":%lld,\"rejected\":%lld,\"undecided\":%lld,\"changed\":%lld,\"reasons\":{",
               (long long)j.model_id, threshold, n_clips, scored, (long long)skipped, failed, (long long)dc.kept,
               (long long)dc.rejected, (long long)dc.undecided, (long long)dc.changed);
        for (int r = 0; r <= RULES_COUNT; r++)
            printf("%s\"%s\":%lld", r ? "," : "", r < RULES_COUNT ? rules_reason(1u << r) : "low_score",
                   (long long)dc.by_reason[r]);
        printf("},\"seconds\":%.3f}\n", seconds);
    }
    goto done;
fail_args:
    free(args);
fail:
    cm_log(CM_LOG_ERROR, "%s", e.msg);
    rc = EXIT_FATAL;
done:
    if (cat && run_id > 0) {
        run_counts counts = {0};
        cm_error ee = {{0}};
        catalog_run_end(cat, run_id, &counts, rc, &ee);
    }
    for (int i = 0; i < n_clips; i++) free(j.clips[i].key);
    free(j.clips);
    free(j.todo);
    for (int i = 0; i < n_stores; i++) {
        store_close(j.stores[i]);
        free(store_names[i]);
    }
    free(j.stores);
    free(store_names);
    classifier_free(m);
    catalog_close(cat);
    pthread_mutex_destroy(&j.db_lock);
    free(part_corpus);
    return rc;
}
