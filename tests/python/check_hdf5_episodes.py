"""Checks a dataset's clips from HDF5 robot episodes (docs/robotics.md, "HDF5
episodes") against the files themselves, read here with h5py: the episodes
(robomimic data/* groups in numeric order, else the file), the camera, action
and state datasets by the documented defaults or the manifest's keys, the
step shown at each frame (the clip policy's grid rule on the step times or
the rate), per-frame actions, states, episode and step (float32 bit for
bit), the padding mask, and the frames byte for byte (episodes written at the
corpus size, so no scaling). Also the staged record (`clipmill-ingest export
--actions`) against the reader, and a window against its clip's rows.

Usage: check_hdf5_episodes.py DATASET CORPUS INGEST [--fps 10]
Prints "N clips checked, M differ" and exits 1 on any difference."""
import argparse
import json
import math
import os
import re
import sqlite3
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from clipmill.reader import Dataset  # noqa: E402


def natural(name):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def walk(g, prefix=""):
    """Datasets under g, depth first, members in name order: (relative path, dataset)."""
    for k in sorted(g.keys()):
        rel = f"{prefix}/{k}" if prefix else k
        if isinstance(g[k], h5py.Group):
            yield from walk(g[k], rel)
        else:
            yield rel, g[k]


def episode_groups(f):
    if "data" in f and isinstance(f["data"], h5py.Group):
        return [f"data/{k}" for k in sorted(f["data"].keys(), key=natural) if isinstance(f["data"][k], h5py.Group)]
    return ["/"]


def channels(g, key, skip):
    """(names, (T, k) float64 columns) of the number datasets of key (a dataset or every one under a group)."""
    if key not in g:
        return [], []
    sets = [(key, g[key])] if isinstance(g[key], h5py.Dataset) else list(walk(g[key], key))
    names, cols = [], []
    for rel, d in sets:
        if rel in skip or d.dtype.kind not in "iuf" or d.ndim not in (1, 2):
            continue
        a = np.asarray(d, np.float64).reshape(d.shape[0], -1)
        names += [rel] if d.ndim == 1 or a.shape[1] == 1 else [f"{rel}[{i}]" for i in range(a.shape[1])]
        cols.append(a)
    return names, cols


def read_episode(g, m):
    cam = m.get("camera") or next(r for r, d in walk(g) if d.ndim == 4 and d.dtype == np.uint8 and d.shape[3] == 3)
    frames = np.asarray(g[cam])
    tkey = m.get("episode_time") or next((k for k in ("timestamp", "timestamps", "t", "observation/timestamp")
                                          if k in g and isinstance(g[k], h5py.Dataset)), None)
    S = len(frames)
    if tkey:
        t = np.asarray(g[tkey], np.float64)
    else:
        t = np.arange(S) / float(m["frame_rate"])
    t = t - t[0]
    skip = {cam, tkey}
    akey = m.get("episode_actions") or next((k for k in ("actions", "action") if k in g), None)
    skey = m.get("episode_states") or next((k for k in ("obs", "observation/robot_state", "observation") if k in g), None)
    an, ac = channels(g, akey, skip) if akey else ([], [])
    sn, sc = channels(g, skey, skip) if skey else ([], [])
    vals = np.concatenate(ac + sc, axis=1) if ac + sc else np.zeros((S, 0))
    return frames, list(t), an + sn, vals.astype(np.float32)


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


def source_clips(path, m, T, fps):
    """Per clip of the source, in order: (episode index, frames, names, values, steps shown)."""
    out = []
    with h5py.File(path, "r") as f:
        for e, gname in enumerate(episode_groups(f)):
            frames, t, names, vals = read_episode(f[gname], m)
            g = grid(t, fps)
            for c in range((len(g) + T - 1) // T):
                out.append((e, frames, names, vals, g[c * T:(c + 1) * T]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("corpus")
    ap.add_argument("ingest")
    ap.add_argument("--fps", type=int, default=10)
    a = ap.parse_args()
    db = sqlite3.connect(os.path.join(a.corpus, "catalog.sqlite"))
    ds = Dataset(a.dataset, "train")
    T = ds.frames
    bad = checked = 0
    cache = {}
    for i in range(len(ds)):
        cid = ds.clip_id(i)
        url, js, idx = db.execute("SELECT s.url, s.manifest_json, c.clip_index FROM clips c JOIN sources s "
                                  "USING (source_id) WHERE c.clip_id = ?", (cid,)).fetchone()
        m = json.loads(js)
        if m.get("episodes") != "hdf5":
            continue
        path = os.path.join(os.environ.get("MANIFEST_DIR", "."), url)
        if url not in cache:
            cache[url] = source_clips(path, m, T, a.fps)
        e, frames, names, vals_h5, steps = cache[url][idx]
        got_names = [c[0] for c in ds.action_channels(i)]
        if got_names != names + ["episode", "step"]:
            print(f"{cid}: channels {got_names}, want {names + ['episode', 'step']}"); bad += 1
            continue
        wv = np.zeros((T, len(names) + 2), np.float32)
        wm = np.zeros(T, np.uint8)
        for f, s in enumerate(steps):
            wv[f, :len(names)] = vals_h5[s]
            wv[f, len(names):] = (e, s)
            wm[f] = 1
        vals, mask = ds.window_actions(i, 0, T)
        if vals.tobytes() != wv.tobytes() or mask.tobytes() != wm.tobytes():
            d = np.nonzero((vals != wv).any(1) | (mask != wm))[0]
            print(f"{cid}: {len(d)} frames' actions differ, first {d[0]}: got {vals[d[0]]} {mask[d[0]]}, "
                  f"want {wv[d[0]]} {wm[d[0]]}"); bad += 1
        got = ds[i]
        for f in range(T):
            s = steps[min(f, len(steps) - 1)]   # padding repeats the last real frame
            if got[f].tobytes() != frames[s].tobytes():
                print(f"{cid}: frame {f} (episode {e} step {s}) differs from the camera's image"); bad += 1
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
    print(f"{checked} clips checked, {bad} differ")
    sys.exit(1 if bad or checked == 0 else 0)


main()
