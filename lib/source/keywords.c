/* Genie's platformer keyword rules: word lists, a tokenizer, phrase matching.
 * docs/keywords.md describes the file format and the matching rules. */
#include "keywords.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded_assets.h"

enum { LIST_PLATFORM = 0, LIST_ACTION = 1, LIST_NEGATIVE = 2, LIST_COUNT = 3 };
static const char *const section_names[LIST_COUNT] = {"platform", "action", "negative"};

/* A list of lowercase words, as text is split for matching. */
typedef struct word_list {
    char **words;
    int count, cap;
} word_list;

typedef struct phrase {
    char *text;            /* the keyword as written (trimmed, lowercase), for reasons */
    word_list words;
} phrase;

typedef struct phrase_list {
    phrase *items;
    int count, cap;
    int header_line;       /* first line of the section, 0 when the section is missing */
} phrase_list;

struct keyword_rules {
    phrase_list lists[LIST_COUNT];
};

static void word_list_free(word_list *w)
{
    for (int i = 0; i < w->count; i++) free(w->words[i]);
    free(w->words);
    memset(w, 0, sizeof *w);
}

static void word_list_add(word_list *w, const char *start, size_t len)
{
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->words = cm_xrealloc(w->words, (size_t)w->cap * sizeof *w->words);
    }
    char *word = cm_xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) word[i] = (char)tolower((unsigned char)start[i]);
    word[len] = '\0';
    w->words[w->count++] = word;
}

/* Length of the separator that starts at s: ASCII characters other than
 * letters and digits, and the UTF-8 punctuation and symbol ranges that titles
 * use as decoration (U+0080-U+00BF such as NBSP and (R), U+2000-U+2FFF such as
 * dashes, curly quotes, TM, arrows and stars, U+3000-U+303F such as CJK
 * brackets, and emoji U+1F000 and up). 0 when s starts a word character.
 * Other non-ASCII letters are word characters, so "marioé" is one word. */
static size_t separator_len(const unsigned char *s)
{
    if (s[0] < 0x80) return isalnum(s[0]) ? 0 : 1;
    if (s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0xBF) return 2;
    if (s[0] == 0xE2 && s[1] >= 0x80 && s[1] <= 0xBF && s[2] >= 0x80 && s[2] <= 0xBF) return 3;
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] >= 0x80 && s[2] <= 0xBF) return 3;
    if (s[0] == 0xF0 && s[1] == 0x9F && s[2] && s[3]) return 4;
    return 0;
}

/* Length of an apostrophe (' or U+2019) at s, 0 if there is none. */
static size_t apostrophe_len(const unsigned char *s)
{
    if (s[0] == '\'') return 1;
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x99) return 3;
    return 0;
}

/* Splits text into lowercase words. An apostrophe between a word character
 * and an ASCII letter or digit belongs to the word ("let's"); a '%' right
 * after a word belongs to it ("any%", "100%"); everything else that
 * separator_len names separates words. */
static void split_words(const char *text, word_list *out)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    char buf[256];
    size_t len = 0;
    while (*s) {
        size_t ap = apostrophe_len(s);
        if (ap && len > 0 && isalnum(s[ap])) {
            if (len < sizeof buf - 1) buf[len++] = '\'';
            s += ap;
            continue;
        }
        if (*s == '%' && len > 0) {
            if (len < sizeof buf - 1) buf[len++] = '%';
            s++;
            word_list_add(out, buf, len);
            len = 0;
            continue;
        }
        size_t sep = ap ? ap : separator_len(s);
        if (sep) {
            if (len) word_list_add(out, buf, len);
            len = 0;
            s += sep;
            continue;
        }
        if (len < sizeof buf - 1) buf[len++] = (char)*s; /* overlong words are truncated; none is listed */
        s++;
    }
    if (len) word_list_add(out, buf, len);
}

/* A listed word also matches its possessive: "mario" matches "Mario's". */
static int word_matches(const char *listed, const char *word)
{
    size_t n = strlen(listed);
    return strncmp(listed, word, n) == 0 && (word[n] == '\0' || strcmp(word + n, "'s") == 0);
}

static int phrase_at(const phrase *p, const word_list *text, int pos)
{
    if (pos + p->words.count > text->count) return 0;
    for (int i = 0; i < p->words.count; i++)
        if (!word_matches(p->words.words[i], text->words[pos + i])) return 0;
    return 1;
}

/* The first phrase of list found in text, scanning text left to right. */
static const phrase *find_phrase(const phrase_list *list, const word_list *text)
{
    for (int pos = 0; pos < text->count; pos++)
        for (int i = 0; i < list->count; i++)
            if (phrase_at(&list->items[i], text, pos)) return &list->items[i];
    return NULL;
}

void keyword_rules_free(keyword_rules *k)
{
    if (!k) return;
    for (int l = 0; l < LIST_COUNT; l++) {
        for (int i = 0; i < k->lists[l].count; i++) {
            free(k->lists[l].items[i].text);
            word_list_free(&k->lists[l].items[i].words);
        }
        free(k->lists[l].items);
    }
    free(k);
}

