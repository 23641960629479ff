/* Keyword rules: the built-in list against realistic titles, matching rules,
 * a custom rules file, and parse errors with line numbers. */
#include <stdio.h>
#include <string.h>

#include "../test.h"
#include "keywords.h"
#include "util.h"

typedef struct title_case {
    const char *title, *description;
    int keep;
    const char *reason; /* expected reason when rejected ("" when kept) */
} title_case;

#define NO_PLATFORM "no platformer keyword in title"
#define NO_ACTION "no action word in title or description"

static const title_case default_cases[] = {
    {"SuperTux 0.6 full playthrough", "", 1, ""},
    {"Celeste - Any% Speedrun in 26:59 (World Record)", "", 1, ""},
    {"Hollow Knight 112% Walkthrough Part 1 - No Commentary", "", 1, ""},
    {"Super Mario Bros. (NES) Longplay", NULL, 1, ""},
    {"Let's Play Shovel Knight #1", "", 1, ""},
    {"Lets Play Cuphead - Episode 4", "", 1, ""},
    {"Sonic Mania Plus – Full Game", "", 1, ""},
    {"Mega Man 2 (NES) - All Bosses, No Damage", "", 1, ""},
    {"Ori and the Blind Forest: Definitive Edition", "Full gameplay, 4K60, no commentary.", 1, ""},
    {"Kirby's Adventure 100% walkthrough", "", 1, ""},
    {"Mario's Time Machine gameplay", "", 1, ""},
    {"A cozy 2D platformer you've never heard of", "My first playthrough of this gem.", 1, ""},
    {"【TAS】Super Meat Boy in 17:43", "", 1, ""},
    {"SPELUNKY 2 SPEEDRUN", "", 1, ""},
    {"Side-Scroller Saturday: gameplay of indie games", "", 1, ""},
    {"Castlevania: Symphony of the Night™ playthrough", "", 1, ""},
    {"Super Mario Bros. movie trailer reaction", "", 0, "title has negating word 'movie'"},
    {"Celeste OST - Resurrections (piano cover)", "full game soundtrack", 0, "title has negating word 'ost'"},
    {"Celeste - Reach for the Summit", "An indie game about climbing.", 0, NO_ACTION},
    {"Minecraft speedrun world record", "", 0, NO_PLATFORM},
    {"marionette gameplay", "", 0, NO_PLATFORM},
    {"Mario Kart 8 Deluxe speedrun", "", 0, "title has negating word 'mario kart'"},
    {"Super Mario 64 120 star speedrun", "", 0, "title has negating word 'mario 64'"},
    {"Super Mario 3D World full game", "", 0, "title has negating word '3d'"},
    {"Sonic the Hedgehog LEGO set unboxing", "", 0, "title has negating word 'lego'"},
    {"Hollow Knight tier list", "", 0, "title has negating word 'tier list'"},
    {"Cuphead cake tutorial", "gameplay inside", 0, "title has negating word 'cake'"},
    {"Speedrunning is fun", "mario gameplay in the description does not count", 0, NO_PLATFORM},
    {"Inside - full playthrough", "", 0, NO_PLATFORM},
    {"Rayman Legends", "A gameplay video", 1, ""},
    {"Replaying my favourite platform", "gameplay", 0, NO_PLATFORM},
    {"Megaman X speedrunner reacts to glitches", "", 0, "title has negating word 'reacts'"},
    {"", "", 0, NO_PLATFORM},
};

static void check_defaults(void)
{
    keyword_rules *k = NULL;
    cm_error e = {{0}};
    CHECK_MSG(keyword_rules_load(&k, NULL, &e) == 0, "%s", e.msg);
    if (!k) return;
    int n = (int)(sizeof default_cases / sizeof default_cases[0]);
    CHECK(n >= 25);
    for (int i = 0; i < n; i++) {
        const title_case *t = &default_cases[i];
        char reason[256] = "unset";
        int keep = keyword_rules_check(k, t->title, t->description, reason, sizeof reason);
        CHECK_MSG(keep == t->keep, "\"%s\": expected %s, got %s (%s)", t->title, t->keep ? "keep" : "reject",
                  keep ? "keep" : "reject", reason);
        CHECK_MSG(strcmp(reason, t->reason) == 0, "\"%s\": reason \"%s\", expected \"%s\"", t->title, reason,
                  t->reason);
    }
    /* NULL title and description are empty strings; a short reason buffer truncates. */
    char small[8];
    CHECK(keyword_rules_check(k, NULL, NULL, small, sizeof small) == 0);
    CHECK(strcmp(small, "no plat") == 0);
    CHECK(keyword_rules_check(k, "celeste speedrun", NULL, NULL, 0) == 1);
    keyword_rules_free(k);
}

