"""Checks of the fast loader path and of actions in batches, run by
tests/e2e/python_fast.sh with /usr/bin/python3:
    test_fast.py ACTIONS_RAW ACTIONS_H264 PLAIN CORPUS INGEST WORKDIR
ACTIONS_*: one dataset (raw, h264) of clips with actions, whose sources name
different keys, and a clip without a log; PLAIN: a dataset without actions;
CORPUS: the staging the actions datasets were built from (clipmill-ingest
export --actions gives each clip's staged actions, a path independent of the
reader)."""
import gc
import glob
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ["CLIPMILL_SRC"], "python"))
from clipmill import Dataset  # noqa: E402
from clipmill import _slots  # noqa: E402
from clipmill.mixture import CMixture  # noqa: E402
from clipmill.numpy_source import WindowBatches, WindowSource  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def staged_actions(corpus, ingest, clip_id, work):
    """A clip's actions as staged (clipmill-ingest export --actions TSV): (T, A) float32, (T,) uint8."""
    out = os.path.join(work, f"{clip_id}.tsv")
    subprocess.run([ingest, "export", "-C", corpus, clip_id, "--actions", out], check=True, capture_output=True)
    rows = [line.rstrip("\n").split("\t") for line in open(out)]
    names = [h.rsplit("/", 2)[0] for h in rows[0][2:]]   # name/type/interp
    vals = np.array([[float(x) for x in r[2:]] for r in rows[1:]], np.float32).reshape(len(rows) - 1, len(names))
    return names, vals, np.array([int(r[1]) for r in rows[1:]], np.uint8)


def check_actions(batch_actions, batch_mask, src, clip, start, frames, stride, paths, names, staged, what):
    """Every row of a batch against the C reader (window_actions) and the staged clip, bytes equal."""
    for i in range(len(clip)):
        ds = Dataset(paths[int(src[i])], "train")
        c, s = int(clip[i]), int(start[i])
        chans = [x[0] for x in ds.action_channels(c)]
        v, m = ds.window_actions(c, s, frames, stride)
        want = np.zeros((frames, len(names)), np.float32)
        wmask = np.zeros((frames, len(names)), np.uint8)    # per channel: the frame's mask where the clip has it
        for k, n in enumerate(chans):
            want[:, names.index(n)] = v[:, k]
            wmask[:, names.index(n)] = m
        check(batch_actions[i].tobytes() == want.tobytes() and batch_mask[i].tobytes() == wmask.tobytes(),
              f"{what}: row {i} (clip {c} start {s}) = the C reader's window_actions")
        cid = ds.clip_id(c)
        if cid in staged:       # a window is its own clip's rows start, start + stride, ...: never another clip's
            sn, sv, sm = staged[cid]
            rows = slice(s, s + (frames - 1) * stride + 1, stride)
            want = np.zeros((frames, len(names)), np.float32)
            wmask = np.zeros((frames, len(names)), np.uint8)
            for k, n in enumerate(sn):
                want[:, names.index(n)] = sv[rows, k]
                wmask[:, names.index(n)] = sm[rows]
            check(batch_actions[i].tobytes() == want.tobytes() and batch_mask[i].tobytes() == wmask.tobytes(),
                  f"{what}: row {i} (clip {cid} start {s}) = its staged clip's rows")


