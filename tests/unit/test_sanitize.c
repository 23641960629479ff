/* cm_sanitize, cm_clean and cm_log: no byte that could steer a terminal
 * survives (C0, DEL, C1, bidirectional controls, bytes that are not UTF-8),
 * printable text and well-formed UTF-8 pass unchanged, truncation never cuts
 * a character or an escape, and a cm_log line is one line. */
#include <fcntl.h>
#include <unistd.h>

#include "hash.h"
#include "test.h"
#include "util.h"

/* 1 when s (n bytes) is UTF-8 with no C0 control but '\n' at the end, no
 * DEL, no C1 control and no bidirectional control. */
static int terminal_safe(const char *s, size_t n, int allow_final_newline)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c < 0x20 || c == 0x7f) {
            if (!(allow_final_newline && c == '\n' && i == n - 1)) return 0;
            i++;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || i + len > n) return 0;
        long cp = (long)(c & (0x7f >> len));
        for (size_t k = 1; k < len; k++) {
            if ((u[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return 0;
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
        if (cp >= 0xd800 && cp <= 0xdfff) return 0;
        i += len;
    }
    return 1;
}

static const char *clean(const char *in, size_t len)
{
    static char out[512];
    cm_sanitize(out, sizeof out, in, len);
    return out;
}

int main(void)
{
    /* Escapes, one kind each. */
    CHECK(strcmp(clean("plain text: a/b?c=1 ~%", 22), "plain text: a/b?c=1 ~%") == 0);
    CHECK(strcmp(clean("\x1b[2Jx", 5), "\\e[2Jx") == 0);
    CHECK(strcmp(clean("\x1b]0;pwned\x07", 10), "\\e]0;pwned\\x07") == 0);
    CHECK(strcmp(clean("a\tb\nc\rd\be", 9), "a\\tb\\nc\\rd\\x08e") == 0);
    CHECK(strcmp(clean("x\x7fy", 3), "x\\x7fy") == 0);
    CHECK(strcmp(clean("nul\0in", 6), "nul\\x00in") == 0);
    CHECK(strcmp(clean("\xc2\x9b" "31m", 5), "\\u009b31m") == 0);      /* C1 CSI as UTF-8 */
    CHECK(strcmp(clean("\x9b" "31m", 4), "\\x9b31m") == 0);            /* a bare C1 byte */
    CHECK(strcmp(clean("abc\xe2\x80\xae" "gpj.exe", 13), "abc\\u202egpj.exe") == 0); /* RIGHT-TO-LEFT OVERRIDE */
    CHECK(strcmp(clean("\xe2\x81\xa6x", 4), "\\u2066x") == 0);
    CHECK(strcmp(clean("\xff\xfe", 2), "\\xff\\xfe") == 0);
    CHECK(strcmp(clean("\xc0\xaf", 2), "\\xc0\\xaf") == 0);            /* overlong '/' */
    CHECK(strcmp(clean("\xed\xa0\x80", 3), "\\xed\\xa0\\x80") == 0);   /* a surrogate */
    CHECK(strcmp(clean("\xe2\x82", 2), "\\xe2\\x82") == 0);            /* cut short */
    /* Well-formed UTF-8 and backslashes pass unchanged. */
    const char *utf8 = "Céleste – 日本語 🎮 \\e";
    CHECK(strcmp(clean(utf8, strlen(utf8)), utf8) == 0);

    /* Truncation: always terminated, never half a character or an escape. */
    char small[6];
    CHECK(cm_sanitize(small, 4, "ab\x1b" "cd", 5) == 2 && strcmp(small, "ab") == 0); /* not "ab\\" */
    CHECK(cm_sanitize(small, sizeof small, "abcd\xc3\xa9", 6) == 4 && strcmp(small, "abcd") == 0);
    CHECK(cm_sanitize(small, 1, "abc", 3) == 0 && small[0] == '\0');
    char buf[64];
    CHECK(strcmp(cm_clean(NULL, buf, sizeof buf), "") == 0);
    CHECK(strcmp(cm_clean("t\x1bt", buf, sizeof buf), "t\\et") == 0);

    /* Random bytes (fixed seed): every output is terminal-safe, and text that
     * already is (printable ASCII) comes out the same. */
    uint64_t seed = 12;
    int unsafe = 0, changed = 0;
    for (int round = 0; round < 20000; round++) {
        unsigned char in[24];
        size_t n = (size_t)(cm_splitmix64_next(&seed) % sizeof in);
        int ascii = round % 2;
        for (size_t i = 0; i < n; i++) {
            unsigned v = (unsigned)cm_splitmix64_next(&seed);
            in[i] = ascii ? (unsigned char)(0x20 + v % 95) : (unsigned char)v;
        }
        char out[24 * 6 + 1];
        size_t m = cm_sanitize(out, sizeof out, (const char *)in, n);
        if (m != strlen(out) || !terminal_safe(out, m, 0)) unsafe++;
        if (ascii && (m != n || memcmp(out, in, n) != 0)) changed++;
    }
    CHECK_MSG(unsafe == 0, "%d outputs not terminal-safe", unsafe);
    CHECK_MSG(changed == 0, "%d printable inputs changed", changed);

    /* cm_log: one line on stderr, the message sanitised, the newline kept. */
    char *path = cm_path_join(test_tmpdir(), "log.txt");
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600), saved = dup(STDERR_FILENO);
    CHECK(fd >= 0 && saved >= 0 && dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    cm_log_set_program("test");
    cm_log(CM_LOG_ERROR, "%s: cannot open: %s", "v\x1b[2J\x1b]0;t\x07.mp4", "line1\nline2\r");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char got[512] = "";
    FILE *f = fopen(path, "r");
    size_t len = f ? fread(got, 1, sizeof got - 1, f) : 0;
    if (f) fclose(f);
    got[len] = '\0';
    CHECK_MSG(strcmp(got, "test: error: v\\e[2J\\e]0;t\\x07.mp4: cannot open: line1\\nline2\\r\n") == 0, "%s", got);
    CHECK(terminal_safe(got, len, 1));
    free(path);
    return test_summary();
}
