/* --version's lines after "PROGRAM VERSION" (cm_version_details, cli.h): the
 * git revision this build came from and the versions of the libraries the
 * program runs with, asked of the libraries themselves at run time (the
 * shared libraries loaded may be newer than the headers built against, and a
 * bug report needs the ones that ran). Linked into each tool as an object,
 * not from a layer archive: cli.c's reference to it is weak. */
#include <curl/curl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <stdio.h>

#include "cli.h"

/* build/git_revision.c, rewritten by cmake/git_revision.cmake when HEAD or
 * the tree's cleanliness changes: "d75d945c1a2b", "...-dirty" or "unknown". */
extern const char cm_git_revision[];
/* OpenBLAS's own: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
 * (declared here: which cblas.h is on the path depends on the BLAS variant). */
char *openblas_get_config(void);

static void print_lib(FILE *f, const char *name, unsigned v)
{
    fprintf(f, "%s %u.%u.%u", name, v >> 16, (v >> 8) & 0xff, v & 0xff);
}

void cm_version_details(FILE *f)
{
    fprintf(f, "git revision: %s\n", cm_git_revision);
    fprintf(f, "FFmpeg: %s (", av_version_info());
    print_lib(f, "libavformat", avformat_version());
    print_lib(f, ", libavcodec", avcodec_version());
    print_lib(f, ", libswscale", swscale_version());
    print_lib(f, ", libavutil", avutil_version());
    fputs(")\n", f);
    fprintf(f, "SQLite: %s\n", sqlite3_libversion());
    int major, minor, patch;
    mdb_version(&major, &minor, &patch);
    fprintf(f, "LMDB: %d.%d.%d\n", major, minor, patch);
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    fprintf(f, "libcurl: %s%s%s\n", curl->version, curl->ssl_version ? " " : "",
            curl->ssl_version ? curl->ssl_version : "");
    fprintf(f, "OpenBLAS: %s\n", openblas_get_config());
}
