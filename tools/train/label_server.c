/* clipmill-train label: a labelling page served on 127.0.0.1 with
 * libmicrohttpd. Each clip plays as an animated sprite sheet (one PNG of 80
 * frames drawn onto a canvas by the page's script: works in every browser,
 * headless included, with no video codec). Keys 1-5 label, s skips, u or
 * Backspace undoes; every label is written to the catalog (lib/labels.h)
 * before the page shows the next clip. docs/labelling.md.
 *
 * Routes (nothing else is served, and no route maps to a file path):
 *   GET  /                       the page
 *   GET  /api/next?labeler=NAME[&skip=ID,ID...]   the next clip for NAME (JSON)
 *   GET  /sheet/CLIP_ID.png      the clip's sprite sheet
 *   POST /api/label?clip=ID&label=N&labeler=NAME
 *   POST /api/undo?clip=ID&labeler=NAME
 * Every request passes label_http_check first (Host, Origin, the session
 * token of the printed URL; label_http.c). The daemon runs a pool of
 * threads; one mutex guards the catalog handle. */
#include "label_server.h"

#include <ctype.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "active.h"
#include "catalog.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "cli.h"
#include "clip_record.h"
#include "corpus.h"
#include "export.h"
#include "hash.h"
#include "json.h"
#include "label_http.h"
#include "labels.h"
#include "model_ref.h"
#include "score.h"
#include "util.h"

enum { SHEET_FRAMES = 80, SHEET_COLS = 10, MAX_SKIP = 256 };

typedef struct label_server {
    const char *corpus_dir;
    const char *default_labeler;
    corpus *corpus;
    catalog *cat;               /* the corpus' */
    pthread_mutex_t lock;       /* cat */
    int64_t run_id;
    int64_t model_id;           /* > 0 with --active: scores of this model order the queue */
    double threshold;
    uint64_t seed;
    label_http http;            /* the socket, limits, token and request checks */
} label_server;

/* ---- helpers ---- */

static int valid_clip_id(const char *s)
{
    if (!s || !*s || strlen(s) >= CM_CLIP_ID_MAX) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || *s == '-')) return 0;
    return 1;
}

static int valid_labeler(const char *s)
{
    if (!s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || *s == '<' || *s == '>' || *s == '&') return 0;
    return 1;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return (h ^ 0xff) * UINT64_C(0x100000001b3);
}

