"""The numpy baseline of bench/rollout.sh: the same PSNR and SSIM as
clipmill-eval rollout (docs/eval.md) over the same frames, vectorised over
batches of 16 frames (faster here than 1, 4 or 64) with summed-area tables from np.cumsum (the fast way in
plain numpy; tests/python/rollout_reference.py's sliding windows are slower),
in rounds; prints the median frames per second (wall and per CPU-second of
this process) and, with ROLLOUT_BENCH_C (the C median per CPU-second from the
same run), the ratio. The checksum (sum of every PSNR and SSIM) must equal
rollout_bench's to about 1e-6 per frame.
  rollout_bench.py TRUTH.rgb PRED.rgb HEIGHT WIDTH SECONDS [ROUNDS]"""
import os
import statistics
import sys
import time

import numpy as np

K, PSNR_MAX = 7, 100.0
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def box(x):
    """Sums over every 7x7 window inside the frame, per channel: (B, H-6, W-6, 3)."""
    c = np.pad(x.cumsum(axis=1).cumsum(axis=2), ((0, 0), (1, 0), (1, 0), (0, 0)))
    return c[:, K:, K:] - c[:, :-K, K:] - c[:, K:, :-K] + c[:, :-K, :-K]


def metrics(a, b):
    """PSNR and SSIM of each frame pair of two (B, H, W, 3) uint8 batches."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    mse = ((x - y) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        psnr = np.minimum(PSNR_MAX, 10 * np.log10(255.0 ** 2 / mse))
    n = K * K
    ux, uy = box(x) / n, box(y) / n
    norm = n / (n - 1)
    vx = norm * (box(x * x) / n - ux * ux)
    vy = norm * (box(y * y) / n - uy * uy)
    vxy = norm * (box(x * y) / n - ux * uy)
    s = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))
    return psnr, s.mean(axis=(1, 2)).mean(axis=1)


def main():
    truth_path, pred_path, h, w, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    truth = np.fromfile(truth_path, np.uint8).reshape(-1, h, w, 3)
    pred = np.fromfile(pred_path, np.uint8).reshape(-1, h, w, 3)
    n, batch = len(truth), 16
    check = 0.0
    for i in range(0, n, batch):
        p, s = metrics(pred[i:i + batch], truth[i:i + batch])
        check += p.sum() + s.sum()
    print(f"numpy (cumsum summed areas, batches of {batch}): {n} frame pairs, {rounds} rounds of {seconds} s;"
          f" checksum {check:.9f}")
    wall, cpu = [], []
    for _ in range(rounds):
        w0, c0, done = time.perf_counter(), time.process_time(), 0
        while True:
            for i in range(0, n, batch):
                metrics(pred[i:i + batch], truth[i:i + batch])
            done += n
            if time.perf_counter() - w0 >= seconds:
                break
        wall.append(done / (time.perf_counter() - w0))
        cpu.append(done / (time.process_time() - c0))
    m, mc = statistics.median(wall), statistics.median(cpu)
    line = f"numpy PSNR+SSIM median {m:9.0f} frames/s wall, {mc:9.0f} frames per CPU-second ({1e6 / mc:.1f} us a frame)"
    c = os.environ.get("ROLLOUT_BENCH_C")
    if c:
        line += f"; C PSNR+SSIM / numpy {float(c) / mc:.1f}x"
    print(line)


if __name__ == "__main__":
    main()
