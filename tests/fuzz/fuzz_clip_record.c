/* libFuzzer: arbitrary bytes as a clip record: parse (with payload CRC), and,
 * when they parse, read a window, a frame list and decode. */
#include <stdint.h>
#include <stdlib.h>

#include <libavutil/log.h>

#include "clip_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    av_log_set_level(AV_LOG_QUIET);
    clip_header h;
    cm_error e;
    clip_record_parse(data, size, &h, 1, &e);
    if (clip_record_parse(data, size, &h, 0, &e) != 0) return 0;
    size_t frame = (size_t)h.height * h.width * h.channels;
    if (frame > (1 << 22)) return 0;
    int count = h.frames < 3 ? (int)h.frames : 3;
    uint8_t *out = malloc(frame * (size_t)count);
    if (!out) return 0;
    clip_record_read_frames(data, size, (int)h.frames - count, count, out, &e);
    int idx[3] = {0, (int)h.frames - 1, (int)h.frames / 2};
    clip_record_read_frame_list(data, size, idx, count, out, &e);
    clip_record_decode(data, size, 0, count, out, &e);
    free(out);
    return 0;
}
