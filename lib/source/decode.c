/* Decoding a source into fixed-rate, fixed-size RGB24 frames; the resampling
 * rule and the geometry are explained in docs/resampling.md. This file opens
 * a source and resamples its frames in time; decode_convert.c turns each
 * output frame upright and scales it (the geometry). */
#include "decode_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define MAX_DIMENSION 16384
#define MAX_CONSECUTIVE_BAD_PACKETS 64

void decode_options_default(decode_options *o)
{
    memset(o, 0, sizeof *o);
    o->out_w = 160;
    o->out_h = 90;
    o->fps_num = 10;
    o->fps_den = 1;
    o->fit = FIT_CROP;
    o->skip_nonref = 1;
    o->skip_loop_filter = 1;
}

static const char *const image_extensions[] = {
    "png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "ppm", "pgm", "pnm", "tga", "dpx", "exr", "jp2", NULL,
};

static int is_image_extension(const char *ext)
{
    for (int i = 0; image_extensions[i]; i++)
        if (!strcasecmp(ext, image_extensions[i])) return 1;
    return 0;
}

/* Finds the image extension most files in dir share and the bytes they hold.
 * Returns the number of such files (0: none). */
static int scan_image_dir(const char *dir, char ext_out[16], int64_t *bytes)
{
    DIR *dh = opendir(dir);
    if (!dh) return 0;
    char exts[16][16];
    int counts[16] = {0};
    int64_t sizes[16] = {0};
    int n_ext = 0;
    struct dirent *ent;
    while ((ent = readdir(dh))) {
        if (ent->d_name[0] == '.') continue;
        const char *dot = strrchr(ent->d_name, '.');
        if (!dot || strlen(dot + 1) >= 16 || !is_image_extension(dot + 1)) continue;
        char *full = cm_path_join(dir, ent->d_name);
        struct stat st;
        int ok = stat(full, &st) == 0 && S_ISREG(st.st_mode);
        free(full);
        if (!ok) continue;
        int i = 0;
        while (i < n_ext && strcmp(exts[i], dot + 1)) i++;
        if (i == n_ext) {
            if (n_ext == 16) continue;
            snprintf(exts[n_ext++], 16, "%s", dot + 1);
        }
        counts[i]++;
        sizes[i] += st.st_size;
    }
    closedir(dh);
    int best = -1;
    for (int i = 0; i < n_ext; i++)
        if (best < 0 || counts[i] > counts[best]) best = i;
    if (best < 0) return 0;
    snprintf(ext_out, 16, "%s", exts[best]);
    *bytes = sizes[best];
    return counts[best];
}

/* "dir/ *.ext" for image2's glob pattern, with glob metacharacters in dir escaped. */
static char *glob_pattern(const char *dir, const char *ext)
{
    size_t n = strlen(dir);
    char *out = cm_xmalloc(2 * n + strlen(ext) + 8);
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\{}", dir[i])) *p++ = '\\';
        *p++ = dir[i];
    }
    sprintf(p, "/*.%s", ext);
    return out;
}

static int display_rotation(const AVStream *st)
{
    size_t size = 0;
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!m || size < 9 * sizeof(int32_t)) return 0;
    /* av_display_rotation_get is counter-clockwise; the CLI's autorotate negates it. */
    double theta = -av_display_rotation_get((const int32_t *)m);
    if (isnan(theta)) return 0;
    long quarter = lround(theta / 90.0);
    return (int)(((quarter % 4) + 4) % 4) * 90;
}

