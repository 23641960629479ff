/* Exports: the raw file is byte-exact, the MP4 reopens with libavformat and
 * decodes to T upscaled frames close to the source, the PNG sheet decodes
 * with libavcodec to the promised layout, and failures leave no file behind. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#include "export.h"
#include "../test.h"

enum { T = 12, H = 18, W = 32 };

/* Smooth colour fields with a moving square: compressible but not trivial. */
static uint8_t *make_clip(void)
{
    uint8_t *f = malloc((size_t)T * H * W * 3);
    for (int i = 0; i < T; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = f + (((size_t)i * H + y) * W + x) * 3;
                int in_square = x >= 2 * i && x < 2 * i + 8 && y >= 4 && y < 12;
                p[0] = in_square ? 240 : (uint8_t)(40 + 5 * x);
                p[1] = in_square ? 220 : (uint8_t)(30 + 8 * y);
                p[2] = in_square ? 30 : (uint8_t)(100 + 10 * i);
            }
    return f;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Files in the scratch dir whose name contains ".tmp." (leftover temporaries). */
static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(test_tmpdir());
    struct dirent *ent;
    while (d && (ent = readdir(d)))
        if (strstr(ent->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void test_raw(const uint8_t *frames)
{
    char *path = cm_path_join(test_tmpdir(), "clip.rgb");
    cm_error e = {{0}};
    CHECK_MSG(clip_export_raw(frames, T, H, W, path, &e) == 0, "%s", e.msg);
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    CHECK(data && len == (size_t)T * H * W * 3 && memcmp(data, frames, len) == 0);
    free(data);
    /* Overwriting an existing file works too. */
    CHECK(clip_export_raw(frames, 1, H, W, path, &e) == 0);
    data = read_file(path, &len);
    CHECK(data && len == (size_t)H * W * 3);
    free(data);
    free(path);
    CHECK(clip_export_raw(frames, T, H, W, "/nonexistent-dir/x.rgb", &e) == -1 && strstr(e.msg, "/nonexistent-dir/x.rgb"));
    CHECK(clip_export_raw(frames, 0, H, W, "/tmp/never.rgb", &e) == -1);
}

static void test_mp4(const uint8_t *frames)
{
    const int scale = 4;
    char *path = cm_path_join(test_tmpdir(), "clip.mp4");
    cm_error e = {{0}};
    CHECK_MSG(clip_export_mp4(frames, T, H, W, 10, 1, scale, path, &e) == 0, "%s", e.msg);

    AVFormatContext *ic = NULL;
    CHECK(avformat_open_input(&ic, path, NULL, NULL) == 0);
    if (!ic) {
        free(path);
        return;
    }
    CHECK(avformat_find_stream_info(ic, NULL) >= 0);
    CHECK(strstr(ic->iformat->name, "mp4") != NULL);
    int si = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    CHECK(si >= 0);
    if (si < 0) {
        avformat_close_input(&ic);
        free(path);
        return;
    }
    AVCodecParameters *par = ic->streams[si]->codecpar;
    CHECK(par->codec_id == AV_CODEC_ID_H264 && par->width == W * scale && par->height == H * scale);
    CHECK(par->format == AV_PIX_FMT_YUV420P);
    AVRational fr = ic->streams[si]->avg_frame_rate;
    CHECK_MSG(fr.den > 0 && fabs(av_q2d(fr) - 10.0) < 0.01, "frame rate %d/%d", fr.num, fr.den);

    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, par);
    CHECK(avcodec_open2(dec, codec, NULL) == 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int ow = W * scale, oh = H * scale, decoded = 0, bad_size = 0;
    struct SwsContext *sws = sws_getContext(ow, oh, AV_PIX_FMT_YUV420P, ow, oh, AV_PIX_FMT_RGB24, SWS_POINT, NULL, NULL, NULL);
    uint8_t *rgb = malloc((size_t)ow * oh * 3);
    double worst_psnr = 99;
    for (int eof = 0; !eof;) {
        int rc = av_read_frame(ic, pkt);
        if (rc < 0) {
            eof = 1;
            avcodec_send_packet(dec, NULL);
        } else {
            if (pkt->stream_index == si) avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(dec, frame) == 0) {
            if (frame->width != ow || frame->height != oh) bad_size++;
            else if (decoded < T) {
                /* Compare against the nearest-neighbour upscaled source frame. */
                uint8_t *dst[1] = {rgb};
                int stride[1] = {ow * 3};
                sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, oh, dst, stride);
                const uint8_t *src = frames + (size_t)decoded * H * W * 3;
                double se = 0;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                        for (int c = 0; c < 3; c++) {
                            double d = (double)rgb[((size_t)y * ow + x) * 3 + c] -
                                       src[((size_t)(y / scale) * W + x / scale) * 3 + c];
                            se += d * d;
                        }
                double p = 10 * log10(255.0 * 255 / (se / ((double)ow * oh * 3) + 1e-9));
                if (p < worst_psnr) worst_psnr = p;
            }
            decoded++;
            av_frame_unref(frame);
        }
    }
    printf("mp4: %d frames %dx%d, worst frame PSNR %.1f dB\n", decoded, ow, oh, worst_psnr);
    CHECK_MSG(decoded == T, "decoded %d frames", decoded);
    CHECK(bad_size == 0);
    CHECK_MSG(worst_psnr > 30, "worst PSNR %.1f dB", worst_psnr);
    free(rgb);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);

    /* Odd output size is refused and leaves nothing behind. */
    char *odd = cm_path_join(test_tmpdir(), "odd.mp4");
    uint8_t small[3 * 3 * 3] = {0};
    CHECK(clip_export_mp4(small, 1, 3, 3, 10, 1, 1, odd, &e) == -1 && strstr(e.msg, "even"));
    struct stat st;
    CHECK(stat(odd, &st) != 0);
    free(odd);
    CHECK(clip_export_mp4(frames, T, H, W, 10, 1, 2, "/nonexistent-dir/x.mp4", &e) == -1 &&
          strstr(e.msg, "/nonexistent-dir/x.mp4"));
    free(path);
}

/* Decodes a PNG file with libavcodec's png decoder into packed RGB24. */
static uint8_t *decode_png(const char *path, int *w, int *h)
{
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!data) return NULL;
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    uint8_t *rgb = NULL;
    if (avcodec_open2(dec, codec, NULL) == 0 && av_new_packet(pkt, (int)len) == 0) {
        memcpy(pkt->data, data, len);
        if (avcodec_send_packet(dec, pkt) == 0 && avcodec_receive_frame(dec, frame) == 0 &&
            frame->format == AV_PIX_FMT_RGB24) {
            *w = frame->width;
            *h = frame->height;
            rgb = malloc((size_t)*w * *h * 3);
            for (int y = 0; y < *h; y++)
                memcpy(rgb + (size_t)y * *w * 3, frame->data[0] + (size_t)y * frame->linesize[0], (size_t)*w * 3);
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    free(data);
    return rgb;
}

static void test_png(const uint8_t *frames)
{
    char *path = cm_path_join(test_tmpdir(), "sheet.png");
    cm_error e = {{0}};
    /* step 3 over 12 frames: frames 0,3,6,9 in 3 columns -> 2 rows, one empty cell. */
    CHECK_MSG(clip_export_png_sheet(frames, T, H, W, 3, 3, path, &e) == 0, "%s", e.msg);
    /* The in-memory sheet (pages, HTTP) is the file's bytes exactly. */
    uint8_t *mem = NULL;
    size_t mem_len = 0;
    CHECK_MSG(clip_png_sheet(frames, T, H, W, 3, 3, "sheet", &mem, &mem_len, &e) == 0, "%s", e.msg);
    FILE *pf = fopen(path, "rb");
    uint8_t *file_bytes = cm_xmalloc(mem_len + 1);
    size_t file_len = pf ? fread(file_bytes, 1, mem_len + 1, pf) : 0;
    if (pf) fclose(pf);
    CHECK(mem && file_len == mem_len && memcmp(file_bytes, mem, mem_len) == 0);
    free(file_bytes);
    free(mem);
    int w = 0, h = 0;
    uint8_t *img = decode_png(path, &w, &h);
    CHECK(img != NULL);
    if (img) {
        CHECK_MSG(w == 3 * W + 2 * 2 && h == 2 * H + 2, "sheet is %dx%d", w, h);
        /* Frame 9 is the first cell of row 2; check a pixel inside its square and one outside. */
        for (int k = 0; k < 4; k++) {
            int x0 = (k % 3) * (W + 2), y0 = (k / 3) * (H + 2);
            int fx = 2 * (3 * k) + 1, fy = 5; /* inside the moving square of frame 3k */
            const uint8_t *src = frames + (((size_t)(3 * k) * H + fy) * W + fx) * 3;
            const uint8_t *got = img + ((size_t)(y0 + fy) * w + x0 + fx) * 3;
            CHECK_MSG(memcmp(src, got, 3) == 0, "cell %d pixel", k);
            src = frames + (((size_t)(3 * k) * H + 16) * W + 30) * 3;
            got = img + ((size_t)(y0 + 16) * w + x0 + 30) * 3;
            CHECK_MSG(memcmp(src, got, 3) == 0, "cell %d background pixel", k);
        }
        const uint8_t *gap = img + ((size_t)3 * w + W) * 3; /* between cells 0 and 1 */
        CHECK(gap[0] == 48 && gap[1] == 48 && gap[2] == 48);
        const uint8_t *empty = img + ((size_t)(h - 1) * w + w - 1) * 3; /* unused last cell */
        CHECK(empty[0] == 48 && empty[1] == 48 && empty[2] == 48);
        free(img);
    }
    /* More columns than frames: the sheet shrinks to the frames present. */
    CHECK(clip_export_png_sheet(frames, 2, H, W, 1, 8, path, &e) == 0);
    img = decode_png(path, &w, &h);
    CHECK(img && w == 2 * W + 2 && h == H);
    free(img);
    CHECK(clip_export_png_sheet(frames, T, H, W, 0, 3, path, &e) == -1);
    CHECK(clip_export_png_sheet(frames, T, H, W, 1, 3, "/nonexistent-dir/s.png", &e) == -1 &&
          strstr(e.msg, "/nonexistent-dir/s.png"));
    free(path);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    uint8_t *frames = make_clip();
    test_raw(frames);
    test_mp4(frames);
    test_png(frames);
    CHECK_MSG(count_temps() == 0, "temporary files left in %s", test_tmpdir());
    free(frames);
    return test_summary();
}
