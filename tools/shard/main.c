/* clipmill-shard: kept clips of a corpus -> an immutable training dataset of
 * LMDB shards (docs/shard-format.md); verify and export subcommands.
 *
 *   clipmill-shard -C corpus --dataset NAME [--codec h264] [--split 0.98,0.01,0.01]
 *   clipmill-shard verify corpus/datasets/NAME
 *   clipmill-shard export corpus/datasets/NAME --split train --index 3 --mp4 clip.mp4
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "cli.h"
#include "clipmill/reader.h"
#include "export.h"
#include "shard.h"
#include "stop.h"
#include "util.h"

/* --split T,V,E: three fractions >= 0, scaled to sum to 1. */
static int parse_split(const cm_option *opt, const char *value, cm_error *e)
{
    double *f = opt->dest, g[3];
    const char *s = value;
    char *end;
    for (int i = 0; i < 3; i++) {
        g[i] = strtod(s, &end);
        if (end == s || !(g[i] >= 0) || (i < 2 && *end != ',') || (i == 2 && *end))
            return cm_bad_value("--split", value, "three fractions T,V,E such as 0.98,0.01,0.01", e);
        s = end + 1;
    }
    double sum = g[0] + g[1] + g[2];
    if (!(sum > 0)) return cm_bad_value("--split", value, "fractions that do not sum to 0", e);
    for (int i = 0; i < 3; i++) f[i] = g[i] / sum;
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
    int index, meta;
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
    if (x->meta) {
        /* The clip's metadata as one JSON line (sanitised: catalog text). */
        int64_t len = cmr_clip_meta(r, index, NULL, 0, err, sizeof err);
        char *json = len >= 0 ? cm_xmalloc((size_t)len + 1) : NULL, *clean = json ? cm_xmalloc(4 * (size_t)len + 4) : NULL;
        if (!json || cmr_clip_meta(r, index, json, (size_t)len + 1, err, sizeof err) != len) {
            cm_log(CM_LOG_ERROR, "%s", err);
            free(json);
            code = CM_EXIT_PARTIAL;
            goto done;
        }
        printf("%s\n", cm_clean(json, clean, 4 * (size_t)len + 4));
        free(json);
        free(clean);
        if (!x->raw && !x->mp4) {
            code = CM_EXIT_OK;
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
    char clean_id[256];   /* the id as the dataset holds it: not trusted */
    printf("%s %s[%" PRId64 "]: clip %s, %d frames %dx%d\n", dir, x->split, index,
           cm_clean(id, clean_id, sizeof clean_id), in.frames, in.width, in.height);
    code = CM_EXIT_OK;
done:
    free(frames);
    cmr_close(r);
    return code;
}

/* clipmill-shard export DATASET_DIR ... */
static int export_main(int argc, char **argv)
{
    export_args x = {.split = "train", .index = -1, .scale = 4};
    const cm_option options[] = {
        CM_STRING("split", 0, "S", &x.split, "train (default), val or test"),
        CM_INT("index", 0, "N", &x.index, 0, 0x7fffffff, "the clip at position N of the split"),
        CM_STRING("clip", 0, "ID", &x.clip, "the clip with this catalog id"),
        CM_STRING("raw", 0, "FILE", &x.raw, "raw RGB24 frames (T,H,W,3)"),
        CM_STRING("mp4", 0, "FILE", &x.mp4, "H.264 MP4, upscaled by --scale"),
        CM_FLAG("meta", 0, &x.meta, "print the clip's metadata (one JSON object) first"),
        CM_INT("scale", 0, "N", &x.scale, 1, 16, "MP4 upscaling factor (default 4)"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-shard export",
        .usage =
        "usage: clipmill-shard export DATASET_DIR[@SUBSET] [--split S] (--index N | --clip ID) [--meta] [--raw FILE]\n"
        "       [--mp4 FILE]\n"
        "\n"
        "Reads one clip of a dataset through the dataset reader and writes its frames.\n"
        "\n",
        .options = options,
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args != 1) return cm_cli_usage_error(&cli, "expected one DATASET_DIR");
    if ((x.index < 0) == (x.clip == NULL) || (!x.raw && !x.mp4 && !x.meta))
        return cm_cli_usage_error(&cli, "export needs one of --index, --clip and one of --raw, --mp4, --meta");
    return run_export(argv[1], &x);
}

/* clipmill-shard verify DATASET_DIR */
static int verify_main(int argc, char **argv)
{
    int quiet = 0;
    const cm_option options[] = {
        CM_FLAG("quiet", 'q', &quiet, "only the problems and the summary"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-shard verify",
        .usage =
        "usage: clipmill-shard verify [-q] DATASET_DIR\n"
        "       clipmill-shard verify [-q] DATASET_DIR/tokens/NAME\n"
        "\n"
        "Checks every shard's SHA-256 against manifest.json and every record's CRCs,\n"
        "meta.sqlite, card.md, the subsets and every finished token set in\n"
        "DATASET_DIR/tokens/ (docs/tokens.md). Given a token set's directory, checks\n"
        "that set alone, against the dataset it sits in.\n"
        "\n",
        .options = options,
        .footer = "Exit status: 0 clean; 1 problems found; 2 usage error; 3 manifest.json unreadable.\n",
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args != 1) return cm_cli_usage_error(&cli, "expected one DATASET_DIR");
    return shard_verify(argv[1], quiet);
}

/* clipmill-shard subset DATASET_DIR NAME --where SQL */
static int subset_main(int argc, char **argv)
{
    int quiet = 0;
    const char *where = NULL;
    const cm_option options[] = {
        CM_STRING("where", 0, "SQL", &where, "condition on the columns of the dataset's meta.sqlite clips table,\n"
                  "e.g. \"domain = 'platformer' AND motion > 2\""),
        CM_FLAG("quiet", 'q', &quiet, "no summary line"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-shard subset",
        .usage =
        "usage: clipmill-shard subset DATASET_DIR NAME --where SQL\n"
        "\n"
        "Writes DATASET_DIR/subsets/NAME.subset: the dataset's clips whose row in its own\n"
        "meta.sqlite matches SQL, per split, in the dataset's order. Readers open it as\n"
        "DATASET_DIR@NAME. The dataset itself is not rewritten.\n"
        "\n",
        .options = options,
        .footer = "Exit status: 0 written; 1 no clip matches; 2 usage error, a bad condition or the name\n"
                  "is taken; 3 the dataset or its metadata cannot be read (format 1 has none).\n",
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args != 2 || !where) return cm_cli_usage_error(&cli, "expected DATASET_DIR NAME --where SQL");
    if (!valid_name(argv[2]))
        return cm_cli_usage_error(&cli, "bad subset name \"%s\" (letters, digits, '-', '_', '.')", argv[2]);
    return shard_subset(argv[1], argv[2], where, quiet);
}

static const cm_subcommand subcommands[] = {
    {"verify", verify_main, "check a dataset's shards and records against its manifest"},
    {"export", export_main, "write one clip of a dataset as raw frames or an MP4"},
    {"subset", subset_main, "name a subset of a dataset's clips by SQL over its metadata"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-shard");
    av_log_set_level(AV_LOG_QUIET);
    int code;
    if (cm_subcommand_run(subcommands, argc, argv, &code)) return code;

    build_options o = {.corpus_dir = ".", .codec = CLIP_CODEC_RAW, .crf = -1, .keyint = -1, .cabac = -1,
                       .split = {0.98, 0.01, 0.01}, .seed = 1, .shard_bytes = (int64_t)1 << 30, .dedup_hamming = 4,
                       .min_score = NAN};
    int codec = CLIP_CODEC_RAW;
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &o.corpus_dir, "corpus directory (default .)"),
        CM_STRING("dataset", 'd', "NAME", &o.name, "dataset name (letters, digits, '-', '_', '.')"),
        CM_CHOICE("codec", 0, "raw|h264", &codec, "payload of the records (default raw); re-encodes when staging differs"),
        CM_INT("crf", 0, "N", &o.crf, 0, 51, "h264 quality when re-encoding (default 12)"),
        CM_INT("keyint", 0, "N", &o.keyint, 1, 1 << 20, "h264 IDR interval when re-encoding (default 8)"),
        CM_CHOICE("entropy", 0, "cavlc|cabac", &o.cabac, "h264 entropy coder when re-encoding (default cavlc:\n"
                  "faster to read, ~10% more bytes; docs/clip-format.md)"),
        CM_CALL("split", 0, "T,V,E", parse_split, o.split, "train, val, test fractions (default 0.98,0.01,0.01)"),
        CM_U64("seed", 0, "N", &o.seed, "shuffle seed (default 1)"),
        CM_SIZE("shard-bytes", 0, "SIZE", &o.shard_bytes, 1 << 20,
                "bound on a shard file's size (default 1G; K, M, G, T suffixes)"),
        CM_INT("dedup-hamming", 0, "N", &o.dedup_hamming, -1, 64,
               "drop copies of a clip of another source: the filter's rule\n"
               "(temporal signatures; clips without one: within N bits of\n"
               "phash, default 4); -1 keeps near-duplicates"),
        CM_STRING("domain", 0, "D", &o.domain, "only sources of this domain"),
        CM_STRING("model", 'm', "ID|FILE", &o.model, "with --min-score: the model whose scores count, a model id\n"
                  "of the catalog's models table or a model file it scored"),
        CM_DOUBLE("min-score", 0, "X", &o.min_score, -1e308, 1e308, "only clips that --model scored >= X"),
        CM_STRING("where", 0, "SQL", &o.where, "extra condition on c (clips) and s (sources), e.g. 'c.motion > 2'"),
        CM_FLAG("quiet", 'q', &o.quiet, "less output"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-shard",
        .usage =
        "usage: clipmill-shard [OPTIONS] --dataset NAME\n"
        "       clipmill-shard verify DATASET_DIR | DATASET_DIR/tokens/NAME\n"
        "       clipmill-shard export DATASET_DIR [--split S] (--index N | --clip ID) [--raw FILE] [--mp4 FILE]\n"
        "       clipmill-shard subset DATASET_DIR NAME --where SQL\n"
        "\n"
        "Writes the kept clips of the corpus in DIR as dataset DIR/datasets/NAME: LMDB\n"
        "shards per split (train/val/test, assigned by source), shuffled, with\n"
        "manifest.json. Kept clips: those whose newest decision is 'keep' when the\n"
        "catalog has decisions, else every staged clip; narrowed by the options below.\n"
        "Near-duplicates across sources are dropped. A finished dataset is never\n"
        "overwritten; rerunning an interrupted build finishes or restarts it.\n"
        "\n",
        .options = options,
        .subcommands = subcommands,
        .footer =
        "Exit status: 0 success; 1 verify found problems, or the selection is empty;\n"
        "2 usage error, or the dataset name is taken; 3 fatal (catalog, staging,\n"
        "model or disk unusable).\n",
    };
    char *args = cm_join_args(argc, argv);
    o.args = args;
    int n_args;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) goto done;
    o.codec = (clip_codec)codec;
    o.has_min_score = !isnan(o.min_score);
    if (n_args != 0 || !o.name) {
        code = cm_cli_usage_error(&cli, "expected --dataset NAME and no other arguments");
    } else if (!valid_name(o.name)) {
        code = cm_cli_usage_error(&cli, "bad dataset name \"%s\" (letters, digits, '-', '_', '.')", o.name);
    } else if (o.has_min_score != (o.model != NULL)) {
        code = cm_cli_usage_error(&cli, "--min-score and --model go together");
    } else {
        cm_stop_install();
        code = shard_build(&o);
    }
done:
    free(args);
    return code;
}