int decoder_open(decoder **out, const char *path, const decode_options *opt, source_probe *probe, cm_error *e)
{
    int rc = -1;
    decoder *d = NULL;
    AVDictionary *fmt_opts = NULL;
    char *pattern = NULL;
    char err[AV_ERROR_MAX_STRING_SIZE];
    source_probe scratch;
    if (!probe) probe = &scratch;
    memset(probe, 0, sizeof *probe);
    *out = NULL;

    decode_options defaults;
    if (!opt) {
        decode_options_default(&defaults);
        opt = &defaults;
    }
    if (opt->out_w <= 0 || opt->out_h <= 0 || opt->fps_num <= 0 || opt->fps_den <= 0) {
        cm_error_set(e, "%s: invalid decode options (%dx%d at %d/%d fps)", path, opt->out_w, opt->out_h,
                     opt->fps_num, opt->fps_den);
        return -1;
    }

    struct stat st;
    if (stat(path, &st) != 0) {
        cm_error_set(e, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    int is_dir = S_ISDIR(st.st_mode);
    const AVInputFormat *ifmt = NULL;
    const char *url = path;
    if (is_dir) {
        char ext[16];
        if (scan_image_dir(path, ext, &probe->bytes) == 0) {
            cm_error_set(e, "%s: directory holds no image frames", path);
            return -1;
        }
        pattern = glob_pattern(path, ext);
        url = pattern;
        ifmt = av_find_input_format("image2");
        double rate = opt->image_frame_rate > 0 ? opt->image_frame_rate : 25.0;
        AVRational q = av_d2q(rate, 1000000);
        char rate_str[64];
        snprintf(rate_str, sizeof rate_str, "%d/%d", q.num, q.den);
        av_dict_set(&fmt_opts, "pattern_type", "glob", 0);
        av_dict_set(&fmt_opts, "framerate", rate_str, 0);
    } else if (!S_ISREG(st.st_mode)) {
        /* A FIFO or a device has no size and may never end (or block the
         * open): only regular files and frame folders are sources. */
        const char *what = S_ISFIFO(st.st_mode)  ? "a FIFO"
                           : S_ISCHR(st.st_mode) ? "a character device"
                           : S_ISBLK(st.st_mode) ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "of another kind";
        cm_error_set(e, "%s: not a regular file (it is %s)", path, what);
        return -1;
    } else {
        probe->bytes = st.st_size;
        if (st.st_size == 0) {
            cm_error_set(e, "%s: empty file (0 bytes)", path);
            return -1;
        }
    }

    d = cm_xcalloc(1, sizeof *d);
    d->path = cm_xstrdup(path);
    d->opt = *opt;
    if (d->opt.max_pixels <= 0) d->opt.max_pixels = (int64_t)8192 * 8192;
    d->tick_tb = (AVRational){opt->fps_den, opt->fps_num};

    int ret = avformat_open_input(&d->fmt, url, ifmt, &fmt_opts);
    if (ret < 0) {
        cm_error_set(e, "%s: not a readable video: %s", path, av_make_error_string(err, sizeof err, ret));
        goto fail;
    }
    snprintf(probe->container, sizeof probe->container, "%s", d->fmt->iformat->name);
    ret = avformat_find_stream_info(d->fmt, NULL);
    if (ret < 0) {
        cm_error_set(e, "%s: cannot read stream info: %s", path, av_make_error_string(err, sizeof err, ret));
        goto fail;
    }
    if (d->fmt->duration != AV_NOPTS_VALUE && d->fmt->duration > 0)
        probe->duration_s = d->fmt->duration / (double)AV_TIME_BASE;
    probe->bit_rate = d->fmt->bit_rate;

    d->stream_index = -1;
    for (unsigned i = 0; i < d->fmt->nb_streams; i++) {
        AVStream *s = d->fmt->streams[i];
        int usable = s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC);
        if (usable && d->stream_index < 0) d->stream_index = (int)i;
    }
    if (d->stream_index < 0) {
        cm_error_set(e, "%s: not a video: no video stream", path);
        goto fail;
    }
    int best = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(d->fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) d->stream_index = best;
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        if ((int)i != d->stream_index) d->fmt->streams[i]->discard = AVDISCARD_ALL;

    AVStream *vs = d->fmt->streams[d->stream_index];
    AVCodecParameters *par = vs->codecpar;
    d->tb = vs->time_base;
    d->rotation = display_rotation(vs);
    snprintf(probe->codec, sizeof probe->codec, "%s", avcodec_get_name(par->codec_id));
    const char *pix = av_get_pix_fmt_name(par->format);
    snprintf(probe->pix_fmt, sizeof probe->pix_fmt, "%s", pix ? pix : "");
    probe->width = par->width;
    probe->height = par->height;
    probe->rotation = d->rotation;
    if (vs->avg_frame_rate.num > 0 && vs->avg_frame_rate.den > 0) probe->fps = av_q2d(vs->avg_frame_rate);
    if (probe->duration_s == 0 && vs->duration != AV_NOPTS_VALUE && vs->duration > 0)
        probe->duration_s = vs->duration * av_q2d(vs->time_base);
    d->duration_s = probe->duration_s;
    if (vs->duration != AV_NOPTS_VALUE && vs->duration > 0) d->stream_duration_s = vs->duration * av_q2d(vs->time_base);
    if (vs->avg_frame_rate.num > 0 && vs->avg_frame_rate.den > 0)
        d->avg_frame_dur = av_rescale_q(1, av_inv_q(vs->avg_frame_rate), vs->time_base);

    if (par->width <= 0 || par->height <= 0 || par->width > MAX_DIMENSION || par->height > MAX_DIMENSION ||
        (int64_t)par->width * par->height > d->opt.max_pixels) {
        cm_error_set(e, "%s: unsupported dimensions %dx%d", path, par->width, par->height);
        goto fail;
    }

    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        cm_error_set(e, "%s: no decoder for codec %s", path, probe->codec);
        goto fail;
    }
    d->dec = avcodec_alloc_context3(codec);
    if (!d->dec || avcodec_parameters_to_context(d->dec, par) < 0) {
        cm_error_set(e, "%s: cannot set up the %s decoder", path, probe->codec);
        goto fail;
    }
    d->dec->pkt_timebase = vs->time_base;
    d->dec->thread_count = 1;   /* sources run in parallel instead */
    if (opt->skip_loop_filter == 1) d->dec->skip_loop_filter = AVDISCARD_NONREF;
    else if (opt->skip_loop_filter >= 2) d->dec->skip_loop_filter = AVDISCARD_ALL;
    ret = avcodec_open2(d->dec, codec, NULL);
    if (ret < 0) {
        cm_error_set(e, "%s: cannot open the %s decoder: %s", path, probe->codec,
                     av_make_error_string(err, sizeof err, ret));
        goto fail;
    }

    d->read_pkt = av_packet_alloc();
    d->held = av_frame_alloc();
    d->pending = av_frame_alloc();
    d->oriented = av_frame_alloc();
    d->rgb_out = cm_xmalloc((size_t)opt->out_w * opt->out_h * 3);
    if (!d->read_pkt || !d->held || !d->pending || !d->oriented) {
        cm_error_set(e, "%s: out of memory", path);
        goto fail;
    }
    d->geo_w = -1;
    rc = 0;
    *out = d;
    d = NULL;
fail:
    av_dict_free(&fmt_opts);
    free(pattern);
    decoder_close(d);
    return rc;
}

