/* Robot episodes in HDF5 files (hdf5_file.h, docs/robotics.md "HDF5
 * episodes"). libhdf5's automatic error printing is off in every entry
 * point (the setting is per thread in the thread-safe builds Debian ships);
 * a failed call's deepest error-stack message becomes the end of our one
 * line, and the stack is cleared. */
#include "hdf5_file.h"

#include <ctype.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "hid_t is stored as int64_t");

#define MAX_DEPTH 8            /* group nesting walked under an actions/states key */
#define MAX_DATASETS 256       /* datasets under one key */

struct h5ep_file {
    char *path;
    hid_t fid;
    int n;
    char **groups;             /* the episodes' groups: "data/demo_0", ... or "/" */
};

/* The deepest message of libhdf5's error stack, then the stack cleared. */
static herr_t deepest(unsigned n, const H5E_error2_t *err, void *data)
{
    (void)n;
    snprintf(data, 160, "%s", err->desc ? err->desc : "");
    return 0;
}

static void h5_why(char *buf, size_t len)
{
    char deep[160] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, deepest, deep);
    H5Eclear2(H5E_DEFAULT);
    snprintf(buf, len, "%s", deep[0] ? deep : "libhdf5 error");
}

static void quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* "PATH: OBJ: reason", the reason from fmt, plus libhdf5's when lib is set. */
static int fail(cm_error *e, const char *path, const char *obj, int lib, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(cm_error *e, const char *path, const char *obj, int lib, const char *fmt, ...)
{
    char why[256], deep[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (lib) h5_why(deep, sizeof deep);
    cm_error_set(e, "%s: %s%s%s%s%s%s", path, obj ? obj : "", obj ? ": " : "", why, lib ? " (" : "", deep,
                 lib ? ")" : "");
    return -1;
}

/* dst = a SEP b (SEP "/" when both are non-empty), cut to len - 1 bytes. */
static void join(char *dst, size_t len, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), sep = na && nb;
    if (na > len - 1) na = len - 1;
    memcpy(dst, a, na);
    if (sep && na < len - 1) dst[na++] = '/';
    if (nb > len - 1 - na) nb = len - 1 - na;
    memcpy(dst + na, b, nb);
    dst[na + nb] = '\0';
}

/* Natural order: "demo_2" before "demo_10". */
static int natural_cmp(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    while (*x && *y) {
        if (isdigit((unsigned char)*x) && isdigit((unsigned char)*y)) {
            while (*x == '0') x++;
            while (*y == '0') y++;
            size_t nx = 0, ny = 0;
            while (isdigit((unsigned char)x[nx])) nx++;
            while (isdigit((unsigned char)y[ny])) ny++;
            if (nx != ny) return nx < ny ? -1 : 1;
            int c = strncmp(x, y, nx);
            if (c) return c;
            x += nx;
            y += ny;
        } else {
            if (*x != *y) return (unsigned char)*x - (unsigned char)*y;
            x++;
            y++;
        }
    }
    return (unsigned char)*x - (unsigned char)*y;
}

/* Names of a group's members (hard and soft links; external links refused
 * as another file), in name order. */
typedef struct name_list {
    int n, cap, external;
    char **v;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    name_list *l = data;
    if (info->type == H5L_TYPE_EXTERNAL || info->type >= H5L_TYPE_UD_MIN) {
        l->external = 1;
        return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = cm_xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = cm_xstrdup(name);
    return l->n > 100000 ? 1 : 0;
}

static void names_free(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int list_group(hid_t g, name_list *l)
{
    memset(l, 0, sizeof *l);
    hsize_t idx = 0;
    return H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, l) < 0 ? -1 : 0;
}

/* H5I_GROUP, H5I_DATASET, or H5I_BADID when loc has no such object. */
static H5I_type_t object_type(hid_t loc, const char *name)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return H5I_BADID;
    }
    hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
    if (o < 0) {
        H5Eclear2(H5E_DEFAULT);
        return H5I_BADID;
    }
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t;
}

