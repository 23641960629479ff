"""Token windows through Python (bench/read.sh): writes a token set of random
codes (codebook 1024, 23x40 per frame: a patch-4 tokenizer's shape on 160x92)
for every clip of DATASET unless it is there, then times 16-step windows
through clipmill.Tokens.window and through TokenWindowDataset (in-process,
batches of 32), each for SECONDS, with the ratio to the C reader's median
(READ_BENCH_C, windows/s wall, from token_bench in the same run).
    token_bench.py DATASET SECONDS [write]"""
import os
import random
import sys
import time

import numpy as np

import clipmill
from clipmill.torch import TokenWindowDataset

ds, secs = sys.argv[1], float(sys.argv[2])
if len(sys.argv) > 3:
    with clipmill.TokenWriter(ds, os.path.join(ds, "tokens", "rand"), tokenizer="random", codebook=1024,
                              patch_size=4) as tw:
        rng = np.random.default_rng(0)
        for s in ("train", "val", "test"):
            with clipmill.Dataset(ds, s) as d:
                for i in tw.missing(s):
                    tw.write(s, i, rng.integers(0, 1024, (d.frames, 23, 40), dtype=np.uint16))
    sys.exit(0)
c = float(os.environ.get("READ_BENCH_C", "nan"))
tk = clipmill.Tokens(ds, "rand", "train")
out, r, n, t0 = np.empty((16, 23, 40), np.int32), random.Random(1), 0, time.perf_counter()
c0 = time.process_time()
while time.perf_counter() - t0 < secs:
    for _ in range(100):
        i = r.randrange(len(tk))
        tk.window(i, r.randrange(tk.steps(i) - 15), 16, out=out)
    n += 100
wall, cpu = n / (time.perf_counter() - t0), n / (time.process_time() - c0)
print(f"{ds} tokens python Tokens.window: {wall:.0f} windows/s (wall), {cpu:.0f} per CPU-s; C / this: {c / wall:.2f}x")
d = TokenWindowDataset(ds, "rand", "train", steps=16, batch_size=32, windows_per_clip=1000)
n, t0, c0, epoch = 0, time.perf_counter(), time.process_time(), 0
while time.perf_counter() - t0 < secs:
    d.set_epoch(epoch)
    for b in d:
        n += len(b)
        if time.perf_counter() - t0 >= secs:
            break
    epoch += 1
wall, cpu = n / (time.perf_counter() - t0), n / (time.process_time() - c0)
print(f"{ds} tokens python TokenWindowDataset (batches of 32, in-process): {wall:.0f} windows/s (wall), {cpu:.0f} per "
      f"CPU-s; C / this: {c / wall:.2f}x")