def main():
    araw, ah264, plain, corpus, ingest, work = sys.argv[1:7]
    import torch
    from clipmill.torch import StatefulLoader, WindowDataset

    # --- frames through shared-memory slots: the same batches as numpy, both layouts, any workers
    ref = list(WindowBatches(plain, "train", frames=8, batch_size=3, seed=5, windows_per_clip=4))
    before = set(glob.glob("/dev/shm/clipmill-slot-*"))
    for layout in ("BTHWC", "BTCHW"):
        for workers in (0, 2):
            ds = WindowDataset(plain, "train", frames=8, batch_size=3, seed=5, windows_per_clip=4, layout=layout,
                               return_info=True)
            got = list(StatefulLoader(ds, num_workers=workers))     # all kept alive: the slots must not be reused
            gc.collect()
            same = len(got) == len(ref) and all(
                torch.equal(g["clip"], torch.from_numpy(r["clip"])) and torch.equal(
                    g["frames"].permute(0, 1, 3, 4, 2) if layout == "BTCHW" else g["frames"],
                    torch.from_numpy(r["frames"])) for g, r in zip(got, ref))
            check(same, f"{layout}, {workers} workers: numpy's windows in numpy's order, every batch kept")
            check(all(g["frames"].is_contiguous() for g in got), f"{layout}: contiguous")
            del got
    check(set(glob.glob("/dev/shm/clipmill-slot-*")) <= before, "no slot file left after the loaders end")

    d = Dataset(plain, "train")        # cmr_read_window_chw: planes, padded rows zero
    for pad in (0, 4):
        chw = d.read_windows([1, 0], [3, 7], 5, 2, pad, chw=True)
        hwc = np.stack([d.window(1, 3, 5, 2, pad), d.window(0, 7, 5, 2, pad)])
        check(chw.shape == (2, 5, 3, d.padded_height(pad), 160) and np.array_equal(chw, hwc.transpose(0, 1, 4, 2, 3)),
              f"read_windows chw=True pad_to={pad} = window() transposed")

    # slots go back to their worker when the trainer drops a batch, not before
    ds = WindowDataset(plain, "train", frames=8, batch_size=3, seed=5, windows_per_clip=12, layout="BTHWC")
    loader = StatefulLoader(ds, num_workers=2, persistent_workers=True)
    kept, sums = [], []
    for k, b in enumerate(loader):
        if k % 5 == 0:
            kept.append(b)           # held across many later batches
            sums.append(int(b.sum()))
        del b
    check([int(b.sum()) for b in kept] == sums, "batches kept by the trainer are never overwritten")
    made = len([p for p in glob.glob(ds._slot_prefix + "-*")]) + len(ds._maps.maps)
    check(len(ds._maps.maps) <= 2 * (2 + 2) + len(kept), f"slots reused: {len(ds._maps.maps)} mapped for "
                                                         f"{len(ref) * 3} batches, {len(kept)} kept")
    print(f"slots: {len(ds._maps.maps)} mapped over {k + 1} batches at 2 workers with {len(kept)} kept "
          f"({made} made)")
    del kept
    ds.set_epoch(1)                  # a persistent loader abandoned mid-epoch, then the next epoch in full
    for k, b in enumerate(loader):
        if k == 2:
            break
    ds.set_epoch(2)
    ref2 = WindowBatches(plain, "train", frames=8, batch_size=3, seed=5, windows_per_clip=12)
    ref2.set_epoch(2)
    check(all(torch.equal(b, torch.from_numpy(r["frames"])) for b, r in zip(loader, ref2)),
          "after an abandoned iteration, the next epoch is numpy's")
    prefix = ds._slot_prefix
    del loader, ds
    gc.collect()
    check(not glob.glob(prefix + "-*"), "persistent workers' slot names are gone with the dataset")

    # --- actions in samples and batches
    staged = {}
    with Dataset(araw, "train") as d:
        for i in range(len(d)):
            cid = d.clip_id(i)
            if d.action_channels(i):
                staged[cid] = staged_actions(corpus, ingest, cid, work)[:3]
        sets = {tuple(c[0] for c in d.action_channels(i)) for i in range(len(d))}
    check(len(sets) >= 3, f"the test dataset has clips with different channels and one without: {sets}")
    for paths in ([araw], [ah264], [araw, ah264]):
        it = WindowBatches(paths, "train", frames=6, stride=2, batch_size=4, seed=3, windows_per_clip=3,
                           weights=[0.5, 0.5] if len(paths) == 2 else None)
        names = it.set.action_channels
        check(len(names) == len({n for s in sets for n in s}), f"union of channels {names}")
        n = 0
        for b in it:
            check(b["actions"].shape == (len(b["clip"]), 6, len(names)) and b["actions"].dtype == np.float32 and
                  b["action_mask"].shape == b["actions"].shape and b["action_mask"].dtype == np.uint8,
                  "numpy batch actions (B, T, A) float32, mask (B, T, A) uint8")
            check_actions(b["actions"], b["action_mask"], b["source"], b["clip"], b["start"], 6, 2, paths, names,
                          staged, f"numpy {paths}")
            n += len(b["clip"])
        print(f"actions: {n} windows of {paths} checked against the C reader and staging")
    for workers in (0, 2):
        ds = WindowDataset(araw, "train", frames=6, stride=2, batch_size=4, seed=3, windows_per_clip=3,
                           layout="BTCHW")
        batches = list(StatefulLoader(ds, num_workers=workers))
        check(all(isinstance(b, dict) and set(b) == {"frames", "actions", "action_mask"} for b in batches),
              f"torch {workers} workers: dicts of frames and actions")
        ref = list(WindowBatches(araw, "train", frames=6, stride=2, batch_size=4, seed=3, windows_per_clip=3))
        check(all(torch.equal(b["actions"], torch.from_numpy(r["actions"])) and
                  torch.equal(b["action_mask"], torch.from_numpy(r["action_mask"])) and
                  torch.equal(b["frames"].permute(0, 1, 3, 4, 2), torch.from_numpy(r["frames"]))
                  for b, r in zip(batches, ref)) and len(batches) == len(ref),
              f"torch {workers} workers: actions and frames = numpy's (checked against C above)")
    src = WindowSource(araw, "train", frames=6, stride=2, windows_per_clip=3, seed=1)
    for i in range(len(src)):
        r = src[i]
        check_actions(r["actions"][None], r["action_mask"][None], [0], [r["clip"]], [r["start"]], 6, 2, [araw],
                      src.set.action_channels, staged, "WindowSource")
    check(src[0]["actions"].shape == src[0]["action_mask"].shape == (6, len(src.set.action_channels)),
          "WindowSource record actions and mask (T, A)")
    some = ["held:up", "held:right", "held:nokey"]            # named channels, as token loaders take them
    nb = next(iter(WindowBatches(araw, "train", frames=6, stride=2, batch_size=4, seed=3, windows_per_clip=3,
                                 actions=some)))
    full = next(iter(WindowBatches(araw, "train", frames=6, stride=2, batch_size=4, seed=3, windows_per_clip=3)))
    un = WindowBatches(araw, "train").set.action_channels
    check(nb["actions"].shape[2] == 3 and not nb["action_mask"][:, :, 2].any() and
          np.array_equal(nb["actions"][:, :, :2], full["actions"][:, :, [un.index("held:up"), un.index("held:right")]])
          and np.array_equal(nb["action_mask"][:, :, :2],
                             full["action_mask"][:, :, [un.index("held:up"), un.index("held:right")]]),
          "actions=[names]: those columns of the union, an unknown channel masked")
    sample = Dataset(araw, "train").sample(0, 2, 6, 2)
    v, m = Dataset(araw, "train").window_actions(0, 2, 6, 2)
    check(sample["actions"].tobytes() == v.tobytes() and sample["action_mask"].tobytes() == m.tobytes(),
          "Dataset.sample: the C reader's actions")
    # without actions: as before
    b = next(iter(WindowBatches(plain, "train", frames=4, batch_size=2)))
    check("actions" not in b and WindowBatches(plain, "train").set.action_channels == [], "no actions: no keys")
    check(isinstance(next(iter(StatefulLoader(WindowDataset(plain, "train", frames=4, batch_size=2), num_workers=1))),
                     torch.Tensor), "no actions: the loader yields the frames tensor as before")
    check("actions" not in WindowSource(plain, "train", frames=4)[0], "no actions: WindowSource records as before")
    check("actions" not in next(iter(WindowBatches(araw, "train", frames=4, batch_size=2, actions=False))),
          "actions=False leaves them out")

    # --- the C mixture (cmr_mix_*) from Python: the C sequence, and an independent reimplementation
    M = (1 << 64) - 1

    def splitmix(state):
        state = (state + 0x9E3779B97F4A7C15) & M
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return state, z ^ (z >> 31)

    def draw(counts, weights, seed, k):      # docs/reader.md and reader/mix.c, written again from the text
        total = sum(weights)
        cum, acc = [], 0.0
        for w in weights:
            acc += w
            cum.append(acc / total)
        last = max(i for i, w in enumerate(weights) if w > 0)
        cum = [2.0 if i > last else (1.0 if i == last else c) for i, c in enumerate(cum)]
        _, a0 = splitmix(seed)
        state = a0 ^ ((k * 0xD1B54A32D192ED03) & M)
        state, a = splitmix(state)
        state, b = splitmix(state)
        u = (a >> 11) * 2.0 ** -53
        comp = next(i for i, c in enumerate(cum) if c > u)
        return comp, (b * counts[comp]) >> 64

    for counts, weights, seed in (([7, 7], [0.8, 0.2], 1), ([5, 100, 3], [1, 2, 7], 7), ([9, 4], [0.3, 0.7], 2**63 + 5)):
        cm = CMixture(counts, weights)
        src, idx = cm.draw(seed, np.arange(2000))
        mine = [draw(counts, weights, seed, k) for k in range(2000)]
        check(list(zip(src.tolist(), idx.tolist())) == mine,
              f"CMixture.draw = cmr_mix_draw's rule re-implemented, {counts} {weights} seed {seed}")
    for weights in ([0.8, 0.2], [0.3, 0.7]):
        it = WindowBatches([araw, ah264], "train", frames=2, batch_size=500, seed=11, weights=weights,
                           samples_per_epoch=10000, mixing="c", actions=False)
        s = np.concatenate([b["source"] for b in it])
        share = np.bincount(s, minlength=2) / len(s)
        check(len(s) == 10000 and np.abs(share - weights).max() < 0.02, f"C mixture {weights}: {share}")
        print(f"C mixture {weights}: {share.tolist()} over {len(s)} draws")
        it2 = WindowBatches([araw, ah264], "train", frames=2, batch_size=500, seed=11, weights=weights,
                            samples_per_epoch=10000, mixing="c", actions=False)
        m = it2.mixture
        c_src, c_idx = m.draw(CMixture.c_seed(11, 0), np.arange(10000))
        check(np.array_equal(c_src, s), "mixing='c': the loader's sources are the C sequence for c_seed(seed, epoch)")
    ds = WindowDataset([araw, ah264], "train", frames=2, batch_size=4, seed=1, weights=[0.5, 0.5], mixing="c",
                       samples_per_epoch=20, return_info=True, actions=False)
    a = [b["clip"].tolist() for b in StatefulLoader(ds, num_workers=2)]
    nb = WindowBatches([araw, ah264], "train", frames=2, batch_size=4, seed=1, weights=[0.5, 0.5], mixing="c",
                       samples_per_epoch=20, actions=False)
    check(a == [b["clip"].tolist() for b in nb], "mixing='c' through 2 workers = numpy")
    try:
        nb.load_state_dict(WindowBatches([araw, ah264], "train", seed=1, weights=[0.5, 0.5],
                                         samples_per_epoch=20).state_dict())
        check(False, "a quota mixture's state must not resume a C mixture")
    except ValueError:
        pass
    try:
        CMixture([3, 0], [0.5, 0.5])
        check(False, "a weighted component without clips must be refused")
    except ValueError as e:
        check("no clips" in str(e), f"the C reader's message: {e}")

    print(f"python fast: {failed} failures")
    return 1 if failed else 0


if __name__ == "__main__":
    _slots.sweep_stale()
    sys.exit(main())
