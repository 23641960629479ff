/* DATASET/card.md: the dataset card, a human-readable summary written from
 * the dataset's own meta.sqlite (dataset_meta.h) when the dataset is built:
 * the command and settings that built it, then clips, sources and hours per
 * split, domain, channel (game), license and decision. docs/shard-format.md
 * "card.md". */
#ifndef CLIPMILL_DATASET_CARD_H
#define CLIPMILL_DATASET_CARD_H

#include "util.h"

#define DATASET_CARD_FILE "card.md"

/* Writes card_path (atomically) from the finished meta file meta_path.
 * Returns 0, or -1 with e naming the file. */
int dataset_card_write(const char *meta_path, const char *card_path, cm_error *e);

#endif
