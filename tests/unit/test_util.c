/* util: CRC-32 and SHA-256 against published check values, stable ids, paths. */
#include <sys/stat.h>

#include "test.h"
#include "util.h"

int main(void)
{
    /* The CRC-32 check value of "123456789" is 0xCBF43926 (zlib, PNG, Ethernet). */
    CHECK(cm_crc32("123456789", 9) == 0xCBF43926u);
    CHECK(cm_crc32("", 0) == 0);
    /* Incremental updates give the same CRC as one pass. */
    CHECK(cm_crc32_update(cm_crc32_update(0, "12345", 5), "6789", 4) == 0xCBF43926u);

    char hex[65];
    cm_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);

    char sid[CM_SOURCE_ID_LEN + 1], sid2[CM_SOURCE_ID_LEN + 1];
    cm_source_id("videos/a.mp4", sid);
    cm_source_id("videos/a.mp4", sid2);
    CHECK(strlen(sid) == 16 && strcmp(sid, sid2) == 0);
    cm_source_id("videos/b.mp4", sid2);
    CHECK(strcmp(sid, sid2) != 0);
    cm_sha256_hex("videos/a.mp4", 12, hex);
    CHECK(strncmp(sid, hex, 16) == 0);

    char cid[CM_CLIP_ID_MAX];
    cm_clip_id("0123456789abcdef", 7, cid);
    CHECK(strcmp(cid, "0123456789abcdef-000007") == 0);

    char *p = cm_path_join("a/b/", "/c");
    CHECK(strcmp(p, "a/b/c") == 0);
    free(p);

    const char *tmp = test_tmpdir();
    char *deep = cm_path_join(tmp, "x/y/z");
    cm_error e = {{0}};
    CHECK(cm_mkdir_p(deep, &e) == 0);
    CHECK(cm_mkdir_p(deep, &e) == 0); /* exists already: fine */
    struct stat st;
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    char *file = cm_path_join(tmp, "plain");
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    char *under_file = cm_path_join(file, "sub");
    CHECK(cm_mkdir_p(under_file, &e) == -1 && strstr(e.msg, "plain") != NULL);
    free(deep);
    free(file);
    free(under_file);

    char iso[32];
    cm_utc_now_iso(iso);
    CHECK(strlen(iso) == 24 && iso[10] == 'T' && iso[23] == 'Z');
    double t1 = cm_monotonic_s(), t2 = cm_monotonic_s();
    CHECK(t2 >= t1);
    return test_summary();
}
