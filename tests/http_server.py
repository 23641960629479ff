#!/usr/bin/python3
"""Test HTTP server for the downloader (Python 3 standard library only).

    http_server.py --root DIR --port 0 --port-file FILE --log FILE [--max-seconds 600]

Listens on 127.0.0.1 (port 0 = any free port), writes the chosen port to
--port-file (atomically), and serves the files of --root. Every request is
logged to --log as one JSON line:
    {"method", "path", "range", "if_range", "status", "concurrent", "t"}
where "concurrent" is the number of /slow/ requests in progress when this one
started (itself included) and "t" is the time it started.

Plain files (/NAME) are served with Range support: 206 + Content-Range,
ETag (from size and mtime), Last-Modified, Accept-Ranges, If-Range (a
validator that does not match makes the Range ignored: 200 with the whole
file), 416 for a range past the end. A path prefix selects a behaviour:

    /drop/NAME          no Range: headers for the whole file, half the body, close;
                        with Range: served normally (so a resume finishes it)
    /flaky500/N/NAME    the first N requests for this path answer 500, then served
    /retry429/NAME?after=S   first request 429 with Retry-After: S, then served
    /retry429date/NAME?after=S   the same with Retry-After as an HTTP-date
    /trickle/NAME       10 bytes/s
    /slow/NAME          50 KB/s, with Range support
    /liecl/NAME         Content-Length 1000 larger than the body, then close (ignores Range)
    /nocl/NAME          no Content-Length: the body ends when the connection closes
    /redirect/NAME      302 to /NAME
    /redirloop/NAME     302 to itself, forever
    /redirfile/NAME     302 to file:///etc/passwd
    /404/NAME           404
    /html/NAME          an HTML page (text/html)
    /norange/NAME       ignores Range: always 200 with the whole file
    /changing/NAME      request k (from 0) serves NAME + k bytes of value k, ETag
                        "changing-k"; request 0 is cut off after half its body
    /endless/NAME       no Content-Length, a body that never ends (up to 1 GiB, as
                        fast as the client reads), then close
    /endless-once/NAME  the first request is /endless/, later ones serve NAME
    /drip/NAME?cl=N&rate=R   Content-Length N (default 1000000000), then zero
                        bytes at R bytes/s (default 2000) until the client gives up
    /stats              {"max_concurrent_slow": N, "requests": N} as JSON

Per-path counters live in memory. The server exits on SIGTERM, on SIGINT and
after --max-seconds, whichever comes first.
"""
import argparse
import email.utils
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
COUNTS = {}              # path (without query) -> requests seen
SLOW_NOW = 0             # /slow/ requests in progress
SLOW_MAX = 0
REQUESTS = 0


