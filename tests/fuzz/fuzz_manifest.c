/* libFuzzer: arbitrary bytes as a dataset manifest.json (buffer entry point)
 * and as an ingest manifest (lib/manifest.h's manifest_read on a temp file). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dataset.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dataset_manifest dm;
    cm_error e;
    if (dataset_manifest_parse((const char *)data, size, "fuzz", &dm, &e) == 0) dataset_manifest_free(&dm);

    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/cm-fuzz-manifest-%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    cm_log_set_level(-1);
    manifest m;
    if (manifest_read(path, &m, &e) == 0) manifest_free(&m);
    return 0;
}
