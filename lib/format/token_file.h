/* Token shards (docs/tokens.md describes every byte): a tokenizer's integer
 * codes for every clip of a dataset, one file per split (SPLIT.tok: header,
 * index, records in clip order) and tokens.json naming the dataset and the
 * tokenizer. While a writer runs, records go to an append-only journal
 * (tokens.journal) in the order they come; finishing sorts them into the
 * split files. The record bytes are the same in journal and file. */
#ifndef CLIPMILL_TOKEN_FILE_H
#define CLIPMILL_TOKEN_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "util.h"

#define TOKEN_FORMAT_VERSION 1
#define TOKEN_FILE_MAGIC "CMTK"
#define TOKEN_FILE_HEADER_SIZE 64
#define TOKEN_INDEX_ENTRY_SIZE 24
#define TOKEN_RECORD_MAGIC "CMTR"
#define TOKEN_RECORD_HEADER_SIZE 32
#define TOKEN_JOURNAL_MAGIC "CMTJ"
#define TOKEN_JOURNAL_HEADER_SIZE 64
#define TOKEN_MANIFEST "tokens.json"
#define TOKEN_JOURNAL "tokens.journal"
#define TOKEN_DIR "tokens"            /* DATASET/tokens/NAME: where token sets of a dataset live */
#define TOKEN_NAME_MAX 128            /* tokenizer name and version, bytes */

/* A record's header, decoded. */
typedef struct token_record {
    uint8_t split, token_bytes;    /* 2 (uint16) or 4 (uint32) */
    uint64_t clip;                 /* index in the dataset's split */
    uint32_t steps;                /* T */
    uint16_t h, w;
    uint32_t table_crc;            /* CRC-32 of the T step CRCs */
    uint32_t header_crc;
} token_record;

/* Bytes of a record of T steps of h x w tokens (header, step CRCs, tokens,
 * zero padding to a multiple of 8). */
uint64_t token_record_size(uint64_t steps, int h, int w, int token_bytes);

/* Encodes r's header and the step CRCs of tokens (T*h*w little-endian
 * values of token_bytes each) into out (token_record_size bytes, zeroed
 * padding); sets r->table_crc and r->header_crc. */
void token_record_encode(token_record *r, const void *tokens, uint8_t *out);

/* Parses the header at b (len bytes available from b): magic, header CRC,
 * version, fields in range, and the record's size within len. Returns 0, or
 * -1 with e saying which check failed. Does not check step CRCs. */
int token_record_parse(const uint8_t *b, size_t len, token_record *r, cm_error *e);

/* Checks the step CRC table of the record at rec against r->table_crc.
 * Returns 0 or -1 with e. */
int token_record_check_table(const uint8_t *rec, const token_record *r, cm_error *e);
/* Checks step k's tokens against its CRC in the table (checked first with
 * token_record_check_table). Returns 0 or -1 with e. */
int token_record_check_step(const uint8_t *rec, const token_record *r, uint32_t k, cm_error *e);
/* Step k's tokens in the record at rec. */
const uint8_t *token_record_step(const uint8_t *rec, const token_record *r, uint32_t k);

/* The split file's header, decoded. */
typedef struct token_file_header {
    uint8_t split, token_bytes;
    uint16_t h, w;
    uint64_t clips, codebook, data_bytes, file_size;
    uint32_t index_crc;
} token_file_header;

/* One index entry: where clip i's record is. */
typedef struct token_index_entry {
    uint64_t offset, bytes;
    uint32_t steps, header_crc;
} token_index_entry;

void token_file_header_encode(const token_file_header *h, uint8_t out[TOKEN_FILE_HEADER_SIZE]);
/* Parses and checks the header and the index (len: the whole file's bytes
 * available at b: file_size must equal it; each entry must lie inside the
 * data area, in order, without overlap). Returns 0, or -1 with e. */
int token_file_parse(const uint8_t *b, size_t len, token_file_header *h, cm_error *e);
void token_index_get(const uint8_t *file, uint64_t i, token_index_entry *out);
void token_index_put(uint8_t *entry, const token_index_entry *in);

/* The tokenizer that made a token set. */
typedef struct token_tokenizer {
    char name[TOKEN_NAME_MAX], version[TOKEN_NAME_MAX];
    int32_t patch_size;            /* pixels per token side (0: unknown) */
    uint64_t codebook;             /* every token is < codebook; 2 .. 2^32 */
} token_tokenizer;

/* tokens.json, decoded. */
typedef struct token_manifest {
    int format_version;
    char dataset_name[256];
    char dataset_sha256[65];       /* of the dataset's manifest.json */
    token_tokenizer tok;
    int token_bytes, height, width;
    struct {
        char file[16];             /* "train.tok" */
        int64_t clips, tokens, bytes;
        char sha256[65];
    } split[SPLIT_COUNT];
} token_manifest;

/* tokens.json's text (malloc'd, *len), ending with its own CRC-32. */
char *token_manifest_encode(const token_manifest *m, size_t *len);
/* Parses text (len bytes): the trailing "manifest_crc32" first, then the
 * fields. name is used in messages. Returns 0, or -1 with e. */
int token_manifest_parse(const char *text, size_t len, const char *name, token_manifest *m, cm_error *e);
/* Reads DIR/tokens.json. Returns 0, or -1 with e naming the file. */
int token_manifest_read(const char *dir, token_manifest *m, cm_error *e);

/* The smallest token width that holds codebook: 2 up to 65536, else 4. */
int token_bytes_for(uint64_t codebook);

/* The journal's parameter text: what a resumed writer must match. malloc'd. */
char *token_journal_params(const char *dataset_sha256, const token_tokenizer *t);

/* Where token set spec lives for dataset_dir: spec itself when it holds a
 * '/', else DATASET/tokens/spec. malloc'd. */
char *token_set_path(const char *dataset_dir, const char *spec);

#endif