/* set_cookie: a Set-Cookie header value, or NULL. */
static enum MHD_Result reply_cookie(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                                    size_t len, enum MHD_ResponseMemoryMode mode, const char *set_cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) return MHD_NO;
    if (set_cookie) MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, set_cookie);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    return reply_cookie(conn, status, type, body, len, mode, NULL);
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, char *json_malloced)
{
    return reply(conn, status, "application/json", json_malloced, strlen(json_malloced), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    sqlite3_str *j = sqlite3_str_new(NULL);
    sqlite3_str_appendall(j, "{\"error\":");
    cm_json_string(j, msg);
    sqlite3_str_appendall(j, "}");
    return reply_json(conn, status, cm_str_finish(j, NULL));
}

/* ---- routes ---- */

/* The pick among the label queue's candidates (labels_each_candidate)
 * without --active: a random order fixed per labeler. */
typedef struct next_pick {
    const label_server *s;
    const char *skip;              /* comma-separated clip ids the page skipped */
    uint64_t base;                 /* hash of (seed, labeler) */
    char best[CM_CLIP_ID_MAX];
    int best_any, remaining;
    double best_key, best_score;
} next_pick;

static int consider_candidate(void *ctx, const label_candidate *cand)
{
    next_pick *p = ctx;
    const char *id = cand->clip_id;
    if (cand->labelled_by_labeler) return 0;
    p->remaining++;
    if (p->skip && *p->skip) {
        const char *hit = strstr(p->skip, id);
        size_t n = strlen(id);
        if (hit && (hit == p->skip || hit[-1] == ',') && (hit[n] == ',' || hit[n] == '\0')) return 0;
    }
    /* cm_mix64: FNV leaves the high bits barely touched by the last
     * characters, and clip ids of one source differ only there. */
    double key = (double)(cm_mix64(fnv1a(p->base, id)) >> 11) / 9007199254740992.0;
    if (cand->labelled_by_anyone < p->best_any || (cand->labelled_by_anyone == p->best_any && key < p->best_key)) {
        p->best_any = cand->labelled_by_anyone;
        p->best_key = key;
        p->best_score = cand->score;
        snprintf(p->best, sizeof p->best, "%s", id);
    }
    return 0;
}

/* The next clip for labeler: one nobody labelled first, then one this labeler
 * has not; with --active in the order of active_queue (lib/curate/active.h:
 * the clips whose answer would settle the most doubtful decisions), else by a
 * hash of (seed, labeler, clip id), which is a random order fixed per labeler. */
static enum MHD_Result route_next(label_server *s, struct MHD_Connection *conn, const char *labeler,
                                  const char *skip)
{
    next_pick p = {.s = s, .skip = skip, .best_any = 2, .best_key = INFINITY, .best_score = NAN};
    p.base = fnv1a(UINT64_C(0xcbf29ce484222325) ^ s->seed, labeler);
    int64_t mine = 0;
    cm_error e = {{0}};
    pthread_mutex_lock(&s->lock);
    int ok;
    if (s->model_id > 0) {
        active_pick pick;
        int got = active_queue(s->cat, labeler, s->model_id, s->threshold, skip, 1, &pick, &p.remaining, &e);
        ok = got >= 0;
        if (got == 1) {
            snprintf(p.best, sizeof p.best, "%s", pick.clip_id);
            p.best_any = pick.labelled_by_others;
            p.best_score = pick.score;
        }
    } else {
        ok = labels_each_candidate(s->cat, labeler, 0, 0, consider_candidate, &p, &e) == 0;
    }
    ok = ok && labels_count_by(s->cat, labeler, &mine, &e) == 0;
    pthread_mutex_unlock(&s->lock);
    if (!ok) return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, e.msg);
    const char *best = p.best;
    int best_any = p.best_any, remaining = p.remaining;
    double best_score = p.best_score;
    char *j = cm_xmalloc(512);
    if (!best[0]) {
        snprintf(j, 512, "{\"clip_id\":null,\"remaining\":%d,\"mine\":%lld}", remaining, (long long)mine);
    } else {
        char score[32] = "null";
        if (!isnan(best_score)) snprintf(score, sizeof score, "%.4f", best_score);
        snprintf(j, 512,
                 "{\"clip_id\":\"%s\",\"sheet\":\"/sheet/%s.png\",\"frames\":%d,\"cols\":%d,\"gap\":2,"
                 "\"fps\":5,\"score\":%s,\"labelled_by_others\":%s,\"remaining\":%d,\"mine\":%lld}",
                 best, best, SHEET_FRAMES, SHEET_COLS, score, best_any ? "true" : "false", remaining, (long long)mine);
    }
    return reply_json(conn, MHD_HTTP_OK, j);
}

/* Reads 80 of the clip's frames (every other one at 10 FPS) into a PNG sheet. */
static enum MHD_Result route_sheet(label_server *s, struct MHD_Connection *conn, const char *clip_id)
{
    uint8_t *rec = NULL, *frames = NULL, *png = NULL;
    size_t len = 0;
    size_t n = 0;
    cm_error e = {{0}};
    int status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    clip_header h;
    pthread_mutex_lock(&s->lock);
    int got = corpus_clip_record(s->corpus, clip_id, &rec, &len, &e);
    pthread_mutex_unlock(&s->lock);
    if (got != 0) {
        if (got == CORPUS_NOT_FOUND) status = MHD_HTTP_NOT_FOUND;
        goto fail;
    }
    if (clip_record_parse(rec, len, &h, 0, &e) != 0) goto fail;
    int idx[SHEET_FRAMES];
    for (int i = 0; i < SHEET_FRAMES; i++) idx[i] = (int)((int64_t)i * h.frames / SHEET_FRAMES);
    frames = cm_xmalloc((size_t)SHEET_FRAMES * h.height * h.width * 3);
    if (clip_record_read_frame_list(rec, len, idx, SHEET_FRAMES, frames, &e) != 0) goto fail;
    if (clip_png_sheet(frames, SHEET_FRAMES, h.height, h.width, 1, SHEET_COLS, clip_id, &png, &n, &e) != 0)
        goto fail;
    free(rec);
    free(frames);
    return reply(conn, MHD_HTTP_OK, "image/png", png, n, MHD_RESPMEM_MUST_FREE);
fail:
    free(rec);
    free(frames);
    free(png);
    cm_log(CM_LOG_WARN, "sheet %s: %s", clip_id, e.msg);
    return reply_error(conn, status, e.msg);
}

