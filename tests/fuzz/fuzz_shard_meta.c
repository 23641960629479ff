/* libFuzzer: arbitrary bytes as a shard metadata record. */
#include <stdint.h>
#include <stdlib.h>

#include "dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shard_meta m;
    cm_error e;
    if (shard_meta_parse(data, size, &m, &e) == 0) {
        /* What parses must encode back to the same bytes. */
        uint8_t *again;
        size_t len;
        shard_meta_encode(&m, &again, &len);
        if (len != size) __builtin_trap();
        free(again);
        shard_meta_free(&m);
    }
    return 0;
}
