"""Checks a dataset's actions against an independent computation from the
videos' frame timestamps (PyAV) and the logs (docs/actions.md: event logs,
and per-step tables as .npy or CSV with a time column), and
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


def is_table(m, log):
    """docs/actions.md's inference: a text log is an event log when its first line starts with a
    number followed by a non-number, or is the header time/key; anything else is a table."""
    if log.endswith(".npy") or m.get("actions_format") == "table":
        return True
    if m.get("actions_format") == "events":
        return False
    first = next(line for line in open(log) if line.strip() and not line.startswith("#"))
    f = [x.strip() for x in first.split("," if log.endswith(".csv") else "\t")]

    def num(x):
        try:
            float(x)
            return True
        except ValueError:
            return False
    events = 2 <= len(f) <= 3 and ((num(f[0]) and not num(f[1])) or
                                   (f[0].lower() in ("t", "time", "timestamp") and f[1].lower() in ("key", "action", "button")))
    return not events


def read_table(m, log):
    """A per-step table's (names, times, values, linear flags), read with numpy/csv, as docs/actions.md says."""
    if log.endswith(".npy"):
        arr = np.load(log)
        arr = arr.reshape(len(arr), -1).astype(np.float64)
        stem = os.path.basename(log)[:-4]
        names = m.get("actions_columns") or ([stem] if arr.shape[1] == 1 else [f"{stem}[{i}]" for i in range(arr.shape[1])])
    else:
        import csv
        rows = list(csv.reader(open(log)))
        names, arr = [c.strip() for c in rows[0]], np.array([[float(x) for x in r] for r in rows[1:]], np.float64)
    tcol = next((i for i, n in enumerate(names) if n.lower() in ("t", "time", "timestamp")), None)
    if "actions_rate" in m:
        t = np.arange(len(arr)) / float(m["actions_rate"])
    elif "actions_times" in m:
        t = np.load(os.path.join(os.environ.get("MANIFEST_DIR", "."), m["actions_times"])).astype(np.float64)
    else:
        t = arr[:, tcol]
    keep = [i for i in range(len(names)) if i != tcol]
    interp = m.get("actions_interp", "hold")
    linear = [(interp if isinstance(interp, str) else interp.get(names[i], "hold")) == "linear" for i in keep]
    return [names[i] for i in keep], t, arr[:, keep], linear


def expected_table(times, offset, tab, rate):
    """Per frame: the last row at or before the frame's log time (hold), or between it and the next (linear)."""
    names, t, v, linear = tab
    step = 1.0 / rate if rate else (t[-1] - t[-2] if len(t) > 1 else 0.0)
    end = t[-1] + (step if not all(linear) else 0.0)
    vals = np.zeros((len(times), len(names)), np.float32)
    mask = np.zeros(len(times), np.uint8)
    for i, ft in enumerate(times):
        x = ft - offset
        if not (t[0] <= x <= end):
            continue
        mask[i] = 1
        r = int(np.searchsorted(t, x, side="right")) - 1
        for c in range(len(names)):
            y = v[r, c]
            if linear[c] and r + 1 < len(t):
                y += (v[r + 1, c] - y) * ((x - t[r]) / (t[r + 1] - t[r]))
            vals[i, c] = y
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
            video = url if os.path.isabs(url) else os.path.join(os.environ.get("MANIFEST_DIR", "."), url)
            log = m["actions"] if os.path.isabs(m["actions"]) else os.path.join(os.environ.get("MANIFEST_DIR", "."), m["actions"])
            if video not in cache:
                cache[video] = frame_times(video)
            times = cache[video]
            T = ds.frames
            t = times[idx * T:(idx + 1) * T]
            prev = times[idx * T - 1] if idx > 0 else times[0] - 0.1
            offset = float(m.get("actions_offset", 0))
            if is_table(m, log):
                tab = read_table(m, log)
                want_names = tab[0]
                wv, wm = expected_table(t, offset, tab, float(m.get("actions_rate", 0)))
            else:
                ev = read_events(log)
                keys = sorted({k for _, k, _ in ev if k.lower() != "idle"})
                want_names = [f"held:{k}" for k in keys] + [f"pressed:{k}" for k in keys]
                wv, wm = expected(t, prev, ev, offset, keys)
            if [c[0] for c in chans] != want_names:
                print(f"{cid}: channels {chans}, want {want_names}"); bad += 1
                continue
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
