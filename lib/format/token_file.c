/* Token shards: records, split files and tokens.json (token_file.h,
 * docs/tokens.md). */
#include "token_file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>
#include <sqlite3.h>

#include "fsio.h"
#include "hash.h"
#include "json.h"

uint64_t token_record_size(uint64_t steps, int h, int w, int token_bytes)
{
    uint64_t n = TOKEN_RECORD_HEADER_SIZE + 4 * steps + steps * (uint64_t)h * (uint64_t)w * (uint64_t)token_bytes;
    return (n + 7) & ~(uint64_t)7;
}

void token_record_encode(token_record *r, const void *tokens, uint8_t *out)
{
    size_t step = (size_t)r->h * r->w * r->token_bytes;
    uint64_t size = token_record_size(r->steps, r->h, r->w, r->token_bytes);
    uint8_t *table = out + TOKEN_RECORD_HEADER_SIZE, *payload = table + 4 * (size_t)r->steps;
    memcpy(payload, tokens, step * r->steps);
    memset(payload + step * r->steps, 0, (size_t)(out + size - (payload + step * r->steps)));
    for (uint32_t k = 0; k < r->steps; k++) AV_WL32(table + 4 * (size_t)k, cm_crc32(payload + k * step, step));
    r->table_crc = cm_crc32(table, 4 * (size_t)r->steps);
    memcpy(out, TOKEN_RECORD_MAGIC, 4);
    out[4] = TOKEN_FORMAT_VERSION;
    out[5] = r->split;
    out[6] = r->token_bytes;
    out[7] = 0;
    AV_WL64(out + 8, r->clip);
    AV_WL32(out + 16, r->steps);
    AV_WL16(out + 20, r->h);
    AV_WL16(out + 22, r->w);
    AV_WL32(out + 24, r->table_crc);
    r->header_crc = cm_crc32(out, 28);
    AV_WL32(out + 28, r->header_crc);
}

int token_record_parse(const uint8_t *b, size_t len, token_record *r, cm_error *e)
{
    memset(r, 0, sizeof *r);
    if (len < TOKEN_RECORD_HEADER_SIZE || memcmp(b, TOKEN_RECORD_MAGIC, 4) != 0) {
        cm_error_set(e, "no token record header (\"" TOKEN_RECORD_MAGIC "\")");
        return -1;
    }
    if (AV_RL32(b + 28) != cm_crc32(b, 28)) {
        cm_error_set(e, "token record header CRC mismatch");
        return -1;
    }
    r->split = b[5];
    r->token_bytes = b[6];
    r->clip = AV_RL64(b + 8);
    r->steps = AV_RL32(b + 16);
    r->h = AV_RL16(b + 20);
    r->w = AV_RL16(b + 22);
    r->table_crc = AV_RL32(b + 24);
    r->header_crc = AV_RL32(b + 28);
    if (b[4] != TOKEN_FORMAT_VERSION || b[7] != 0 || r->split >= SPLIT_COUNT ||
        (r->token_bytes != 2 && r->token_bytes != 4) || r->steps < 1 || r->steps > INT32_MAX || r->h < 1 ||
        r->w < 1 || r->clip > INT64_MAX) {
        cm_error_set(e, "token record header: bad version, split, width or shape");
        return -1;
    }
    if (token_record_size(r->steps, r->h, r->w, r->token_bytes) > len) {
        cm_error_set(e, "token record of %u steps runs past the end (%zu bytes left)", r->steps, len);
        return -1;
    }
    return 0;
}

const uint8_t *token_record_step(const uint8_t *rec, const token_record *r, uint32_t k)
{
    return rec + TOKEN_RECORD_HEADER_SIZE + 4 * (size_t)r->steps + (size_t)k * r->h * r->w * r->token_bytes;
}

int token_record_check_table(const uint8_t *rec, const token_record *r, cm_error *e)
{
    if (cm_crc32(rec + TOKEN_RECORD_HEADER_SIZE, 4 * (size_t)r->steps) != r->table_crc) {
        cm_error_set(e, "step CRC table does not match its CRC");
        return -1;
    }
    return 0;
}

int token_record_check_step(const uint8_t *rec, const token_record *r, uint32_t k, cm_error *e)
{
    size_t step = (size_t)r->h * r->w * r->token_bytes;
    if (cm_crc32(token_record_step(rec, r, k), step) != AV_RL32(rec + TOKEN_RECORD_HEADER_SIZE + 4 * (size_t)k)) {
        cm_error_set(e, "tokens of step %u do not match their CRC", k);
        return -1;
    }
    return 0;
}

