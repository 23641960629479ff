"""Python side of bench/read.sh: DataLoader (2 workers) windows/s, and PyAV
decoding the same 16-frame windows from the source MP4s as a baseline.
    read_bench.py DATASET_DIR SECONDS MP4..."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import torch  # noqa: E402
from clipmill.torch import WindowDataset  # noqa: E402

path, secs, mp4s = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
ds = WindowDataset(path, "train", frames=16, batch_size=16, layout="BTCHW", windows_per_clip=64)
loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, persistent_workers=True)
n, t0, epoch = 0, time.monotonic(), 0
while time.monotonic() - t0 < secs:
    ds.set_epoch(epoch)
    for b in loader:
        n += b.shape[0]
    epoch += 1
dt = time.monotonic() - t0
print(f"{path}: DataLoader 2 workers {n / dt:.0f} windows/s {n / dt * 16 * 90 * 160 * 3 / 1e9:.2f} GB/s")

if mp4s:
    import av
    random.seed(1)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < secs:
        f = random.choice(mp4s)
        with av.open(f) as c:
            st = c.streams.video[0]
            dur = float(st.duration * st.time_base) if st.duration else 30.0
            start = random.uniform(0, max(0.0, dur - 1.7))
            c.seek(int(start / st.time_base), stream=st)
            got, nxt = 0, start
            for fr in c.decode(st):
                t = float(fr.pts * st.time_base)
                if t + 1e-6 < nxt:
                    continue
                fr.reformat(160, 90, "rgb24").to_ndarray()
                nxt += 0.1
                got += 1
                if got == 16:
                    break
        n += 1
    dt = time.monotonic() - t0
    print(f"PyAV seek+decode+scale from source MP4s: {n / dt:.0f} windows/s (1 process)")