static enum MHD_Result route_label(label_server *s, struct MHD_Connection *conn, const char *clip_id,
                                   const char *labeler, const char *label_s, int undo)
{
    int label = 0;
    if (!undo) {
        if (!label_s || strlen(label_s) != 1 || label_s[0] < '1' || label_s[0] > '5')
            return reply_error(conn, MHD_HTTP_BAD_REQUEST, "label must be 1..5");
        label = label_s[0] - '0';
    }
    cm_error e = {{0}};
    pthread_mutex_lock(&s->lock);
    int rc = undo ? labels_undo(s->cat, clip_id, labeler, &e)
                  : labels_set(s->cat, clip_id, label, labeler, "web", s->run_id, &e);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, e.msg);
    }
    if (rc == 1)
        return reply_error(conn, undo ? MHD_HTTP_CONFLICT : MHD_HTTP_NOT_FOUND,
                           undo ? "nothing to undo" : "no such clip");
    char *j = cm_xmalloc(256);
    snprintf(j, 256, "{\"ok\":true,\"clip_id\":\"%s\",\"label\":%d,\"undo\":%s}", clip_id, label,
             undo ? "true" : "false");
    return reply_json(conn, MHD_HTTP_OK, j);
}

/* The page. Its script keeps nothing the server needs: a label is posted the
 * moment its key is pressed and the next clip is asked for only once the
 * server has confirmed it, so closing the tab loses nothing. */
