/* Rule checks on clip statistics: the cheap, explainable rejections that run
 * before the quality classifier (clipmill-filter). Thresholds, their measured
 * values on the shared footage and the duplicate search are in docs/filter.md;
 * what the statistics mean is in docs/stats.md. */
#ifndef CLIPMILL_RULES_H
#define CLIPMILL_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* One bit per rule, in the order they are reported: the first failing rule
 * names a rejected clip's reason. */
typedef enum {
    RULE_BLACK = 1 << 0,      /* black_frac >= black_frac_max */
    RULE_DARK = 1 << 1,       /* luma_mean < luma_min */
    RULE_STATIC = 1 << 2,     /* static_frac >= static_frac_max */
    RULE_CUTS = 1 << 3,       /* edits per 16 s >= cuts_per_16s_max (hard cuts when edits is unknown) */
    RULE_LETTERBOX = 1 << 4,  /* bars cover more than letterbox_frac_max of the height or width */
    RULE_DUPLICATE = 1 << 5,  /* phash within phash_distance_max of a clip of another source added
                               * to the index before it (lib/curate/decide.c: in clip_id order) */
} rule_bit;
#define RULES_COUNT 6

typedef struct rules_config {
    double static_frac_max;   /* default 0.9 */
    double black_frac_max;    /* default 0.5 */
    double luma_min;          /* default 16 (studio black) */
    double cuts_per_16s_max;  /* default 4 */
    double letterbox_frac_max;/* default 0.10 */
    int phash_distance_max;   /* default 4; -1 turns the duplicate rule off; at most 63 */
} rules_config;

void rules_config_default(rules_config *r);

/* The per-clip rules (all but RULE_DUPLICATE) for a clip of duration_s
 * seconds (<= 0: taken as 16) and frame size w x h. Returns the failed
 * rules' bits, 0 when the clip passes. */
unsigned rules_check(const rules_config *r, const clip_stats *s, double duration_s, int w, int h);

/* The reason code of the first failing rule ("black", "dark", "static",
 * "cuts", "letterbox", "duplicate"), or NULL for 0. */
const char *rules_reason(unsigned failed);
/* The rule bit named code, or 0 for an unknown name. */
unsigned rules_from_name(const char *code);

/* Near-duplicate search over 64-bit perceptual hashes by multi-index hashing:
 * the hash is split into m bands; two hashes within Hamming distance D differ
 * in at most floor(D / m) bits on at least one band (pigeonhole), so a query
 * looks up, in each band's hash table, every band value within that many bits
 * of its own and checks only the entries found. m follows the index's size
 * (for D = 4: 3 bands of 21-22 bits up to ~8 million entries, then 2 of 32
 * bits, whose cost per query no longer grows; lib/rules.c, docs/filter.md).
 * Entries are added in "earlier" order; a query finds the first added entry
 * of another group (source) within distance D. Not thread-safe. */
typedef struct phash_index phash_index;

/* max_distance 0..63. Never fails (allocation failure aborts). */
phash_index *phash_index_new(int max_distance);
/* The same, with the layout chosen for at least expected_entries from the
 * start (speed only: the answers are the same; tests use it to reach the
 * large-index layouts with few entries). */
phash_index *phash_index_new_sized(int max_distance, int64_t expected_entries);
void phash_index_free(phash_index *ix);
/* Adds hash h of an entry of group `group` (e.g. the source's row number) and
 * returns its entry number (0, 1, ...). */
int phash_index_add(phash_index *ix, uint64_t h, int64_t group);
/* The lowest entry number of another group within max_distance of h, or -1;
 * *distance (may be NULL) receives its Hamming distance. *candidates (may be
 * NULL) is increased by the number of full distance checks made. */
int phash_index_find(const phash_index *ix, uint64_t h, int64_t group, int *distance, int64_t *candidates);

#endif
