/* The label server's HTTP layer: the listening socket (127.0.0.1 only), the
 * daemon's connection limit and idle timeout, and the checks every request
 * passes before any route (Host, Origin, the session token).
 * docs/labelling.md "Security", docs/reliability.md "Label server". */
#ifndef CLIPMILL_LABEL_HTTP_H
#define CLIPMILL_LABEL_HTTP_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "util.h"

#define LABEL_HTTP_TOKEN_HEX 32 /* 128 random bits */

typedef struct label_http {
    unsigned port;                          /* the bound port */
    char token[LABEL_HTTP_TOKEN_HEX + 1];   /* this session's, lowercase hex */
    char cookie_name[32];                   /* clipmill_token_PORT: one per server on the host */
    char set_cookie[128];                   /* the Set-Cookie value the page is served with */
    atomic_uint refusals;                   /* refused requests so far (logging is thinned past 20) */
} label_http;

typedef struct label_http_limits {
    unsigned max_connections;  /* open connections at once; more wait in the listen backlog */
    unsigned idle_timeout_s;   /* a connection with no traffic for this long is closed */
} label_http_limits;

/* Binds 127.0.0.1:port (0 picks a free port), draws the session token from
 * the kernel's random source, raises the open-file limit to fit
 * max_connections (lowering max_connections, with a warning, where the hard
 * limit is too low) and starts libmicrohttpd (epoll, a pool of 4 threads)
 * with handler. Returns the daemon, or NULL with e set. */
struct MHD_Daemon *label_http_start(label_http *h, int port, label_http_limits limits,
                                    MHD_AccessHandlerCallback handler, void *cls, cm_error *e);

/* Checks one request before routing (called once its body is in):
 *   Host must be 127.0.0.1:PORT or localhost:PORT (else 421: a DNS-rebinding
 *   page sends its own name);
 *   an Origin header must be http://127.0.0.1:PORT or http://localhost:PORT,
 *   and Sec-Fetch-Site, when sent, same-origin (or none, for the page itself:
 *   a typed or clicked URL) (else 403);
 *   the token must come in the X-Clipmill-Token header, the token= query
 *   argument or the cookie (else 403).
 * Returns 0 when the request may go on, with *set_cookie = 1 when the page
 * was asked for with the token in its query (its answer should set the
 * cookie); else the HTTP status to answer with, and *why says why (static
 * text). Refusals are logged (sanitised; the first 20, then every 1000th). */
unsigned label_http_check(label_http *h, struct MHD_Connection *conn, const char *method, const char *url,
                          int *set_cookie, const char **why);

#endif
