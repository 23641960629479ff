/* Minimal test harness: CHECK records a failure and goes on; the test's main
 * returns test_summary(), which prints "N passed, N failed" and the exit code. */
#ifndef CLIPMILL_TEST_H
#define CLIPMILL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            test_passed++;                                                            \
        } else {                                                                      \
            test_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (cond) {                                                                   \
            test_passed++;                                                            \
        } else {                                                                      \
            test_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* Scratch directory for this test: $CLIPMILL_TMP (created fresh) or /tmp/clipmill-test-XXXXXX. */
static inline const char *test_tmpdir(void)
{
    static char dir[4096];
    if (dir[0]) return dir;
    const char *env = getenv("CLIPMILL_TMP");
    if (env && *env) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", env, env);
        if (system(cmd) != 0) { fprintf(stderr, "cannot create %s\n", env); exit(1); }
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        snprintf(dir, sizeof dir, "/tmp/clipmill-test-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
