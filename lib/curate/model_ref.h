/* What --model means, in every tool that takes one: a model id of the
 * corpus' models table (an integer) or a model file. A file is found in the
 * catalog by its SHA-256 (it may not be registered there yet); an id is
 * opened through the path it was registered with, and must still have the
 * registered SHA-256. */
#ifndef CLIPMILL_MODEL_REF_H
#define CLIPMILL_MODEL_REF_H

#include <stdint.h>

#include "catalog.h"
#include "classifier.h"
#include "util.h"

typedef struct model_ref {
    int64_t model_id;    /* 0: a file that this catalog has not registered */
    char *path;          /* the file: as given, or as registered for an id */
    char sha256[65];     /* of the file */
    classifier *model;   /* loaded when asked for, else NULL */
} model_ref;

/* 1 when arg is a model id (decimal digits only), else 0 (a file path). */
int model_ref_is_id(const char *arg);

/* Resolves arg (a model id or a file) in catalog c of the corpus in
 * corpus_dir. load: also loads the model into r->model (the caller scores
 * with it). A registered path that is relative and not found from the
 * current directory is looked for under corpus_dir, then by its file name
 * in corpus_dir/models. Returns 0, or -1 with e
 * naming arg: no such id, a file that cannot be read or is not a model, or
 * a file that changed since it was registered. Free r with model_ref_free
 * either way. */
int model_ref_resolve(catalog *c, const char *corpus_dir, const char *arg, int load, model_ref *r, cm_error *e);
/* The same for another option than --model (e.g. "--init"): the errors
 * name that option. */
int model_ref_resolve_option(catalog *c, const char *corpus_dir, const char *option, const char *arg, int load,
                             model_ref *r, cm_error *e);
void model_ref_free(model_ref *r);

#endif
