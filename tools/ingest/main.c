/* clipmill-ingest: manifest of videos -> staged 16 s clips at 10 FPS, 160x90,
 * with statistics, recorded in the corpus catalog.
 *
 *   clipmill-ingest -C corpus/ manifest.jsonl
 *   clipmill-ingest export -C corpus/ CLIP_ID --mp4 clip.mp4 --png sheet.png
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "corpus.h"
#include "clip_record.h"
#include "export.h"
#include "ingest.h"
#include "partition.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: clipmill-ingest [OPTIONS] MANIFEST\n"
"       clipmill-ingest export [-C DIR] CLIP_ID [--raw FILE] [--mp4 FILE] [--png FILE]\n"
"       clipmill-ingest merge [-C DIR] [--json]   (see clipmill-ingest merge --help)\n"
"\n"
"Decodes the videos a manifest lists into fixed-size clips, stages them in\n"
"DIR/staging (LMDB) and records sources, clips and statistics in\n"
"DIR/catalog.sqlite. MANIFEST is JSON Lines ({\"url\": ..., \"title\": ...,\n"
"\"description\": ..., \"channel\": ..., \"domain\": ..., \"license\": ...}) or one\n"
"path per line. Running it again adds nothing new and retries failed sources.\n"
"\n"
"  -C, --corpus DIR        corpus directory (default .)\n"
"  -j, --jobs N            sources decoded at once (default: number of cores)\n"
"      --partition K/N     only the sources of partition K of N (a hash of the source\n"
"                          id), into DIR/parts/K-of-N; in a Slurm array task K/N\n"
"                          defaults to the task's index and count. Merge the parts\n"
"                          with clipmill-ingest merge. --partition none: not partitioned\n"
"      --keywords FILE     keyword rules for platformer sources (default: built in)\n"
"      --no-keyword-filter keep every source regardless of its title\n"
"      --fps N[/D]         output frame rate (default 10)\n"
"      --size WxH          output frame size (default 160x90)\n"
"      --clip-seconds N    clip length in seconds (default 16)\n"
"      --fit crop|pad      sources of another aspect ratio: centre crop (default) or pad\n"
"      --codec raw|h264    staged clip payload (default raw)\n"
"      --crf N             h264 quality, lower is better (default 12)\n"
"      --max-attempts N    give up on a source after N failed attempts (default 3)\n"
"      --downloads N       http(s) transfers at once (default 8)\n"
"      --per-host N        transfers at once to one host (default 4)\n"
"      --max-bytes SIZE    refuse downloads larger than SIZE (e.g. 2G; default no limit)\n"
"      --max-disk SIZE     pause downloading while SIZE of downloads wait to be decoded\n"
"      --keep-downloads    keep downloaded files in DIR/downloads after ingesting them\n"
"      --download-only     only download (and hash, and check for duplicates) the http(s)\n"
"                          sources into DIR/downloads; a later run decodes them from there\n"
"      --connect-timeout S seconds to connect (default 30)\n"
"      --stall-timeout S   abort a transfer slower than 1 KB/s for S seconds (default 30)\n"
"      --yt-dlp PATH       yt-dlp for video web pages (default: yt-dlp on PATH)\n"
"      --skip-loop-filter none|nonref|all  skip H.264 deblocking on no frames, on\n"
"                          non-reference frames (default: no drift, >= 56 dB against full\n"
"                          decoding), or on all frames (fastest; worst frames ~35 dB)\n"
"      --full-decode       decode every frame with deblocking (slower; for checks)\n"
"  -q, --quiet             no progress output\n"
"      --progress MODE     auto, tty or plain (default auto)\n"
"      --progress-interval S  seconds between plain progress lines (default 10)\n"
"      --json              print a JSON summary of the run on stdout\n"
"  -v, --verbose           more log output\n"
"  -h, --help              this help\n"
"  -V, --version           print the version\n"
"\n"
"export options:\n"
"      --raw FILE          raw RGB24 frames (T,H,W,3)\n"
"      --mp4 FILE          H.264 MP4, upscaled by --scale (default 4)\n"
"      --png FILE          contact sheet of every --step'th frame (default 10), --cols per row (default 8)\n"
"\n"
"Exit status: 0 all sources done or rejected by the rules; 1 some sources or\n"
"manifest lines failed (see the catalog's v_failures view); 2 usage error;\n"
"3 fatal (catalog, staging or manifest unusable).\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* "1500", "64K", "2M", "1.5G" (powers of 1024) -> bytes; -1 when malformed. */
static int64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024.0; end++; break;
    case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return -1;
    return (int64_t)(v * mult);
}

