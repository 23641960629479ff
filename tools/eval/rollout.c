/* clipmill-eval rollout: how close a world model's predicted frames are to
 * the dataset's real ones, per step of the rollout (PSNR, SSIM), and how much
 * the actions matter (delta-t PSNR: predictions driven by the latent actions
 * inferred from the real video minus predictions driven by random ones, as in
 * Genie). A trainer writes one file per rollout in a folder:
 *
 *   PRED/CLIP_START.npy   (t, H, W, 3) uint8, numpy.save; or
 *   PRED/CLIP_START.rgb   the same bytes without a header
 *
 * CLIP is the clip's index in the split (as the readers number it), START the
 * clip frame the first predicted frame stands for: predicted frame k is
 * compared with clip frame START + k. docs/eval.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clipmill/reader.h"
#include "eval.h"
#include "frame_metrics.h"
#include "fsio.h"
#include "json.h"
#include "npy.h"
#include "report_rollout.h"
#include "rollout_steps.h"
#include "util.h"

/* One prediction file named CLIP_START.npy or CLIP_START.rgb. */
typedef struct pred_name {
    char *name;
    int64_t clip;
    int start;
} pred_name;

static int compare_pred(const void *a, const void *b)
{
    const pred_name *x = a, *y = b;
    if (x->clip != y->clip) return x->clip < y->clip ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Parses "CLIP_START.npy" / "CLIP_START.rgb" (decimal, no sign). */
static int parse_pred_name(const char *name, int64_t *clip, int *start)
{
    const char *dot = strrchr(name, '.');
    if (!dot || (strcmp(dot, ".npy") != 0 && strcmp(dot, ".rgb") != 0)) return -1;
    char *end;
    if (name[0] < '0' || name[0] > '9') return -1;
    errno = 0;
    long long c = strtoll(name, &end, 10);
    if (errno || *end != '_' || end[1] < '0' || end[1] > '9') return -1;
    long s = strtol(end + 1, &end, 10);
    if (errno || end != dot || s > 1000000) return -1;
    *clip = c;
    *start = (int)s;
    return 0;
}

/* Lists the prediction files of dir, sorted by (clip, start). Other files
 * are errors (a misnamed prediction would otherwise go unmeasured). Returns
 * the count, or -1 with e set. */
static int list_predictions(const char *dir, pred_name **out, int *misnamed, cm_error *e)
{
    *out = NULL;
    *misnamed = 0;
    DIR *d = opendir(dir);
    if (!d) {
        cm_error_set(e, "%s: %s", dir, strerror(errno));
        return -1;
    }
    pred_name *v = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        int64_t clip;
        int start;
        if (parse_pred_name(de->d_name, &clip, &start) != 0) {
            cm_log(CM_LOG_ERROR, "%s/%s: not a prediction file name (CLIP_START.npy or CLIP_START.rgb)", dir,
                   de->d_name);
            (*misnamed)++;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            v = cm_xrealloc(v, (size_t)cap * sizeof *v);
        }
        v[n++] = (pred_name){cm_xstrdup(de->d_name), clip, start};
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof *v, compare_pred);
    *out = v;
    return n;
}

/* A buffer the prediction files are read into, kept from file to file: a
 * fresh allocation per file is fresh pages from the kernel, and their page
 * faults took as long as the metrics themselves (perf, 16-frame rollouts). */
typedef struct file_buf {
    uint8_t *p;
    size_t cap;
} file_buf;

/* Reads the regular file at path into b (grown as needed). Returns its size,
 * or -1 with e set naming path. */
