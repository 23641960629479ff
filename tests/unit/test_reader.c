/* The public reader (lib/clipmill/reader.h) on a dataset written here with
 * real LMDB shards: whole clips, strided and padded windows, boundaries,
 * a corrupt record, many threads, and use after fork(). */
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clip_record.h"
#include "clipmill/reader.h"
#include "dataset.h"
#include "hash.h"
#include "test.h"

#include <libavutil/log.h>

enum { T = 20, H = 10, W = 18, N = 5 };
static uint8_t frames[N][T * H * W * 3];

static void make_frames(void)
{
    for (int c = 0; c < N; c++)
        for (size_t i = 0; i < sizeof frames[c]; i++) frames[c][i] = (uint8_t)(c * 31 + i * 7 + i / 97);
}

/* Writes clips [first, first+n) as shard `index` of split train; clip `corrupt`
 * gets one payload byte flipped after its metadata was taken. */
static void write_shard(const char *dir, int index, int first, int n, clip_codec codec, int corrupt,
                        char sha[65], int64_t *bytes)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/train/shard-%05d.mdb", dir, index);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_mapsize(env, 64 << 20) == 0);
    CHECK(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, NULL, 0, &dbi) == 0);
    char ids[8][SHARD_CLIP_ID_SIZE];
    uint64_t sizes[8];
    uint32_t crcs[8];
    shard_meta m = {.clip_count = (uint32_t)n, .shard_index = (uint32_t)index, .frames = T, .height = H, .width = W,
                    .channels = 3, .codec = (uint8_t)codec, .split = SPLIT_TRAIN, .fps_num = 10, .fps_den = 1,
                    .ids = ids, .rec_bytes = sizes, .payload_crc = crcs};
    clip_encode_options opt;
    clip_encode_options_default(&opt);
    opt.codec = codec;
    opt.keyint = 8;
    for (int i = 0; i < n; i++) {
        uint8_t *rec, key[8];
        size_t len;
        cm_error e = {{0}};
        CHECK_MSG(clip_record_encode(frames[first + i], T, H, W, 10, 1, &opt, &rec, &len, &e) == 0, "%s", e.msg);
        clip_header h;
        CHECK(clip_record_parse(rec, len, &h, 1, &e) == 0);
        memset(ids[i], 0, sizeof ids[i]);
        snprintf(ids[i], sizeof ids[i], "%016x-%06d", 0xabc, first + i);
        sizes[i] = len;
        crcs[i] = h.payload_crc;
        m.record_bytes += len;
        if (first + i == corrupt) rec[len - 3 * H * W - 50] ^= 0x40; /* inside the last frame(s) */
        shard_key((uint64_t)i, key);
        MDB_val k = {8, key}, v = {len, rec};
        CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0);
        free(rec);
    }
    uint8_t *meta, key[8];
    size_t meta_len;
    shard_meta_encode(&m, &meta, &meta_len);
    shard_key(SHARD_META_KEY, key);
    MDB_val k = {8, key}, v = {meta_len, meta};
    CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0 && mdb_txn_commit(txn) == 0);
    free(meta);
    mdb_env_close(env);
    cm_error e = {{0}};
    CHECK(cm_sha256_file(path, sha, bytes, &e) == 0);
}

static void make_dataset(const char *dir, clip_codec codec, int corrupt)
{
    char cmd[4300], sha0[65], sha1[65];
    int64_t b0, b1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/train'", dir, dir);
    CHECK(system(cmd) == 0);
    write_shard(dir, 0, 0, 3, codec, corrupt, sha0, &b0);
    write_shard(dir, 1, 3, 2, codec, corrupt, sha1, &b1);
    snprintf(cmd, sizeof cmd, "%s/manifest.json", dir);
    FILE *f = fopen(cmd, "w");
    fprintf(f, "{\"format\": \"clipmill-dataset\", \"format_version\": 1, \"codec\": \"%s\", \"fps_num\": 10,"
               " \"fps_den\": 1, \"frames_per_clip\": %d, \"height\": %d, \"width\": %d, \"channels\": 3,"
               " \"splits\": {\"train\": {\"clips\": 5, \"hours\": 0, \"shards\": ["
               "{\"file\": \"train/shard-00000.mdb\", \"clips\": 3, \"bytes\": %lld, \"sha256\": \"%s\"},"
               "{\"file\": \"train/shard-00001.mdb\", \"clips\": 2, \"bytes\": %lld, \"sha256\": \"%s\"}]}}}\n",
            clip_codec_name(codec), T, H, W, (long long)b0, sha0, (long long)b1, sha1);
    fclose(f);
}

typedef struct thread_arg {
    cmr_reader *r;
    const uint8_t (*ref)[T * H * W * 3];
    int errors;
} thread_arg;

static void *reader_thread(void *p)
{
    thread_arg *a = p;
    uint8_t win[8 * H * W * 3];
    for (int rep = 0; rep < 20; rep++)
        for (int c = 0; c < N; c++)
            for (int s = 0; s + 8 <= T; s += 3)
                if (cmr_read_window(a->r, c, s, 8, 1, 0, win, sizeof win, NULL, 0) != 0 ||
                    memcmp(win, a->ref[c] + (size_t)s * H * W * 3, sizeof win) != 0)
                    a->errors++;
    return NULL;
}

