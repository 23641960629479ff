/* clipmill token sets: a tokenizer's integer codes for every clip of a
 * dataset (docs/tokens.md), written once, then read as windows of time steps
 * that never cross clips, for training dynamics models on tokens.
 *
 *   #include <clipmill/tokens.h>      // in libclipmill_reader, like reader.h
 *
 * A token set is a directory (DATASET/tokens/NAME by convention): tokens.json
 * names the dataset (the SHA-256 of its manifest.json) and the tokenizer, and
 * one file per split holds every clip's tokens, (T, h, w) each, in the
 * dataset's order. Return values and messages as in reader.h. */
#ifndef CLIPMILL_TOKENS_H
#define CLIPMILL_TOKENS_H

#include "clipmill/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cmr_tokenizer {
    const char *name, *version;    /* printable text, < 128 bytes each */
    int32_t patch_size;            /* pixels per token side (0: unknown) */
    uint64_t codebook;             /* every token < codebook, 2 .. 2^32: stored as uint16 up to 65536, else uint32 */
} cmr_tokenizer;

/* ---- Writing. One writer per token set at a time (the journal is locked).
 * Records go to DIR/tokens.journal as they come; a writer opened again on a
 * DIR whose run was killed (kill -9 at any point) keeps every whole record
 * there, drops a torn last one and goes on. cmr_tokw_finish sorts them into
 * the split files, identical to those of an uninterrupted run, and writes
 * tokens.json last: a set without tokens.json is not readable. */
typedef struct cmr_token_writer cmr_token_writer;

/* Opens a writer of dataset_dir's tokens (every split, the whole dataset:
 * no DIR@SUBSET) at out_dir (created): a directory, or a NAME without '/'
 * for dataset_dir/tokens/NAME (as cmr_tokens_open reads it). Resumes a journal when one is there
 * (its dataset and tokenizer must be these); a finished set with the same
 * dataset and tokenizer opens finished (every clip written, nothing to
 * write); a finished set of another dataset or tokenizer is refused. */
CMR_API int cmr_tokw_open(cmr_token_writer **out, const char *dataset_dir, const char *out_dir,
                          const cmr_tokenizer *tok, char *err, size_t err_size);
/* Writes clip index of split: tokens is (steps, h, w) row-major, of
 * in_bytes 2 (uint16) or 4 (uint32) each; every token must be < codebook,
 * and h, w the same for every clip of the set. Returns 0 written, 1 when the
 * clip was already written with the same tokens (a resumed run), -1 on error
 * (other tokens than those written, a bad value, shape or index; a finished
 * set). */
CMR_API int cmr_tokw_write(cmr_token_writer *w, const char *split, int64_t index, const void *tokens, int in_bytes,
                           int32_t steps, int32_t h, int32_t width, char *err, size_t err_size);
/* 1 when clip index of split is written, 0 when not, -1 for a bad split or index. */
CMR_API int cmr_tokw_written(const cmr_token_writer *w, const char *split, int64_t index);
/* Writes the split files and tokens.json; every clip of every split must be
 * written. Returns 0 (also on a set already finished), or -1 with err (the
 * journal stays: write the missing clips and call again). */
CMR_API int cmr_tokw_finish(cmr_token_writer *w, char *err, size_t err_size);
/* Closes the writer; an unfinished journal stays for a later run. */
CMR_API void cmr_tokw_close(cmr_token_writer *w);

/* ---- Reading. */
typedef struct cmr_tokens cmr_tokens;

typedef struct cmr_tokens_info {
    int64_t clips;                 /* clips of the split (of the subset for DIR@NAME) */
    int32_t height, width;         /* h, w of every clip */
    int32_t token_bytes;           /* as stored: 2 or 4 */
    int32_t patch_size;
    uint64_t codebook;
    char tokenizer[128], tokenizer_version[128];
} cmr_tokens_info;

/* Opens split of token set `tokens` of dataset `dataset` (DIR or DIR@NAME:
 * the subset's clips). tokens is a directory, or a NAME without '/' for
 * DIR/tokens/NAME. Checks tokens.json (its own CRC), that it was made from
 * this dataset (the SHA-256 of its manifest.json), and the split file's size,
 * header and index; records are checked as they are read. Opens the dataset
 * reader too (cmr_tokens_dataset: actions, metadata, frames). */
CMR_API int cmr_tokens_open(cmr_tokens **out, const char *dataset, const char *tokens, const char *split, char *err,
                            size_t err_size);
CMR_API void cmr_tokens_close(cmr_tokens *t);
CMR_API int64_t cmr_tokens_count(const cmr_tokens *t);
CMR_API void cmr_tokens_get_info(const cmr_tokens *t, cmr_tokens_info *info);
/* T of clip index, or -1 out of range. */
CMR_API int32_t cmr_tokens_steps(const cmr_tokens *t, int64_t index);
/* The dataset reader the set was opened with (owned by t). */
CMR_API cmr_reader *cmr_tokens_dataset(cmr_tokens *t);
/* Steps start, start + stride, ..., start + (steps-1)*stride of clip index
 * into out as (steps, h, w) values of out_bytes 2 (uint16: a set stored in
 * 2 bytes only) or 4 (uint32); out_count >= steps*h*w values. A window that
 * would run past the clip's last step is an error: windows never cross
 * clips. The record header, its step CRC table and every step copied are
 * checked: a damaged record is -1 and a message naming file, record and
 * clip, never garbage. */
CMR_API int cmr_tokens_read_window(cmr_tokens *t, int64_t index, int32_t start, int32_t steps, int32_t stride,
                                   void *out, size_t out_count, int out_bytes, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
