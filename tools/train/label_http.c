/* The label server's HTTP layer (label_http.h). The labelling page writes to
 * the catalog, so it must not be reachable from anything but the labeller's
 * own page: any web page open in the same browser can send requests to
 * 127.0.0.1, and a DNS-rebinding page can even read the answers. Three
 * checks stop them, each enough against one of them:
 *   - Host: a rebinding page's requests carry its own name;
 *   - Origin / Sec-Fetch-Site: a cross-origin page's writes carry its origin
 *     (also a page of another port on 127.0.0.1, which is the same site);
 *   - the session token: 128 random bits printed in the URL only; the page
 *     keeps it as an HttpOnly SameSite=Strict cookie, which browsers do not
 *     send from other sites; scripts send it in X-Clipmill-Token.
 * And local processes (a shared login node) cannot write without the token
 * either. Idle connections are closed after a timeout, and epoll lets the
 * daemon hold thousands of them (select() stopped at 1,024 descriptors). */
#include "label_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { POOL_THREADS = 4, SPARE_FDS = 64, LOG_FIRST = 20, LOG_EVERY = 1000 };

static int should_log(atomic_uint *count)
{
    unsigned n = atomic_fetch_add(count, 1);
    return n < LOG_FIRST || n % LOG_EVERY == 0;
}

/* libmicrohttpd's own messages (e.g. the connection limit reached), through
 * cm_log: sanitised, one line, thinned like the refusals. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    label_http *h = cls;
    if (!should_log(&h->refusals)) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    cm_log(CM_LOG_WARN, "http: %s", msg);
}

static int draw_token(label_http *h, cm_error *e)
{
    unsigned char raw[LABEL_HTTP_TOKEN_HEX / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            cm_error_set(e, "cannot draw the session token: getrandom: %s", strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(h->token + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* A listening socket on 127.0.0.1 only; its port is known before the daemon
 * starts, so every request is checked against it. */
static int listen_loopback(int port, int *fd_out, unsigned *bound, cm_error *e)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        cm_error_set(e, "cannot listen on 127.0.0.1:%d: socket: %s", port, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        cm_error_set(e, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    *fd_out = fd;
    *bound = ntohs(addr.sin_port);
    return 0;
}

/* Each connection is a descriptor: the soft open-file limit (often 1,024) is
 * raised to fit, up to the hard limit. */
static unsigned fit_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want;
    rlim_t need = (rlim_t)want + SPARE_FDS;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return want;
    unsigned fit = rl.rlim_cur > 2 * SPARE_FDS ? (unsigned)(rl.rlim_cur - SPARE_FDS) : SPARE_FDS;
    if (fit < want) {
        cm_log(CM_LOG_WARN, "the open-file limit (ulimit -n) is %llu: at most %u connections at once, not %u",
               (unsigned long long)rl.rlim_cur, fit, want);
        return fit;
    }
    return want;
}

struct MHD_Daemon *label_http_start(label_http *h, int port, label_http_limits limits,
                                    MHD_AccessHandlerCallback handler, void *cls, cm_error *e)
{
    memset(h, 0, sizeof *h);
    atomic_init(&h->refusals, 0);
    int fd = -1;
    if (draw_token(h, e) != 0 || listen_loopback(port, &fd, &h->port, e) != 0) return NULL;
    snprintf(h->cookie_name, sizeof h->cookie_name, "clipmill_token_%u", h->port);
    snprintf(h->set_cookie, sizeof h->set_cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict", h->cookie_name,
             h->token);
    unsigned max_conn = fit_fd_limit(limits.max_connections);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, cls,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h, /* first, or MHD prints some messages itself */
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_s,
        MHD_OPTION_END);
    if (!d) {
        cm_error_set(e, "cannot start the HTTP server on 127.0.0.1:%u", h->port);
        close(fd);
    }
    return d;
}

/* "127.0.0.1:PORT" or "localhost:PORT" (no port where it is 80), n bytes of s. */
static int own_authority(const label_http *h, const char *s, size_t n)
{
    static const char *const hosts[] = {"127.0.0.1", "localhost"};
    for (int i = 0; i < 2; i++) {
        char want[32];
        int m = snprintf(want, sizeof want, "%s:%u", hosts[i], h->port);
        if ((size_t)m == n && strncasecmp(s, want, n) == 0) return 1;
        size_t hn = strlen(hosts[i]);
        if (h->port == 80 && n == hn && strncasecmp(s, hosts[i], n) == 0) return 1;
    }
    return 0;
}

static int own_origin(const label_http *h, const char *origin)
{
    return strncasecmp(origin, "http://", 7) == 0 && own_authority(h, origin + 7, strlen(origin + 7));
}

/* Compares in time independent of where the strings differ. */
static int token_matches(const label_http *h, const char *s)
{
    if (!s || strlen(s) != LABEL_HTTP_TOKEN_HEX) return 0;
    unsigned diff = 0;
    for (int i = 0; i < LABEL_HTTP_TOKEN_HEX; i++) diff |= (unsigned char)(s[i] ^ h->token[i]);
    return diff == 0;
}

unsigned label_http_check(label_http *h, struct MHD_Connection *conn, const char *method, const char *url,
                          int *set_cookie, const char **why)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *query_token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    const int page = (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) && strcmp(url, "/") == 0;
    unsigned status = 0;
    *set_cookie = 0;
    if (!host || !own_authority(h, host, strlen(host))) {
        status = MHD_HTTP_MISDIRECTED_REQUEST;
        *why = "this server answers to 127.0.0.1:PORT and localhost:PORT only (Host)";
    } else if (origin && !own_origin(h, origin)) {
        status = MHD_HTTP_FORBIDDEN;
        *why = "requests from other origins are refused (Origin)";
    } else if (site && !page && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) {
        status = MHD_HTTP_FORBIDDEN;
        *why = "requests from other sites are refused (Sec-Fetch-Site)";
    } else if (token_matches(h, query_token)) {
        *set_cookie = page;
    } else if (!token_matches(h, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Clipmill-Token")) &&
               !token_matches(h, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, h->cookie_name))) {
        status = MHD_HTTP_FORBIDDEN;
        *why = "no valid session token: open the URL that clipmill-train label printed (it carries ?token=)";
    }
    if (status && should_log(&h->refusals))
        cm_log(CM_LOG_WARN, "refused %s %s (Host %s, Origin %s): %s", method, url, host ? host : "-",
               origin ? origin : "-", *why);
    return status;
}