int h5ep_open(h5ep_file **out, const char *path, cm_error *e)
{
    quiet();
    *out = NULL;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    /* Read-only: no lock needed, and cluster file systems often refuse them. */
    H5Pset_file_locking(fapl, 0, 1);
#endif
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fid < 0) {
        /* Before any other call: every API call empties the error stack. */
        fail(e, path, NULL, 1, "not an HDF5 file, damaged or unreadable");
        H5Pclose(fapl);
        return -1;
    }
    H5Pclose(fapl);
    h5ep_file *f = cm_xcalloc(1, sizeof *f);
    f->path = cm_xstrdup(path);
    f->fid = fid;
    if (object_type(fid, "data") == H5I_GROUP) {
        /* robomimic: every group under data/ is an episode. */
        hid_t g = H5Gopen2(fid, "data", H5P_DEFAULT);
        name_list l;
        if (g < 0 || list_group(g, &l) != 0) {
            if (g >= 0) H5Gclose(g);
            fail(e, path, "data", 1, "cannot list the group");
            h5ep_close(f);
            return -1;
        }
        if (l.n > 1) qsort(l.v, (size_t)l.n, sizeof *l.v, natural_cmp);
        f->groups = cm_xcalloc((size_t)l.n + 1, sizeof *f->groups);
        for (int i = 0; i < l.n; i++) {
            if (object_type(g, l.v[i]) != H5I_GROUP) continue;
            char *p = cm_xmalloc(strlen(l.v[i]) + 6);
            sprintf(p, "data/%s", l.v[i]);
            f->groups[f->n++] = p;
        }
        names_free(&l);
        H5Gclose(g);
        if (f->n == 0) {
            fail(e, path, "data", 0, "no episode groups (robomimic layout: data/demo_0, data/demo_1, ...)");
            h5ep_close(f);
            return -1;
        }
    } else {
        f->groups = cm_xcalloc(1, sizeof *f->groups);
        f->groups[0] = cm_xstrdup("/");
        f->n = 1;
    }
    *out = f;
    return 0;
}

int h5ep_count(const h5ep_file *f)
{
    return f->n;
}

void h5ep_close(h5ep_file *f)
{
    if (!f) return;
    quiet();
    for (int i = 0; i < f->n; i++) free(f->groups[i]);
    free(f->groups);
    if (f->fid >= 0) H5Fclose(f->fid);
    H5Eclear2(H5E_DEFAULT);
    free(f->path);
    free(f);
}

/* --- One episode ---------------------------------------------------------- */

typedef struct reading {
    h5ep_file *f;
    h5ep_episode *ep;
    hid_t g;                   /* the episode's group */
    cm_error *e;
    char obj[512];             /* "GROUP/DATASET" of the last failure */
    const char *camera_path;   /* relative to g: excluded from states */
    const char *time_path;
} reading;

static const char *full_name(reading *R, const char *rel)
{
    join(R->obj, sizeof R->obj, strcmp(R->ep->group, "/") == 0 ? "" : R->ep->group, rel);
    return R->obj;
}

/* A dataset's rank, dims (up to 4) and type class; the class is -1 for
 * anything but integers and floats. Returns 0, or -1 with e set. */
static int describe(reading *R, hid_t d, const char *rel, int *rank, hsize_t dims[4], int *num, int *u8)
{
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int rc = 0;
    if (sp < 0 || ty < 0 || r < 0) rc = fail(R->e, R->f->path, full_name(R, rel), 1, "cannot read the shape or type");
    else if (r > 4) r = 5; /* more than any use here: reported as a wrong shape */
    else H5Sget_simple_extent_dims(sp, dims, NULL);
    if (rc == 0) {
        H5T_class_t c = H5Tget_class(ty);
        *num = c == H5T_INTEGER || c == H5T_FLOAT;
        *u8 = c == H5T_INTEGER && H5Tget_size(ty) == 1 && H5Tget_sign(ty) == H5T_SGN_NONE;
        *rank = r;
    }
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    return rc;
}

/* The camera: the named dataset, or the first (T, H, W, 3) uint8 dataset in
 * name order, depth first, under the episode's group. */
static int find_camera(reading *R, hid_t g, const char *prefix, int depth, char *found, size_t len)
{
    name_list l;
    if (depth > MAX_DEPTH || list_group(g, &l) != 0) return 0;
    int hit = 0;
    for (int i = 0; i < l.n && !hit; i++) {
        char rel[512];
        join(rel, sizeof rel, prefix, l.v[i]);
        H5I_type_t t = object_type(g, l.v[i]);
        if (t == H5I_GROUP) {
            hid_t sub = H5Gopen2(g, l.v[i], H5P_DEFAULT);
            if (sub >= 0) {
                hit = find_camera(R, sub, rel, depth + 1, found, len);
                H5Gclose(sub);
            }
        } else if (t == H5I_DATASET) {
            hid_t d = H5Dopen2(g, l.v[i], H5P_DEFAULT);
            int rank = 0, num = 0, u8 = 0;
            hsize_t dims[4] = {0};
            if (d >= 0 && describe(R, d, rel, &rank, dims, &num, &u8) == 0 && rank == 4 && u8 && dims[3] == 3) {
                snprintf(found, len, "%s", rel);
                hit = 1;
            }
            if (d >= 0) H5Dclose(d);
            H5Eclear2(H5E_DEFAULT);
        }
    }
    names_free(&l);
    return hit;
}

