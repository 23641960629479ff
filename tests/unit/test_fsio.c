/* fsio: atomic replacement (memory and stream forms), failures that leave
 * the target as it was and no temporary file, remove_tree. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsio.h"
#include "test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = cm_xcalloc(1, 4096);
    size_t n = fread(s, 1, 4095, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

int main(void)
{
    const char *dir = test_tmpdir();
    cm_error e = {{0}};
    char *path = cm_path_join(dir, "a.txt"), *tmp = cm_temp_path(path), *s;

    CHECK_MSG(cm_write_file_atomic(path, "first", 5, &e) == 0, "%s", e.msg);
    CHECK((s = slurp(path)) && strcmp(s, "first") == 0);
    free(s);
    CHECK(!exists(tmp));
    CHECK(cm_write_file_atomic(path, "", 0, &e) == 0 && (s = slurp(path)) && s[0] == '\0');
    free(s);

    /* Stream form: the target keeps its old content until the commit. */
    cm_atomic_file a;
    FILE *f = cm_atomic_open(&a, path, 1, &e);
    CHECK(f != NULL && exists(tmp));
    if (f) fputs("second", f);
    CHECK((s = slurp(path)) && s[0] == '\0');
    free(s);
    CHECK_MSG(f && cm_atomic_commit(&a, &e) == 0, "%s", e.msg);
    CHECK((s = slurp(path)) && strcmp(s, "second") == 0);
    free(s);
    CHECK(!exists(tmp) && a.tmp == NULL);

    /* Abort: the target as it was, no temporary file. */
    f = cm_atomic_open(&a, path, 0, &e);
    if (f) fputs("third", f);
    cm_atomic_abort(&a);
    CHECK((s = slurp(path)) && strcmp(s, "second") == 0);
    free(s);
    CHECK(!exists(tmp));
    cm_atomic_file zero = {0};
    cm_atomic_abort(&zero); /* nothing opened: fine */

    /* A target that cannot be created names it; a rename that fails (onto a
     * non-empty directory) leaves no temporary file. */
    char *missing = cm_path_join(dir, "no/such/dir/x");
    CHECK(cm_write_file_atomic(missing, "x", 1, &e) == -1 && strstr(e.msg, "no/such/dir/x"));
    char *full = cm_path_join(dir, "full"), *inside = cm_path_join(full, "f"), *full_tmp = cm_temp_path(full);
    CHECK(mkdir(full, 0777) == 0 && cm_write_file_atomic(inside, "x", 1, &e) == 0);
    CHECK(cm_write_file_atomic(full, "y", 1, &e) == -1 && strstr(e.msg, "cannot rename"));
    CHECK(!exists(full_tmp) && exists(inside));

    CHECK(cm_fsync_dir(dir, &e) == 0);
    CHECK(cm_fsync_dir(missing, &e) == -1 && strstr(e.msg, "no/such/dir/x"));

    /* remove_tree: depth first, and a missing path is ENOENT. */
    char *deep = cm_path_join(full, "a/b/c"), *leaf = cm_path_join(deep, "leaf");
    CHECK(cm_mkdir_p(deep, &e) == 0 && cm_write_file_atomic(leaf, "z", 1, &e) == 0);
    CHECK(cm_remove_tree(full) == 0 && !exists(full));
    CHECK(cm_remove_tree(full) == -1 && errno == ENOENT);

    free(path);
    free(tmp);
    free(missing);
    free(full);
    free(inside);
    free(full_tmp);
    free(deep);
    free(leaf);
    return test_summary();
}