static ssize_t read_into(const char *path, file_buf *b, cm_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cm_error_set(e, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    if (n > b->cap) {
        free(b->p);
        b->p = cm_xmalloc(n);
        b->cap = n;
    }
    while (got < n) {
        ssize_t k = read(fd, b->p + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            cm_error_set(e, "%s: read %zu of %zu bytes%s%s", path, got, n, k < 0 ? ": " : "", k < 0 ? strerror(errno) : "");
            close(fd);
            return -1;
        }
        got += (size_t)k;
    }
    close(fd);
    return (ssize_t)n;
}

/* Reads one prediction file into b: frames of h x w x 3 uint8. Returns the
 * frame count with *frames (inside b), or -1 with e set naming path. */
static int read_prediction(const char *path, int h, int w, file_buf *b, const uint8_t **frames, cm_error *e)
{
    const size_t frame_bytes = (size_t)h * w * 3;
    ssize_t got = read_into(path, b, e);
    if (got < 0) return -1;
    size_t len = (size_t)got;
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".npy") == 0) {
        npy_header nh;
        cm_error pe = {{0}};
        if (npy_parse_header(b->p, len, len, &nh, &pe) != 0) {
            cm_error_set(e, "%s: %s", path, pe.msg);
            return -1;
        }
        if (nh.kind != 'u' || nh.item_size != 1 || nh.ndim != 4 || nh.shape[1] != h || nh.shape[2] != w ||
            nh.shape[3] != 3 || nh.shape[0] < 1) {
            cm_error_set(e, "%s: shape/dtype must be (t, %d, %d, 3) uint8", path, h, w);
            return -1;
        }
        *frames = b->p + nh.data_offset;
        return (int)nh.shape[0];
    }
    if (len == 0 || len % frame_bytes != 0) {
        cm_error_set(e, "%s: %zu bytes is not a whole number of %dx%d RGB frames", path, len, w, h);
        return -1;
    }
    *frames = b->p;
    return (int)(len / frame_bytes);
}

/* The random-action prediction of the same rollout: CLIP_START.npy or .rgb
 * in dir, whichever exists (the .npy when neither does, for the message). */
static char *random_counterpart(const char *dir, const char *name)
{
    size_t stem = strlen(name) - 4;
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s.rgb", (int)stem, name);
    char *path = cm_path_join(dir, buf);
    struct stat st;
    if (stat(path, &st) == 0) return path;
    free(path);
    snprintf(buf, sizeof buf, "%.*s.npy", (int)stem, name);
    return cm_path_join(dir, buf);
}

