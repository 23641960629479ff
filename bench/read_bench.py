"""Python side of bench/read.sh: StatefulLoader (2 workers, persistent, after
one warm-up epoch) windows/s, its ratio to the C reader on the same dataset
(env READ_BENCH_C), workers' memory, metadata per window, and PyAV
decoding the same 16-frame windows from the source MP4s as a baseline.
Each runs in ROUNDS rounds (env READ_BENCH_ROUNDS, default 3) of at least
SECONDS/ROUNDS; the median round is reported with the range. With env
READ_BENCH_RB (the read_bench binary) each loader round follows a round of
the C reader on the same dataset, and the ratios are of those pairs: on a
shared machine only rates measured side by side compare.
    read_bench.py DATASET_DIR SECONDS MP4..."""
import os
import random
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import torch  # noqa: E402
from clipmill.torch import StatefulLoader, WindowDataset  # noqa: E402

path, secs, mp4s = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
rounds = int(os.environ.get("READ_BENCH_ROUNDS", "3"))
c_med = float(os.environ.get("READ_BENCH_C") or 0)   # the C reader on this dataset, same run


def worker_memory_kib(it):
    """Per DataLoader worker of iterator it: peak resident memory (VmHWM) and
    its parts now (anonymous, file-backed: the shards' memory map, shared
    memory: the batch slots), from /proc/PID/status."""
    out = []
    for w in getattr(it, "_workers", []):
        with open(f"/proc/{w.pid}/status") as f:
            st = {line.split(":")[0]: int(line.split()[1]) for line in f if line.startswith(("VmHWM", "Rss"))}
        out.append((st["VmHWM"], st.get("RssAnon", 0), st.get("RssFile", 0), st.get("RssShmem", 0)))
    return out


WPC = 64     # windows per clip: 1,024 windows per epoch of the 16 clips


def cpu_seconds(pids):
    """User + system CPU seconds of processes so far (/proc/PID/stat)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def c_round(seconds):
    """One round of the C reader (bench/read_bench.c, env READ_BENCH_RB) on
    this dataset now: (windows/s wall, windows per CPU-s), or None."""
    rb = os.environ.get("READ_BENCH_RB")
    if not rb:
        return None
    out = subprocess.run([rb, path, "train", str(seconds), "1"], capture_output=True, text=True).stdout
    m = re.search(r"train reader: median (\d+) windows/s .*\| (\d+) windows per CPU-s", out)
    return (float(m.group(1)), float(m.group(2))) if m else None


def loader_rate(layout, workers):
    """Rounds of the loader, each right after a round of the C reader on the
    same dataset (the machine is shared: only rates measured side by side
    compare). Per round: windows/s (wall) and per CPU-second of the training
    process and its workers together."""
    ds = WindowDataset(path, "train", frames=16, batch_size=16, layout=layout, windows_per_clip=WPC)
    loader = StatefulLoader(ds, num_workers=workers, persistent_workers=workers > 0)
    ds.set_epoch(0)
    for b in loader:          # warm-up: workers start, map the shards, make their slots
        pass
    pids = [os.getpid()] + [w.pid for w in getattr(loader.iterator, "_workers", [])]
    epoch, rows = 1, []
    for _ in range(rounds):
        c = c_round(max(1, round(secs / rounds / 2)))
        n, t0, c0 = 0, time.monotonic(), cpu_seconds(pids)
        while time.monotonic() - t0 < secs / rounds:
            ds.set_epoch(epoch)
            for b in loader:
                n += b.shape[0]
            epoch += 1
        wall, cpu = n / (time.monotonic() - t0), n / max(1e-9, cpu_seconds(pids) - c0)
        rows.append((wall, cpu, c))
    return rows, loader


def report(what, rows):
    wall = [r[0] for r in rows]
    cpu = [r[1] for r in rows]
    line = (f"{path}: {what} median {statistics.median(wall):.0f} windows/s (rounds {min(wall):.0f}.."
            f"{max(wall):.0f}), {statistics.median(cpu):.0f} per CPU-s of all its processes")
    paired = [r for r in rows if r[2]]
    if paired:
        rw = [r[2][0] / r[0] for r in paired]
        rc = [r[2][1] / r[1] for r in paired]
        line += (f"; C reader (1 thread) in the rounds between: {statistics.median([r[2][0] for r in paired]):.0f} "
                 f"windows/s, {statistics.median([r[2][1] for r in paired]):.0f} per CPU-s; C / this: "
                 f"{statistics.median(rw):.2f}x wall ({min(rw):.2f}..{max(rw):.2f}), "
                 f"{statistics.median(rc):.2f}x per CPU-s")
    elif c_med:
        line += f"; C reader (1 thread) / this: {c_med / statistics.median(wall):.2f}x (wall, earlier in the run)"
    print(line, flush=True)


for layout in ("BTHWC", "BTCHW"):
    rows, loader = loader_rate(layout, 2)
    report(f"StatefulLoader 2 workers batch 16 {layout}", rows)
    del loader

# In the training process itself (num_workers=0): buffers reused, no IPC, one reading thread.
rows, loader = loader_rate("BTHWC", 0)
report("StatefulLoader 0 workers (in process) batch 16 BTHWC", rows)
del loader

# Memory per worker does not grow with the epoch: the order is computed per batch.
peaks = {}
for wpc in (100, 100000):
    ds = WindowDataset(path, "train", frames=16, batch_size=16, layout="BTHWC", windows_per_clip=wpc)
    loader = StatefulLoader(ds, num_workers=2)
    gen = iter(loader)
    for _, b in zip(range(40), gen):
        pass
    peaks[wpc] = (len(ds.core.mixture), worker_memory_kib(loader.iterator))
    gen.close()
print(f"{path}: StatefulLoader worker memory after 40 batches (peak RSS; now anonymous + shards' map + slots), "
      "MiB: " + "; ".join(f"{n} windows per epoch: " + ", ".join(
          f"{h // 1024} ({a // 1024} + {f // 1024} + {m // 1024})" for h, a, f, m in p) for n, p in peaks.values()))

# Metadata per window in Python: ds.meta(i) (cmr_clip_meta + JSON) against a window read.
from clipmill import Dataset  # noqa: E402
with Dataset(path, "train") as d:
    try:
        d.meta(0)
        rng = random.Random(2)
        picks = [(rng.randrange(len(d)), rng.randrange(d.frames - 15)) for _ in range(2000)]
        buf = d.window(0, 0, 16)
        cost = {}
        for what in ("window", "window + meta"):
            ts = []
            for _ in range(max(rounds, 5)):
                t0 = time.process_time()
                for i, st in picks:
                    d.window(i, st, 16, out=buf)
                    if what != "window":
                        d.meta(i)
                ts.append((time.process_time() - t0) / len(picks))
            cost[what] = statistics.median(ts)
        print(f"{path}: Python per window (CPU): window {cost['window'] * 1e6:.1f} us, with ds.meta(i) "
              f"{cost['window + meta'] * 1e6:.1f} us: metadata {(cost['window + meta'] - cost['window']) * 1e6:.1f} "
              f"us per window (ds.metadata() once: columns indexed per window instead)")
    except Exception as e:    # a dataset of format 1: no metadata
        print(f"{path}: no per-window metadata cost ({e})")

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
