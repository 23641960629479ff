"""Independent numpy computation of clipmill-eval rollout's metrics (the
definitions of docs/eval.md), for tests/e2e/rollout_generated.sh.

  rollout_reference.py make TRUTH_DIR PRED_DIR RANDOM_DIR
      writes predictions from the real clips TRUTH_DIR/CLIP.rgb (160x90):
      noisy copies, one exact copy, one .rgb; RANDOM_DIR gets noisier ones.
  rollout_reference.py check TRUTH_DIR PRED_DIR RANDOM_DIR JSON
      recomputes the curves in numpy and compares them with the tool's JSON
      to 1e-6; exits 1 on any difference.
"""
import json
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

H, W = 90, 160
PSNR_MAX = 100.0


def truth(truth_dir, clip):
    a = np.fromfile(os.path.join(truth_dir, f"{clip}.rgb"), dtype=np.uint8)
    return a.reshape(-1, H, W, 3)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    if mse == 0:
        return PSNR_MAX
    return min(PSNR_MAX, 10 * np.log10(255.0 ** 2 / mse))


def ssim(a, b):
    # scikit-image's structural_similarity(a, b, channel_axis=2, data_range=255):
    # uniform 7x7 window, sample covariance, mean over windows inside the frame.
    c1, c2, k = (0.01 * 255) ** 2, (0.03 * 255) ** 2, 7
    n = k * k
    out = []
    for c in range(3):
        x = sliding_window_view(a[:, :, c].astype(np.float64), (k, k))
        y = sliding_window_view(b[:, :, c].astype(np.float64), (k, k))
        ux, uy = x.mean(axis=(2, 3)), y.mean(axis=(2, 3))
        vx = ((x - ux[..., None, None]) ** 2).sum(axis=(2, 3)) / (n - 1)
        vy = ((y - uy[..., None, None]) ** 2).sum(axis=(2, 3)) / (n - 1)
        vxy = ((x - ux[..., None, None]) * (y - uy[..., None, None])).sum(axis=(2, 3)) / (n - 1)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        out.append(s.mean())
    return float(np.mean(out))


def noisy(frames, rng, sigma):
    n = rng.normal(0, sigma, frames.shape)
    return np.clip(frames.astype(np.float64) + n, 0, 255).astype(np.uint8)


def make(truth_dir, pred_dir, random_dir):
    rng = np.random.default_rng(1234)
    clips = sorted(int(f[:-4]) for f in os.listdir(truth_dir) if f.endswith(".rgb"))
    os.makedirs(pred_dir, exist_ok=True)
    os.makedirs(random_dir, exist_ok=True)
    for i, clip in enumerate(clips):
        real = truth(truth_dir, clip)
        for start, t in ((0, 8), (40, 16), (150, 10)):
            name = f"{clip}_{start}"
            # Error growing over the rollout, as a model's does.
            pred = np.stack([noisy(real[start + k], rng, 2 + 2 * k) for k in range(t)])
            if i == 0 and start == 0:
                pred = real[start:start + t].copy()  # exact: PSNR capped, SSIM 1
            rand = np.stack([noisy(real[start + k], rng, 6 + 4 * k) for k in range(t)])
            if i == 0 and start == 40:
                pred.tofile(os.path.join(pred_dir, name + ".rgb"))
            else:
                np.save(os.path.join(pred_dir, name + ".npy"), pred)
            np.save(os.path.join(random_dir, name + ".npy"), rand)


def check(truth_dir, pred_dir, random_dir, json_path):
    got = json.load(open(json_path))
    steps = {}
    for f in sorted(os.listdir(pred_dir)):
        clip, start = (int(x) for x in f[:-4].split("_"))
        real = truth(truth_dir, clip)
        if f.endswith(".npy"):
            pred = np.load(os.path.join(pred_dir, f))
        else:
            pred = np.fromfile(os.path.join(pred_dir, f), dtype=np.uint8).reshape(-1, H, W, 3)
        rand = np.load(os.path.join(random_dir, f[:-4] + ".npy"))
        for k in range(pred.shape[0]):
            r = real[start + k]
            steps.setdefault(k, []).append((psnr(pred[k], r), ssim(pred[k], r), psnr(rand[k], r)))
    bad = 0

    def close(what, a, b):
        nonlocal bad
        if abs(a - b) > 1e-6:
            print(f"FAIL {what}: tool {a!r}, numpy {b!r}")
            bad += 1

    if len(got["steps"]) != len(steps):
        print(f"FAIL steps: tool {len(got['steps'])}, numpy {len(steps)}")
        return 1
    allv = []
    for k, v in sorted(steps.items()):
        g = got["steps"][k]
        a = np.array(v)
        allv.extend(v)
        close(f"t={k} frames", g["frames"], len(v))
        close(f"t={k} psnr", g["psnr"], a[:, 0].mean())
        close(f"t={k} ssim", g["ssim"], a[:, 1].mean())
        close(f"t={k} psnr_random", g["psnr_random"], a[:, 2].mean())
        close(f"t={k} delta_psnr", g["delta_psnr"], a[:, 0].mean() - a[:, 2].mean())
        close(f"t={k} exact", g["exact"], int((a[:, 0] >= PSNR_MAX).sum()))
    a = np.array(allv)
    close("all psnr", got["psnr"], a[:, 0].mean())
    close("all ssim", got["ssim"], a[:, 1].mean())
    print(f"rollout reference: {len(allv)} frames, {len(steps)} steps compared; {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(*sys.argv[2:5])
    else:
        sys.exit(check(*sys.argv[2:6]))
