"""Feeding JAX from a clipmill dataset, two ways (docs/reader.md "numpy, grain and JAX"):
    /usr/bin/python3 python/examples/jax_windows.py corpus/datasets/NAME [STEPS]

1. grain: WindowSource is a RandomAccessDataSource; grain shuffles, shards
   and batches the record keys (used when grain is installed).
2. No grain: WindowBatches, clipmill's own numpy batch iterator with exact,
   elastic resume (state_dict / load_state_dict), sharded per JAX process.
Runs without JAX or grain too (numpy stands in for jax.device_put), so the
path from shards to arrays is checked anywhere."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402

from clipmill.numpy_source import WindowBatches, WindowSource  # noqa: E402

try:
    import jax
    device_put, rank, world = jax.device_put, jax.process_index(), jax.process_count()
except ImportError:
    device_put, rank, world = np.asarray, 0, 1


def with_grain(path, steps):
    import grain.python as grain
    src = WindowSource(path, "train", frames=16, windows_per_clip=4, seed=0)
    sampler = grain.IndexSampler(len(src), grain.ShardOptions(rank, world, drop_remainder=True), shuffle=True,
                                 num_epochs=1, seed=0)
    loader = grain.DataLoader(data_source=src, sampler=sampler, worker_count=2,
                              operations=[grain.Batch(8, drop_remainder=True)])
    for step, batch in zip(range(steps), loader):
        x = device_put(batch["frames"])          # (8, 16, 90, 160, 3) uint8
        print(f"grain step {step}: frames {x.shape}, domains {sorted(set(batch.get('domain', [])))}")


def without_grain(path, steps):
    it = WindowBatches(path, "train", frames=16, batch_size=8, seed=0, windows_per_clip=4, rank=rank,
                       world_size=world)
    state = None
    for step, batch in zip(range(steps), it):
        x = device_put(batch["frames"])          # (8, 16, 90, 160, 3) uint8
        print(f"step {step}: frames {x.shape}, clips {batch['clip'].tolist()}")
        state = json.dumps(it.state_dict())      # goes into the checkpoint
    resumed = WindowBatches(path, "train", frames=16, batch_size=8, seed=0, windows_per_clip=4, rank=rank,
                            world_size=world)
    resumed.load_state_dict(json.loads(state))
    nxt = next(iter(resumed), None)
    print("resumed at position", None if nxt is None else int(nxt["position"][0]))


def main():
    path, steps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"source: {len(WindowSource(path, 'train', frames=16, windows_per_clip=4))} records")
    try:
        with_grain(path, steps)
    except ImportError:
        print("grain is not installed: WindowBatches only")
    without_grain(path, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