int eval_rollout_main(int argc, char **argv)
{
    const char *pred_dir = NULL, *random_dir = NULL, *split = "test", *json_path = NULL, *html_path = NULL;
    const cm_option options[] = {
        CM_STRING("pred", 0, "DIR", &pred_dir,
                  "predicted frames, one CLIP_START.npy or .rgb per rollout (required)"),
        CM_STRING("random", 0, "DIR", &random_dir,
                  "the same rollouts driven by random actions: adds delta-t PSNR\n(pred minus random)"),
        CM_STRING("split", 0, "NAME", &split, "the dataset split the clip indices refer to (default test)"),
        CM_STRING("json", 0, "FILE", &json_path, "also write the curves as JSON ('-': on stdout instead of the table)"),
        CM_STRING("html", 0, "FILE", &html_path, "also write them as one self-contained HTML page: the curves\n"
                  "as inline SVG plots and the table (clipmill-eval report --rollout\nadds the same section to the corpus report)"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-eval rollout",
        .usage = "usage: clipmill-eval rollout DATASET --pred DIR [--random DIR] [--split NAME] [--json FILE]\n"
                 "       [--html FILE]\n\n"
                 "PSNR and SSIM of predicted frames against the dataset's, per rollout step\n"
                 "(docs/eval.md).\n\n",
        .options = options,
        .footer = "Exit status: 0 ok; 1 partial (some predictions could not be read or\n"
                  "matched); 2 usage error; 3 fatal.\n",
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args != 1) return cm_cli_usage_error(&cli, "one DATASET is needed");
    if (!pred_dir) return cm_cli_usage_error(&cli, "--pred DIR is needed");
    const char *dataset = argv[1];

    int rc = 3, failed = 0;
    cmr_reader *r = NULL;
    pred_name *names = NULL;
    int n_names = 0;
    uint8_t *truth = NULL;
    double *work = NULL;
    file_buf pred_buf = {0}, random_buf = {0};
    rollout_steps steps;
    rollout_steps_init(&steps);
    char err[CMR_ERROR_MAX];
    cm_error e = {{0}};
    if (cmr_open(&r, dataset, split, err, sizeof err) != 0) {
        cm_log(CM_LOG_ERROR, "%s", err);
        goto fail;
    }
    cmr_info info;
    cmr_get_info(r, &info);
    const int H = info.height, W = info.width;
    if (info.channels != 3 || H < FRAME_SSIM_WIN || W < FRAME_SSIM_WIN) {
        cm_log(CM_LOG_ERROR, "%s: frames of %dx%dx%d cannot be measured", dataset, W, H, info.channels);
        goto fail;
    }
    n_names = list_predictions(pred_dir, &names, &failed, &e);
    if (n_names < 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto fail;
    }
    truth = cm_xmalloc(cmr_window_bytes(r, info.frames, 0));
    work = cm_xmalloc((size_t)frame_ssim_work_size(H, W) * sizeof *work);
    const size_t frame_bytes = (size_t)H * W * 3;
    for (int i = 0; i < n_names; i++) {
        const pred_name *p = &names[i];
        char *path = cm_path_join(pred_dir, p->name);
        char *rpath = random_dir ? random_counterpart(random_dir, p->name) : NULL;
        const uint8_t *pred = NULL, *rpred = NULL;
        int t = read_prediction(path, H, W, &pred_buf, &pred, &e), rt = 0;
        if (t > 0 && rpath) {
            rt = read_prediction(rpath, H, W, &random_buf, &rpred, &e);
            if (rt > 0 && rt != t) {
                cm_error_set(&e, "%s: %d frames, but %s has %d", rpath, rt, path, t);
                rt = -1;
            }
        }
        if (t > 0 && rt >= 0) {
            if (p->clip >= info.clips) {
                cm_error_set(&e, "%s: clip %" PRId64 " is not in split %s (%" PRId64 " clips)", path, p->clip,
                             split, info.clips);
                t = -1;
            } else if (p->start + t > info.frames) {
                cm_error_set(&e, "%s: frames %d..%d run past the clip's %d frames", path, p->start, p->start + t - 1,
                             info.frames);
                t = -1;
            } else if (cmr_read_window(r, p->clip, p->start, t, 1, 0, truth, (size_t)t * frame_bytes, err,
                                       sizeof err) != 0) {
                cm_error_set(&e, "%s", err);
                t = -1;
            }
        }
        if (t > 0 && rt >= 0) {
            for (int k = 0; k < t; k++) {
                const uint8_t *real = truth + (size_t)k * frame_bytes;
                double psnr = frame_psnr_from_mse(frame_mse(pred + (size_t)k * frame_bytes, real, H, W));
                double ssim = frame_ssim(pred + (size_t)k * frame_bytes, real, H, W, work);
                double rpsnr = rpred ? frame_psnr_from_mse(frame_mse(rpred + (size_t)k * frame_bytes, real, H, W))
                                     : 0;
                rollout_steps_add(&steps, k, psnr, ssim, rpred != NULL, rpsnr);
            }
            steps.rollouts++;
        } else {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            failed++;
        }
        free(path);
        free(rpath);
    }
    /* With --json - stdout holds the JSON alone. */
    if (!json_path || strcmp(json_path, "-") != 0) rollout_steps_print(&steps, stdout, dataset, split);
    if (json_path && rollout_steps_write_json(&steps, json_path, dataset, split, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto fail;
    }
    if (html_path) {
        rollout_summary sum;
        rollout_steps_summary(&steps, dataset, split, &sum);
        int got = report_rollout_page(html_path, &sum, &e);
        rollout_summary_free(&sum);
        if (got != 0) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            goto fail;
        }
    }
    if (steps.rollouts == 0) cm_log(CM_LOG_ERROR, "%s: no prediction could be measured", pred_dir);
    rc = failed || steps.rollouts == 0 ? 1 : 0;
fail:
    for (int i = 0; i < n_names; i++) free(names[i].name);
    free(names);
    free(truth);
    free(work);
    free(pred_buf.p);
    free(random_buf.p);
    rollout_steps_free(&steps);
    cmr_close(r);
    return rc;
}
