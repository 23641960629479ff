"""Checks a dataset's actions against an independent computation from the
videos' frame timestamps (PyAV) and the event logs (docs/actions.md), and
against `clipmill-ingest export --actions` of the staged clip (float32 bit for
bit). Usage: check_actions.py DATASET CORPUS INGEST SPLIT... ; prints
"N clips checked" and exits 1 on any difference."""
import math
import os
import sqlite3
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from clipmill.reader import Dataset  # noqa: E402


def frame_times(path, fps=10):
    """Time of the source frame shown at each 10 fps output frame (the fps filter's rule)."""
    with av.open(path) as c:
        st = c.streams.video[0]
        tb = st.time_base
        ts = [f.pts if f.pts is not None else f.dts for f in c.decode(st)]
    origin = ts[0]
    ticks = [math.floor(Fraction(t - origin) * tb * fps + Fraction(1, 2)) for t in ts]
    out, j = [], 0
    k = 0
    while k <= ticks[-1]:
        while j + 1 < len(ts) and ticks[j + 1] <= k:
            j += 1
        out.append(float(ts[j] - origin) * (tb.numerator / tb.denominator))
        k += 1
    return out


def read_events(path):
    ev = []
    for line in open(path):
        f = line.split()
        if len(f) >= 2 and not line.startswith("#"):
            ev.append((float(f[0]), f[1], float(f[2]) if len(f) > 2 else 0.0))
    return ev


def expected(times, prev, ev, offset, keys):
    end = max(t + h for t, _, h in ev)
    vals = np.zeros((len(times), 2 * len(keys)), np.float32)
    mask = np.zeros(len(times), np.uint8)
    p = prev - offset
    for i, t in enumerate(times):
        x = t - offset
        if 0 <= x <= end:
            mask[i] = 1
            for et, k, h in ev:
                if k.lower() == "idle" or et > x:
                    continue
                j = keys.index(k)
                if x < et + h:
                    vals[i, j] = 1
                if et > p:
                    vals[i, len(keys) + j] += 1
        p = x
    return vals, mask


def main():
    dataset, corpus, ingest, splits = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    db = sqlite3.connect(os.path.join(corpus, "catalog.sqlite"))
    bad = checked = 0
    cache = {}
    for split in splits:
        ds = Dataset(dataset, split)
        for i in range(len(ds)):
            cid = ds.clip_id(i)
            url, js, idx = db.execute("SELECT s.url, s.manifest_json, c.clip_index FROM clips c JOIN sources s "
                                      "USING (source_id) WHERE c.clip_id = ?", (cid,)).fetchone()
            import json
            m = json.loads(js) if js else {}
            chans = ds.action_channels(i)
            vals, mask = ds.window_actions(i, 0, ds.frames)
            if "actions" not in m:
                if chans or mask.any():
                    print(f"{cid}: actions without a log"); bad += 1
                continue
            base = os.path.dirname(os.path.join(corpus, ".."))
            video = url if os.path.isabs(url) else os.path.join(os.environ.get("MANIFEST_DIR", "."), url)
            log = m["actions"] if os.path.isabs(m["actions"]) else os.path.join(os.environ.get("MANIFEST_DIR", "."), m["actions"])
            if video not in cache:
                cache[video] = frame_times(video)
            times = cache[video]
            ev = read_events(log)
            keys = sorted({k for _, k, _ in ev if k.lower() != "idle"})
            want_names = [f"held:{k}" for k in keys] + [f"pressed:{k}" for k in keys]
            if [c[0] for c in chans] != want_names:
                print(f"{cid}: channels {chans}, want {want_names}"); bad += 1
                continue
            T = ds.frames
            t = times[idx * T:(idx + 1) * T]
            prev = times[idx * T - 1] if idx > 0 else times[0] - 0.1
            wv, wm = expected(t, prev, ev, float(m.get("actions_offset", 0)), keys)
            if not (np.array_equal(wm, mask) and np.array_equal(wv, vals)):
                d = np.nonzero((wv != vals).any(1) | (wm != mask))[0]
                print(f"{cid}: {len(d)} frames differ from the log, first {d[:5]}: got {vals[d[0]]} {mask[d[0]]}, "
                      f"want {wv[d[0]]} {wm[d[0]]} at t={t[d[0]]}"); bad += 1
            # staging (clipmill-ingest export --actions) -> shard -> C reader -> Python, bit for bit
            out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{cid}.actions.tsv")
            subprocess.run([ingest, "export", "-C", corpus, cid, "--actions", out], check=True, capture_output=True)
            rows = [line.rstrip("\n").split("\t") for line in open(out)][1:]
            staged = np.array([[float(x) for x in r[2:]] for r in rows], np.float32)
            smask = np.array([int(r[1]) for r in rows], np.uint8)
            if staged.tobytes() != vals.tobytes() or smask.tobytes() != mask.tobytes():
                print(f"{cid}: reader differs from staging"); bad += 1
            # a window's actions are its own clip's rows
            v2, m2 = ds.window_actions(i, 5, 8, 2)
            if v2.tobytes() != vals[5:21:2].tobytes() or m2.tobytes() != mask[5:21:2].tobytes():
                print(f"{cid}: window differs from the clip's rows"); bad += 1
            checked += 1
    print(f"{checked} clips checked, {bad} differ")
    sys.exit(1 if bad or checked == 0 else 0)


main()
