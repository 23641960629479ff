/* Genie's keyword rules (appendix B.1) for platformer sources: keep a source
 * only if its title names a platformer keyword, its title or description has
 * an action word, and its title has no negating word.
 *
 * Rules file format (docs/keywords.md): sections "[platform]", "[action]",
 * "[negative]"; one word or phrase per line; '#' starts a comment. Matching is
 * case-insensitive, on whole words (a phrase "let's play" matches "Let's Play
 * SuperTux" but "play" does not match "playthrough" and "mario" does not
 * match "marionette"). The built-in list is lib/keywords_default.txt. */
#ifndef CLIPMILL_KEYWORDS_H
#define CLIPMILL_KEYWORDS_H

#include <stddef.h>
#include "util.h"

typedef struct keyword_rules keyword_rules;

/* Loads rules from path, or the built-in defaults when path is NULL. Returns
 * 0 and *out, or -1 with e naming the file and line (unreadable file, text
 * outside a section, an empty section). */
int keyword_rules_load(keyword_rules **out, const char *path, cm_error *e);
int keyword_rules_parse(keyword_rules **out, const char *text, const char *name, cm_error *e);
void keyword_rules_free(keyword_rules *k);

/* Returns 1 to keep, 0 to reject; on reject, reason receives e.g.
 * "no platformer keyword in title", "no action word in title or description",
 * "title has negating word 'trailer'". */
int keyword_rules_check(const keyword_rules *k, const char *title, const char *description,
                        char *reason, size_t reason_len);

#endif
