"""Python side of bench/read.sh: StatefulLoader (2 workers) windows/s, its
ratio to the C reader on the same dataset (env READ_BENCH_C), workers' peak memory, and PyAV
decoding the same 16-frame windows from the source MP4s as a baseline.
Each runs in ROUNDS rounds (env READ_BENCH_ROUNDS, default 3) of at least
SECONDS/ROUNDS; the median round is reported with the range.
    read_bench.py DATASET_DIR SECONDS MP4..."""
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import torch  # noqa: E402
from clipmill.torch import StatefulLoader, WindowDataset  # noqa: E402

path, secs, mp4s = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
rounds = int(os.environ.get("READ_BENCH_ROUNDS", "3"))
c_med = float(os.environ.get("READ_BENCH_C") or 0)   # the C reader on this dataset, same run


def worker_peak_kib(it):
    """Peak resident memory (VmHWM) of the DataLoader iterator's worker processes."""
    out = []
    for w in getattr(it, "_workers", []):
        with open(f"/proc/{w.pid}/status") as f:
            out += [int(line.split()[1]) for line in f if line.startswith("VmHWM:")]
    return out


for layout in ("BTHWC", "BTCHW"):
    ds = WindowDataset(path, "train", frames=16, batch_size=16, layout=layout, windows_per_clip=16)
    loader = StatefulLoader(ds, num_workers=2, persistent_workers=True)
    epoch, rates = 0, []
    for _ in range(rounds):
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < secs / rounds:
            ds.set_epoch(epoch)
            for b in loader:
                n += b.shape[0]
            epoch += 1
        rates.append(n / (time.monotonic() - t0))
    med = statistics.median(rates)
    ratio = f", C reader (1 thread) / this: {c_med / med:.1f}x" if c_med else ""
    print(f"{path}: StatefulLoader 2 workers batch 16 {layout} median {med:.0f} windows/s "
          f"{med * 16 * 90 * 160 * 3 / 1e9:.2f} GB/s (rounds {min(rates):.0f}..{max(rates):.0f}){ratio}")

# Memory per worker does not grow with the epoch: the order is computed per batch.
peaks = {}
for wpc in (100, 100000):
    ds = WindowDataset(path, "train", frames=16, batch_size=16, layout="BTHWC", windows_per_clip=wpc)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    it = iter(loader)
    for _, b in zip(range(40), it):
        pass
    peaks[wpc] = (len(ds.core.mixture), worker_peak_kib(it))
    del it
print(f"{path}: worker peak RSS: " + "; ".join(f"{n} windows per epoch: {'/'.join(str(k // 1024) for k in p)} MiB"
                                           for n, p in peaks.values()))

if mp4s:
    import av
    random.seed(1)
    rates = []
    for _ in range(rounds):
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < secs / rounds:
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
        rates.append(n / (time.monotonic() - t0))
    print(f"PyAV seek+decode+scale from source MP4s: median {statistics.median(rates):.0f} windows/s "
          f"(rounds {min(rates):.0f}..{max(rates):.0f}, 1 process)")
