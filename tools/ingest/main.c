/* clipmill-ingest: manifests of videos, or videos and frame folders named
 * directly -> staged 16 s clips at 10 FPS, 160x90, with statistics,
 * recorded in the corpus catalog.
 *
 *   clipmill-ingest -C corpus/ manifest.jsonl
 *   clipmill-ingest -C corpus/ video.mp4 frames/ more.txt
 *   clipmill-ingest export -C corpus/ CLIP_ID --mp4 clip.mp4 --png sheet.png
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "cli.h"
#include "corpus.h"
#include "clip_record.h"
#include "clip_actions.h"
#include "export.h"
#include "ingest.h"
#include "partition.h"
#include "stop.h"
#include "util.h"

#define INGEST_EXIT_STATUS \
    "Exit status: 0 all sources done or rejected by the rules; 1 some sources or\n" \
    "manifest lines failed (see the catalog's v_failures view); 2 usage error\n" \
    "(also an argument that is neither a manifest nor a video: nothing is\n" \
    "written); 3 fatal (catalog, staging or an argument unusable).\n"

/* -v: debug log lines, and FFmpeg's warnings back. */
static int set_verbose(const cm_option *opt, const char *value, cm_error *e)
{
    (void)opt, (void)value, (void)e;
    cm_log_set_level(CM_LOG_DEBUG);
    av_log_set_level(AV_LOG_WARNING);
    return 0;
}

typedef struct export_args {
    const char *raw, *mp4, *png, *actions;
    int scale, step, cols;
} export_args;

/* Writes a clip's actions as TSV (a clip without actions is an error). */
static int export_actions(corpus *cp, const char *clip_id, const char *path, cm_error *e)
{
    uint8_t *rec = NULL;
    size_t len = 0, block_len = 0;
    const uint8_t *block = NULL;
    actions_view v;
    int rc = -1;
    if (corpus_clip_record(cp, clip_id, &rec, &len, e) != 0) goto fail;
    if (clip_record_actions(rec, len, &block, &block_len, e) != 0) goto fail;
    if (!block) {
        cm_error_set(e, "%s: the clip has no actions (its manifest line named no action log)", clip_id);
        goto fail;
    }
    if (actions_view_parse(block, block_len, &v, e) != 0) goto fail;
    clip_actions a;
    actions_view_copy(&v, &a);
    rc = clip_export_actions_tsv(&a, path, e);
    clip_actions_free(&a);
fail:
    free(rec);
    return rc;
}

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
    if (x->actions && export_actions(cp, clip_id, x->actions, &e) != 0) goto fail;
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
        char clean[4 * CM_ERROR_MAX];
        fprintf(stderr, "clipmill-ingest: %s\n", cm_clean(e.msg, clean, sizeof clean));
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

/* --fps N[/D] into the decode options at dest. */
static int parse_fps(const cm_option *opt, const char *value, cm_error *e)
{
    decode_options *d = opt->dest;
    int num = 0, den = 1, n = 0;
    if (!((sscanf(value, "%d/%d%n", &num, &den, &n) == 2 || sscanf(value, "%d%n", &num, &n) == 1) &&
          value[n] == '\0' && num >= 1 && num <= 1000000 && den >= 1 && den <= 1000000))
        return cm_bad_value("--fps", value, "N or N/D, from 1 to 1000000", e);
    d->fps_num = num;
    d->fps_den = den;
    return 0;
}

/* --size WxH into the decode options at dest. */
static int parse_frame_size(const cm_option *opt, const char *value, cm_error *e)
{
    decode_options *d = opt->dest;
    int w = 0, h = 0;
    char extra;
    if (sscanf(value, "%dx%d%c", &w, &h, &extra) != 2 || w < 8 || h < 8 || w > 4096 || h > 4096 || (w & 1) ||
        (h & 1))
        return cm_bad_value("--size", value, "WxH, even numbers from 8 to 4096", e);
    d->out_w = w;
    d->out_h = h;
    return 0;
}