/* Output tick on which a timestamp (stream time base) falls: nearest tick,
 * halves away from zero, relative to the first frame; exact integer arithmetic. */
static int64_t tick_of(const decoder *d, int64_t ts)
{
    return av_rescale_q_rnd(ts - d->origin, d->tb, d->tick_tb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

/* Tops the lookahead queue up with packets of the video stream. */
static void fill_queue(decoder *d)
{
    while (d->queue_len < LOOKAHEAD && !d->demux_done) {
        int ret = av_read_frame(d->fmt, d->read_pkt);
        if (ret < 0) {
            d->demux_done = 1;
            if (ret != AVERROR_EOF) d->read_error = ret;
            break;
        }
        if (d->read_pkt->stream_index != d->stream_index) {
            av_packet_unref(d->read_pkt);
            continue;
        }
        int slot = (d->queue_head + d->queue_len) % LOOKAHEAD;
        if (!d->queue[slot]) d->queue[slot] = av_packet_alloc();
        if (!d->queue[slot]) {
            av_packet_unref(d->read_pkt);
            d->demux_done = 1;
            d->read_error = AVERROR(ENOMEM);
            break;
        }
        av_packet_move_ref(d->queue[slot], d->read_pkt);
        d->queue_len++;
    }
}

static void keep_smallest_later(int64_t pts, int64_t after, int64_t *next)
{
    if (pts != AV_NOPTS_VALUE && pts > after && (*next == AV_NOPTS_VALUE || pts < *next)) *next = pts;
}

/* Whether the frame in the head packet can be left undecoded: no output tick
 * shows it because a later frame lands on the same tick. Any later timestamp
 * among the packets just sent (with B-frames the next frame shown is often
 * decoded before this one) and the packets queued bounds the next displayed
 * frame's time from above, so an equal tick there proves the frame is never shown. */
static int head_frame_unseen(const decoder *d)
{
    const AVPacket *head = d->queue[d->queue_head];
    if (!d->have_origin || head->pts == AV_NOPTS_VALUE) return 0;
    int64_t next = AV_NOPTS_VALUE;
    for (int i = 1; i < d->queue_len; i++)
        keep_smallest_later(d->queue[(d->queue_head + i) % LOOKAHEAD]->pts, head->pts, &next);
    for (int i = 0; i < d->sent_pts_len; i++) keep_smallest_later(d->sent_pts[i], head->pts, &next);
    return next != AV_NOPTS_VALUE && tick_of(d, head->pts) == tick_of(d, next);
}

/* Sends the next packet (or the final NULL). Returns 0, or an AVERROR that ends the input. */
static int send_next_packet(decoder *d)
{
    fill_queue(d);
    if (d->queue_len == 0) {
        d->flushed = 1;
        int ret = avcodec_send_packet(d->dec, NULL);
        return ret == AVERROR_EOF ? 0 : ret;
    }
    AVPacket *pkt = d->queue[d->queue_head];
    d->dec->skip_frame = d->opt.skip_nonref && head_frame_unseen(d) ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    d->sent_pts[d->sent_pts_next] = pkt->pts;
    d->sent_pts_next = (d->sent_pts_next + 1) % LOOKAHEAD;
    if (d->sent_pts_len < LOOKAHEAD) d->sent_pts_len++;
    int ret = avcodec_send_packet(d->dec, pkt);
    av_packet_unref(pkt);
    d->queue_head = (d->queue_head + 1) % LOOKAHEAD;
    d->queue_len--;
    d->packets_sent++;
    if (ret == AVERROR_INVALIDDATA) {
        /* One corrupt packet is a glitch; a long run of them is a broken stream. */
        cm_log(CM_LOG_DEBUG, "%s: skipping a corrupt packet", d->path);
        return ++d->bad_packets > MAX_CONSECUTIVE_BAD_PACKETS ? ret : 0;
    }
    if (ret < 0 && ret != AVERROR(EAGAIN)) return ret;
    d->bad_packets = 0;
    return 0;
}

/* Decodes the next source frame into f with its timestamp. Returns 1, 0 when
 * the input is exhausted, -1 on a fatal error (d->decode_error set). */
static int next_source_frame(decoder *d, AVFrame *f, int64_t *ts)
{
    for (;;) {
        int ret = avcodec_receive_frame(d->dec, f);
        if (ret == 0) {
            d->frames_decoded++;
            int64_t t = f->best_effort_timestamp;
            if (t == AV_NOPTS_VALUE)
                t = d->have_origin ? d->last_ts + (d->last_dur > 0 ? d->last_dur : 1) : 0;
            if (!d->have_origin) {
                d->origin = t;
                d->have_origin = 1;
            }
            int64_t gap = d->frames_decoded > 1 ? t - d->last_ts : 0;
            d->last_dur = f->pkt_duration > 0 ? f->pkt_duration : gap > 0 ? gap : d->avg_frame_dur;
            d->last_ts = t;
            *ts = t;
            if (f->width <= 0 || f->height <= 0 || f->width > MAX_DIMENSION || f->height > MAX_DIMENSION ||
                (int64_t)f->width * f->height > d->opt.max_pixels) {
                av_frame_unref(f);
                d->decode_error = AVERROR_INVALIDDATA;
                return -1;
            }
            return 1;
        }
        if (ret == AVERROR_EOF) return 0;
        if (ret == AVERROR_INVALIDDATA) {
            cm_log(CM_LOG_DEBUG, "%s: skipping an undecodable frame", d->path);
            continue;
        }
        if (ret != AVERROR(EAGAIN)) {
            d->decode_error = ret;
            return -1;
        }
        if (d->flushed) return 0;
        ret = send_next_packet(d);
        if (ret < 0) {
            d->decode_error = ret;
            return -1;
        }
    }
}

/* Seconds of video decoded, from the first frame to the end of the last. */
static double decoded_span_s(const decoder *d)
{
    return d->have_origin ? (d->last_ts + d->last_dur - d->origin) * av_q2d(d->tb) : 0.0;
}

/* A stream that ends this much before its declared duration lost its tail:
 * libavformat reports a cut-off mp4 sample table as a plain EOF. */
#define TRUNCATION_SLACK_S 0.5

static int fail_with_input_error(decoder *d, cm_error *e)
{
    char err[AV_ERROR_MAX_STRING_SIZE] = "data missing";
    int code = d->decode_error ? d->decode_error : d->read_error;
    if (code) av_make_error_string(err, sizeof err, code);
    double declared = d->stream_duration_s > 0 ? d->stream_duration_s : d->duration_s;
    if (declared > 0)
        cm_error_set(e, "%s: truncated or corrupt: data ends at %.1f s of %.1f s (%s)", d->path, decoded_span_s(d),
                     declared, err);
    else
        cm_error_set(e, "%s: truncated or corrupt: data ends at %.1f s (%s)", d->path, decoded_span_s(d), err);
    return -1;
}

int decoder_next(decoder *d, uint8_t *rgb, cm_error *e)
{
    if (!d->held->buf[0] && !d->input_done) {
        int64_t ts;
        int r = next_source_frame(d, d->held, &ts);
        if (r <= 0) d->input_done = 1;
        else {
            d->held_tick = tick_of(d, ts);
            d->held_ts = ts;
        }
    }
    /* Pull frames until one lands after next_tick: the held one is then on screen. */
    while (!d->input_done) {
        if (!d->pending->buf[0]) {
            int64_t ts;
            if (next_source_frame(d, d->pending, &ts) <= 0) {
                d->input_done = 1;
                break;
            }
            d->pending_tick = tick_of(d, ts);
            d->pending_ts = ts;
        }
        if (d->pending_tick > d->next_tick) break;
        av_frame_unref(d->held);
        av_frame_move_ref(d->held, d->pending);
        d->held_tick = d->pending_tick;
        d->held_ts = d->pending_ts;
        d->held_rgb_valid = 0;
    }
    if (d->input_done && d->have_origin) {
        /* The last frame stays on screen for its duration, like the CLI's fps filter at EOF. */
        d->end_tick = d->last_dur > 0 ? tick_of(d, d->last_ts + d->last_dur) : tick_of(d, d->last_ts) + 1;
    }
    int more = d->held->buf[0] && (d->pending->buf[0] || d->next_tick < d->end_tick);
    if (!more) {
        if (d->decode_error || d->read_error) return fail_with_input_error(d, e);
        if (d->stream_duration_s > 0 && d->have_origin && decoded_span_s(d) < d->stream_duration_s - TRUNCATION_SLACK_S)
            return fail_with_input_error(d, e);
        if (d->frames_decoded == 0 && d->packets_sent > 0) {
            cm_error_set(e, "%s: no decodable video frames", d->path);
            return -1;
        }
        return 0;
    }
    if (!d->held_rgb_valid) {
        if (decode_convert_held(d) < 0) {
            cm_error_set(e, "%s: cannot convert a %dx%d %s frame", d->path, d->held->width, d->held->height,
                         av_get_pix_fmt_name(d->held->format));
            return -1;
        }
        d->held_rgb_valid = 1;
    }
    memcpy(rgb, d->rgb_out, (size_t)d->opt.out_w * d->opt.out_h * 3);
    d->shown_ts = d->held_ts;
    d->next_tick++;
    return 1;
}

double decoder_frame_time(const decoder *d)
{
    return d->have_origin ? (double)(d->shown_ts - d->origin) * av_q2d(d->tb) : 0.0;
}

void decoder_counts(const decoder *d, int64_t *decoded, int64_t *skipped)
{
    int64_t gap = d->packets_sent - d->frames_decoded;
    if (decoded) *decoded = d->frames_decoded;
    if (skipped) *skipped = gap > 0 ? gap : 0;
}

void decoder_close(decoder *d)
{
    if (!d) return;
    for (int i = 0; i < LOOKAHEAD; i++) av_packet_free(&d->queue[i]);
    av_packet_free(&d->read_pkt);
    av_frame_free(&d->held);
    av_frame_free(&d->pending);
    av_frame_free(&d->oriented);
    avcodec_free_context(&d->dec);
    avformat_close_input(&d->fmt);
    sws_freeContext(d->sws);
    free(d->work);
    free(d->rgb_out);
    free(d->path);
    free(d);
}