def count(path):
    with LOCK:
        COUNTS[path] = COUNTS.get(path, 0) + 1
        return COUNTS[path] - 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the JSON log replaces the stderr log
        pass

    def log_json(self, status, concurrent=0):
        global REQUESTS
        line = json.dumps({"method": self.command, "path": self.path,
                           "range": self.headers.get("Range"),
                           "if_range": self.headers.get("If-Range"),
                           "status": status, "concurrent": concurrent,
                           "t": round(time.time(), 3)}, separators=(",", ":"))
        with LOCK:
            REQUESTS += 1
            with open(ARGS.log, "a") as f:
                f.write(line + "\n")

    def simple(self, status, body=b"", ctype="text/plain", extra=()):
        self.log_json(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def file_data(self, name):
        if not name or "/" in name or name in (".", ".."):
            return None
        path = os.path.join(ARGS.root, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
            st = os.stat(path)
        except OSError:
            return None
        etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
        return data, etag, email.utils.formatdate(st.st_mtime, usegmt=True)

    def send_body(self, data, rate=None, last_hook=None):
        """Writes data, at `rate` bytes/s if given; last_hook runs just before
        the final chunk (so a client cannot finish before it has run)."""
        if rate is None:
            if last_hook:
                last_hook()
            self.wfile.write(data)
            return
        chunk = max(1, rate // 10)
        for i in range(0, len(data), chunk):
            if i + chunk >= len(data) and last_hook:
                last_hook()
            self.wfile.write(data[i:i + chunk])
            self.wfile.flush()
            time.sleep(chunk / rate)

    def serve(self, data, etag, last_modified, honour_range=True, rate=None,
              cut_half=False, cl_extra=0, last_hook=None, concurrent=0):
        start, status = 0, 200
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and honour_range and (if_range is None or if_range in (etag, last_modified)):
            try:
                spec = rng.split("=", 1)[1].split(",")[0]
                s = spec.split("-", 1)[0]
                start = int(s)
            except (IndexError, ValueError):
                start = 0
            if start >= len(data):
                self.log_json(416, concurrent)
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                if last_hook:
                    last_hook()
                return
            status = 206
        body = data[start:]
        self.log_json(status, concurrent)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes" if honour_range else "none")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        if cl_extra is None:
            self.close_connection = True
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(len(body) + cl_extra))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut_half:
            body = body[:len(body) // 2]
        self.send_body(body, rate, last_hook)
        if cut_half or cl_extra:
            self.wfile.flush()
            self.close_connection = True

    def endless(self):
        self.log_json(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = bytes(range(256)) * 256
        try:
            for _ in range((1 << 30) // len(chunk)):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client stopped reading

    def drip(self, content_length, rate):
        self.log_json(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(content_length))
        self.end_headers()
        self.close_connection = True
        chunk = max(1, rate // 10)
        sent = 0
        try:
            while sent < content_length:
                self.wfile.write(b"\0" * min(chunk, content_length - sent))
                self.wfile.flush()
                sent += chunk
                time.sleep(0.1)
        except OSError:
            pass

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        global SLOW_NOW, SLOW_MAX
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.lstrip("/").split("/")
        kind, name = (parts[0], parts[-1]) if len(parts) > 1 else ("", parts[0])
        if url.path == "/stats":
            with LOCK:
                body = json.dumps({"max_concurrent_slow": SLOW_MAX, "requests": REQUESTS}).encode()
            return self.simple(200, body, "application/json")
        n = count(url.path)
        if kind == "404":
            return self.simple(404, b"not here\n")
        if kind == "html":
            return self.simple(200, b"<!doctype html><html><body><video></video></body></html>\n",
                               "text/html; charset=utf-8")
        if kind == "redirect":
            return self.simple(302, extra=[("Location", "/" + name)])
        if kind == "redirloop":
            return self.simple(302, extra=[("Location", url.path)])
        if kind == "redirfile":
            return self.simple(302, extra=[("Location", "file:///etc/passwd")])
        if kind == "flaky500" and len(parts) == 3 and n < int(parts[1]):
            return self.simple(500, b"try again\n")
        if kind in ("retry429", "retry429date") and n == 0:
            after = int(query.get("after", ["1"])[0])
            value = str(after) if kind == "retry429" else \
                email.utils.formatdate(time.time() + after + 1, usegmt=True)
            return self.simple(429, b"slow down\n", extra=[("Retry-After", value)])
        if kind == "endless" or (kind == "endless-once" and n == 0):
            return self.endless()
        if kind == "drip":
            return self.drip(int(query.get("cl", ["1000000000"])[0]), int(query.get("rate", ["2000"])[0]))
        found = self.file_data(name)
        if found is None:
            return self.simple(404, b"no such file\n")
        data, etag, lm = found
        if kind == "changing":
            data = data + bytes([n % 256]) * n
            etag = '"changing-%d"' % n
            return self.serve(data, etag, lm, cut_half=(n == 0))
        if kind == "drop":
            return self.serve(data, etag, lm, cut_half=self.headers.get("Range") is None)
        if kind == "trickle":
            return self.serve(data, etag, lm, rate=10)
        if kind == "liecl":
            return self.serve(data, etag, lm, honour_range=False, cl_extra=1000)
        if kind == "nocl":
            return self.serve(data, etag, lm, honour_range=False, cl_extra=None)
        if kind == "norange":
            return self.serve(data, etag, lm, honour_range=False)
        if kind == "slow":
            with LOCK:
                SLOW_NOW += 1
                SLOW_MAX = max(SLOW_MAX, SLOW_NOW)
                now = SLOW_NOW
            done = [False]

            def leave():
                global SLOW_NOW
                with LOCK:
                    if not done[0]:
                        SLOW_NOW -= 1
                        done[0] = True
            try:
                return self.serve(data, etag, lm, rate=50_000, last_hook=leave, concurrent=now)
            finally:
                leave()
        return self.serve(data, etag, lm)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog of 5 drops connections when a
    # client opens 8 at once; they then wait a second to retry.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # clients dropping connections mid-body are expected here


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--max-seconds", type=float, default=600)
    ARGS = p.parse_args()

    server = Server(("127.0.0.1", ARGS.port), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, ARGS.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop.wait(ARGS.max_seconds)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