static int open_camera(reading *R, const h5ep_options *o, char *cam, size_t len)
{
    h5ep_episode *ep = R->ep;
    if (o->camera && o->camera[0]) snprintf(cam, len, "%s", o->camera);
    else if (!find_camera(R, R->g, "", 0, cam, len))
        return fail(R->e, R->f->path, full_name(R, ""), 0,
                    "no camera: no (T, H, W, 3) uint8 dataset (name one with \"camera\")");
    if (object_type(R->g, cam) != H5I_DATASET)
        return fail(R->e, R->f->path, full_name(R, cam), 0, "no such dataset (the camera)");
    /* Frames are read one step at a time: a chunk cache that holds a few
     * chunks of a large image dataset keeps each decompressed once. */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 521, (size_t)64 << 20, 1.0);
    hid_t d = H5Dopen2(R->g, cam, dapl);
    H5Pclose(dapl);
    if (d < 0) return fail(R->e, R->f->path, full_name(R, cam), 1, "cannot open the camera");
    ep->camera = d;
    int rank, num, u8;
    hsize_t dims[4] = {0};
    if (describe(R, d, cam, &rank, dims, &num, &u8) != 0) return -1;
    if (rank != 4 || !u8 || dims[3] != 3)
        return fail(R->e, R->f->path, full_name(R, cam), 0, "the camera must be uint8 of shape (T, H, W, 3)");
    if (dims[0] < 1 || dims[0] > H5EP_STEPS_MAX || dims[1] < 1 || dims[1] > H5EP_SIDE_MAX || dims[2] < 1 ||
        dims[2] > H5EP_SIDE_MAX)
        return fail(R->e, R->f->path, full_name(R, cam), 0, "camera shape (%llu, %llu, %llu, 3) out of bounds",
                    (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2]);
    ep->steps = (int)dims[0];
    ep->h = (int)dims[1];
    ep->w = (int)dims[2];
    return 0;
}

/* Number datasets of (T,) or (T, k) named by key: the dataset key, or every
 * one under the group key (depth first, name order; images and other ranks
 * skipped, the camera and the time left out). Appends their relative paths. */
static int collect(reading *R, hid_t g, const char *rel, int depth, name_list *out)
{
    name_list l;
    if (list_group(g, &l) != 0) return fail(R->e, R->f->path, full_name(R, rel), 1, "cannot list the group");
    int rc = 0;
    if (l.external) rc = fail(R->e, R->f->path, full_name(R, rel), 0, "external links are not followed");
    for (int i = 0; i < l.n && rc == 0; i++) {
        char path[512];
        join(path, sizeof path, rel, l.v[i]);
        H5I_type_t ti = object_type(g, l.v[i]);
        if (ti == H5I_GROUP && depth < MAX_DEPTH) {
            hid_t sub = H5Gopen2(g, l.v[i], H5P_DEFAULT);
            rc = sub < 0 ? fail(R->e, R->f->path, full_name(R, path), 1, "cannot open the group")
                         : collect(R, sub, path, depth + 1, out);
            if (sub >= 0) H5Gclose(sub);
        } else if (ti == H5I_DATASET) {
            if ((R->camera_path && strcmp(path, R->camera_path) == 0) || (R->time_path && strcmp(path, R->time_path) == 0))
                continue;
            hid_t d = H5Dopen2(g, l.v[i], H5P_DEFAULT);
            int rank = 0, num = 0, u8 = 0;
            hsize_t dims[4];
            if (d < 0) rc = fail(R->e, R->f->path, full_name(R, path), 1, "cannot open the dataset");
            else rc = describe(R, d, path, &rank, dims, &num, &u8);
            if (d >= 0) H5Dclose(d);
            if (rc == 0 && num && (rank == 1 || rank == 2)) {
                if (out->n >= MAX_DATASETS) rc = fail(R->e, R->f->path, full_name(R, rel), 0, "too many datasets");
                else collect_name(0, path, &(H5L_info_t){.type = H5L_TYPE_HARD}, out);
            }
        }
    }
    names_free(&l);
    return rc;
}

