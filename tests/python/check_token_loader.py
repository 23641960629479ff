"""Token windows through the loaders (tests/e2e/tokens.sh): the same global
order as numpy's WindowBatches, each window its clip's steps (never across
clips) with the clip's actions, an epoch killed mid-way and resumed from
state_dict at other worker counts and world sizes with nothing repeated or
skipped, a weighted mixture of two token sets, pickling.
argv: DATASET TOKENS_DIR. Prints one line per check, 'N checks, M failed' last."""
import pickle
import sys

import numpy as np
import torch

from check_tokens import tokens_of
from clipmill.numpy_source import WindowBatches
from clipmill.torch import StatefulLoader, TokenWindowDataset

FAILED, CHECKS = 0, 0


def check(desc, ok):
    global FAILED, CHECKS
    CHECKS += 1
    FAILED += not ok
    print(("ok   " if ok else "FAIL ") + desc, flush=True)


def keys(batch):
    return list(zip(batch["source"].tolist(), batch["clip"].tolist(), batch["start"].tolist(),
                    batch["position"].tolist()))


def windows_ok(batch, paths_clips=None):
    """Every window equals its clip's steps start .. start+T (a clip of the test's tokens)."""
    tok = batch["tokens"].numpy() if hasattr(batch["tokens"], "numpy") else batch["tokens"]
    for k in range(len(tok)):
        c, s = int(batch["clip"][k]), int(batch["start"][k])
        if paths_clips is not None:
            c = paths_clips[int(batch["source"][k])][c]
        want = tokens_of("train", c, 1024)[s:s + tok.shape[1]]
        if want.shape != tok[k].shape or not np.array_equal(want, tok[k]):
            return False
    return True


def main():
    ds, tok = sys.argv[1], sys.argv[2]
    wpc = 20                           # 7 clips x 20 windows: 140 positions, batches of 8
    ref = WindowBatches(ds, "train", frames=16, batch_size=8, seed=3, windows_per_clip=wpc, tokens=tok,
                        actions=["held:right", "held:jump", "held:nokey"])
    ref.set_epoch(1)
    full = [b for b in ref]
    want = [k for b in full for k in keys(b)]
    check(f"numpy: {len(full)} batches of (8, 16, 23, 40) int32",
          full[0]["tokens"].shape == (8, 16, 23, 40) and full[0]["tokens"].dtype == np.int32)
    check("numpy: every window is its clip's steps", all(windows_ok(b) for b in full))
    check("numpy: one epoch covers every position once", sorted(k[3] for k in want) == list(range(140)))
    acts = sum(int(b["action_mask"][:, :, :2].sum()) for b in full)
    check(f"actions carried ({acts} known values), an unknown channel masked",
          acts > 0 and all(int(b["action_mask"][:, :, 2].sum()) == 0 for b in full) and
          full[0]["actions"].shape == (8, 16, 3))

    for workers in (0, 2):
        d = TokenWindowDataset(ds, tok, "train", steps=16, batch_size=8, seed=3, windows_per_clip=wpc,
                               return_info=True)
        d.set_epoch(1)
        got = [b for b in StatefulLoader(d, num_workers=workers)]
        check(f"torch, {workers} workers: the numpy order", [k for b in got for k in keys(b)] == want)
        check(f"torch, {workers} workers: windows equal", all(windows_ok(b) for b in got) and
              got[0]["tokens"].dtype == torch.int32)

    # Killed after 5 batches (2 workers, world 1), resumed at other worker counts and world sizes.
    d = TokenWindowDataset(ds, tok, "train", steps=16, batch_size=8, seed=3, windows_per_clip=wpc, return_info=True)
    d.set_epoch(1)
    first, loader = [], StatefulLoader(d, num_workers=2)
    for b in loader:
        first += keys(b)
        if len(first) == 40:
            break
    state = pickle.loads(pickle.dumps(loader.state_dict()))
    for workers, world in ((1, 1), (0, 2), (3, 3)):
        rest = []
        for rank in range(world):
            r = TokenWindowDataset(ds, tok, "train", steps=16, batch_size=8, seed=3, windows_per_clip=wpc,
                                   return_info=True, rank=rank, world_size=world, drop_last=False)
            r.load_state_dict(state)
            rest += [k for b in StatefulLoader(r, num_workers=workers) for k in keys(b)]
        union = first + rest
        check(f"resumed at {workers} workers, world {world}: {len(first)} + {len(rest)} windows, the epoch exactly",
              sorted(union) == sorted(want) and len(set(union)) == len(union))
    try:
        WindowBatches(ds, "train", frames=16, batch_size=8, seed=3, windows_per_clip=wpc).load_state_dict(state)
        check("a token state does not load into a frame loader", False)
    except ValueError:
        check("a token state does not load into a frame loader", True)

    # A mixture: the dataset and its subset (odd clips), 0.8 / 0.2.
    sub = ds + "@odd"
    m = WindowBatches([ds, sub], "train", frames=8, batch_size=50, seed=1, weights=[0.8, 0.2],
                      samples_per_epoch=2000, tokens=tok)
    odd = [1, 3, 5]
    got = [b for b in m]
    share = np.mean(np.concatenate([b["source"] for b in got]) == 0)
    check(f"mixture 0.8/0.2 over 2000 windows: {share:.3f} from the first", abs(share - 0.8) < 0.03)
    check("mixture: every window its clip's steps", all(windows_ok(b, {0: list(range(7)), 1: odd}) for b in got))
    print(f"{CHECKS} checks, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
