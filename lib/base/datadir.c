/* The data directory beside the running program (datadir.h). */
#include "datadir.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#ifndef CLIPMILL_DATA_FROM_BIN
#define CLIPMILL_DATA_FROM_BIN "../share/clipmill"
#endif

char *cm_data_file(const char *rel)
{
    char exe[PATH_MAX];
    if (!realpath("/proc/self/exe", exe)) return NULL;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    char *data = cm_path_join(exe, CLIPMILL_DATA_FROM_BIN);
    char *path = cm_path_join(data, rel);
    free(data);
    /* Without "bin/..": the path is recorded (the models table) and shown. */
    char *real = access(path, R_OK) == 0 ? realpath(path, NULL) : NULL;
    free(path);
    return real;
}
