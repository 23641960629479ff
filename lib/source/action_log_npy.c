/* Per-step tables as NumPy .npy arrays (docs/actions.md, ".npy tables"):
 * a (T,) or (T, A) array of numbers, one row per step, its columns named by
 * the manifest's actions_columns (else after the file), timed by a time
 * column, a times file (actions_times) or actions_rate. The rows go through
 * the same steps as a text table's (al_set_columns, al_add_row,
 * al_table_finish), so alignment and interpolation are the same. */
#include "action_log_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "npy.h"

/* Longest header npy.c accepts (65536) plus the preamble. */
#define NPY_HEADER_READ (65536 + 12)

/* IEEE half to double (numpy's float16). */
static double half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    double v;
    if (exp == 0) v = ldexp(frac, -24);
    else if (exp == 31) v = frac ? NAN : INFINITY;
    else v = ldexp(frac + 1024, exp - 25);
    return sign ? -v : v;
}

/* Element i of a little-endian array of h's dtype, as a double. */
static double npy_element(const npy_header *h, const uint8_t *data, int64_t i)
{
    const uint8_t *p = data + (size_t)i * (size_t)h->item_size;
    uint64_t u = 0;
    for (int b = h->item_size - 1; b >= 0; b--) u = u << 8 | p[b];
    switch (h->kind) {
    case 'b': return u != 0;
    case 'u': return (double)u;
    case 'i': {
        int shift = 64 - 8 * h->item_size;
        return (double)((int64_t)(u << shift) >> shift);
    }
    default:
        if (h->item_size == 2) return half_to_double((uint16_t)u);
        if (h->item_size == 4) {
            float f;
            uint32_t w = (uint32_t)u;
            memcpy(&f, &w, 4);
            return f;
        }
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
}

/* Reads the .npy at path: its header first, checked against the file size
 * and bounded (at most max_rows rows of at most max_cols columns for ndim 2,
 * or 1-D when max_cols is 1 and ndim 1 only), then its data. Returns 0 with
 * *data malloc'd, or -1 with e set naming path. */
static int npy_load(const char *path, int64_t max_rows, int64_t max_cols, int one_d_only, npy_header *h,
                    uint8_t **data, cm_error *e)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        cm_error_set(e, "%s: cannot open: %s", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    uint8_t *head = cm_xmalloc(NPY_HEADER_READ);
    size_t got = fread(head, 1, NPY_HEADER_READ, f);
    cm_error pe = {{0}};
    int rc = npy_parse_header(head, got, (size_t)st.st_size, h, &pe);
    free(head);
    if (rc != 0) {
        cm_error_set(e, "%s: %s", path, pe.msg);
        goto fail;
    }
    int64_t cols = h->ndim == 2 ? h->shape[1] : 1;
    if (h->ndim < 1 || h->ndim > 2 || (one_d_only && h->ndim != 1)) {
        cm_error_set(e, "%s: shape has %d dimensions, want %s", path, h->ndim, one_d_only ? "1 (T,)" : "1 (T,) or 2 (T, A)");
        goto fail;
    }
    if (h->shape[0] > max_rows || cols > max_cols || cols < 1) {
        cm_error_set(e, "%s: shape (%lld, %lld) out of bounds (at most %lld rows of 1 to %lld columns)", path,
                     (long long)h->shape[0], (long long)cols, (long long)max_rows, (long long)max_cols);
        goto fail;
    }
    size_t bytes = (size_t)h->count * (size_t)h->item_size;
    *data = cm_xmalloc(bytes ? bytes : 1);
    if (fseek(f, (long)h->data_offset, SEEK_SET) != 0 || fread(*data, 1, bytes, f) != bytes) {
        cm_error_set(e, "%s: cannot read the data (truncated while reading?)", path);
        goto fail;
    }
    fclose(f);
    return 0;
fail:
    free(*data);
    *data = NULL;
    fclose(f);
    return -1;
}

static const char *const TIME_NAMES[] = {"t", "time", "timestamp", NULL};

/* Column names: from actions_columns, else STEM (1-D) or STEM[i]. Sets
 * *time_col to the time column's index or -1. names[i] are malloc'd. */
static int column_names(log_reader *R, const char *path, int cols, char **names, int *time_col)
{
    const action_log_options *o = R->o;
    *time_col = -1;
    if (o->columns && o->columns[0]) {
        int n = al_string_array(R, o->columns, "actions_columns");
        if (n < 0) return -1;
        if (n != cols) {
            char why[128];
            snprintf(why, sizeof why, "actions_columns names %d columns, the array has %d", n, cols);
            return al_fail_line(R, why);
        }
        for (int i = 0; i < n; i++) {
            names[i] = cm_xstrdup(R->leaves.text[i]);
            for (int k = 0; TIME_NAMES[k] && *time_col < 0; k++)
                if (strcasecmp(names[i], TIME_NAMES[k]) == 0) *time_col = i;
        }
        return 0;
    }
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    int stem = (int)(strlen(base) - 4); /* without ".npy" */
    if (stem > ACTIONS_NAME_MAX - 6) stem = ACTIONS_NAME_MAX - 6; /* room for "[4095]" */
    for (int i = 0; i < cols; i++) {
        char name[ACTIONS_NAME_MAX + 16];
        if (cols == 1) snprintf(name, sizeof name, "%.*s", stem, base);
        else snprintf(name, sizeof name, "%.*s[%d]", stem, base, i);
        names[i] = cm_xstrdup(name);
    }
    return 0;
}

static int fail_row(log_reader *R, int64_t row, const char *why)
{
    char msg[160];
    snprintf(msg, sizeof msg, "row %lld: %s", (long long)row, why);
    return al_fail_line(R, msg);
}

int action_log_read_npy(const char *path, const action_log_options *o, action_log *log, cm_error *e)
{
    memset(log, 0, sizeof *log);
    log->kind = ACTION_LOG_TABLE;
    log_reader R = {.name = path, .o = o, .log = log, .e = e};
    npy_header h, th;
    uint8_t *data = NULL, *tdata = NULL;
    char **names = NULL;
    double *row = NULL;
    int cols = 0, time_col = -1, rc = -1;
    if (al_reader_open(&R) != 0) goto fail;
    if (o->format && o->format[0] && strcmp(o->format, "table") != 0) {
        al_fail_line(&R, "a .npy file is a table (actions_format \"table\")");
        goto fail;
    }
    if (npy_load(path, AL_MAX_ROWS, ACTIONS_CHANNELS_MAX + 1, 0, &h, &data, e) != 0) goto fail;
    cols = h.ndim == 2 ? (int)h.shape[1] : 1;
    const int64_t rows = h.shape[0];
    names = cm_xcalloc((size_t)cols, sizeof *names);
    if (column_names(&R, path, cols, names, &time_col) != 0) goto fail;
    int have_times = o->times && o->times[0];
    if (have_times && time_col >= 0) {
        al_fail_line(&R, "both a time column and actions_times");
        goto fail;
    }
    if (!have_times && time_col < 0 && o->rate <= 0) {
        al_fail_line(&R, "a .npy table needs actions_rate, actions_times or a time column (t, time or timestamp) "
                         "in actions_columns");
        goto fail;
    }
    if (have_times) {
        if (npy_load(o->times, AL_MAX_ROWS, 1, 1, &th, &tdata, e) != 0) goto fail;
        if (th.shape[0] != rows) {
            char why[160];
            snprintf(why, sizeof why, "actions_times %s has %lld times, the table %lld rows", o->times,
                     (long long)th.shape[0], (long long)rows);
            al_fail_line(&R, why);
            goto fail;
        }
    }
    char **value_names = cm_xcalloc((size_t)cols, sizeof *value_names);
    int n_values = 0;
    for (int c = 0; c < cols; c++)
        if (c != time_col) value_names[n_values++] = names[c];
    rc = al_set_columns(&R, value_names, n_values);
    free(value_names);
    if (rc != 0) goto fail;
    rc = -1;
    row = cm_xmalloc((size_t)cols * sizeof *row);
    for (int64_t r = 0; r < rows; r++) {
        double t = have_times ? npy_element(&th, tdata, r) : 0;
        for (int c = 0, v = 0; c < cols; c++) {
            double x = npy_element(&h, data, r * cols + c);
            if (c == time_col) t = x;
            else row[v++] = x;
        }
        for (int c = 0; c < n_values; c++)
            if (!isfinite(row[c])) {
                fail_row(&R, r, "a value is not a finite number");
                goto fail;
            }
        if (!isfinite(t)) {
            fail_row(&R, r, "the time is not a finite number");
            goto fail;
        }
        if (al_add_row(&R, t, row) != 0) {
            fail_row(&R, r, "times must increase from row to row");
            goto fail;
        }
    }
    if (al_table_finish(&R) != 0) goto fail;
    rc = 0;
fail:
    for (int c = 0; names && c < cols; c++) free(names[c]);
    free(names);
    free(row);
    free(data);
    free(tdata);
    al_reader_close(&R);
    if (rc != 0) action_log_free(log);
    return rc;
}