/* Reads the channels of key (a dataset or group under the episode) into
 * names/values. required: a missing key is an error (else no channels). */
static int read_channels(reading *R, const char *key, int required, char ***names, int *n, float **values)
{
    h5ep_episode *ep = R->ep;
    name_list sets = {0};
    int rc = 0;
    *names = NULL;
    *n = 0;
    *values = NULL;
    H5I_type_t t = object_type(R->g, key);
    if (t == H5I_BADID) {
        return required ? fail(R->e, R->f->path, full_name(R, key), 0, "no such dataset or group") : 0;
    } else if (t == H5I_DATASET) {
        collect_name(0, key, &(H5L_info_t){.type = H5L_TYPE_HARD}, &sets);
    } else {
        hid_t g = H5Gopen2(R->g, key, H5P_DEFAULT);
        rc = g < 0 ? fail(R->e, R->f->path, full_name(R, key), 1, "cannot open the group") : collect(R, g, key, 0, &sets);
        if (g >= 0) H5Gclose(g);
    }
    int cap = 0;
    double *buf = NULL;
    for (int s = 0; s < sets.n && rc == 0; s++) {
        const char *rel = sets.v[s];
        hid_t d = H5Dopen2(R->g, rel, H5P_DEFAULT);
        int rank = 0, num = 0, u8 = 0;
        hsize_t dims[4] = {0};
        if (d < 0) {
            rc = fail(R->e, R->f->path, full_name(R, rel), 1, "cannot open the dataset");
            break;
        }
        rc = describe(R, d, rel, &rank, dims, &num, &u8);
        if (rc == 0 && (!num || rank < 1 || rank > 2))
            rc = fail(R->e, R->f->path, full_name(R, rel), 0, "must be numbers of shape (T,) or (T, k)");
        else if (rc == 0 && dims[0] != (hsize_t)ep->steps)
            rc = fail(R->e, R->f->path, full_name(R, rel), 0, "%llu steps, the camera has %d",
                      (unsigned long long)dims[0], ep->steps);
        int k = rank == 2 ? (int)dims[1] : 1;
        if (rc == 0 && (rank == 2 && (dims[1] < 1 || *n + dims[1] > H5EP_CHANNELS_MAX)))
            rc = fail(R->e, R->f->path, full_name(R, rel), 0, "between 1 and %d channels per episode", H5EP_CHANNELS_MAX);
        if (rc == 0) {
            size_t need = (size_t)ep->steps * (size_t)k;
            buf = cm_xrealloc(buf, need * sizeof *buf);
            if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
                rc = fail(R->e, R->f->path, full_name(R, rel), 1, "cannot read");
        }
        H5Dclose(d);
        if (rc != 0) break;
        int base = *n;
        *n += k;
        if (*n > cap) {
            cap = *n;
            *names = cm_xrealloc(*names, (size_t)cap * sizeof **names);
        }
        float *nv = cm_xmalloc((size_t)ep->steps * (size_t)*n * sizeof *nv);
        for (int st = 0; st < ep->steps; st++) {
            if (base) memcpy(nv + (size_t)st * *n, *values + (size_t)st * base, (size_t)base * sizeof *nv);
            for (int c = 0; c < k; c++) nv[(size_t)st * *n + base + c] = (float)buf[(size_t)st * k + c];
        }
        free(*values);
        *values = nv;
        for (int c = 0; c < k; c++) {
            char name[600];
            if (rank == 2 && k > 1) snprintf(name, sizeof name, "%s[%d]", rel, c);
            else snprintf(name, sizeof name, "%s", rel);
            (*names)[base + c] = cm_xstrdup(name);
        }
    }
    free(buf);
    names_free(&sets);
    return rc;
}

static int read_times(reading *R, const char *key, int required)
{
    h5ep_episode *ep = R->ep;
    if (object_type(R->g, key) != H5I_DATASET)
        return required ? fail(R->e, R->f->path, full_name(R, key), 0, "no such dataset (the times)") : 0;
    hid_t d = H5Dopen2(R->g, key, H5P_DEFAULT);
    int rank = 0, num = 0, u8 = 0, rc;
    hsize_t dims[4] = {0};
    if (d < 0) return fail(R->e, R->f->path, full_name(R, key), 1, "cannot open the dataset");
    rc = describe(R, d, key, &rank, dims, &num, &u8);
    if (rc == 0 && (!num || rank != 1 || dims[0] != (hsize_t)ep->steps))
        rc = fail(R->e, R->f->path, full_name(R, key), 0, "times must be numbers of shape (T,) with T = %d (the camera's)",
                  ep->steps);
    if (rc == 0) {
        ep->t = cm_xmalloc((size_t)ep->steps * sizeof *ep->t);
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ep->t) < 0)
            rc = fail(R->e, R->f->path, full_name(R, key), 1, "cannot read");
    }
    H5Dclose(d);
    R->time_path = key;
    return rc;
}

