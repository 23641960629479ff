"""Python reader checks, run by tests/e2e/shard_python.sh with /usr/bin/python3:
    test_reader.py DATASET_DIR REF_DIR CODEC
REF_DIR holds <clip_id>.rgb exported from staging (clipmill-ingest export --raw)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ["CLIPMILL_SRC"], "python"))
from clipmill import Dataset, ReaderError  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


dataset, ref_dir, codec = sys.argv[1], sys.argv[2], sys.argv[3]
total = 0
for split in ("train", "val", "test"):
    ds = Dataset(dataset, split)
    check(ds.codec == codec, f"codec {ds.codec}")
    total += len(ds)
    for i in range(len(ds)):
        clip = ds[i]
        check(clip.shape == (160, 90, 160, 3), f"shape {clip.shape}")
        ref = np.fromfile(os.path.join(ref_dir, ds.clip_id(i) + ".rgb"), np.uint8).reshape(clip.shape)
        if codec == "raw":
            check(np.array_equal(clip, ref), f"{split}[{i}] equals staging byte for byte")
        else:
            check(psnr(clip, ref) > 38, f"{split}[{i}] h264 PSNR {psnr(clip, ref):.1f} dB")
        for start, stride in ((0, 1), (17, 1), (144, 1), (5, 3), (0, 10)):
            w = ds.window(i, start, 16, stride)
            check(np.array_equal(w, clip[start:start + 16 * stride:stride]), f"window {start}/{stride}")
        wp = ds.window(i, 7, 16, 1, pad_to=4)
        check(wp.shape == (16, 92, 160, 3), "padded shape")
        check(np.array_equal(wp[:, :90], clip[7:23]) and not wp[:, 90:].any(), "padding is zero rows at the bottom")
    if len(ds):
        for bad in ((145, 1), (0, 11), (-1, 1)):
            try:
                ds.window(0, bad[0], 16, bad[1])
                check(False, f"window {bad} crossing the clip boundary must fail")
            except ReaderError as e:
                check("does not fit" in str(e), f"error names the window: {e}")
        try:
            ds[len(ds)]
            check(False, "index past the end must fail")
        except IndexError:
            pass
    ds.close()

# pickle: (path, split), reopened on unpickling (spawn workers, grain)
import pickle  # noqa: E402
with Dataset(dataset, "train") as ds:
    ds2 = pickle.loads(pickle.dumps(ds))
    check((ds2.path, ds2.split, len(ds2)) == (ds.path, ds.split, len(ds)), "pickle keeps path, split, length")
    if len(ds):
        check(np.array_equal(ds2[len(ds) - 1], ds[len(ds) - 1]) and ds2.clip_id(0) == ds.clip_id(0),
              "unpickled dataset reads the same clip and id")
    ds2.close()

# PyTorch: DataLoader with 2 workers, per-epoch shuffle, rank split.
try:
    import torch
    from clipmill.torch import WindowDataset
except ImportError as e:  # python3-torch missing: the numpy part still ran
    print("skipping torch checks:", e)
    torch = None

if torch is not None:
    ds = WindowDataset(dataset, "train", frames=16, batch_size=2, seed=3, layout="BTCHW", pad_to=4,
                       drop_last=False)
    n_train = len(Dataset(dataset, "train"))
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    seen = []
    for b in loader:
        check(b.dtype == torch.uint8 and tuple(b.shape[1:]) == (16, 3, 92, 160), f"batch {tuple(b.shape)}")
        seen.append(b.shape[0])
    check(sum(seen) == n_train, f"one window per clip per epoch: {sum(seen)} vs {n_train}")

    def clips(ds):
        return [c for b in ds for c in b["clip"].tolist()]
    di = WindowDataset(dataset, "train", frames=16, batch_size=2, seed=3, return_info=True)
    e0 = clips(di)
    di.set_epoch(1)
    e1 = clips(di)
    check(sorted(e0) == sorted(e1) == list(range(n_train)), "every clip once per epoch")
    if n_train > 3:
        check(e0 != e1, "reshuffled per epoch")
    parts = []
    for r in range(2):
        os.environ["RANK"], os.environ["WORLD_SIZE"] = str(r), "2"
        parts.append(set(clips(WindowDataset(dataset, "train", frames=16, batch_size=1, seed=3, return_info=True))))
    del os.environ["RANK"], os.environ["WORLD_SIZE"]
    check(not (parts[0] & parts[1]), "ranks get disjoint clips")
    check(len(parts[0]) == len(parts[1]) == n_train // 2, "ranks get equal shares (drop_last at world 2)")
    hwc = next(iter(WindowDataset(dataset, "train", frames=8, batch_size=1, layout="BTHWC")))
    check(tuple(hwc.shape) == (1, 8, 90, 160, 3), f"BTHWC {tuple(hwc.shape)}")

print(f"python reader: {total} clips, {failed} failures")
sys.exit(1 if failed else 0)