static void test_codec(const char *base, clip_codec codec)
{
    char dir[4200], err[CMR_ERROR_MAX];
    snprintf(dir, sizeof dir, "%s/%s", base, clip_codec_name(codec));
    make_dataset(dir, codec, -1);
    cmr_reader *r;
    CHECK_MSG(cmr_open(&r, dir, "train", err, sizeof err) == 0, "%s", err);
    if (!r) return;
    cmr_info in;
    cmr_get_info(r, &in);
    CHECK(cmr_count(r) == N && in.frames == T && in.height == H && in.width == W && in.codec == (int)codec);
    const size_t fb = H * W * 3;
    static uint8_t ref[N][T * H * W * 3], clip[T * H * W * 3];
    for (int c = 0; c < N; c++) {
        CHECK_MSG(cmr_read_clip(r, c, ref[c], sizeof ref[c], err, sizeof err) == 0, "%s", err);
        cm_error e = {{0}};
        if (codec == CLIP_CODEC_RAW) CHECK(memcmp(ref[c], frames[c], sizeof clip) == 0);
        char id[32];
        CHECK(cmr_clip_id(r, c, id, sizeof id, NULL, 0) == 0 && atoi(strrchr(id, '-') + 1) == c);
        (void)e;
    }
    /* Windows: strided and padded, against the whole clip. */
    int hp = (H + 3) / 4 * 4;
    uint8_t win[6 * 12 * W * 3];
    CHECK(cmr_window_bytes(r, 6, 4) == sizeof win && hp == 12);
    int bad = 0;
    for (int c = 0; c < N; c++)
        for (int stride = 1; stride <= 3; stride++)
            for (int s = 0; s + 5 * stride < T; s++) {
                memset(win, 0xee, sizeof win);
                if (cmr_read_window(r, c, s, 6, stride, 4, win, sizeof win, err, sizeof err) != 0) bad++;
                for (int k = 0; k < 6; k++) {
                    if (memcmp(win + (size_t)k * hp * W * 3, ref[c] + (size_t)(s + k * stride) * fb, fb) != 0) bad++;
                    for (size_t z = fb; z < (size_t)hp * W * 3; z++) bad += win[(size_t)k * hp * W * 3 + z] != 0;
                }
            }
    CHECK_MSG(bad == 0, "%d window mismatches (%s)", bad, clip_codec_name(codec));
    /* Windows never cross clips; bad indices and small buffers are errors. */
    CHECK(cmr_read_window(r, 0, T - 5, 6, 1, 0, win, sizeof win, err, sizeof err) != 0 && strstr(err, "does not fit"));
    CHECK(cmr_read_window(r, 0, 0, 6, 4, 0, win, sizeof win, err, sizeof err) != 0);
    CHECK(cmr_read_window(r, 0, T - 6, 6, 1, 0, win, sizeof win, err, sizeof err) == 0);
    CHECK(cmr_read_window(r, N, 0, 6, 1, 0, win, sizeof win, err, sizeof err) != 0 && strstr(err, "out of range"));
    CHECK(cmr_read_window(r, 0, 0, 6, 1, 0, win, 10, err, sizeof err) != 0 && strstr(err, "smaller"));

    /* Many threads on one reader. */
    pthread_t th[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){.r = r, .ref = (const uint8_t(*)[T * H * W * 3])ref};
        pthread_create(&th[i], NULL, reader_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(a[i].errors == 0);
    }
    /* After fork the child reads through its own environments. */
    pid_t pid = fork();
    if (pid == 0) {
        int ok = cmr_read_clip(r, 4, clip, sizeof clip, NULL, 0) == 0 && memcmp(clip, ref[4], sizeof clip) == 0;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(cmr_read_clip(r, 4, clip, sizeof clip, NULL, 0) == 0 && memcmp(clip, ref[4], sizeof clip) == 0);
    cmr_close(r);

    /* A corrupt record: an error naming shard, record and clip; other frames and clips still read. */
    make_dataset(dir, codec, 4);
    CHECK_MSG(cmr_open(&r, dir, "train", err, sizeof err) == 0, "%s", err);
    if (!r) return;
    CHECK(cmr_read_clip(r, 4, clip, sizeof clip, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "shard-00001.mdb: record 1 (clip") && strstr(err, "corrupt"), "%s", err);
    CHECK(cmr_read_clip(r, 3, clip, sizeof clip, err, sizeof err) == 0 && memcmp(clip, ref[3], sizeof clip) == 0);
    CHECK(cmr_read_window(r, 4, 0, 6, 1, 0, win, sizeof win, err, sizeof err) == 0);
    cmr_close(r);
    CHECK(cmr_open(&r, dir, "val", err, sizeof err) == 0 && cmr_count(r) == 0);
    cmr_close(r);
    CHECK(cmr_open(&r, dir, "dev", err, sizeof err) != 0 && strstr(err, "unknown split"));
    CHECK(cmr_open(&r, base, "train", err, sizeof err) != 0 && strstr(err, "manifest.json"));
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    const char *tmp = test_tmpdir();
    make_frames();
    test_codec(tmp, CLIP_CODEC_RAW);
    test_codec(tmp, CLIP_CODEC_H264);
    CHECK(strlen(cmr_version()) > 0);
    return test_summary();
}
