/* clipmill-shard verify for token sets (docs/tokens.md): tokens.json's own
 * CRC and fields, that it was made from the dataset next to it, each split
 * file's size and SHA-256 against tokens.json, its header and index, then
 * every record: header CRC and fields against the index, the step CRC
 * table, every step's CRC, zero padding and every token below the codebook
 * size. Problems are printed one per line, naming file and record. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/intreadwrite.h>

#include "dataset.h"
#include "hash.h"
#include "shard.h"
#include "token_file.h"
#include "util.h"

static void problem(int64_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(int64_t *n, const char *fmt, ...)
{
    char msg[1024], clean[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    puts(cm_clean(msg, clean, sizeof clean));
    (*n)++;
}

/* Every record of a mapped split file whose header and index parsed. */
static int64_t verify_records(const char *path, const uint8_t *b, const token_file_header *fh, int split,
                              int64_t *problems)
{
    int64_t ok = 0;
    size_t plane = (size_t)fh->h * fh->w;
    for (uint64_t i = 0; i < fh->clips; i++) {
        token_index_entry en;
        token_index_get(b, i, &en);
        const uint8_t *rec = b + en.offset;
        token_record r;
        cm_error e = {{0}};
        if (token_record_parse(rec, (size_t)en.bytes, &r, &e) != 0 || token_record_check_table(rec, &r, &e) != 0) {
            problem(problems, "%s: record %" PRIu64 ": %s", path, i, e.msg);
            continue;
        }
        if (r.header_crc != en.header_crc || r.clip != i || r.split != split || r.steps != en.steps || r.h != fh->h ||
            r.w != fh->w || r.token_bytes != fh->token_bytes) {
            problem(problems, "%s: record %" PRIu64 ": header differs from the index (clip %" PRIu64 ", split, steps "
                    "or shape)", path, i, r.clip);
            continue;
        }
        int bad = 0;
        for (uint32_t k = 0; k < r.steps && !bad; k++) {
            if (token_record_check_step(rec, &r, k, &e) != 0) {
                problem(problems, "%s: record %" PRIu64 ": %s", path, i, e.msg);
                bad = 1;
                break;
            }
            const uint8_t *s = token_record_step(rec, &r, k);
            for (size_t j = 0; j < plane && !bad; j++) {
                uint64_t v = r.token_bytes == 2 ? AV_RL16(s + 2 * j) : AV_RL32(s + 4 * j);
                if (v >= fh->codebook) {
                    problem(problems, "%s: record %" PRIu64 ": token %" PRIu64 " at step %u is not below the codebook "
                            "size %" PRIu64, path, i, v, k, fh->codebook);
                    bad = 1;
                }
            }
        }
        const uint8_t *end = token_record_step(rec, &r, r.steps);
        for (const uint8_t *p = end; p < rec + en.bytes && !bad; p++)
            if (*p) {
                problem(problems, "%s: record %" PRIu64 ": padding is not zero", path, i);
                bad = 1;
            }
        ok += !bad;
    }
    return ok;
}

/* One split file: size and SHA-256, header, index, records. */
static int64_t verify_split(const char *dir, const token_manifest *m, int split, const dataset_manifest *dm,
                            int64_t *problems)
{
    char *path = cm_path_join(dir, m->split[split].file), sha[65];
    int64_t bytes = 0, ok = 0;
    cm_error e = {{0}};
    int fd = -1;
    void *map = MAP_FAILED;
    token_file_header fh;
    if (cm_sha256_file(path, sha, &bytes, &e) != 0) {
        problem(problems, "%s", e.msg);
        goto done;
    }
    if (strcmp(sha, m->split[split].sha256) != 0 || bytes != m->split[split].bytes)
        problem(problems, "%s: SHA-256 %s of %" PRId64 " bytes differs from tokens.json's %s of %" PRId64, path, sha,
                bytes, m->split[split].sha256, m->split[split].bytes);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || bytes < TOKEN_FILE_HEADER_SIZE) {
        problem(problems, "%s: %s", path, fd < 0 ? strerror(errno) : "shorter than its header");
        goto done;
    }
    map = mmap(NULL, (size_t)bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        problem(problems, "%s: mmap: %s", path, strerror(errno));
        goto done;
    }
    if (token_file_parse(map, (size_t)bytes, &fh, &e) != 0) {
        problem(problems, "%s: %s", path, e.msg);
        goto done;
    }
    if (fh.split != split || (int64_t)fh.clips != m->split[split].clips || fh.token_bytes != m->token_bytes ||
        fh.h != m->height || fh.w != m->width || fh.codebook != m->tok.codebook)
        problem(problems, "%s: header does not match tokens.json (split, clips, shape or codebook)", path);
    else if (dm && (int64_t)fh.clips != dm->split[split].clips)
        problem(problems, "%s: %" PRIu64 " clips, the dataset's split has %" PRId64, path, fh.clips,
                dm->split[split].clips);
    else
        ok = verify_records(path, map, &fh, split, problems);
done:
    if (map != MAP_FAILED) munmap(map, (size_t)bytes);
    if (fd >= 0) close(fd);
    free(path);
    return ok;
}

int token_verify(const char *dir, const char *dataset_dir, int quiet, int64_t *problems_out)
{
    token_manifest m;
    cm_error e = {{0}};
    int64_t problems = 0, clips[SPLIT_COUNT] = {0};
    dataset_manifest dm, *dmp = NULL;
    if (token_manifest_read(dir, &m, &e) != 0) {
        problem(&problems, "%s", e.msg);
        *problems_out += problems;
        return -1;
    }
    if (dataset_dir) {
        char *man = cm_path_join(dataset_dir, "manifest.json"), sha[65];
        if (cm_sha256_file(man, sha, NULL, &e) != 0) problem(&problems, "%s", e.msg);
        else if (strcmp(sha, m.dataset_sha256) != 0)
            problem(&problems, "%s: made for another dataset (manifest SHA-256 %.12s..., %s has %.12s...)", dir,
                    m.dataset_sha256, man, sha);
        else if (dataset_manifest_read(dataset_dir, &dm, &e) == 0) dmp = &dm;
        else problem(&problems, "%s", e.msg);
        free(man);
    }
    for (int k = 0; k < SPLIT_COUNT; k++) clips[k] = verify_split(dir, &m, k, dmp, &problems);
    if (!quiet || problems)
        printf("%s: tokens of %s by %s %s (codebook %" PRIu64 ", %dx%d, %d bytes per token): %" PRId64
               " clips verified (train %" PRId64 ", val %" PRId64 ", test %" PRId64 "), %s, %" PRId64 " problems\n",
               dir, m.dataset_name, m.tok.name, m.tok.version, m.tok.codebook, m.width, m.height, m.token_bytes,
               clips[0] + clips[1] + clips[2], clips[0], clips[1], clips[2],
               dmp ? "dataset matches" : "dataset not checked", problems);
    if (dmp) dataset_manifest_free(dmp);
    *problems_out += problems;
    return 0;
}
