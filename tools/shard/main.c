/* clipmill-shard: kept clips of a corpus -> an immutable training dataset of
 * LMDB shards (docs/shard-format.md); verify and export subcommands.
 *
 *   clipmill-shard -C corpus --dataset NAME [--codec h264] [--split 0.98,0.01,0.01]
 *   clipmill-shard verify corpus/datasets/NAME
 *   clipmill-shard export corpus/datasets/NAME --split train --index 3 --mp4 clip.mp4
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "clipmill/reader.h"
#include "export.h"
#include "shard.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: clipmill-shard [OPTIONS] --dataset NAME\n"
"       clipmill-shard verify DATASET_DIR\n"
"       clipmill-shard export DATASET_DIR [--split S] (--index N | --clip ID) [--raw FILE] [--mp4 FILE]\n"
"\n"
"Writes the kept clips of the corpus in DIR as dataset DIR/datasets/NAME: LMDB\n"
"shards per split (train/val/test, assigned by source), shuffled, with\n"
"manifest.json. Kept clips: those whose newest decision is 'keep' when the\n"
"catalog has decisions, else every staged clip; narrowed by the options below.\n"
"Near-duplicates across sources are dropped. A finished dataset is never\n"
"overwritten; rerunning an interrupted build finishes or restarts it.\n"
"\n"
"  -C, --corpus DIR        corpus directory (default .)\n"
"  -d, --dataset NAME      dataset name (letters, digits, '-', '_', '.')\n"
"      --codec raw|h264    payload of the records (default raw); re-encodes when staging differs\n"
"      --crf N             h264 quality when re-encoding (default 12)\n"
"      --keyint N          h264 IDR interval when re-encoding (default 16)\n"
"      --entropy cavlc|cabac  h264 entropy coder when re-encoding (default cavlc:\n"
"                          faster to read, ~10%% more bytes; docs/clip-format.md)\n"
"      --split T,V,E       train, val, test fractions (default 0.98,0.01,0.01)\n"
"      --seed N            shuffle seed (default 1)\n"
"      --shard-bytes SIZE  bound on a shard file's size (default 1G; K, M, G suffixes)\n"
"      --dedup-hamming N   drop a clip within N bits of phash of a clip of another\n"
"                          source (default 4; -1 keeps near-duplicates)\n"
"      --domain D          only sources of this domain\n"
"      --model ID --min-score X  only clips with score >= X from model ID\n"
"      --where SQL         extra condition on c (clips) and s (sources), e.g. 'c.motion > 2'\n"
"  -q, --quiet             less output\n"
"  -h, --help              this help\n"
"  -V, --version           print the version\n"
"\n"
"export options:\n"
"      --split S           train (default), val or test\n"
"      --index N           the clip at position N of the split\n"
"      --clip ID           the clip with this catalog id\n"
"      --raw FILE          raw RGB24 frames (T,H,W,3)\n"
"      --mp4 FILE          H.264 MP4, upscaled by --scale (default 4)\n"
"\n"
"Exit status: 0 success; 1 verify found problems, or the selection is empty;\n"
"2 usage error, or the dataset name is taken; 3 fatal (catalog, staging or\n"
"disk unusable).\n");
}

static int64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return -1;
    double mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024.0; end++; break;
    case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    return *end ? -1 : (int64_t)(v * mult);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_split(const char *s, double f[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        f[i] = strtod(s, &end);
        if (end == s || f[i] < 0 || (i < 2 && *end != ',') || (i == 2 && *end)) return -1;
        s = end + 1;
    }
    double sum = f[0] + f[1] + f[2];
    if (sum <= 0) return -1;
    for (int i = 0; i < 3; i++) f[i] /= sum;
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s || *s == '.' || strlen(s) > 200) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

typedef struct export_args {
    const char *split, *clip, *raw, *mp4;
    int64_t index;
    int scale;
} export_args;

static int run_export(const char *dir, const export_args *x)
{
    char err[CMR_ERROR_MAX];
    cmr_reader *r = NULL;
    uint8_t *frames = NULL;
    int code = CM_EXIT_FATAL;
    cm_error e = {{0}};
    if (cmr_open(&r, dir, x->split, err, sizeof err) != 0) {
        cm_log(CM_LOG_ERROR, "%s", err);
        return CM_EXIT_FATAL;
    }
    int64_t index = x->index;
    if (x->clip) {
        char id[64];
        index = -1;
        for (int64_t i = 0; i < cmr_count(r) && index < 0; i++)
            if (cmr_clip_id(r, i, id, sizeof id, NULL, 0) == 0 && strcmp(id, x->clip) == 0) index = i;
        if (index < 0) {
            cm_log(CM_LOG_ERROR, "%s: no clip %s in split %s", dir, x->clip, x->split);
            code = CM_EXIT_PARTIAL;
            goto done;
        }
    }
    cmr_info in;
    cmr_get_info(r, &in);
    size_t n = cmr_window_bytes(r, in.frames, 0);
    frames = cm_xmalloc(n);
    if (cmr_read_clip(r, index, frames, n, err, sizeof err) != 0) {
        cm_log(CM_LOG_ERROR, "%s", err);
        code = CM_EXIT_PARTIAL;
        goto done;
    }
    if ((x->raw && clip_export_raw(frames, in.frames, in.height, in.width, x->raw, &e) != 0) ||
        (x->mp4 && clip_export_mp4(frames, in.frames, in.height, in.width, in.fps_num, in.fps_den, x->scale, x->mp4,
                                   &e) != 0)) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    char id[64];
    cmr_clip_id(r, index, id, sizeof id, NULL, 0);
    printf("%s %s[%" PRId64 "]: clip %s, %d frames %dx%d\n", dir, x->split, index, id, in.frames, in.width,
           in.height);
    code = CM_EXIT_OK;
done:
    free(frames);
    cmr_close(r);
    return code;
}

enum { OPT_CODEC = 256, OPT_CRF, OPT_KEYINT, OPT_ENTROPY, OPT_SPLIT, OPT_SEED, OPT_SHARD_BYTES, OPT_DEDUP, OPT_DOMAIN, OPT_MODEL,
       OPT_MIN_SCORE, OPT_WHERE, OPT_INDEX, OPT_CLIP, OPT_RAW, OPT_MP4, OPT_SCALE };

static const struct option long_options[] = {
    {"corpus", required_argument, 0, 'C'},       {"dataset", required_argument, 0, 'd'},
    {"codec", required_argument, 0, OPT_CODEC},  {"crf", required_argument, 0, OPT_CRF},
    {"keyint", required_argument, 0, OPT_KEYINT}, {"entropy", required_argument, 0, OPT_ENTROPY},
    {"split", required_argument, 0, OPT_SPLIT},  {"seed", required_argument, 0, OPT_SEED},
    {"shard-bytes", required_argument, 0, OPT_SHARD_BYTES},
    {"dedup-hamming", required_argument, 0, OPT_DEDUP},
    {"domain", required_argument, 0, OPT_DOMAIN}, {"model", required_argument, 0, OPT_MODEL},
    {"min-score", required_argument, 0, OPT_MIN_SCORE}, {"where", required_argument, 0, OPT_WHERE},
    {"index", required_argument, 0, OPT_INDEX},  {"clip", required_argument, 0, OPT_CLIP},
    {"raw", required_argument, 0, OPT_RAW},      {"mp4", required_argument, 0, OPT_MP4},
    {"scale", required_argument, 0, OPT_SCALE},  {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},               {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-shard");
    av_log_set_level(AV_LOG_QUIET);
    build_options o = {.corpus_dir = ".", .codec = CLIP_CODEC_RAW, .crf = -1, .keyint = -1, .cabac = -1, .split = {0.98, 0.01, 0.01},
                       .seed = 1, .shard_bytes = (int64_t)1 << 30, .dedup_hamming = 4};
    export_args x = {.split = "train", .index = -1, .scale = 4};
    const char *mode = "build";
    char *args = cm_join_args(argc, argv);
    o.args = args;
    if (argc > 1 && (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "export") == 0)) {
        mode = argv[1];
        argv++;
        argc--;
    }
    int c, code = CM_EXIT_USAGE;
    long v;
    while ((c = getopt_long(argc, argv, "C:d:qhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'C': o.corpus_dir = optarg; break;
        case 'd': o.name = optarg; break;
        case 'q': o.quiet = 1; break;
        case OPT_CODEC:
            if (clip_codec_parse(optarg, &o.codec) != 0) goto bad;
            break;
        case OPT_CRF:
            if (parse_int(optarg, 0, 51, &v) != 0) goto bad;
            o.crf = (int)v;
            break;
        case OPT_KEYINT:
            if (parse_int(optarg, 1, 1 << 20, &v) != 0) goto bad;
            o.keyint = (int)v;
            break;
        case OPT_ENTROPY:
            if (strcmp(optarg, "cavlc") == 0) o.cabac = 0;
            else if (strcmp(optarg, "cabac") == 0) o.cabac = 1;
            else goto bad;
            break;
        case OPT_SPLIT:
            if (strcmp(mode, "export") == 0) x.split = optarg;
            else if (parse_split(optarg, o.split) != 0) goto bad;
            break;
        case OPT_SEED: {
            char *end;
            o.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end) goto bad;
            break;
        }
        case OPT_SHARD_BYTES:
            if ((o.shard_bytes = parse_size(optarg)) < (1 << 20)) goto bad;
            break;
        case OPT_DEDUP:
            if (parse_int(optarg, -1, 64, &v) != 0) goto bad;
            o.dedup_hamming = (int)v;
            break;
        case OPT_DOMAIN: o.domain = optarg; break;
        case OPT_MODEL: o.model = optarg; break;
        case OPT_MIN_SCORE: {
            char *end;
            o.min_score = strtod(optarg, &end);
            if (end == optarg || *end) goto bad;
            o.has_min_score = 1;
            break;
        }
        case OPT_WHERE: o.where = optarg; break;
        case OPT_INDEX:
            if (parse_int(optarg, 0, 0x7fffffffL, &v) != 0) goto bad;
            x.index = v;
            break;
        case OPT_CLIP: x.clip = optarg; break;
        case OPT_RAW: x.raw = optarg; break;
        case OPT_MP4: x.mp4 = optarg; break;
        case OPT_SCALE:
            if (parse_int(optarg, 1, 16, &v) != 0) goto bad;
            x.scale = (int)v;
            break;
        case 'h': usage(stdout); code = 0; goto done;
        case 'V': printf("clipmill-shard %s\n", CLIPMILL_VERSION); code = 0; goto done;
        default: usage(stderr); goto done;
        }
    }
    if (strcmp(mode, "build") == 0) {
        if (optind != argc || !o.name) {
            fprintf(stderr, "clipmill-shard: expected --dataset NAME and no other arguments (try --help)\n");
            goto done;
        }
        if (!valid_name(o.name)) {
            fprintf(stderr, "clipmill-shard: bad dataset name \"%s\"\n", o.name);
            goto done;
        }
        if (o.has_min_score != (o.model != NULL)) {
            fprintf(stderr, "clipmill-shard: --min-score and --model go together\n");
            goto done;
        }
        code = shard_build(&o);
    } else if (optind + 1 != argc) {
        fprintf(stderr, "clipmill-shard: %s expects one DATASET_DIR (try --help)\n", mode);
    } else if (strcmp(mode, "verify") == 0) {
        code = shard_verify(argv[optind], o.quiet);
    } else if ((x.index < 0) == (x.clip == NULL) || (!x.raw && !x.mp4)) {
        fprintf(stderr, "clipmill-shard: export needs one of --index, --clip and one of --raw, --mp4\n");
    } else {
        code = run_export(argv[optind], &x);
    }
    goto done;
bad:
    fprintf(stderr, "clipmill-shard: bad value for an option: %s (try --help)\n", optarg);
done:
    free(args);
    return code;
}