void token_file_header_encode(const token_file_header *h, uint8_t out[TOKEN_FILE_HEADER_SIZE])
{
    memset(out, 0, TOKEN_FILE_HEADER_SIZE);
    memcpy(out, TOKEN_FILE_MAGIC, 4);
    AV_WL16(out + 4, TOKEN_FORMAT_VERSION);
    AV_WL16(out + 6, TOKEN_FILE_HEADER_SIZE);
    out[8] = h->split;
    out[9] = h->token_bytes;
    AV_WL16(out + 10, TOKEN_INDEX_ENTRY_SIZE);
    AV_WL16(out + 12, h->h);
    AV_WL16(out + 14, h->w);
    AV_WL64(out + 16, h->clips);
    AV_WL64(out + 24, h->codebook);
    AV_WL64(out + 32, h->data_bytes);
    AV_WL64(out + 40, h->file_size);
    AV_WL32(out + 48, h->index_crc);
    AV_WL32(out + 60, cm_crc32(out, 60));
}

void token_index_get(const uint8_t *file, uint64_t i, token_index_entry *out)
{
    const uint8_t *p = file + TOKEN_FILE_HEADER_SIZE + i * TOKEN_INDEX_ENTRY_SIZE;
    out->offset = AV_RL64(p);
    out->bytes = AV_RL64(p + 8);
    out->steps = AV_RL32(p + 16);
    out->header_crc = AV_RL32(p + 20);
}

void token_index_put(uint8_t *p, const token_index_entry *in)
{
    AV_WL64(p, in->offset);
    AV_WL64(p + 8, in->bytes);
    AV_WL32(p + 16, in->steps);
    AV_WL32(p + 20, in->header_crc);
}

int token_file_parse(const uint8_t *b, size_t len, token_file_header *h, cm_error *e)
{
    memset(h, 0, sizeof *h);
    if (len < TOKEN_FILE_HEADER_SIZE || memcmp(b, TOKEN_FILE_MAGIC, 4) != 0) {
        cm_error_set(e, "not a token file (%zu bytes, no \"" TOKEN_FILE_MAGIC "\" header)", len);
        return -1;
    }
    if (AV_RL32(b + 60) != cm_crc32(b, 60)) {
        cm_error_set(e, "token file header CRC mismatch");
        return -1;
    }
    h->split = b[8];
    h->token_bytes = b[9];
    h->h = AV_RL16(b + 12);
    h->w = AV_RL16(b + 14);
    h->clips = AV_RL64(b + 16);
    h->codebook = AV_RL64(b + 24);
    h->data_bytes = AV_RL64(b + 32);
    h->file_size = AV_RL64(b + 40);
    h->index_crc = AV_RL32(b + 48);
    if (AV_RL16(b + 4) != TOKEN_FORMAT_VERSION || AV_RL16(b + 6) != TOKEN_FILE_HEADER_SIZE ||
        AV_RL16(b + 10) != TOKEN_INDEX_ENTRY_SIZE) {
        cm_error_set(e, "token file version %u not supported", AV_RL16(b + 4));
        return -1;
    }
    if (h->split >= SPLIT_COUNT || (h->token_bytes != 2 && h->token_bytes != 4) || h->h < 1 || h->w < 1 ||
        h->codebook < 2 || h->codebook > ((uint64_t)1 << 32) || token_bytes_for(h->codebook) > h->token_bytes ||
        AV_RL32(b + 52) || AV_RL32(b + 56)) {
        cm_error_set(e, "token file header: bad split, width, shape or codebook");
        return -1;
    }
    if (h->clips > (len - TOKEN_FILE_HEADER_SIZE) / TOKEN_INDEX_ENTRY_SIZE ||
        h->file_size != TOKEN_FILE_HEADER_SIZE + h->clips * TOKEN_INDEX_ENTRY_SIZE + h->data_bytes ||
        h->file_size != len) {
        cm_error_set(e, "token file is %zu bytes, its header says %" PRIu64 " (%" PRIu64 " clips)", len,
                     h->file_size, h->clips);
        return -1;
    }
    size_t index_len = (size_t)h->clips * TOKEN_INDEX_ENTRY_SIZE;
    if (cm_crc32(b + TOKEN_FILE_HEADER_SIZE, index_len) != h->index_crc) {
        cm_error_set(e, "token file index CRC mismatch");
        return -1;
    }
    uint64_t next = TOKEN_FILE_HEADER_SIZE + index_len;
    for (uint64_t i = 0; i < h->clips; i++) {
        token_index_entry en;
        token_index_get(b, i, &en);
        if (en.offset != next || en.bytes != token_record_size(en.steps, h->h, h->w, h->token_bytes) ||
            en.steps < 1 || en.bytes > len - en.offset) {
            cm_error_set(e, "token file index entry %" PRIu64 " is out of place or size", i);
            return -1;
        }
        next += en.bytes;
    }
    if (next != len) {
        cm_error_set(e, "token file records end at %" PRIu64 ", the file at %zu", next, len);
        return -1;
    }
    return 0;
}

