/* json: the escaper (quote, backslash, newline, control bytes, DEL, C1 and
 * bidirectional controls, other UTF-8 kept),
 * numbers (null for NaN and infinity), and the string buffer helpers
 * (C-library float formatting, long appends, finish). */
#include <math.h>

#include "json.h"
#include "test.h"
#include "util.h"

static char *escaped(const char *text)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    cm_json_string(s, text);
    return cm_str_finish(s, NULL);
}

int main(void)
{
    char *j = escaped("a\"b\\c\nd\x01\x1f" "caf\xc3\xa9");
    CHECK(strcmp(j, "\"a\\\"b\\\\c\\nd\\u0001\\u001fcaf\xc3\xa9\"") == 0);
    free(j);
    j = escaped(NULL);
    CHECK(strcmp(j, "\"\"") == 0);
    free(j);
    /* Characters JSON allows raw but a terminal may obey: DEL, C1, bidi
     * overrides and isolates are escaped; their neighbours are not. */
    j = escaped("\x7f|\xc2\x9b" "31m|\xe2\x80\xae" "exe|\xe2\x81\xa6|\xe2\x80\xa9|\xc2\xa0|\xe2\x81\xaa");
    CHECK_MSG(strcmp(j, "\"\\u007f|\\u009b31m|\\u202eexe|\\u2066|\xe2\x80\xa9|\xc2\xa0|\xe2\x81\xaa\"") == 0, "%s", j);
    free(j);
    j = escaped("cut\xc2");   /* a lead byte at the end: kept, nothing read past it */
    CHECK(strcmp(j, "\"cut\xc2\"") == 0);
    free(j);

    /* The stream form writes the same bytes. */
    char mem[256] = {0};
    FILE *f = fmemopen(mem, sizeof mem, "w");
    cm_json_fputs(f, "x\ty\"");
    fputc(' ', f);
    cm_json_fnumber(f, NAN);
    fputc(' ', f);
    cm_json_fnumber(f, 0.1234567);
    fclose(f);
    CHECK(strcmp(mem, "\"x\\u0009y\\\"\" null 0.123457") == 0);

    sqlite3_str *s = sqlite3_str_new(NULL);
    cm_json_number(s, INFINITY);
    sqlite3_str_appendall(s, ",");
    cm_json_number(s, 2.5);
    /* %.17g as the C library writes it (SQLite's printf would not). */
    cm_str_appendf(s, ",%.17g,%.6f", 0.1, 1.0 / 3);
    size_t len = 0;
    char *t = cm_str_finish(s, &len);
    CHECK(strcmp(t, "null,2.5,0.10000000000000001,0.333333") == 0 && len == strlen(t));
    free(t);

    /* Past the small stack buffer of cm_str_appendf. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s = sqlite3_str_new(NULL);
    cm_str_appendf(s, "[%s]", big);
    t = cm_str_finish(s, &len);
    CHECK(len == 1001 && t[0] == '[' && t[1000] == ']' && t[500] == 'x');
    free(t);
    t = cm_str_finish(sqlite3_str_new(NULL), &len);
    CHECK(t[0] == '\0' && len == 0);
    free(t);
    return test_summary();
}