/* --full-decode: every frame, with deblocking. */
static int set_full_decode(const cm_option *opt, const char *value, cm_error *e)
{
    (void)value, (void)e;
    decode_options *d = opt->dest;
    d->skip_nonref = 0;
    d->skip_loop_filter = 0;
    return 0;
}

/* --download-only: download and keep, decode nothing. */
static int set_download_only(const cm_option *opt, const char *value, cm_error *e)
{
    (void)value, (void)e;
    ingest_options *o = opt->dest;
    o->download_only = o->keep_downloads = 1;
    return 0;
}

/* -q: no progress output. */
static int set_quiet(const cm_option *opt, const char *value, cm_error *e)
{
    (void)value, (void)e;
    *(progress_mode *)opt->dest = PROGRESS_QUIET;
    return 0;
}

/* --progress auto|tty|plain (progress_mode's first three values, in order). */
static int parse_progress(const cm_option *opt, const char *value, cm_error *e)
{
    int mode;
    if (cm_parse_choice("--progress", value, "auto|tty|plain", &mode, e) != 0) return -1;
    *(progress_mode *)opt->dest = (progress_mode)mode;
    return 0;
}

/* clipmill-ingest export [-C DIR] CLIP_ID [--raw FILE] [--mp4 FILE] [--png FILE] [--actions FILE] */
static int export_main(int argc, char **argv)
{
    const char *dir = ".";
    export_args x = {.scale = 4, .step = 10, .cols = 8};
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &dir, "corpus directory (default .)"),
        CM_STRING("raw", 0, "FILE", &x.raw, "raw RGB24 frames (T,H,W,3)"),
        CM_STRING("mp4", 0, "FILE", &x.mp4, "H.264 MP4, upscaled by --scale"),
        CM_STRING("png", 0, "FILE", &x.png, "contact sheet of every --step'th frame, --cols per row"),
        CM_STRING("actions", 0, "FILE", &x.actions, "the clip's actions as TSV (docs/actions.md)"),
        CM_INT("scale", 0, "N", &x.scale, 1, 16, "MP4 upscaling factor (default 4)"),
        CM_INT("step", 0, "N", &x.step, 1, 100000, "contact sheet: every Nth frame (default 10)"),
        CM_INT("cols", 0, "N", &x.cols, 1, 1000, "contact sheet: frames per row (default 8)"),
        CM_CALL("verbose", 'v', NULL, set_verbose, NULL, "more log output"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-ingest export",
        .usage = "usage: clipmill-ingest export [-C DIR] CLIP_ID [--raw FILE] [--mp4 FILE] [--png FILE] [--actions FILE]\n"
                 "\n"
                 "Writes a staged clip (looked up in DIR/catalog.sqlite, read from its staging\n"
                 "store) as raw frames, an MP4 and/or a PNG contact sheet, and its actions as TSV.\n"
                 "\n",
        .options = options,
        .footer = INGEST_EXIT_STATUS,
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args != 1) return cm_cli_usage_error(&cli, "expected exactly one CLIP_ID");
    if (!x.raw && !x.mp4 && !x.png && !x.actions)
        return cm_cli_usage_error(&cli, "export needs at least one of --raw, --mp4, --png, --actions");
    return run_export(dir, argv[1], &x);
}

int merge_main(int argc, char **argv); /* tools/ingest/merge.c */