int token_bytes_for(uint64_t codebook)
{
    return codebook <= 65536 ? 2 : 4;
}

char *token_journal_params(const char *dataset_sha256, const token_tokenizer *t)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    cm_str_appendf(s, "dataset_sha256=%s\ntokenizer=", dataset_sha256);
    cm_json_string(s, t->name);
    cm_str_appendf(s, "\nversion=");
    cm_json_string(s, t->version);
    cm_str_appendf(s, "\npatch_size=%d\ncodebook=%" PRIu64 "\n", t->patch_size, t->codebook);
    return cm_str_finish(s, NULL);
}

char *token_set_path(const char *dataset_dir, const char *spec)
{
    if (strchr(spec, '/')) return cm_xstrdup(spec);
    char *dir = cm_path_join(dataset_dir, TOKEN_DIR), *p = cm_path_join(dir, spec);
    free(dir);
    return p;
}

#define CRC_KEY "\"manifest_crc32\": \""

char *token_manifest_encode(const token_manifest *m, size_t *len)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    cm_str_appendf(s, "{\n  \"format\": \"clipmill-tokens\",\n  \"format_version\": %d,\n", TOKEN_FORMAT_VERSION);
    cm_str_appendf(s, "  \"clipmill_version\": \"%s\",\n  \"dataset\": {\"name\": ", CLIPMILL_VERSION);
    cm_json_string(s, m->dataset_name);
    cm_str_appendf(s, ", \"manifest_sha256\": \"%s\"},\n  \"tokenizer\": {\"name\": ", m->dataset_sha256);
    cm_json_string(s, m->tok.name);
    cm_str_appendf(s, ", \"version\": ");
    cm_json_string(s, m->tok.version);
    cm_str_appendf(s, ", \"patch_size\": %d, \"codebook_size\": %" PRIu64 "},\n", m->tok.patch_size, m->tok.codebook);
    cm_str_appendf(s, "  \"token_bytes\": %d,\n  \"height\": %d,\n  \"width\": %d,\n  \"splits\": {", m->token_bytes,
                   m->height, m->width);
    for (int k = 0; k < SPLIT_COUNT; k++)
        cm_str_appendf(s,
                       "%s\n    \"%s\": {\"file\": \"%s\", \"clips\": %" PRId64 ", \"tokens\": %" PRId64
                       ", \"bytes\": %" PRId64 ", \"sha256\": \"%s\"}",
                       k ? "," : "", dataset_split_name(k), m->split[k].file, m->split[k].clips, m->split[k].tokens,
                       m->split[k].bytes, m->split[k].sha256);
    cm_str_appendf(s, "\n  },\n  ");
    size_t n;
    char *body = cm_str_finish(s, &n);
    /* The CRC covers every byte of the file but its own 8 hex digits. */
    static const char tail[] = "\"\n}\n";
    uint32_t crc = cm_crc32_update(cm_crc32_update(cm_crc32(body, n), CRC_KEY, strlen(CRC_KEY)), tail, strlen(tail));
    s = sqlite3_str_new(NULL);
    cm_str_appendf(s, "%s" CRC_KEY "%08x%s", body, crc, tail);
    free(body);
    return cm_str_finish(s, len);
}

