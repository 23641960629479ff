#include "rollout_steps.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame_metrics.h"
#include "fsio.h"
#include "json.h"

void rollout_steps_init(rollout_steps *s)
{
    memset(s, 0, sizeof *s);
}

void rollout_steps_free(rollout_steps *s)
{
    free(s->step);
    memset(s, 0, sizeof *s);
}

void rollout_steps_add(rollout_steps *s, int t, double psnr, double ssim, int has_random, double psnr_random)
{
    if (t >= s->steps) {
        int n = t + 1;
        s->step = cm_xrealloc(s->step, (size_t)n * sizeof *s->step);
        memset(s->step + s->steps, 0, (size_t)(n - s->steps) * sizeof *s->step);
        s->steps = n;
    }
    rollout_step *x = &s->step[t];
    x->n++;
    x->psnr += psnr;
    x->ssim += ssim;
    if (psnr >= FRAME_PSNR_MAX) x->exact++;
    if (has_random) {
        x->n_random++;
        x->psnr_random += psnr_random;
    }
}

/* The totals over every step. */
static rollout_step total_of(const rollout_steps *s)
{
    rollout_step a = {0};
    for (int t = 0; t < s->steps; t++) {
        a.n += s->step[t].n, a.psnr += s->step[t].psnr, a.ssim += s->step[t].ssim, a.exact += s->step[t].exact;
        a.n_random += s->step[t].n_random, a.psnr_random += s->step[t].psnr_random;
    }
    return a;
}

static void print_row(FILE *f, const char *label, const rollout_step *x)
{
    if (x->n == 0) return;
    fprintf(f, "  %-5s %7" PRId64 "  %8.3f  %7.4f", label, x->n, x->psnr / (double)x->n, x->ssim / (double)x->n);
    if (x->n_random == x->n) {
        double r = x->psnr_random / (double)x->n;
        fprintf(f, "  %11.3f  %10.3f", r, x->psnr / (double)x->n - r);
    }
    fputc('\n', f);
}

void rollout_steps_print(const rollout_steps *s, FILE *f, const char *dataset, const char *split)
{
    char buf[512];
    rollout_step all = total_of(s);
    fprintf(f, "rollout: %" PRId64 " predictions, %" PRId64 " frames of %s split %s; %" PRId64
               " exact (PSNR %.0f dB)\n",
            s->rollouts, all.n, cm_clean(dataset, buf, sizeof buf), split, all.exact, FRAME_PSNR_MAX);
    if (all.n == 0) return;
    int random = all.n_random == all.n;
    fprintf(f, "  %-5s %7s  %8s  %7s%s\n", "t", "frames", "PSNR dB", "SSIM",
            random ? "  random PSNR  delta PSNR" : "");
    for (int t = 0; t < s->steps; t++) {
        char label[16];
        snprintf(label, sizeof label, "%d", t);
        print_row(f, label, &s->step[t]);
    }
    print_row(f, "all", &all);
}

/* Metrics go out at full precision (%.17g round-trips a double): a trainer
 * compares runs that differ in the fourth decimal. */
static void json_double(sqlite3_str *j, double v)
{
    if (isfinite(v)) cm_str_appendf(j, "%.17g", v);
    else cm_str_appendf(j, "null");
}

static void json_step(sqlite3_str *j, const rollout_step *x)
{
    cm_str_appendf(j, "\"frames\": %" PRId64 ", \"exact\": %" PRId64 ", \"psnr\": ", x->n, x->exact);
    json_double(j, x->n ? x->psnr / (double)x->n : 0);
    cm_str_appendf(j, ", \"ssim\": ");
    json_double(j, x->n ? x->ssim / (double)x->n : 0);
    if (x->n && x->n_random == x->n) {
        double r = x->psnr_random / (double)x->n;
        cm_str_appendf(j, ", \"psnr_random\": ");
        json_double(j, r);
        cm_str_appendf(j, ", \"delta_psnr\": ");
        json_double(j, x->psnr / (double)x->n - r);
    }
}

int rollout_steps_write_json(const rollout_steps *s, const char *path, const char *dataset, const char *split,
                             cm_error *e)
{
    sqlite3_str *j = sqlite3_str_new(NULL);
    cm_str_appendf(j, "{\"dataset\": ");
    cm_json_string(j, dataset);
    cm_str_appendf(j, ", \"split\": ");
    cm_json_string(j, split);
    cm_str_appendf(j, ", \"psnr_max\": %.1f, \"rollouts\": %" PRId64 ", ", FRAME_PSNR_MAX, s->rollouts);
    rollout_step all = total_of(s);
    json_step(j, &all);
    cm_str_appendf(j, ",\n \"steps\": [");
    for (int t = 0; t < s->steps; t++) {
        cm_str_appendf(j, "%s\n  {\"t\": %d, ", t ? "," : "", t);
        json_step(j, &s->step[t]);
        cm_str_appendf(j, "}");
    }
    cm_str_appendf(j, "\n]}\n");
    size_t len;
    char *text = cm_str_finish(j, &len);
    int rc = 0;
    if (strcmp(path, "-") == 0) {
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            cm_error_set(e, "stdout: write failed");
            rc = -1;
        }
    } else {
        rc = cm_write_file_atomic(path, text, len, e);
    }
    free(text);
    return rc;
}
