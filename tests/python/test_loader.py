"""Loader checks (global order, exact elastic resume, mixtures, pickling, spawn,
the numpy/grain source), run by tests/e2e/python_loader.sh with /usr/bin/python3:
    test_loader.py RAW_DATASET H264_DATASET WORKDIR
Both datasets hold the same 7 clips in train and nothing in val/test."""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.environ["CLIPMILL_SRC"], "python"))
from clipmill import Dataset  # noqa: E402
from clipmill.mixture import Mixture  # noqa: E402
from clipmill.numpy_source import WindowBatches, WindowSource  # noqa: E402
from clipmill.sampler import Permutation, RankPlan  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loader_child.py")


def run(args, kill_at=None):
    env = dict(os.environ)
    p = subprocess.Popen([sys.executable, CHILD, json.dumps(args)], env=env, start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_at is not None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120 and p.poll() is None:
            if os.path.exists(args["log"]) and len({json.loads(x)["step"] for x in open(args["log"])}) > kill_at:
                break
            time.sleep(0.02)
        os.killpg(p.pid, signal.SIGKILL)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def read_log(path, steps=None):
    rows = []
    for line in open(path):
        r = json.loads(line)
        if steps is None or r["step"] < steps:
            for i, pos in enumerate(r["position"]):
                rows.append((pos, r["source"][i], r["clip"][i], r["start"][i]))
    return rows


def main():
    raw, h264, work = sys.argv[1], sys.argv[2], sys.argv[3]
    n_clips = len(Dataset(raw, "train"))
    check(n_clips == 7, f"7 train clips, got {n_clips}")

    # --- the order: a bijection, the same at every world size, bounded memory
    for n in (1, 2, 5, 7, 64, 1000, 4097):
        check(sorted(Permutation(n, 3, 1)(np.arange(n)).tolist()) == list(range(n)), f"permutation of {n}")
    check(Permutation(1000, 3, 1)(np.arange(1000)).tolist() != Permutation(1000, 3, 2)(np.arange(1000)).tolist(),
          "another key, another permutation")
    for length, batch in ((7, 4), (56, 3), (100, 8)):
        for world in (1, 2, 3, 5):
            for drop in (False, True):
                plans = [RankPlan(length, batch, r, world, 0, drop) for r in range(world)]
                got = sorted(int(p) for pl in plans for b in range(pl.batches) for p in pl.positions(b))
                want = length if not drop else length // (batch * world) * batch * world
                check(got == list(range(want)), f"ranks cover positions once: {length}/{batch}/{world}/{drop}")
                if drop:
                    check(len({pl.batches for pl in plans}) == 1, "drop_last: every rank the same batches")
    tracemalloc.start()
    m = Mixture([10 ** 9, 3 * 10 ** 8], [0.7, 0.3], seed=5, length=10 ** 12)
    pl = RankPlan(10 ** 12, 64, 17, 1000, start=123456789)
    m.locate(pl.positions(pl.batches // 2), epoch=9)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    check(peak < 2 << 20, f"one batch of a 10^12-position epoch takes {peak} bytes (< 2 MiB)")
    print(f"order memory: one batch of a 10^12-position mixture epoch: peak {peak / 1024:.0f} KiB")

    # --- mixtures: proportions within 2% of the weights over 10k draws, read through the loader
    for weights in ([0.8, 0.2], [0.3, 0.7]):
        it = WindowBatches([raw, h264], "train", frames=2, batch_size=500, seed=11, weights=weights,
                           samples_per_epoch=10000)
        src = np.concatenate([b["source"] for b in it])
        share = np.bincount(src, minlength=2) / len(src)
        check(len(src) == 10000 and np.abs(share - weights).max() < 0.02, f"mixture {weights}: {share} over {len(src)}")
        print(f"mixture {weights}: {share.tolist()} over {len(src)} draws")
    a1 = Mixture([7, 7], [0.8, 0.2], seed=1, length=500).locate(np.arange(500), 0)
    a2 = Mixture([7, 7], [0.8, 0.2], seed=1, length=500).locate(np.arange(500), 0)
    a3 = Mixture([7, 7], [0.8, 0.2], seed=2, length=500).locate(np.arange(500), 0)
    check(all(np.array_equal(x, y) for x, y in zip(a1, a2)), "a mixture is deterministic per seed")
    check(not np.array_equal(a1[0], a3[0]), "another seed, another mixture")
    d0 = a1[1][a1[0] == 0]
    check(sorted(d0[:7].tolist()) == list(range(7)) and sorted(d0[7:14].tolist()) == list(range(7)),
          "a source's draws go through all its samples before repeating")
    it = WindowBatches([raw, h264], "train", frames=16, batch_size=4, seed=0, weights=[0.5, 0.5], samples_per_epoch=8)
    for b in it:
        for i in range(len(b["clip"])):
            ref = Dataset((raw, h264)[b["source"][i]], "train").window(int(b["clip"][i]), int(b["start"][i]), 16)
            check(np.array_equal(b["frames"][i], ref), "a mixed batch holds the windows it names")
    try:
        WindowBatches([raw, h264], "train", weights=[1.0])
        check(False, "one weight for two datasets must be refused")
    except ValueError:
        pass

    # --- 7 clips, batch 4, any workers: 7 windows in batches of 4 and 3 (one short batch, globally)
    import torch
    from clipmill.torch import StatefulLoader, WindowDataset

    ref = list(WindowBatches(raw, "train", frames=4, batch_size=4, seed=3))
    check([len(b["clip"]) for b in ref] == [4, 3], f"numpy batches {[len(b['clip']) for b in ref]}")
    for workers in (0, 1, 2, 3):
        ds = WindowDataset(raw, "train", frames=4, batch_size=4, seed=3, return_info=True)
        got = list(StatefulLoader(ds, num_workers=workers))
        check([len(b["clip"]) for b in got] == [4, 3], f"{workers} workers: batches {[len(b['clip']) for b in got]}")
        check(len(ds) == 2, f"__len__ {len(ds)}")
        check(all(torch.equal(g["clip"], torch.from_numpy(r["clip"])) and torch.equal(g["start"], torch.from_numpy(
            r["start"])) and torch.equal(g["frames"].permute(0, 1, 3, 4, 2), torch.from_numpy(r["frames"]))
            for g, r in zip(got, ref)), f"{workers} workers: the same windows in the same order as numpy")
    # world 2: the same global order dealt out; drop_last by default keeps the ranks in step
    per_rank = [list(WindowBatches(raw, "train", frames=4, batch_size=2, seed=3, rank=r, world_size=2))
                for r in range(2)]
    check(sorted(int(p) for r in per_rank for b in r for p in b["position"]) == list(range(7)), "world 2 covers 7")
    ds0 = WindowDataset(raw, "train", frames=4, batch_size=2, seed=3, rank=0, world_size=2)
    ds1 = WindowDataset(raw, "train", frames=4, batch_size=2, seed=3, rank=1, world_size=2)
    check(len(ds0) == len(ds1) == 1 and len(list(ds0)) == len(list(ds1)) == 1, "world 2: 1 step each (drop_last)")

    # --- kill a training loop mid-epoch, resume at other worker counts and world sizes
    rng = np.random.default_rng(2026)     # fixed: the kill steps are chosen before any result


    scenarios = [
        # (name, dataset args, first run (workers, world), resumes (workers, world))
        ("one dataset", {"paths": [raw], "wpc": 8, "batch": 2, "frames": 4}, (2, 2), [(1, 1), (2, 3), (3, 1)]),
        ("a mixture", {"paths": [raw, h264], "weights": [0.7, 0.3], "samples": 48, "wpc": 2, "batch": 3, "frames": 4},
         (3, 1), [(1, 2), (2, 1)]),
    ]
    for name, dargs, first, resumes in scenarios:
        base = dict(dargs, seed=7, epoch=2, sleep=0.05)
        ref = WindowBatches(dargs["paths"], "train", frames=dargs["frames"], batch_size=5, seed=7,
                            windows_per_clip=dargs["wpc"], weights=dargs.get("weights"),
                            samples_per_epoch=dargs.get("samples"))
        ref.set_epoch(2)     # the uninterrupted epoch (the loader's order is numpy's: checked above)
        epoch = sorted((int(p), int(s), int(c), int(t)) for b in ref
                       for p, s, c, t in zip(b["position"], b["source"], b["clip"], b["start"]))
        length = dargs.get("samples") or n_clips * dargs["wpc"]
        check([r[0] for r in epoch] == list(range(length)), f"{name}: one epoch is every position once")
        kill_at = int(rng.integers(2, 8))
        log, ckpt = os.path.join(work, f"killed-{name[0]}.log"), os.path.join(work, f"killed-{name[0]}.ckpt")
        rc, _, err = run(dict(base, workers=first[0], world=first[1], log=log, ckpt=ckpt), kill_at=kill_at)
        check(rc == -signal.SIGKILL, f"{name}: killed at step {kill_at} (rc {rc}) {err[-500:]}")
        saved = json.load(open(ckpt))
        before = read_log(log, saved["steps"])
        print(f"{name}: killed after {len({json.loads(x)['step'] for x in open(log)})} steps at workers {first[0]} "
              f"world {first[1]}; checkpoint at step {saved['steps']}, {saved['state']['consumed']} of {length} consumed")
        check(0 < saved["state"]["consumed"] < length, f"{name}: killed mid-epoch ({saved['state']['consumed']})")
        for workers, world in resumes:
            rlog = os.path.join(work, f"resume-{name[0]}-{workers}-{world}.log")
            shutil.copy(ckpt, ckpt + f".{workers}{world}")   # each resume starts from the same checkpoint
            rc, _, err = run(dict(base, workers=workers, world=world, log=rlog, ckpt=ckpt + f".{workers}{world}",
                                  resume=True))
            check(rc == 0, f"{name}: resume at {workers} workers world {world}: {err[-2000:]}")
            union = before + read_log(rlog)
            positions = [r[0] for r in union]
            check(len(positions) == len(set(positions)), f"{name}: resume {workers}/{world}: no duplicates")
            check(sorted(union) == epoch, f"{name}: resume {workers}/{world}: union = one uninterrupted epoch")
            print(f"{name}: resumed at workers {workers} world {world}: {len(before)} + {len(union) - len(before)} "
                  f"= {len(union)} windows, {len(positions) - len(set(positions))} duplicates")

    # --- stop after state_dict at a random step, in process (numpy), other batch size and world
    it = WindowBatches(raw, "train", frames=4, batch_size=3, seed=9, windows_per_clip=5)
    it.set_epoch(4)
    full = [(int(p), int(c), int(s)) for b in it for p, c, s in zip(b["position"], b["clip"], b["start"])]
    stop = int(rng.integers(1, len(it) - 1))
    it.set_epoch(5)
    it.set_epoch(4)
    taken = []
    for k, b in enumerate(it):
        taken += [(int(p), int(c), int(s)) for p, c, s in zip(b["position"], b["clip"], b["start"])]
        if k + 1 == stop:
            state = it.state_dict()
            break
    state = pickle.loads(pickle.dumps(state))
    for r in range(2):
        it2 = WindowBatches(raw, "train", frames=4, batch_size=2, seed=9, windows_per_clip=5, rank=r, world_size=2)
        it2.load_state_dict(state)
        it2.set_epoch(4)
        taken += [(int(p), int(c), int(s)) for b in it2 for p, c, s in zip(b["position"], b["clip"], b["start"])]
    check(sorted(taken) == sorted(full) and len(taken) == len(full),
          f"numpy: stop at batch {stop}, resume at world 2 batch 2: the epoch exactly")
    try:
        WindowBatches(raw, "train", frames=4, batch_size=3, seed=10, windows_per_clip=5).load_state_dict(state)
        check(False, "a state for another seed must be refused")
    except ValueError:
        pass

    # --- pickling and spawn
    ds = WindowDataset([raw, h264], "train", frames=4, batch_size=3, seed=1, weights=[0.5, 0.5], return_info=True)
    ds2 = pickle.loads(pickle.dumps(ds))
    check(torch.equal(next(iter(ds2))["frames"], next(iter(ds))["frames"]), "WindowDataset pickles")
    fork = list(StatefulLoader(ds, num_workers=2))
    spawn = list(StatefulLoader(ds, num_workers=2, multiprocessing_context="spawn"))
    check(len(fork) == len(spawn) and all(torch.equal(a["frames"], b["frames"]) and torch.equal(a["clip"], b["clip"])
                                          for a, b in zip(fork, spawn)), "a spawn DataLoader yields what fork does")
    # persistent workers see set_epoch and load_state_dict (shared memory)
    pers = StatefulLoader(ds, num_workers=2, persistent_workers=True)
    ds.set_epoch(0)
    e0 = [b["clip"].tolist() for b in pers]
    ds.set_epoch(1)
    e1 = [b["clip"].tolist() for b in pers]
    check(e0 != e1, "persistent workers reshuffle per epoch")
    nb = WindowBatches([raw, h264], "train", frames=4, batch_size=3, seed=1, weights=[0.5, 0.5])
    nb.set_epoch(1)
    check(e1 == [b["clip"].tolist() for b in nb], "persistent workers: epoch 1 as numpy's epoch 1")
    nb.set_epoch(1)
    for k, _ in zip(range(2), nb):
        pass
    ds.load_state_dict(nb.state_dict())
    check([b["clip"].tolist() for b in pers] == e1[2:], "persistent workers: load_state_dict resumes")

    # --- numpy random-access source (grain's RandomAccessDataSource protocol)
    src = WindowSource(raw, "train", frames=8, windows_per_clip=3, seed=4)
    check(len(src) == 21, f"len {len(src)}")
    rec = src[5]
    check(isinstance(rec, dict) and all(isinstance(v, (np.ndarray, np.generic)) for v in rec.values()),
          "a record is a dict of numpy values")
    check(rec["frames"].shape == (8, 90, 160, 3) and rec["frames"].dtype == np.uint8, f"frames {rec['frames'].shape}")
    check(int(rec["clip"]) == 1 and str(rec["clip_id"]) == Dataset(raw, "train").clip_id(1), "record 5 is clip 1")
    check(np.array_equal(rec["frames"], Dataset(raw, "train").window(1, int(rec["start"]), 8)), "record frames")
    check(np.array_equal(src[-1]["frames"], src[20]["frames"]), "negative index")
    try:
        src[21]
        check(False, "record past the end must fail")
    except IndexError:
        pass
    cols = Dataset(raw, "train").metadata()      # the dataset's own metadata: every column in the record
    same = [k for k in cols if k != "frames" and k in rec and (
        rec[k] == cols[k][1] or (rec[k].dtype.kind == "f" and np.isnan(rec[k]) and np.isnan(cols[k][1])))]
    check(len(same) == len(cols) - 1 and "title" in same and "domain" in same,
          f"record metadata = metadata() row: {sorted(set(cols) - set(same))} differ")
    check(all(src[i].keys() == rec.keys() for i in (0, 20)), "every record has the same keys")
    src2 = pickle.loads(pickle.dumps(src))
    check(np.array_equal(src2[5]["frames"], rec["frames"]) and repr(src2) == repr(src), "WindowSource pickles")
    # what grain does with it: shuffled, sharded record keys, records batched with np.stack
    keys = np.random.default_rng(0).permutation(len(src))[0::2]
    batch = {k: np.stack([src[int(i)][k] for i in keys[:4]]) for k in rec}
    check(batch["frames"].shape == (4, 8, 90, 160, 3), f"stacked batch {batch['frames'].shape}")
    whole = WindowSource(raw, "train", frames=None)
    check(whole[0]["frames"].shape == (160, 90, 160, 3) and np.array_equal(whole[0]["frames"], Dataset(raw, "train")[0]),
          "frames=None: whole clips")

    # --- empty splits warn
    for split in ("val", "test"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            e = WindowBatches(raw, split)
            check(any("has no clips" in str(x.message) for x in w), f"{split}: empty split warns")
            check(len(e) == 0 and list(e) == [], f"{split}: empty loader")

    print(f"python loader: {failed} failures")
    return 1 if failed else 0


if __name__ == "__main__":   # spawn workers import this file: no test at import
    sys.exit(main())
