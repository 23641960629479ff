#!/usr/bin/python3
"""Drives headless Chromium through the DevTools protocol with only the Python
standard library (a minimal RFC 6455 websocket client), for the browser tests
of the HTML report and the labelling page.

  cdp.py report FILE.html SCREENSHOT.png
      Loads the report, fails (exit 1) on console errors, exceptions, failed
      requests, images that did not decode (naturalWidth 0) or a page without
      SVG plots; writes a full-page screenshot. Prints, as its first line, a
      JSON object of what it saw (images, svgs, sections, scripts: the number
      of <script> elements, losses: the text of the losses section as
      rendered).
  cdp.py rollout SCREENSHOT.png JSON FILE.html [JSON FILE.html]...
      Loads each page (clipmill-eval rollout --html, or report --rollout),
      fails on console errors, failed requests, scripts or external
      references, and unless its rollout section shows what the JSON before
      it (rollout --json) holds: the dataset and split as text, one polyline point per
      step for PSNR and SSIM (random PSNR and delta PSNR exactly when the JSON
      has them), a ring per step with exact frames, and the table's cells
      equal to the JSON's values as rounded on the page (PSNR shown as the
      infinity sign when every frame of the step is exact). Screenshot of the
      first page.
  cdp.py label URL KEYS SCREENSHOT.png
      Loads the labelling page, waits for its first clip, then presses each
      character of KEYS as a real key event (B = Backspace), waiting for the
      page to confirm each one; fails on console errors.
  cdp.py attack LABEL_URL SCREENSHOT.png OTHER_URL...
      Loads the labelling page (so the browser holds its cookie), then each
      page of another origin in the same tab, waiting for it to set
      window.clipmillAttack (its tries at the label server are done). The
      caller checks that nothing was written; errors on those pages are
      expected and ignored.

Exit 77 when chromium is not installed (ctest counts that as skipped)."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, client masking."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            resp += chunk
        head, self.buf = resp.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake failed: " + head.decode(errors="replace"))

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise RuntimeError("websocket closed by peer")
            if opcode in (0, 1, 2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            print("chromium not installed: skipped")
            sys.exit(77)
        self.profile = tempfile.mkdtemp(prefix="clipmill-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--autoplay-policy=no-user-gesture-required", "--window-size=1280,900",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port, path = open(port_file).read().split("\n")[:2]
        self.ws = WebSocket(f"ws://127.0.0.1:{port}{path}")
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable", session=True)

    def call(self, method, session=False, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def pump(self, seconds):
        """Collects events for a while (the page's own work goes on meanwhile)."""
        self.ws.sock.settimeout(0.2)
        end = time.time() + seconds
        while time.time() < end:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except (socket.timeout, TimeoutError):
                pass
        self.ws.sock.settimeout(30)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", session=True, expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.evaluate(expr):
                return True
            self.pump(0.2)
        return False

    def navigate(self, url):
        self.call("Page.navigate", session=True, url=url)
        if not self.wait_for("document.readyState === 'complete'"):
            raise RuntimeError("page did not load: " + url)

    def errors(self):
        out = []
        for m in self.events:
            meth, p = m.get("method"), m.get("params", {})
            if meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif meth == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p["exceptionDetails"])[:400])
            elif meth == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
            elif meth == "Network.loadingFailed" and not p.get("canceled"):
                out.append("request failed: " + p.get("errorText", ""))
        return out

    def screenshot(self, path, full_page=True):
        params = {"format": "png"}
        if full_page:
            h = self.evaluate("document.documentElement.scrollHeight")
            w = self.evaluate("document.documentElement.scrollWidth")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def press(self, key):
        if key == "B":
            key_args = {"key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8}
        else:
            key_args = {"key": key, "code": ("Digit" + key) if key.isdigit() else "Key" + key.upper(),
                        "text": key, "windowsVirtualKeyCode": ord(key.upper())}
        self.call("Input.dispatchKeyEvent", session=True, type="keyDown", **key_args)
        self.call("Input.dispatchKeyEvent", session=True, type="keyUp",
                  **{k: v for k, v in key_args.items() if k != "text"})

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def check_report(path, shot):
    b = Browser()
    failures = []
    try:
        b.navigate("file://" + os.path.abspath(path))
        b.pump(0.5)
        info = b.evaluate("""(() => {
            const imgs = [...document.images];
            return {images: imgs.length,
                    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt),
                    svgs: document.querySelectorAll('svg').length,
                    sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
                    scripts: document.scripts.length,
                    losses: (() => { const h = document.getElementById('losses');
                                     return h && h.nextElementSibling ? h.nextElementSibling.innerText : ''; })(),
                    external: [...document.querySelectorAll('[src],[href]')]
                        .map(e => e.getAttribute('src') || e.getAttribute('href'))
                        .filter(u => !u.startsWith('data:') && !u.startsWith('#'))};
        })()""")
        print(json.dumps(info))
        if info["broken"]:
            failures.append(f"images that did not load: {info['broken']}")
        if info["images"] == 0:
            failures.append("no contact sheet images")
        if info["svgs"] < 5:
            failures.append(f"only {info['svgs']} SVG plots")
        if info["external"]:
            failures.append(f"external references: {info['external']}")
        b.screenshot(shot)
        failures += b.errors()
    finally:
        b.close()
    return failures


def rollout_cells(point, has_random):
    """The table row the page should show for one point of the JSON."""
    def num(v, d):
        return "\u2013" if v is None else f"{v:.{d}f}"
    exact_all = point["frames"] > 0 and point["exact"] == point["frames"]
    row = [str(point.get("t", "all")), str(point["frames"]), str(point["exact"]),
           "\u221e" if exact_all else num(point["psnr"], 3), num(point["ssim"], 4)]
    if has_random:
        row += [num(point.get("psnr_random"), 3), num(point.get("delta_psnr"), 3)]
    return row


def check_rollout(shot, pairs):
    b = Browser()
    failures = []
    try:
        for i, (json_path, page) in enumerate(pairs):
            want = json.load(open(json_path))
            steps = want["steps"]
            has_random = "psnr_random" in want
            b.events.clear()
            b.navigate("file://" + os.path.abspath(page))
            b.pump(0.3)
            info = b.evaluate("""(() => {
                const h = document.getElementById('rollout');
                const sec = [];
                for (let e = h && h.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) sec.push(e);
                const q = s => sec.flatMap(e => [...(e.matches(s) ? [e] : []), ...e.querySelectorAll(s)]);
                const curves = {};
                for (const p of q('polyline.curve'))
                    curves[p.dataset.series] = [...Array(p.points.numberOfItems).keys()].map(k => p.points.getItem(k).x);
                return {found: !!h, scripts: document.scripts.length, images: document.images.length,
                        external: [...document.querySelectorAll('[src],[href]')]
                            .map(e => e.getAttribute('src') || e.getAttribute('href'))
                            .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
                        codes: q('code').map(c => c.textContent), curves: curves, rings: q('circle.ring').length,
                        rows: q('#rollout-steps tr[data-t]').map(r => [...r.cells].map(c => c.textContent))};
            })()""")
            print(json.dumps({"page": page, "curves": {k: len(v) for k, v in info["curves"].items()},
                              "rings": info["rings"], "rows": len(info["rows"]), "codes": info["codes"]}))
            fail = lambda m: failures.append(f"{page}: {m}")
            if not info["found"]:
                fail("no rollout section")
                continue
            if info["scripts"] or info["external"]:
                fail(f"scripts {info['scripts']}, external references {info['external']}")
            if info["codes"][:2] != [want["dataset"], want["split"]]:
                fail(f"dataset and split shown as {info['codes'][:2]}, the JSON says {want['dataset']!r}, {want['split']!r}")
            series = ["psnr", "ssim"] + (["psnr_random", "delta_psnr"] if has_random else [])
            if sorted(info["curves"]) != sorted(series):
                fail(f"curves {sorted(info['curves'])}, expected {sorted(series)}")
            for name, xs in info["curves"].items():
                n = sum(1 for s in steps if s.get(name) is not None)
                if len(xs) != n or xs != sorted(xs):
                    fail(f"curve {name}: {len(xs)} points (ascending: {xs == sorted(xs)}), {n} steps have it")
            rings = sum(1 for s in steps if s["exact"] > 0)
            if info["rings"] != rings:
                fail(f"{info['rings']} ringed points, {rings} steps have exact frames")
            expect = [rollout_cells(s, has_random) for s in steps] + [rollout_cells(want, has_random)]
            if info["rows"] != expect:
                bad = [(g, w) for g, w in zip(info["rows"], expect) if g != w][:3]
                fail(f"table ({len(info['rows'])} rows) differs from the JSON ({len(expect)}): {bad}")
            if i == 0:
                b.screenshot(shot)
            failures += [f"{page}: {m}" for m in b.errors()]
    finally:
        b.close()
    return failures


def check_label(url, keys, shot):
    b = Browser()
    failures = []
    try:
        b.navigate(url)
        if not b.wait_for("window.clipmillLabel && window.clipmillLabel.ready === true"):
            failures.append("labelling page never showed a clip: " +
                            str(b.evaluate("document.body.innerText.slice(0, 300)")))
        else:
            if not b.wait_for("(() => { const m = document.querySelector('#clip');"
                              " return m && (m.naturalWidth > 0 || m.videoWidth > 0); })()"):
                failures.append("clip preview did not load")
            for k in keys:
                # A key pressed while the next clip loads is ignored by design: wait for it.
                if not b.wait_for("window.clipmillLabel.ready === true"):
                    failures.append(f"before key {k!r}: the next clip never loaded")
                    break
                before = b.evaluate("window.clipmillLabel.acks")
                b.press(k)
                if not b.wait_for(f"window.clipmillLabel.acks > {before}", timeout=20):
                    failures.append(f"key {k!r}: the server never confirmed it")
                    break
                print(f"key {k!r}: {b.evaluate('window.clipmillLabel.last')}")
            b.screenshot(shot, full_page=False)
        failures += b.errors()
    finally:
        b.close()
    return failures


def check_attack(label_url, shot, others):
    b = Browser()
    failures = []
    try:
        b.navigate(label_url)
        if not b.wait_for("window.clipmillLabel && window.clipmillLabel.ready === true"):
            failures.append("labelling page never showed a clip")
        failures += b.errors()
        for url in others:
            b.navigate(url)
            if not b.wait_for("window.clipmillAttack === true"):
                failures.append(f"{url}: the page never finished")
            print(f"{url}: {b.evaluate('document.body.innerText.slice(0, 200)')!r}")
        b.screenshot(shot, full_page=False)
    finally:
        b.close()
    return failures


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if sys.argv[1] == "report" and len(sys.argv) == 4:
        failures = check_report(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "rollout" and len(sys.argv) >= 5 and len(sys.argv) % 2 == 1:
        failures = check_rollout(sys.argv[2], list(zip(sys.argv[3::2], sys.argv[4::2])))
    elif sys.argv[1] == "label" and len(sys.argv) == 5:
        failures = check_label(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "attack" and len(sys.argv) >= 5:
        failures = check_attack(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        print(__doc__)
        return 2
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
