/* Subset files (lib/format/dataset_subset.h): round trip, every bit flip and
 * every truncation refused, indices out of order or past a split refused. */
#include <stdlib.h>
#include <string.h>

#include "dataset_subset.h"
#include "test.h"

static void make(dataset_subset *s)
{
    static int64_t train[] = {0, 3, 4, 9}, test[] = {1};
    memset(s, 0, sizeof *s);
    s->n[0] = 4;
    s->idx[0] = train;
    s->n[2] = 1;
    s->idx[2] = test;
    for (int i = 0; i < 32; i++) s->manifest_sha256[i] = (uint8_t)(i * 7);
    s->where = "domain = 'platformer'";
}

int main(void)
{
    dataset_subset s, got;
    cm_error e = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    const int64_t clips[3] = {10, 0, 2};
    make(&s);
    dataset_subset_encode(&s, &buf, &len);
    CHECK(len == DATASET_SUBSET_HEADER_SIZE + 5 * 8 + strlen(s.where));
    CHECK_MSG(dataset_subset_parse(buf, len, clips, &got, &e) == 0, "%s", e.msg);
    CHECK(got.n[0] == 4 && got.n[1] == 0 && got.n[2] == 1 && got.idx[0][3] == 9 && got.idx[2][0] == 1);
    CHECK(strcmp(got.where, s.where) == 0 && memcmp(got.manifest_sha256, s.manifest_sha256, 32) == 0);
    dataset_subset_free(&got);

    int accepted = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (dataset_subset_parse(buf, len, clips, &got, &e) == 0) {
            accepted++;
            dataset_subset_free(&got);
        }
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK_MSG(accepted == 0, "%d bit flips accepted", accepted);
    for (size_t n = 0; n < len; n++) CHECK(dataset_subset_parse(buf, n, clips, &got, &e) != 0);

    /* indices past a split, and out of order, even with good CRCs */
    const int64_t small[3] = {9, 0, 2};
    CHECK(dataset_subset_parse(buf, len, small, &got, &e) != 0 && strstr(e.msg, "past the split"));
    free(buf);
    int64_t unsorted[] = {3, 3};
    s.n[0] = 2;
    s.idx[0] = unsorted;
    dataset_subset_encode(&s, &buf, &len);
    CHECK(dataset_subset_parse(buf, len, clips, &got, &e) != 0 && strstr(e.msg, "out of order"));
    free(buf);

    CHECK(dataset_subset_name_ok("plat-1.v2") && !dataset_subset_name_ok("../x") && !dataset_subset_name_ok(".x") &&
          !dataset_subset_name_ok("a@b") && !dataset_subset_name_ok(""));
    return test_summary();
}
