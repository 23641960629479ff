/* util and hash: CRC-32, SHA-256 (memory, fd, file) and splitmix64 against
 * published check values, stable ids, paths. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util.h"
#include "hash.h"

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

    /* The file and fd forms agree with the memory form, whole and as a prefix. */
    const char *tmpd = test_tmpdir();
    char *abc_path = cm_path_join(tmpd, "abc.txt");
    FILE *af = fopen(abc_path, "w");
    CHECK(af && fputs("abcdef", af) >= 0 && fclose(af) == 0);
    char fhex[65], phex[65];
    int64_t fbytes = 0;
    cm_error he = {{0}};
    CHECK(cm_sha256_file(abc_path, fhex, &fbytes, &he) == 0 && fbytes == 6);
    cm_sha256_hex("abcdef", 6, hex);
    CHECK(strcmp(fhex, hex) == 0);
    int afd = open(abc_path, O_RDONLY);
    CHECK(afd >= 0 && cm_sha256_fd(afd, 3, phex, &fbytes) == 0 && fbytes == 3);
    CHECK(strcmp(phex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK(cm_sha256_fd(afd, 7, phex, NULL) == -1 && errno == EIO); /* shorter than said */
    close(afd);
    CHECK(cm_sha256_file("/nonexistent/x", fhex, NULL, &he) == -1 && strstr(he.msg, "/nonexistent/x"));
    free(abc_path);

    /* splitmix64 reference values (seed 1234567: Vigna's splitmix64.c). */
    uint64_t sm = 1234567;
    CHECK(cm_splitmix64_next(&sm) == UINT64_C(6457827717110365317));
    CHECK(cm_splitmix64_next(&sm) == UINT64_C(3203168211198807973));
    CHECK(cm_mix64(0) == 0);

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
    CHECK(cm_clip_id_wellformed(cid));
    cm_clip_id("0123456789abcdef", 1234567, cid);
    CHECK(cm_clip_id_wellformed(cid));
    CHECK(!cm_clip_id_wellformed(""));
    CHECK(!cm_clip_id_wellformed("0123456789abcdef"));                /* no index */
    CHECK(!cm_clip_id_wellformed("0123456789abcdef-00007"));          /* 5 digits */
    CHECK(!cm_clip_id_wellformed("-000007"));
    CHECK(!cm_clip_id_wellformed("0123456789abcdef-00000x"));
    CHECK(!cm_clip_id_wellformed("0123456789ab\xe9" "def-000007"));     /* a flipped bit: not UTF-8 */
    CHECK(!cm_clip_id_wellformed("0123456789ab\x1b[2Jf-000007"));    /* a control sequence */
    CHECK(!cm_clip_id_wellformed("0123456789abcdef0123456789-000007")); /* too long */
    char shown[32];
    CHECK(strcmp(cm_escaped("ab\xe9\x1b[\\\"", shown, sizeof shown), "ab\\xe9\\x1b[\\x5c\\x22") == 0);
    CHECK(strcmp(cm_escaped(NULL, shown, sizeof shown), "(NULL)") == 0);
    CHECK(strlen(cm_escaped("\x01\x01\x01\x01\x01\x01\x01\x01\x01", shown, 16)) <= 15);

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
