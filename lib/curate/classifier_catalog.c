/* The classifier and the catalog (classifier_catalog.h): a model's
 * registration and a clip's statistics, through the corpus tables' modules
 * (lib/corpus/scores.h, catalog.h). Scoring a whole corpus is
 * lib/curate/score.c; the evaluation metrics are lib/model/classifier_metrics.c. */
#include "classifier_catalog.h"
#include "scores.h"

int classifier_clip_stats(catalog *c, const char *clip_id, clip_stats *s, cm_error *e)
{
    return catalog_clip_stats(c, clip_id, s, e);
}

int classifier_register(catalog *c, const classifier *m, const char *name, const char *path, const char *train_json,
                        const char *metrics_json, double train_seconds, int64_t run_id, int64_t *model_id,
                        cm_error *e)
{
    const classifier_info *inf = classifier_get_info(m);
    const model_row row = {
        .name = name, .path = path, .sha256 = inf->sha256, .arch = inf->arch_text, .params = (int64_t)inf->params,
        .train_json = train_json, .metrics_json = metrics_json, .threshold = inf->threshold,
        .target_precision = inf->target_precision, .seed = inf->seed, .train_seconds = train_seconds,
        .run_id = run_id,
    };
    return models_insert(c, &row, model_id, e);
}

int classifier_find_model(catalog *c, const classifier *m, int64_t *model_id, cm_error *e)
{
    return models_find_sha256(c, classifier_get_info(m)->sha256, model_id, e);
}