static const cm_subcommand subcommands[] = {
    {"export", export_main, "write a staged clip as raw frames, an MP4 or a PNG contact sheet"},
    {"merge", merge_main, "fold the parts of a partitioned run into the corpus catalog"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-ingest");
    /* FFmpeg's own messages would repeat, in its words, what the one error
     * line per source already says; -v brings its warnings back. */
    av_log_set_level(AV_LOG_QUIET);
    int code;
    if (cm_subcommand_run(subcommands, argc, argv, &code)) return code;

    ingest_options o;
    ingest_options_default(&o);
    const char *partition_arg = NULL;
    int json = 0, fit = o.decode.fit, codec = o.encode.codec, skip_loop_filter = -1;
    int connect_timeout = (int)o.download.connect_timeout_s, stall_timeout = (int)o.download.low_speed_time_s;
    int max_height = -1;
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &o.corpus_dir, "corpus directory (default .)"),
        CM_INT("jobs", 'j', "N", &o.jobs, 1, 1024, "sources decoded at once (default: number of cores)"),
        CM_STRING("partition", 0, "K/N", &partition_arg,
                  "only the sources of partition K of N (a hash of the source\n"
                  "id), into DIR/parts/K-of-N; in a Slurm array task K/N\n"
                  "defaults to the task's index and count. Merge the parts\n"
                  "with clipmill-ingest merge. --partition none: not partitioned"),
        CM_STRING("keywords", 0, "FILE", &o.keywords_path, "keyword rules for platformer sources (default: built in)"),
        CM_CLEAR("no-keyword-filter", 0, &o.keyword_filter, "keep every source regardless of its title"),
        CM_CALL("fps", 0, "N[/D]", parse_fps, &o.decode, "output frame rate (default 10)"),
        CM_CALL("size", 0, "WxH", parse_frame_size, &o.decode, "output frame size (default 160x90)"),
        CM_DOUBLE("frame-rate", 0, "R", &o.decode.image_frame_rate, 0.001, 1000,
                  "frame rate of image-frame folders without a \"frame_rate\"\n"
                  "in their manifest line, e.g. named directly (default 25)"),
        CM_INT("clip-seconds", 0, "N", &o.clip_seconds, 1, 3600, "clip length in seconds (default 16)"),
        CM_CHOICE("fit", 0, "crop|pad", &fit, "sources of another aspect ratio: centre crop (default) or pad"),
        CM_CHOICE("codec", 0, "raw|h264", &codec, "staged clip payload (default raw)"),
        CM_CHOICE("episode-short", 0, "pad|drop", &o.episode_short,
                  "robot episodes: the frames after an episode's last whole\n"
                  "clip make a clip padded to length (mask 0; default), or\n"
                  "are dropped (docs/robotics.md)"),
        CM_INT("crf", 0, "N", &o.encode.crf, 0, 51, "h264 quality, lower is better (default 12)"),
        CM_INT("max-attempts", 0, "N", &o.max_attempts, 1, 1000000,
               "give up on a source after N failed attempts (default 3)"),
        CM_INT("downloads", 0, "N", &o.download.max_parallel, 1, 1024, "http(s) transfers at once (default 8)"),
        CM_INT("per-host", 0, "N", &o.download.max_per_host, 1, 1024, "transfers at once to one host (default 4)"),
        CM_SIZE("max-bytes", 0, "SIZE", &o.download.max_bytes, 0,
                "refuse downloads larger than SIZE (default 4G; 0: no limit)"),
        CM_SIZE("min-rate", 0, "RATE", &o.download.min_rate_bytes_s, 0,
                "abort a download averaging under RATE bytes/s after\n"
                "--rate-grace: N bytes take at most grace + N/RATE s\n"
                "(default 32K; 0: no minimum)"),
        CM_DOUBLE("rate-grace", 0, "S", &o.download.rate_grace_s, 0, 1e6,
                  "seconds a download may take before --min-rate applies (default 60)"),
        CM_INT("download-tries", 0, "N", &o.download.max_tries, 1, 1000,
               "HTTP attempts per download in one run (default 5)"),
        CM_DOUBLE("download-progress", 0, "S", &o.download.progress_interval_s, 0, 1e9,
                  "a line for each download still running after S s, every\n"
                  "S s (default 30; 0: none; none with -q)"),
        CM_SIZE("max-disk", 0, "SIZE", &o.download.max_disk_bytes, 0,
                "pause downloading while SIZE of downloads wait to be decoded"),
        CM_FLAG("keep-downloads", 0, &o.keep_downloads, "keep downloaded files in DIR/downloads after ingesting them"),
        CM_CALL("download-only", 0, NULL, set_download_only, &o,
                "only download (and hash, and check for duplicates) the http(s)\n"
                "sources into DIR/downloads; a later run decodes them from there"),
        CM_INT("connect-timeout", 0, "S", &connect_timeout, 1, 3600, "seconds to connect (default 30)"),
        CM_INT("stall-timeout", 0, "S", &stall_timeout, 1, 3600,
               "abort a transfer slower than 1 KB/s for S seconds (default 30)"),
        CM_STRING("yt-dlp", 0, "PATH", &o.download.ytdlp_path, "yt-dlp for video web pages (default: yt-dlp on PATH)"),
        CM_INT("max-height", 0, "H", &max_height, 0, 100000,
               "web pages (yt-dlp): the smallest rendition at least H\n"
               "pixels high, the largest if none is (default 4 x the output\n"
               "height: 360; 0: yt-dlp's best). Decoding less at crawl scale"),
        CM_CHOICE("skip-loop-filter", 0, "none|nonref|all", &skip_loop_filter,
                  "skip H.264 deblocking on no frames, on\n"
                  "non-reference frames (default: no drift, >= 56 dB against full\n"
                  "decoding), or on all frames (fastest; worst frames ~35 dB)"),
        CM_CALL("full-decode", 0, NULL, set_full_decode, &o.decode, "decode every frame with deblocking (slower; for checks)"),
        CM_CALL("quiet", 'q', NULL, set_quiet, &o.progress, "no progress output"),
        CM_CALL("progress", 0, "MODE", parse_progress, &o.progress, "auto, tty or plain (default auto)"),
        CM_DOUBLE("progress-interval", 0, "S", &o.progress_interval_s, 0.001, 1e9,
                  "seconds between plain progress lines (default 10)"),
        CM_FLAG("json", 0, &json, "print a JSON summary of the run on stdout"),
        CM_CALL("verbose", 'v', NULL, set_verbose, NULL, "more log output"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-ingest",
        .usage =
        "usage: clipmill-ingest [OPTIONS] MANIFEST|VIDEO|FRAME_DIR...\n"
        "       clipmill-ingest export [-C DIR] CLIP_ID [--raw FILE] [--mp4 FILE] [--png FILE] [--actions FILE]\n"
        "       clipmill-ingest merge [-C DIR] [--json]\n"
        "\n"
        "Decodes videos into fixed-size clips, stages them in DIR/staging (LMDB) and\n"
        "records sources, clips and statistics in DIR/catalog.sqlite. Each argument\n"
        "is a manifest, a video file or a folder of image frames. A manifest is UTF-8\n"
        "text: JSON Lines ({\"url\": ..., \"title\": ..., \"description\": ...,\n"
        "\"channel\": ..., \"domain\": ..., \"license\": ...}) or one path or URL per\n"
        "line; .jsonl/.json/.txt/.list files are manifests, other text files too, and\n"
        "other files are videos when FFmpeg recognises them (docs/manifest.md).\n"
        "Running it again adds nothing new and retries failed sources.\n"
        "\n",
        .options = options,
        .subcommands = subcommands,
        .footer = INGEST_EXIT_STATUS,
    };
    char *args = cm_join_args(argc, argv);
    o.args = args;
    int n_args;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) goto done;
    o.decode.fit = (fit_mode)fit;
    o.encode.codec = (clip_codec)codec;
    if (skip_loop_filter >= 0) o.decode.skip_loop_filter = skip_loop_filter;
    o.download.connect_timeout_s = connect_timeout;
    o.download.ytdlp_min_height = max_height >= 0 ? max_height : 4 * o.decode.out_h;
    o.download.low_speed_time_s = stall_timeout;
    if (n_args < 1) {
        code = cm_cli_usage_error(&cli, "expected a MANIFEST, VIDEO or FRAME_DIR");
        goto done;
    }
    char *part_corpus = NULL;
    code = apply_partition(&o, partition_arg, &part_corpus);
    if (code == CM_EXIT_OK) {
        ingest_summary s;
        cm_stop_install();
        code = ingest_run(&o, (const char *const *)argv + 1, n_args, &s);
        if (json) ingest_summary_print_json(&s, stdout);
    }
    free(part_corpus);
done:
    free(args);
    return code;
}