static void check_matching(void)
{
    static const char rules[] =
        "# matching rules\n"
        "[platform]\n"
        "mario\n"
        "Side Scroller   # comment after a word\n"
        "abe's oddysee\n"
        "[action]\n"
        "let's play\n"
        "any%\n"
        "[negative]\n"
        "trailer\n";
    keyword_rules *k = NULL;
    cm_error e = {{0}};
    CHECK_MSG(keyword_rules_parse(&k, rules, "matching.txt", &e) == 0, "%s", e.msg);
    if (!k) return;
    char r[128];
    CHECK(keyword_rules_check(k, "MARIO let's play", "", r, sizeof r) == 1);
    CHECK(keyword_rules_check(k, "mario Let\xE2\x80\x99s Play", "", r, sizeof r) == 1); /* curly apostrophe */
    CHECK(keyword_rules_check(k, "mario lets play", "", r, sizeof r) == 0);              /* not listed here */
    CHECK(keyword_rules_check(k, "mario let's  -- play", "", r, sizeof r) == 1);         /* punctuation between */
    CHECK(keyword_rules_check(k, "marios let's play", "", r, sizeof r) == 0);
    CHECK(strcmp(r, NO_PLATFORM) == 0);
    CHECK(keyword_rules_check(k, "Mario's let's play", "", r, sizeof r) == 1);            /* possessive */
    CHECK(keyword_rules_check(k, "side-scroller any%", "", r, sizeof r) == 1);
    CHECK(keyword_rules_check(k, "sidescroller any%", "", r, sizeof r) == 0);
    CHECK(keyword_rules_check(k, "side scroller any", "", r, sizeof r) == 0);             /* any% needs the % */
    CHECK(keyword_rules_check(k, "side scroller company%", "", r, sizeof r) == 0);
    CHECK(keyword_rules_check(k, "ABE'S ODDYSEE", "any% run", r, sizeof r) == 1);
    CHECK(keyword_rules_check(k, "Abe Oddysee any%", "", r, sizeof r) == 0);
    CHECK(keyword_rules_check(k, "mario any% trailers", "", r, sizeof r) == 1);           /* whole words only */
    CHECK(keyword_rules_check(k, "mario any% (trailer)", "", r, sizeof r) == 0);
    CHECK(strcmp(r, "title has negating word 'trailer'") == 0);
    CHECK(keyword_rules_check(k, "mario let's play", "trailer", r, sizeof r) == 1);       /* negatives: title only */
    CHECK(keyword_rules_check(k, "\xE2\x98\x85mario\xE2\x98\x85 any%", "", r, sizeof r) == 1); /* stars separate */
    CHECK(keyword_rules_check(k, "mario\xC3\xA9 any%", "", r, sizeof r) == 0);            /* é is a letter */
    keyword_rules_free(k);
}

static void check_file(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/custom.txt", test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("\xEF\xBB\xBF# custom rules, CRLF\r\n[PLATFORM]\r\nsupertux\r\n\r\n[action]\r\nbeaten\r\n[negative]\r\nmod\r\n", f);
    fclose(f);
    keyword_rules *k = NULL;
    cm_error e = {{0}};
    CHECK_MSG(keyword_rules_load(&k, path, &e) == 0, "%s", e.msg);
    if (k) {
        char r[128];
        CHECK(keyword_rules_check(k, "SuperTux beaten", "", r, sizeof r) == 1);
        CHECK(keyword_rules_check(k, "SuperTux speedrun", "", r, sizeof r) == 0); /* the defaults are not merged in */
        CHECK(keyword_rules_check(k, "SuperTux mod beaten", "", r, sizeof r) == 0);
        CHECK(keyword_rules_check(k, "Celeste beaten", "", r, sizeof r) == 0);
        keyword_rules_free(k);
        k = NULL;
    }
    cm_error_clear(&e);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/missing.txt", test_tmpdir());
    CHECK(keyword_rules_load(&k, missing, &e) == -1 && k == NULL);
    CHECK_MSG(strstr(e.msg, "missing.txt") && strstr(e.msg, "No such file"), "%s", e.msg);
}

static void check_errors(void)
{
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"mario\n[platform]\nmario\n", "bad.txt:1: text outside a section"},
        {"# c\n\n[platform]\nmario\n[actions]\nplay\n", "bad.txt:5: unknown section [actions]"},
        {"[platform]\nmario\n[action]\n# none yet\n[negative]\nmovie\n", "bad.txt:3: empty section [action]"},
        {"[platform]\nmario\n[action]\nplay\n", "bad.txt: no [negative] section"},
        {"[platform]\nmario\n[action]\nplay\n[negative]\n--\n", "bad.txt:6: keyword '--' has no letters or digits"},
        {"", "bad.txt: no [platform] section"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        keyword_rules *k = NULL;
        cm_error e = {{0}};
        CHECK(keyword_rules_parse(&k, bad[i].text, "bad.txt", &e) == -1 && k == NULL);
        CHECK_MSG(strstr(e.msg, bad[i].error) != NULL, "got \"%s\", expected \"%s\"", e.msg, bad[i].error);
    }
}

int main(void)
{
    cm_log_set_program("test_keywords");
    check_defaults();
    check_matching();
    check_file();
    check_errors();
    return test_summary();
}