static const char label_page_html[] =
"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>clipmill labelling</title>"
"<link rel='icon' href='data:,'>\n"
"<style>body{font:15px system-ui,sans-serif;background:#1d1f21;color:#ddd;margin:0;padding:20px;text-align:center}"
"canvas{image-rendering:pixelated;background:#000;border:1px solid #444;max-width:100%}"
"#keys span{display:inline-block;border:1px solid #666;border-radius:4px;padding:2px 8px;margin:2px}"
"#status{min-height:1.4em;color:#9c9}#err{color:#f77;min-height:1.4em}input{width:10em}</style></head><body>\n"
"<h1 style='font-size:18px'>clipmill labelling</h1>\n"
"<p>Labeler <input id='who' autocomplete='off'> <span id='count'></span></p>\n"
"<canvas id='view' width='640' height='360'></canvas><img id='clip' alt='' style='display:none'>\n"
"<p id='info'></p><p id='keys'><span>1</span> worst &hellip; <span>5</span> best &middot; <span>s</span> skip"
" &middot; <span>u</span>/<span>&#9003;</span> undo</p><p id='status'></p><p id='err'></p>\n"
"<script>\n"
"'use strict';\n"
"const S = window.clipmillLabel = {ready: false, acks: 0, last: null};\n"
"const q = new URLSearchParams(location.search);\n"
"if (q.has('token')) {  /* the server has set it as a cookie: keep it out of history and screen */\n"
"  q.delete('token'); window.history.replaceState(null, '', location.pathname + (q.toString() ? '?' + q : ''));\n"
"}\n"
"const who = document.getElementById('who'), img = document.getElementById('clip');\n"
"const cv = document.getElementById('view'), ctx = cv.getContext('2d');\n"
"who.value = q.get('labeler') || localStorage.getItem('clipmill-labeler') || '';\n"
"let cur = null, frame = 0, timer = null, busy = false;\n"
"const skipped = [], history = [];\n"
"function status(t) { document.getElementById('status').textContent = t; }\n"
"function error(t) { document.getElementById('err').textContent = t; }\n"
"function lab() { return encodeURIComponent(who.value.trim()); }\n"
"function draw() {\n"
"  if (!cur || !img.naturalWidth) return;\n"
"  const fw = (img.naturalWidth - (cur.cols - 1) * cur.gap) / cur.cols;\n"
"  const rows = Math.ceil(cur.frames / cur.cols);\n"
"  const fh = (img.naturalHeight - (rows - 1) * cur.gap) / rows;\n"
"  if (cv.width !== fw * 4) { cv.width = fw * 4; cv.height = fh * 4; }\n"
"  ctx.imageSmoothingEnabled = false;\n"
"  const c = frame % cur.cols, r = Math.floor(frame / cur.cols);\n"
"  ctx.drawImage(img, c * (fw + cur.gap), r * (fh + cur.gap), fw, fh, 0, 0, cv.width, cv.height);\n"
"  frame = (frame + 1) % cur.frames;\n"
"}\n"
"async function next() {\n"
"  busy = true; S.ready = false;\n"
"  try {\n"
"    const r = await fetch('/api/next?labeler=' + lab() + '&skip=' + skipped.slice(-200).join(','));\n"
"    const j = await r.json();\n"
"    if (!r.ok) throw new Error(j.error || r.status);\n"
"    document.getElementById('count').textContent = j.mine + ' labelled by you, ' + j.remaining + ' to go';\n"
"    cur = j.clip_id ? j : null; frame = 0;\n"
"    if (!cur) { ctx.clearRect(0, 0, cv.width, cv.height); document.getElementById('info').textContent ="
" 'Nothing left to label.'; S.ready = true; return; }\n"
"    document.getElementById('info').textContent = cur.clip_id + (cur.score === null ? '' : ' \\u00b7 score ' +"
" cur.score.toFixed(3)) + (cur.labelled_by_others ? ' \\u00b7 labelled by others' : '');\n"
"    await new Promise((ok, bad) => { img.onload = ok; img.onerror = () => bad(new Error('preview failed'));"
" img.src = cur.sheet; });\n"
"    clearInterval(timer); draw(); timer = setInterval(draw, 1000 / cur.fps);\n"
"    S.ready = true; error('');\n"
"  } catch (e) { error('Could not load the next clip: ' + e.message + ' (retrying)'); setTimeout(next, 2000); }\n"
"  finally { busy = false; }\n"
"}\n"
"async function post(path, clip, extra) {\n"
"  const r = await fetch(path + '?clip=' + clip + '&labeler=' + lab() + (extra || ''), {method: 'POST'});\n"
"  const j = await r.json();\n"
"  if (!r.ok) throw new Error(j.error || r.status);\n"
"  return j;\n"
"}\n"
"async function key(ev) {\n"
"  if (ev.target === who || busy) return;\n"
"  const k = ev.key;\n"
"  try {\n"
"    if (k >= '1' && k <= '5' && cur) {\n"
"      busy = true; S.ready = false;\n"
"      S.last = await post('/api/label', cur.clip_id, '&label=' + k);\n"
"      history.push(cur.clip_id); status('Labelled ' + cur.clip_id + ': ' + k);\n"
"    } else if (k === 's' && cur) {\n"
"      skipped.push(cur.clip_id); S.last = {skip: cur.clip_id}; status('Skipped ' + cur.clip_id);\n"
"    } else if ((k === 'u' || k === 'Backspace') && history.length) {\n"
"      ev.preventDefault(); busy = true;\n"
"      const id = history.pop();\n"
"      S.last = await post('/api/undo', id);\n"
"      const i = skipped.indexOf(id); if (i >= 0) skipped.splice(i, 1);\n"
"      status('Undone: ' + id);\n"
"    } else return;\n"
"    S.acks++;\n"
"    await next();\n"
"  } catch (e) { busy = false; error('Not saved: ' + e.message); }\n"
"}\n"
"document.addEventListener('keydown', key);\n"
"who.addEventListener('change', () => { localStorage.setItem('clipmill-labeler', who.value.trim());"
" history.length = 0; next(); });\n"
"next();\n"
"</script></body></html>\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    label_server *s = cls;
    static int first_call_marker;
    if (*con_cls == NULL) {    /* headers only so far: answer once the (ignored) body is in */
        *con_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size) {   /* requests carry their arguments in the query string */
        *upload_data_size = 0;
        return MHD_YES;
    }
    int set_cookie = 0;
    const char *refused = NULL;
    unsigned status = label_http_check(&s->http, conn, method, url, &set_cookie, &refused);
    if (status) return reply_error(conn, status, refused);
    const int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const int post = strcmp(method, "POST") == 0;
    const char *labeler = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "labeler");
    if (!labeler || !*labeler) labeler = s->default_labeler;
    if (!valid_labeler(labeler)) return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad labeler name");
    if (get && strcmp(url, "/") == 0)
        return reply_cookie(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)label_page_html,
                            strlen(label_page_html), MHD_RESPMEM_PERSISTENT,
                            set_cookie ? s->http.set_cookie : NULL);
    if (get && strcmp(url, "/api/next") == 0)
        return route_next(s, conn, labeler, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "skip"));
    if (get && strncmp(url, "/sheet/", 7) == 0) {
        char id[CM_CLIP_ID_MAX + 8];
        size_t n = strlen(url + 7);
        if (n > 4 && n < sizeof id && strcmp(url + 7 + n - 4, ".png") == 0) {
            memcpy(id, url + 7, n - 4);
            id[n - 4] = '\0';
            if (valid_clip_id(id)) return route_sheet(s, conn, id);
        }
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
    }
    if (post && (strcmp(url, "/api/label") == 0 || strcmp(url, "/api/undo") == 0)) {
        const char *clip = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "clip");
        if (!valid_clip_id(clip)) return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad clip id");
        return route_label(s, conn, clip, labeler,
                           MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "label"),
                           strcmp(url, "/api/undo") == 0);
    }
    if (!get && !post) return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    return reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---- main ---- */