int token_manifest_parse(const char *text, size_t len, const char *name, token_manifest *m, cm_error *e)
{
    memset(m, 0, sizeof *m);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    /* The CRC covers every byte before its key: found from the end. */
    const char *key = NULL;
    size_t kl = strlen(CRC_KEY);
    for (size_t i = len >= kl ? len - kl + 1 : 0; i-- > 0;)
        if (memcmp(text + i, CRC_KEY, kl) == 0) {
            key = text + i;
            break;
        }
    char hex[9] = {0}, want[9] = "";
    if (key && (size_t)(text + len - key) >= kl + 8) {
        memcpy(hex, key + kl, 8);
        const char *after = key + kl + 8;
        uint32_t crc = cm_crc32_update(cm_crc32(text, (size_t)(key + kl - text)), after, (size_t)(text + len - after));
        snprintf(want, sizeof want, "%08x", crc);
    }
    if (!key || strcmp(hex, want) != 0) {
        cm_error_set(e, "%s: %s", name, key ? "manifest CRC mismatch (the file was changed or damaged)"
                                            : "no manifest_crc32 (not a token manifest)");
        return -1;
    }
    if (len > INT32_MAX || sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != 0) {
        cm_error_set(e, "%s: cannot parse", name);
        goto done;
    }
    static const char *const sql =
        "SELECT json_valid(?1), json_extract(?1, '$.format'), json_extract(?1, '$.format_version'),"
        " json_extract(?1, '$.dataset.name'), json_extract(?1, '$.dataset.manifest_sha256'),"
        " json_extract(?1, '$.tokenizer.name'), json_extract(?1, '$.tokenizer.version'),"
        " json_extract(?1, '$.tokenizer.patch_size'), json_extract(?1, '$.tokenizer.codebook_size'),"
        " json_extract(?1, '$.token_bytes'), json_extract(?1, '$.height'), json_extract(?1, '$.width')";
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) goto sql_fail;
    sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW) goto sql_fail;
    const char *fmt = (const char *)sqlite3_column_text(q, 1), *dn = (const char *)sqlite3_column_text(q, 3),
               *ds = (const char *)sqlite3_column_text(q, 4), *tn = (const char *)sqlite3_column_text(q, 5),
               *tv = (const char *)sqlite3_column_text(q, 6);
    m->format_version = sqlite3_column_int(q, 2);
    m->tok.patch_size = sqlite3_column_int(q, 7);
    m->tok.codebook = (uint64_t)sqlite3_column_int64(q, 8);
    m->token_bytes = sqlite3_column_int(q, 9);
    m->height = sqlite3_column_int(q, 10);
    m->width = sqlite3_column_int(q, 11);
    if (!sqlite3_column_int(q, 0) || !fmt || strcmp(fmt, "clipmill-tokens") != 0) {
        cm_error_set(e, "%s: \"format\" is not \"clipmill-tokens\"", name);
        goto done;
    }
    if (m->format_version != TOKEN_FORMAT_VERSION) {
        cm_error_set(e, "%s: unsupported format_version %d", name, m->format_version);
        goto done;
    }
    if (!dn || !ds || strlen(ds) != 64 || !tn || !tv || strlen(tn) >= TOKEN_NAME_MAX ||
        strlen(tv) >= TOKEN_NAME_MAX || m->tok.codebook < 2 || m->tok.codebook > ((uint64_t)1 << 32) ||
        m->token_bytes != token_bytes_for(m->tok.codebook) || m->height < 1 || m->height > 65535 || m->width < 1 ||
        m->width > 65535 || m->tok.patch_size < 0) {
        cm_error_set(e, "%s: missing or invalid dataset, tokenizer, codebook, token_bytes or shape", name);
        goto done;
    }
    snprintf(m->dataset_name, sizeof m->dataset_name, "%s", dn);
    snprintf(m->dataset_sha256, sizeof m->dataset_sha256, "%s", ds);
    snprintf(m->tok.name, sizeof m->tok.name, "%s", tn);
    snprintf(m->tok.version, sizeof m->tok.version, "%s", tv);
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT json_extract(?1, ?2 || '.file'), json_extract(?1, ?2 || '.clips'),"
                           " json_extract(?1, ?2 || '.tokens'), json_extract(?1, ?2 || '.bytes'),"
                           " json_extract(?1, ?2 || '.sha256')",
                           -1, &q, NULL) != SQLITE_OK)
        goto sql_fail;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        char path[32], want_file[16];
        snprintf(path, sizeof path, "$.splits.%s", dataset_split_name(k));
        snprintf(want_file, sizeof want_file, "%s.tok", dataset_split_name(k));
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_ROW) goto sql_fail;
        const char *file = (const char *)sqlite3_column_text(q, 0), *sha = (const char *)sqlite3_column_text(q, 4);
        m->split[k].clips = sqlite3_column_int64(q, 1);
        m->split[k].tokens = sqlite3_column_int64(q, 2);
        m->split[k].bytes = sqlite3_column_int64(q, 3);
        if (!file || strcmp(file, want_file) != 0 || !sha || strlen(sha) != 64 || m->split[k].clips < 0 ||
            m->split[k].tokens < 0 || m->split[k].bytes < TOKEN_FILE_HEADER_SIZE) {
            cm_error_set(e, "%s: split %s: bad file, clips, tokens, bytes or sha256", name, dataset_split_name(k));
            goto done;
        }
        snprintf(m->split[k].file, sizeof m->split[k].file, "%s", file);
        snprintf(m->split[k].sha256, sizeof m->split[k].sha256, "%s", sha);
    }
    rc = 0;
    goto done;
sql_fail:
    cm_error_set(e, "%s: %s", name, db ? sqlite3_errmsg(db) : "sqlite");
done:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int token_manifest_read(const char *dir, token_manifest *m, cm_error *e)
{
    char *path = cm_path_join(dir, TOKEN_MANIFEST);
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = cm_read_file(path, &text, &len, e);
    if (rc == 0) rc = token_manifest_parse((const char *)text, len, path, m, e);
    free(text);
    free(path);
    return rc;
}