/* Adds the keyword in line[0..len) to list. Returns 0, or -1 when it holds no word. */
static int add_phrase(phrase_list *list, const char *line, size_t len)
{
    phrase p;
    memset(&p, 0, sizeof p);
    p.text = cm_xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) p.text[i] = (char)tolower((unsigned char)line[i]);
    p.text[len] = '\0';
    split_words(p.text, &p.words);
    if (p.words.count == 0) {
        free(p.text);
        word_list_free(&p.words);
        return -1;
    }
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 64;
        list->items = cm_xrealloc(list->items, (size_t)list->cap * sizeof *list->items);
    }
    list->items[list->count++] = p;
    return 0;
}

int keyword_rules_parse(keyword_rules **out, const char *text, const char *name, cm_error *e)
{
    keyword_rules *k = cm_xcalloc(1, sizeof *k);
    phrase_list *current = NULL;
    int line_no = 0, rc = -1;
    const char *p = text ? text : "";
    *out = NULL;
    if (!name) name = "keywords";
    if (strncmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* a UTF-8 byte order mark from some editors */
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *next = end ? end + 1 : p + len;
        const char *hash = memchr(p, '#', len);
        line_no++;
        if (hash) len = (size_t)(hash - p);
        while (len > 0 && isspace((unsigned char)p[len - 1])) len--; /* also the \r of CRLF */
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        if (len == 0) {
            p = next;
            continue;
        }
        if (p[0] == '[') {
            int found = -1;
            for (int l = 0; l < LIST_COUNT; l++) {
                size_t n = strlen(section_names[l]);
                if (len == n + 2 && p[len - 1] == ']' && strncasecmp(p + 1, section_names[l], n) == 0) found = l;
            }
            if (found < 0) {
                cm_error_set(e, "%s:%d: unknown section %.*s (expected [platform], [action] or [negative])", name,
                             line_no, (int)(len > 64 ? 64 : len), p);
                goto fail;
            }
            current = &k->lists[found];
            if (!current->header_line) current->header_line = line_no;
        } else if (!current) {
            cm_error_set(e, "%s:%d: text outside a section (start with [platform], [action] or [negative])", name,
                         line_no);
            goto fail;
        } else if (add_phrase(current, p, len) != 0) {
            cm_error_set(e, "%s:%d: keyword '%.*s' has no letters or digits", name, line_no,
                         (int)(len > 64 ? 64 : len), p);
            goto fail;
        }
        p = next;
    }
    for (int l = 0; l < LIST_COUNT; l++) {
        if (!k->lists[l].header_line) {
            cm_error_set(e, "%s: no [%s] section", name, section_names[l]);
            goto fail;
        }
        if (k->lists[l].count == 0) {
            cm_error_set(e, "%s:%d: empty section [%s]", name, k->lists[l].header_line, section_names[l]);
            goto fail;
        }
    }
    *out = k;
    rc = 0;
fail:
    if (rc != 0) keyword_rules_free(k);
    return rc;
}

int keyword_rules_load(keyword_rules **out, const char *path, cm_error *e)
{
    if (!path) return keyword_rules_parse(out, keywords_default_txt, "built-in keywords_default.txt", e);
    FILE *f = NULL;
    char *text = NULL;
    size_t cap = 0;
    int rc = -1;
    *out = NULL;
    f = fopen(path, "r");
    if (!f) {
        cm_error_set(e, "%s: cannot open keyword rules: %s", path, strerror(errno));
        goto fail;
    }
    /* getdelim with NUL reads the whole (text) file in one call. */
    if (getdelim(&text, &cap, '\0', f) < 0 && ferror(f)) {
        cm_error_set(e, "%s: cannot read keyword rules: %s", path, strerror(errno));
        goto fail;
    }
    rc = keyword_rules_parse(out, text ? text : "", path, e);
fail:
    free(text);
    if (f) fclose(f);
    return rc;
}

int keyword_rules_check(const keyword_rules *k, const char *title, const char *description,
                        char *reason, size_t reason_len)
{
    word_list t = {0}, d = {0};
    const phrase *neg = NULL;
    int keep = 0;
    char why[160] = "";
    split_words(title, &t);
    /* The negating word is checked before the action word: it is the more
     * specific explanation ("Celeste OST" is rejected for 'ost'). */
    if (!find_phrase(&k->lists[LIST_PLATFORM], &t)) {
        snprintf(why, sizeof why, "no platformer keyword in title");
    } else if ((neg = find_phrase(&k->lists[LIST_NEGATIVE], &t)) != NULL) {
        snprintf(why, sizeof why, "title has negating word '%s'", neg->text);
    } else {
        split_words(description, &d);
        if (!find_phrase(&k->lists[LIST_ACTION], &t) && !find_phrase(&k->lists[LIST_ACTION], &d))
            snprintf(why, sizeof why, "no action word in title or description");
        else
            keep = 1;
    }
    if (reason && reason_len) snprintf(reason, reason_len, "%s", why);
    word_list_free(&t);
    word_list_free(&d);
    return keep;
}