static int prepare_active(label_server *s, const char *model_arg, cm_error *e)
{
    model_ref ref;
    int rc = -1;
    if (model_ref_resolve(s->cat, s->corpus_dir, model_arg, 1, &ref, e) != 0) goto fail;
    classifier *m = ref.model;
    s->model_id = ref.model_id;
    if (s->model_id == 0 && classifier_register(s->cat, m, "label-active", ref.path, "{}", "{}", 0, s->run_id,
                                                &s->model_id, e) != 0)
        goto fail;
    s->threshold = classifier_get_info(m)->threshold;
    classifier_single_thread();
    score_options so;
    score_options_default(&so);
    so.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    score_counts n;
    if (score_corpus(s->corpus, m, s->model_id, s->run_id, &so, &n, e) != 0) goto fail;
    fprintf(stderr, "clipmill-train: active labelling with model_id %lld (threshold %.4f): %lld clips scored now, "
                    "%lld already\n", (long long)s->model_id, s->threshold, (long long)n.scored,
            (long long)n.skipped);
    rc = 0;
fail:
    model_ref_free(&ref);
    return rc;
}

int label_server_main(int argc, char **argv)
{
    label_server s = {.corpus_dir = ".", .default_labeler = ""};
    const char *model_arg = NULL;
    int port = 8080, active = 0, queue = 0, max_connections = 2000, idle_timeout = 30;
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &s.corpus_dir, "corpus directory (default .)"),
        CM_INT("port", 'p', "N", &port, 0, 65535, "port on 127.0.0.1 (default 8080; 0 picks a free one)"),
        CM_INT("max-connections", 0, "N", &max_connections, 4, 1000000,
               "connections open at once (default 2000); more wait"),
        CM_INT("idle-timeout", 0, "S", &idle_timeout, 1, 3600,
               "close a connection idle for S seconds (default 30)"),
        CM_STRING("labeler", 0, "NAME", &s.default_labeler, "the labeler's name (else ?labeler=NAME or typed in)"),
        CM_FLAG("active", 0, &active, "clips whose answer would change the most decisions of --model first"),
        CM_STRING("model", 'm', "FILE|ID", &model_arg, "with --active: a model file or a model id of the catalog"),
        CM_U64("seed", 0, "S", &s.seed, "seed of the per-labeler random order"),
        CM_INT("queue", 0, "N", &queue, 1, 100000,
               "with --active: print the first N clips of --labeler's queue\n"
               "(clip_id, score, tab-separated) in the order the page would\n"
               "offer them if each were labelled in turn, and exit"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-train label",
        .usage =
        "usage: clipmill-train label [-C DIR] [--port N] [--labeler NAME] [--active --model FILE|ID] [--seed S]\n"
        "       clipmill-train label [-C DIR] --active --model FILE|ID [--labeler NAME] --queue N\n"
        "\n"
        "Serves a labelling page at http://127.0.0.1:N/?token=T (the URL, with\n"
        "the session's token, is printed on stdout; requests without it, from\n"
        "other origins or for another Host are refused). Each clip plays as a\n"
        "moving preview; keys 1 (worst) .. 5 (best)\n"
        "label it, s skips, u or Backspace undoes. Each label is stored in the\n"
        "catalog at once, with the labeler's name and time. Clips come unlabelled\n"
        "first, in a random order seeded per labeler; with --active, the clips\n"
        "whose answer would settle the most decisions near the model's threshold\n"
        "come first (docs/labelling.md; clips the model has not scored are scored\n"
        "at start). Only 127.0.0.1 is bound. Stops on Ctrl-C / SIGTERM.\n"
        "\n",
        .options = options,
        .footer = "Exit status: 0 stopped by a signal; 2 usage error; 3 fatal.\n",
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args > 0) return cm_cli_usage_error(&cli, "unexpected argument '%s'", argv[1]);
    if (active && !model_arg) return cm_cli_usage_error(&cli, "--active needs --model FILE|ID");
    if (queue && !active) return cm_cli_usage_error(&cli, "--queue needs --active --model FILE|ID");
    if (!valid_labeler(s.default_labeler))
        return cm_cli_usage_error(&cli, "bad value for --labeler: '%s'", s.default_labeler);
    cm_error e = {{0}};
    struct MHD_Daemon *d = NULL;
    int rc = CM_EXIT_FATAL;
    pthread_mutex_init(&s.lock, NULL);
    if (corpus_open(&s.corpus, s.corpus_dir, CORPUS_EXISTING, &e) != 0) goto fail;
    s.cat = corpus_catalog(s.corpus);
    char args[256];
    snprintf(args, sizeof args, "label --labeler %s%s", s.default_labeler, active ? " --active" : "");
    if (catalog_run_begin(s.cat, "clipmill-train", args, &s.run_id, &e) != 0) goto fail;
    if (active && prepare_active(&s, model_arg, &e) != 0) goto fail;
    if (queue) {
        active_pick *picks = cm_xmalloc((size_t)queue * sizeof *picks);
        int np = active_queue(s.cat, s.default_labeler, s.model_id, s.threshold, NULL, queue, picks, NULL, &e);
        for (int i = 0; i < np; i++) printf("%s\t%.6f\n", picks[i].clip_id, picks[i].score);
        free(picks);
        if (np < 0) goto fail;
        rc = CM_EXIT_OK;
        goto done;
    }

    /* SIGINT / SIGTERM are taken by sigwait below, not by the pool threads. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    const label_http_limits limits = {.max_connections = (unsigned)max_connections,
                                      .idle_timeout_s = (unsigned)idle_timeout};
    d = label_http_start(&s.http, port, limits, handle, &s, &e);
    if (!d) goto fail;
    /* The one place the token is shown: whoever can read this URL may label. */
    printf("http://127.0.0.1:%u/?token=%s", s.http.port, s.http.token);
    if (s.default_labeler[0]) {
        printf("&labeler=");
        for (const unsigned char *c = (const unsigned char *)s.default_labeler; *c; c++)
            if (isalnum(*c) || strchr("-._~", *c)) putchar(*c);
            else printf("%%%02X", *c);
    }
    printf("\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "clipmill-train: label server stopped (signal %d)\n", sig);
    rc = CM_EXIT_OK;
    goto done;
fail:
    cm_log(CM_LOG_ERROR, "%s", e.msg);
done:
    if (d) MHD_stop_daemon(d);
    if (s.cat && s.run_id > 0) {
        run_counts counts = {0};
        catalog_run_end(s.cat, s.run_id, &counts, rc, &e);
    }
    corpus_close(s.corpus);
    pthread_mutex_destroy(&s.lock);
    return rc;
}
