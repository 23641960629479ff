#!/usr/bin/env bash
# Rollout metric throughput (issue 15: "many thousands of 160x90 frames per
# second per core"), all in one run on the same frames:
#  1. the metric kernels (lib/clip/frame_metrics.c from the build's archive)
#     in C, one thread: PSNR, SSIM, both (what clipmill-eval rollout computes
#     per frame), and memcpy of the same bytes as the ceiling; 5 interleaved
#     rounds, medians per wall second and per CPU-second (bench/rollout_bench.c);
#  2. the named baseline: numpy computing the same PSNR and SSIM (summed-area
#     tables by np.cumsum, batches of 16 frames; bench/rollout_bench.py), 3
#     rounds, median, and the ratio C / numpy; its checksum must match C's;
#  3. clipmill-eval rollout end to end (reading the truth from the dataset,
#     the .npy predictions, and the random-action twins), 3 runs, median
#     frames per second and per CPU-second (user + sys).
#   bench/rollout.sh [BUILD_DIR] [SECONDS_PER_CASE]
# Pin it for per-core figures: taskset -c 1 bench/rollout.sh build 3
# Uses generated gameplay (cm_gen_footage) so it runs anywhere.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
SECS=${2:-2}
W=$(mktemp -d /tmp/clipmill-rollout-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
for i in 1 2; do
  "$BUILD/bin/cm_gen_footage" g$i.mp4 --kind gameplay --seconds 65 --seed $i >/dev/null
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
"$BUILD/bin/clipmill-ingest" -C c -q m.jsonl
"$BUILD/bin/clipmill-shard" -C c -q --dataset ds --split 0,0,1
D=c/datasets/ds
n=$(sed -n 's/.*"clips_selected": *\([0-9]*\).*/\1/p' "$D/manifest.json")
mkdir truth
for ((i = 0; i < n; i++)); do "$BUILD/bin/clipmill-shard" export $D --split test --index $i --raw truth/$i.rgb >/dev/null; done
# Predictions: every clip cut into 16-frame rollouts, noise growing over each
# rollout (as a model's error does); the random-action twins noisier.
/usr/bin/python3 - <<'PY'
import os
import numpy as np
rng = np.random.default_rng(5)
os.makedirs("pred"); os.makedirs("random")
all_truth, all_pred = [], []
for f in sorted(os.listdir("truth"), key=lambda f: int(f[:-4])):
    real = np.fromfile("truth/" + f, np.uint8).reshape(-1, 90, 160, 3)
    for start in range(0, len(real) - 15, 16):
        r = real[start:start + 16].astype(np.float64)
        sigma = (2 + np.arange(16))[:, None, None, None]
        pred = np.clip(r + rng.normal(0, 1, r.shape) * sigma, 0, 255).astype(np.uint8)
        rand = np.clip(r + rng.normal(0, 1, r.shape) * 3 * sigma, 0, 255).astype(np.uint8)
        np.save(f"pred/{f[:-4]}_{start}.npy", pred)
        np.save(f"random/{f[:-4]}_{start}.npy", rand)
        all_truth.append(real[start:start + 16])
        all_pred.append(pred)
np.concatenate(all_truth).tofile("truth.rgb")
np.concatenate(all_pred).tofile("pred.rgb")
PY
frames=$(( $(stat -c %s truth.rgb) / (90 * 160 * 3) ))
echo "$n clips, $(ls pred | wc -l) rollouts of 16 frames: $frames predicted frames of 160x90"
# -O3: the flags of the Release build the library archive is compiled with.
gcc -O3 -Wall -Wextra -I "$SRC/lib/clip" "$SRC/bench/rollout_bench.c" "$BUILD/libclipmill_clip.a" -lm -o rb
./rb truth.rgb pred.rgb 90 160 "$SECS" 5 | tee rb.txt
c_both=$(sed -n 's/^PSNR+SSIM  *median *[0-9]* frames\/s wall, *\([0-9]*\) frames per CPU.*/\1/p' rb.txt)
ROLLOUT_BENCH_C=$c_both /usr/bin/python3 "$SRC/bench/rollout_bench.py" truth.rgb pred.rgb 90 160 "$SECS" 3
# End to end: PSNR and SSIM of every predicted frame, PSNR of its random twin.
cat c/datasets/ds/test/*.mdb pred/* random/* > /dev/null
for r in 1 2 3; do
  /usr/bin/time -f "%e %U %S" -o t$r.txt "$BUILD/bin/clipmill-eval" rollout $D --pred pred --random random > /dev/null
done
/usr/bin/python3 - "$frames" t1.txt t2.txt t3.txt <<'PY'
import statistics, sys
frames = int(sys.argv[1])
runs = [tuple(map(float, open(f).read().split()[-3:])) for f in sys.argv[2:]]
wall = statistics.median(frames / r[0] for r in runs)
cpu = statistics.median(frames / (r[1] + r[2]) for r in runs)
print(f"clipmill-eval rollout --random end to end: median {wall:.0f} frames/s wall, {cpu:.0f} frames per CPU-second"
      f" ({len(runs)} runs of {frames} frames; per frame PSNR + SSIM and the random twin's PSNR)")
PY