enum {
    OPT_KEYWORDS = 256, OPT_NO_KEYWORD_FILTER, OPT_FPS, OPT_SIZE, OPT_CLIP_SECONDS, OPT_FIT, OPT_CODEC,
    OPT_CRF, OPT_MAX_ATTEMPTS, OPT_FULL_DECODE, OPT_SKIP_LOOP_FILTER, OPT_PROGRESS, OPT_PROGRESS_INTERVAL, OPT_JSON,
    OPT_RAW, OPT_MP4, OPT_PNG, OPT_SCALE, OPT_STEP, OPT_COLS,
    OPT_DOWNLOADS, OPT_PER_HOST, OPT_MAX_BYTES, OPT_MAX_DISK, OPT_KEEP_DOWNLOADS, OPT_CONNECT_TIMEOUT,
    OPT_STALL_TIMEOUT, OPT_YTDLP, OPT_DOWNLOAD_ONLY, OPT_PARTITION,
};

static const struct option long_options[] = {
    {"corpus", required_argument, 0, 'C'},
    {"jobs", required_argument, 0, 'j'},
    {"keywords", required_argument, 0, OPT_KEYWORDS},
    {"no-keyword-filter", no_argument, 0, OPT_NO_KEYWORD_FILTER},
    {"fps", required_argument, 0, OPT_FPS},
    {"size", required_argument, 0, OPT_SIZE},
    {"clip-seconds", required_argument, 0, OPT_CLIP_SECONDS},
    {"fit", required_argument, 0, OPT_FIT},
    {"codec", required_argument, 0, OPT_CODEC},
    {"crf", required_argument, 0, OPT_CRF},
    {"max-attempts", required_argument, 0, OPT_MAX_ATTEMPTS},
    {"full-decode", no_argument, 0, OPT_FULL_DECODE},
    {"skip-loop-filter", required_argument, 0, OPT_SKIP_LOOP_FILTER},
    {"quiet", no_argument, 0, 'q'},
    {"progress", required_argument, 0, OPT_PROGRESS},
    {"progress-interval", required_argument, 0, OPT_PROGRESS_INTERVAL},
    {"json", no_argument, 0, OPT_JSON},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {"raw", required_argument, 0, OPT_RAW},
    {"mp4", required_argument, 0, OPT_MP4},
    {"png", required_argument, 0, OPT_PNG},
    {"scale", required_argument, 0, OPT_SCALE},
    {"step", required_argument, 0, OPT_STEP},
    {"cols", required_argument, 0, OPT_COLS},
    {"downloads", required_argument, 0, OPT_DOWNLOADS},
    {"per-host", required_argument, 0, OPT_PER_HOST},
    {"max-bytes", required_argument, 0, OPT_MAX_BYTES},
    {"max-disk", required_argument, 0, OPT_MAX_DISK},
    {"keep-downloads", no_argument, 0, OPT_KEEP_DOWNLOADS},
    {"download-only", no_argument, 0, OPT_DOWNLOAD_ONLY},
    {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
    {"stall-timeout", required_argument, 0, OPT_STALL_TIMEOUT},
    {"yt-dlp", required_argument, 0, OPT_YTDLP},
    {"partition", required_argument, 0, OPT_PARTITION},
    {0, 0, 0, 0},
};

typedef struct export_args {
    const char *raw, *mp4, *png;
    int scale, step, cols;
} export_args;

/* Reads a clip's frames (corpus_clip_frames) and writes the files asked
 * for. Returns an exit code. */
static int run_export(const char *dir, const char *clip_id, const export_args *x)
{
    cm_error e = {{0}};
    corpus *cp = NULL;
    uint8_t *frames = NULL;
    clip_header h;
    int rc = CM_EXIT_FATAL;

    if (corpus_open(&cp, dir, CORPUS_EXISTING, &e) != 0) goto fail;
    int got = corpus_clip_frames(cp, clip_id, &h, &frames, &e);
    if (got == CORPUS_NOT_FOUND) rc = CM_EXIT_PARTIAL;
    if (got != 0) goto fail;
    if (x->raw && clip_export_raw(frames, (int)h.frames, h.height, h.width, x->raw, &e) != 0) goto fail;
    if (x->mp4 && clip_export_mp4(frames, (int)h.frames, h.height, h.width, (int)h.fps_num, (int)h.fps_den,
                                  x->scale, x->mp4, &e) != 0)
        goto fail;
    if (x->png && clip_export_png_sheet(frames, (int)h.frames, h.height, h.width, x->step, x->cols, x->png, &e) != 0)
        goto fail;
    printf("%s: %u frames %ux%u at %u/%u fps, %s, %zu bytes\n", clip_id, h.frames, h.width, h.height, h.fps_num,
           h.fps_den, clip_codec_name((clip_codec)h.codec), (size_t)(CLIP_RECORD_HEADER_SIZE + h.payload_size));
    rc = CM_EXIT_OK;
    goto done;
fail:
    cm_log(CM_LOG_ERROR, "%s", e.msg);
done:
    free(frames);
    corpus_close(cp);
    return rc;
}

/* --partition K/N, or the Slurm array task's, or none: a partitioned run
 * works in DIR/parts/K-of-N, a corpus of its own (*part_corpus, freed by the
 * caller). Returns an exit code. */
static int apply_partition(ingest_options *o, const char *arg, char **part_corpus)
{
    partition p = {0, 0};
    cm_error e = {{0}};
    int got = partition_resolve(arg, &p, &e);
    if (got < 0) {
        fprintf(stderr, "clipmill-ingest: %s\n", e.msg);
        return CM_EXIT_USAGE;
    }
    if (got == 0) return CM_EXIT_OK;
    char dir[64];
    partition_dir(&p, dir, sizeof dir);
    *part_corpus = cm_path_join(o->corpus_dir, dir);
    o->corpus_dir = *part_corpus;
    o->partition_index = p.index;
    o->partition_count = p.count;
    return CM_EXIT_OK;
}

int merge_main(int argc, char **argv); /* ingest/merge.c */

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-ingest");
    /* FFmpeg's own messages would repeat, in its words, what the one error
     * line per source already says; -v brings its warnings back. */
    av_log_set_level(AV_LOG_QUIET);
    ingest_options o;
    ingest_options_default(&o);
    export_args x = {.scale = 4, .step = 10, .cols = 8};
    int json = 0, is_export = 0;
    char *args = cm_join_args(argc, argv);
    o.args = args;

    if (argc > 1 && strcmp(argv[1], "merge") == 0) {
        free(args);
        return merge_main(argc - 1, argv + 1);
    }
    const char *partition_arg = NULL;
    if (argc > 1 && strcmp(argv[1], "export") == 0) {
        is_export = 1;
        argv++;
        argc--;
    }
    int c;
    while ((c = getopt_long(argc, argv, "C:j:qvhV", long_options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'C': o.corpus_dir = optarg; break;
        case 'j': bad = parse_int(optarg, 1, 1024, &o.jobs); break;
        case OPT_KEYWORDS: o.keywords_path = optarg; break;
        case OPT_NO_KEYWORD_FILTER: o.keyword_filter = 0; break;
        case OPT_FPS: {
            int num = 0, den = 1;
            char *slash = strchr(optarg, '/');
            if (slash) {
                *slash = '\0';
                bad = parse_int(slash + 1, 1, 1000000, &den);
            }
            bad = bad || parse_int(optarg, 1, 1000000, &num);
            if (slash) *slash = '/';
            o.decode.fps_num = num;
            o.decode.fps_den = den;
            break;
        }
        case OPT_SIZE: {
            int w = 0, h = 0;
            char extra;
            if (sscanf(optarg, "%dx%d%c", &w, &h, &extra) != 2 || w < 8 || h < 8 || w > 4096 || h > 4096 ||
                (w & 1) || (h & 1)) {
                fprintf(stderr, "clipmill-ingest: --size wants WxH, even numbers from 8 to 4096: %s\n", optarg);
                free(args);
                return CM_EXIT_USAGE;
            }
            o.decode.out_w = w;
            o.decode.out_h = h;
            break;
        }
        case OPT_CLIP_SECONDS: bad = parse_int(optarg, 1, 3600, &o.clip_seconds); break;
        case OPT_FIT:
            if (strcmp(optarg, "crop") == 0) o.decode.fit = FIT_CROP;
            else if (strcmp(optarg, "pad") == 0) o.decode.fit = FIT_PAD;
            else bad = 1;
            break;
        case OPT_CODEC: bad = clip_codec_parse(optarg, &o.encode.codec) != 0; break;
        case OPT_CRF: bad = parse_int(optarg, 0, 51, &o.encode.crf); break;
        case OPT_MAX_ATTEMPTS: bad = parse_int(optarg, 1, 1000000, &o.max_attempts); break;
        case OPT_FULL_DECODE: o.decode.skip_nonref = 0; o.decode.skip_loop_filter = 0; break;
        case OPT_SKIP_LOOP_FILTER:
            if (strcmp(optarg, "none") == 0) o.decode.skip_loop_filter = 0;
            else if (strcmp(optarg, "nonref") == 0) o.decode.skip_loop_filter = 1;
            else if (strcmp(optarg, "all") == 0) o.decode.skip_loop_filter = 2;
            else bad = 1;
            break;
        case 'q': o.progress = PROGRESS_QUIET; break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") == 0) o.progress = PROGRESS_AUTO;
            else if (strcmp(optarg, "tty") == 0) o.progress = PROGRESS_TTY;
            else if (strcmp(optarg, "plain") == 0) o.progress = PROGRESS_PLAIN;
            else bad = 1;
            break;
        case OPT_PROGRESS_INTERVAL: {
            char *end;
            o.progress_interval_s = strtod(optarg, &end);
            bad = end == optarg || *end || o.progress_interval_s <= 0;
            break;
        }
        case OPT_JSON: json = 1; break;
        case 'v':
            cm_log_set_level(CM_LOG_DEBUG);
            av_log_set_level(AV_LOG_WARNING);
            break;
        case 'h': usage(stdout); free(args); return 0;
        case 'V': printf("clipmill-ingest %s\n", CLIPMILL_VERSION); free(args); return 0;
        case OPT_RAW: x.raw = optarg; break;
        case OPT_MP4: x.mp4 = optarg; break;
        case OPT_PNG: x.png = optarg; break;
        case OPT_SCALE: bad = parse_int(optarg, 1, 16, &x.scale); break;
        case OPT_STEP: bad = parse_int(optarg, 1, 100000, &x.step); break;
        case OPT_COLS: bad = parse_int(optarg, 1, 1000, &x.cols); break;
        case OPT_DOWNLOADS: bad = parse_int(optarg, 1, 1024, &o.download.max_parallel); break;
        case OPT_PER_HOST: bad = parse_int(optarg, 1, 1024, &o.download.max_per_host); break;
        case OPT_MAX_BYTES: bad = (o.download.max_bytes = parse_size(optarg)) < 0; break;
        case OPT_MAX_DISK: bad = (o.download.max_disk_bytes = parse_size(optarg)) < 0; break;
        case OPT_KEEP_DOWNLOADS: o.keep_downloads = 1; break;
        case OPT_DOWNLOAD_ONLY: o.download_only = o.keep_downloads = 1; break;
        case OPT_CONNECT_TIMEOUT: {
            int v = 0;
            bad = parse_int(optarg, 1, 3600, &v);
            o.download.connect_timeout_s = v;
            break;
        }
        case OPT_STALL_TIMEOUT: {
            int v = 0;
            bad = parse_int(optarg, 1, 3600, &v);
            o.download.low_speed_time_s = v;
            break;
        }
        case OPT_YTDLP: o.download.ytdlp_path = optarg; break;
        case OPT_PARTITION: partition_arg = optarg; break;
        default: usage(stderr); free(args); return CM_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "clipmill-ingest: bad value for option: %s\n", optarg ? optarg : "");
            free(args);
            return CM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "clipmill-ingest: expected exactly one %s (try --help)\n", is_export ? "CLIP_ID" : "MANIFEST");
        free(args);
        return CM_EXIT_USAGE;
    }
    int rc;
    if (is_export) {
        if (!x.raw && !x.mp4 && !x.png) {
            fprintf(stderr, "clipmill-ingest: export needs at least one of --raw, --mp4, --png\n");
            rc = CM_EXIT_USAGE;
        } else {
            rc = run_export(o.corpus_dir, argv[optind], &x);
        }
    } else {
        char *part_corpus = NULL;
        rc = apply_partition(&o, partition_arg, &part_corpus);
        if (rc == CM_EXIT_OK) {
            ingest_summary s;
            rc = ingest_run(&o, argv[optind], &s);
            if (json) ingest_summary_print_json(&s, stdout);
        }
        free(part_corpus);
    }
    free(args);
    return rc;
}