static const char *first_existing(reading *R, const char *const *keys)
{
    for (int i = 0; keys[i]; i++)
        if (object_type(R->g, keys[i]) != H5I_BADID) return keys[i];
    return NULL;
}

int h5ep_read(h5ep_file *f, int i, const h5ep_options *o, h5ep_episode *ep, cm_error *e)
{
    quiet();
    memset(ep, 0, sizeof *ep);
    ep->camera = -1;
    ep->file = f;
    ep->group = cm_xstrdup(f->groups[i]);
    reading R = {.f = f, .ep = ep, .e = e};
    char cam[512];
    R.g = H5Gopen2(f->fid, ep->group, H5P_DEFAULT);
    if (R.g < 0) return fail(e, f->path, ep->group, 1, "cannot open the group");
    int rc = open_camera(&R, o, cam, sizeof cam);
    R.camera_path = cam;
    static const char *const time_keys[] = {"timestamp", "timestamps", "t", "observation/timestamp", NULL};
    static const char *const action_keys[] = {"actions", "action", NULL};
    static const char *const state_keys[] = {"obs", "observation/robot_state", "observation", NULL};
    const char *tk = o->time_key && o->time_key[0] ? o->time_key : first_existing(&R, time_keys);
    if (rc == 0 && tk) rc = read_times(&R, tk, o->time_key && o->time_key[0]);
    const char *ak = o->actions && o->actions[0] ? o->actions : first_existing(&R, action_keys);
    if (rc == 0 && ak) rc = read_channels(&R, ak, 1, &ep->action_names, &ep->n_actions, &ep->actions);
    const char *sk = o->states && o->states[0] ? o->states : first_existing(&R, state_keys);
    if (rc == 0 && sk) rc = read_channels(&R, sk, 1, &ep->state_names, &ep->n_states, &ep->states);
    if (rc == 0 && ep->n_actions + ep->n_states > H5EP_CHANNELS_MAX)
        rc = fail(e, f->path, ep->group, 0, "more than %d action and state channels", H5EP_CHANNELS_MAX);
    /* A dataset under both keys would be two channels of one name. */
    for (int a = 0; rc == 0 && a < ep->n_actions; a++)
        for (int s = 0; s < ep->n_states; s++)
            if (strcmp(ep->action_names[a], ep->state_names[s]) == 0) {
                rc = fail(e, f->path, full_name(&R, ep->action_names[a]), 0, "both an action and a state");
                break;
            }
    H5Gclose(R.g);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

int h5ep_frame(h5ep_episode *ep, int step, uint8_t *rgb, cm_error *e)
{
    quiet();
    hsize_t start[4] = {(hsize_t)step, 0, 0, 0}, count[4] = {1, (hsize_t)ep->h, (hsize_t)ep->w, 3};
    hsize_t n = (hsize_t)ep->h * ep->w * 3;
    hid_t fs = H5Dget_space((hid_t)ep->camera), ms = H5Screate_simple(1, &n, NULL);
    int rc = 0;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread((hid_t)ep->camera, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, rgb) < 0) {
        char deep[160], name[400] = "";
        h5_why(deep, sizeof deep);
        H5Iget_name((hid_t)ep->camera, name, sizeof name);
        H5Eclear2(H5E_DEFAULT);
        rc = fail(e, ep->file->path, name[0] == '/' ? name + 1 : name, 0, "cannot read step %d (%s)", step, deep);
    }
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return rc;
}

void h5ep_episode_free(h5ep_episode *ep)
{
    if (!ep) return;
    quiet();
    for (int i = 0; i < ep->n_actions; i++) free(ep->action_names[i]);
    for (int i = 0; i < ep->n_states; i++) free(ep->state_names[i]);
    free(ep->action_names);
    free(ep->state_names);
    free(ep->actions);
    free(ep->states);
    free(ep->t);
    free(ep->group);
    if (ep->camera >= 0) H5Dclose((hid_t)ep->camera);
    H5Eclear2(H5E_DEFAULT);
    memset(ep, 0, sizeof *ep);
    ep->camera = -1;
}
