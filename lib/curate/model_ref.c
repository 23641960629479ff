/* --model: a model id or a model file (model_ref.h). */
#include "model_ref.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpus.h"
#include "hash.h"
#include "scores.h"

int model_ref_is_id(const char *arg)
{
    return arg[0] != '\0' && strspn(arg, "0123456789") == strlen(arg);
}

/* The registered path of an id as it can be opened now: as registered, or,
 * when that was relative to another working directory, under the corpus
 * directory, or by its file name in the corpus' models/ (where clipmill-train
 * puts models). The SHA-256 check after loading catches a wrong guess.
 * malloc'd. */
static char *openable_path(const char *registered, const char *corpus_dir)
{
    if (registered[0] == '/' || access(registered, F_OK) == 0) return cm_xstrdup(registered);
    char *under = cm_path_join(corpus_dir, registered);
    if (access(under, F_OK) == 0) return under;
    free(under);
    const char *base = strrchr(registered, '/');
    char *models = cm_path_join(corpus_dir, CORPUS_MODELS);
    char *in_models = cm_path_join(models, base ? base + 1 : registered);
    free(models);
    if (access(in_models, F_OK) == 0) return in_models;
    free(in_models);
    return cm_xstrdup(registered);
}

int model_ref_resolve(catalog *c, const char *corpus_dir, const char *arg, int load, model_ref *r, cm_error *e)
{
    return model_ref_resolve_option(c, corpus_dir, "--model", arg, load, r, e);
}

int model_ref_resolve_option(catalog *c, const char *corpus_dir, const char *option, const char *arg, int load,
                             model_ref *r, cm_error *e)
{
    memset(r, 0, sizeof *r);
    char registered_sha[65] = "";
    if (model_ref_is_id(arg)) {
        char *registered = NULL;
        r->model_id = strtoll(arg, NULL, 10);
        int got = r->model_id > 0 ? models_get(c, r->model_id, &registered, registered_sha, e) : 1;
        if (got != 0) {
            if (got == 1) cm_error_set(e, "%s %s: no model with this id in the catalog's models table", option, arg);
            return -1;
        }
        r->path = openable_path(registered, corpus_dir);
        free(registered);
    } else {
        r->path = cm_xstrdup(arg);
    }
    if (load) {
        if (classifier_load(&r->model, r->path, e) != 0) return -1;
        memcpy(r->sha256, classifier_get_info(r->model)->sha256, 65);
    } else if (cm_sha256_file(r->path, r->sha256, NULL, e) != 0) {
        return -1;
    }
    if (registered_sha[0]) {
        if (strcmp(registered_sha, r->sha256) != 0) {
            cm_error_set(e, "%s %s: %s has changed since it was registered as model %s (SHA-256 %.16s..., now "
                         "%.16s...)", option, arg, r->path, arg, registered_sha, r->sha256);
            return -1;
        }
        return 0;
    }
    int found = models_find_sha256(c, r->sha256, &r->model_id, e);
    if (found < 0) return -1;
    if (found == 1) r->model_id = 0;
    return 0;
}

void model_ref_free(model_ref *r)
{
    classifier_free(r->model);
    free(r->path);
    memset(r, 0, sizeof *r);
}
