"""Checks a dataset's robot-episode clips (docs/robotics.md) against the
generator's truth, computed here independently: the step shown at each frame
(the clip policy's grid rule on the truth's step times), per-frame actions,
states, episode and step (float32 bit for bit), the mask (padding), and the
frames against the step images decoded by PyAV (PNG: equal; JPEG: within
--jpeg-tol of PyAV's decoding, never against the pixels before encoding).
Also the staged record (`clipmill-ingest export --actions`) against the
reader, and a window against its clip's rows.

Usage: check_episodes.py DATASET CORPUS INGEST --truth URL=DIR [--truth ...]
       [--fps 10] [--jpeg-tol N] [--drop]
Prints "N clips checked, M differ; max JPEG difference D" and exits 1 on any
difference."""
import argparse
import math
import os
import sqlite3
import subprocess
import sys

import av
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from clipmill.reader import Dataset  # noqa: E402

ACTIONS = [f"action[{i}]" for i in range(7)]
STATES = ["observation/gripper"] + [f"observation/state[{i}]" for i in range(3)]


def read_truth(d):
    eps, e = [], 0
    while os.path.exists(os.path.join(d, f"ep{e}.tsv")):
        rows = [[float(x) for x in line.split("\t")] for line in open(os.path.join(d, f"ep{e}.tsv"))]
        t = [r[0] - rows[0][0] for r in rows]
        act = [r[1:8] for r in rows]
        st = [[r[11]] + r[8:11] for r in rows]   # gripper sorts before state
        eps.append((t, act, st))
        e += 1
    return eps


def grid(t, fps):
    """Frame k shows the last step whose time rounds to a tick <= k; the last step lasts one interval."""
    tick = [math.floor(x * fps + 0.5) for x in t]
    dur = t[-1] - t[-2] if len(t) > 1 else 1.0 / fps
    if dur <= 0:
        dur = 1.0 / fps
    n = max(math.floor((t[-1] + dur) * fps + 0.5), tick[-1] + 1)
    out, s = [], 0
    for k in range(n):
        while s + 1 < len(t) and tick[s + 1] <= k:
            s += 1
        out.append(s)
    return out


def clips_of(eps, T, fps, drop):
    """(episode, steps shown per real frame) of each clip of the source, in order."""
    out = []
    for e, (t, _, _) in enumerate(eps):
        m = grid(t, fps)
        n = len(m) // T + (0 if drop or len(m) % T == 0 else 1)
        out += [(e, m[c * T:(c + 1) * T]) for c in range(n)]
    return out


def decoded(path, cache={}):
    if path not in cache:
        with av.open(path) as c:
            cache[path] = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return cache[path]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("corpus")
    ap.add_argument("ingest")
    ap.add_argument("--truth", action="append", default=[])
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--jpeg-tol", type=int, default=0)
    ap.add_argument("--scale-tol", type=int, default=0)
    ap.add_argument("--drop", action="store_true")
    a = ap.parse_args()
    truth = dict(x.split("=", 1) for x in a.truth)
    db = sqlite3.connect(os.path.join(a.corpus, "catalog.sqlite"))
    ds = Dataset(a.dataset, "train")
    T = ds.frames
    bad = checked = 0
    jpeg_max = 0
    layout = {}
    for i in range(len(ds)):
        cid = ds.clip_id(i)
        url, idx = db.execute("SELECT s.url, c.clip_index FROM clips c JOIN sources s USING (source_id) "
                              "WHERE c.clip_id = ?", (cid,)).fetchone()
        if url not in truth:
            continue
        d = truth[url]
        if url not in layout:
            layout[url] = (read_truth(d), clips_of(read_truth(d), T, a.fps, a.drop))
        eps, clips = layout[url]
        e, steps = clips[idx]
        t, act, st = eps[e]
        names = [c[0] for c in ds.action_channels(i)]
        want_names = ACTIONS + STATES + ["episode", "step"]
        if names != want_names:
            print(f"{cid}: channels {names}, want {want_names}"); bad += 1
            continue
        wv = np.zeros((T, len(names)), np.float32)
        wm = np.zeros(T, np.uint8)
        for f, s in enumerate(steps):
            wv[f] = act[s] + st[s] + [e, s]
            wm[f] = 1
        vals, mask = ds.window_actions(i, 0, T)
        if vals.tobytes() != wv.tobytes() or mask.tobytes() != wm.tobytes():
            diff = np.nonzero((vals != wv).any(1) | (mask != wm))[0]
            print(f"{cid}: {len(diff)} frames' actions differ, first {diff[0]}: got {vals[diff[0]]} {mask[diff[0]]}, "
                  f"want {wv[diff[0]]} {wm[diff[0]]}"); bad += 1
        frames = ds[i]
        for f in range(T):
            s = steps[min(f, len(steps) - 1)]   # padding repeats the last real frame
            ext = "png" if os.path.exists(os.path.join(d, f"ep{e}_s{s}.png")) else "jpg"
            want = decoded(os.path.join(d, f"ep{e}_s{s}.{ext}")).astype(int)
            tol = a.jpeg_tol if ext == "jpg" else 0
            if want.shape != frames[f].shape:
                # An integer factor larger: the means of k x k blocks (what an area scaler gives, up to rounding).
                k = want.shape[0] // frames[f].shape[0]
                h, w = frames[f].shape[:2]
                want = np.floor(want.reshape(h, k, w, k, 3).mean(axis=(1, 3)) + 0.5).astype(int)
                tol = a.scale_tol
            diff = int(np.abs(frames[f].astype(int) - want).max())
            if ext == "jpg":
                jpeg_max = max(jpeg_max, diff)
            if diff > tol:
                print(f"{cid}: frame {f} (episode {e} step {s}) differs from the decoded {ext} by {diff}"); bad += 1
                break
        out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{cid}.actions.tsv")
        subprocess.run([a.ingest, "export", "-C", a.corpus, cid, "--actions", out], check=True, capture_output=True)
        rows = [line.rstrip("\n").split("\t") for line in open(out)][1:]
        staged = np.array([[float(x) for x in r[2:]] for r in rows], np.float32)
        smask = np.array([int(r[1]) for r in rows], np.uint8)
        if staged.tobytes() != vals.tobytes() or smask.tobytes() != mask.tobytes():
            print(f"{cid}: reader differs from staging"); bad += 1
        v2, m2 = ds.window_actions(i, 3, 5, 2)
        if v2.tobytes() != vals[3:13:2].tobytes() or m2.tobytes() != mask[3:13:2].tobytes():
            print(f"{cid}: window differs from the clip's rows"); bad += 1
        checked += 1
    print(f"{checked} clips checked, {bad} differ; max JPEG difference {jpeg_max}")
    sys.exit(1 if bad or checked == 0 else 0)


main()
