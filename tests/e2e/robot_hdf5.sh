#!/usr/bin/env bash
# Robot episodes from HDF5 files (docs/robotics.md, "HDF5 episodes"),
# written here with h5py at the corpus size (160x90, so frames must come out
# byte for byte): a robomimic file (data/demo_0, demo_2, demo_10: numeric
# order; two cameras, the default and one chosen by name; actions (T, 7)
# float64, obs states float64/float32/int16; no times: the manifest's rate)
# and a DROID-like file (one episode; action/ and observation/robot_state/
# groups, jittered epoch timestamps). Ingest, shard, then
# tests/python/check_hdf5_episodes.py reads the files with h5py: every clip's
# frames, actions, states, episode and step equal the episodes through
# staging -> shard -> C reader -> Python. Damaged and wrong files (truncated,
# not HDF5, a float camera, actions one step short, no demo groups, a missing
# camera, no rate, a damaged gzip chunk in the last episode) fail their source with one line each naming the file and
# dataset, nothing of them staged; the run goes on.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"
$PY -c "import av, numpy, h5py" 2>/dev/null || { echo "SKIP: /usr/bin/python3 without h5py, av or numpy"; exit 77; }

/usr/bin/python3 - <<'PYEOF'
import h5py
import numpy as np
r = np.random.default_rng(11)
img = lambda T: r.integers(0, 256, size=(T, 90, 160, 3), dtype=np.uint8)
with h5py.File("lift.hdf5", "w") as f:
    for name, T in (("demo_0", 23), ("demo_2", 41), ("demo_10", 9)):
        g = f.create_group(f"data/{name}")
        g.attrs["num_samples"] = T
        g["obs/agentview_image"] = img(T)
        g.create_dataset("obs/robot0_eye_in_hand_image", data=img(T), chunks=(4, 90, 160, 3), compression="gzip")
        g["obs/robot0_eef_pos"] = r.normal(size=(T, 3))
        g["obs/robot0_gripper_qpos"] = r.normal(size=(T, 2)).astype(np.float32)
        g["obs/object"] = r.integers(-500, 500, size=(T, 1)).astype(np.int16)
        g["actions"] = r.uniform(-1, 1, size=(T, 7))
        g["states"] = r.normal(size=(T, 32))
        g["rewards"] = np.zeros(T)
    f["mask/train"] = np.array([b"demo_0", b"demo_2"])
with h5py.File("droid_ep.h5", "w") as f:
    T = 37
    t = 1.7e9 + np.cumsum(r.uniform(0.05, 0.12, size=T))
    f["observation/timestamp"] = t
    f["observation/camera/image/ext1_left"] = img(T)
    f["observation/camera/image/wrist_left"] = img(T)
    f["observation/robot_state/joint_positions"] = r.normal(size=(T, 7))
    f["observation/robot_state/gripper_position"] = r.uniform(0, 1, size=T)
    f["action/cartesian_position"] = r.normal(size=(T, 6))
    f["action/gripper_position"] = r.uniform(0, 1, size=T)
# Wrong files. A gzip chunk of the last episode's wrist camera damaged: found when that step is read.
with h5py.File("lift.hdf5", "r") as f:
    off = f["data/demo_10/obs/robot0_eye_in_hand_image"].id.get_chunk_info(1).byte_offset
b = bytearray(open("lift.hdf5", "rb").read())
b[off + 20:off + 60] = bytes(40)
open("badchunk.hdf5", "wb").write(b)
b = open("lift.hdf5", "rb").read()
open("trunc.hdf5", "wb").write(b[:len(b) // 2])
open("text.hdf5", "w").write("not an HDF5 file\n")
with h5py.File("floatcam.hdf5", "w") as f:
    f["data/demo_0/obs/agentview_image"] = np.zeros((5, 90, 160, 3), np.float32)
    f["data/demo_0/actions"] = np.zeros((5, 7))
with h5py.File("short.hdf5", "w") as f:
    f["data/demo_0/obs/agentview_image"] = img(5)
    f["data/demo_0/actions"] = np.zeros((4, 7))
with h5py.File("nodemos.hdf5", "w") as f:
    f.create_group("data")
PYEOF
cp lift.hdf5 lift_wrist.hdf5
cat > m.jsonl <<'JEOF'
{"url": "lift.hdf5", "episodes": "hdf5", "domain": "robotics", "frame_rate": 8, "title": "robomimic, default camera"}
{"url": "lift_wrist.hdf5", "episodes": "hdf5", "frame_rate": 8, "camera": "obs/robot0_eye_in_hand_image", "episode_states": "obs/robot0_eef_pos", "title": "wrist camera by name, one state dataset"}
{"url": "droid_ep.h5", "episodes": "hdf5", "title": "DROID-like, timestamps"}
JEOF
C=corpus DB=corpus/catalog.sqlite
"$INGEST" -C $C -q --clip-seconds 2 m.jsonl; check_eq "ingest" "$?" 0
check_eq "sources done" "$(q $DB "SELECT count(*) FROM sources WHERE status = 'done'")" 3
check_num "clips" "$(q $DB "SELECT count(*) FROM clips")" ">=" 10
check "robomimic channel names" grep -q '"name": "obs/robot0_gripper_qpos\[1\]"' <<<"$(q $DB "SELECT action_channels FROM clips")"
check "DROID-like channel names" grep -q '"name": "action/gripper_position"' <<<"$(q $DB "SELECT action_channels FROM clips")"

"$SHARD" -C $C -q --dataset raw --split 1,0,0 --seed 1; check_eq "shard" "$?" 0
n=$(q $DB "SELECT count(*) FROM clips")
out=$(MANIFEST_DIR=$PWD TMPDIR=$PWD $PY "$CLIPMILL_SRC/tests/python/check_hdf5_episodes.py" $C/datasets/raw $C "$INGEST" 2>&1)
check "frames and actions match the episodes ($out)" grep -q "^$n clips checked, 0 differ" <<<"$out"

cat > bad.jsonl <<'JEOF'
{"url": "trunc.hdf5", "episodes": "hdf5", "frame_rate": 8}
{"url": "text.hdf5", "episodes": "hdf5", "frame_rate": 8}
{"url": "floatcam.hdf5", "episodes": "hdf5", "frame_rate": 8, "camera": "obs/agentview_image"}
{"url": "short.hdf5", "episodes": "hdf5", "frame_rate": 8}
{"url": "nodemos.hdf5", "episodes": "hdf5", "frame_rate": 8}
{"url": "./lift.hdf5", "episodes": "hdf5", "frame_rate": 8, "camera": "obs/depth"}
{"url": "./droid_ep.h5", "episodes": "hdf5", "episode_actions": "action/joint_velocity"}
{"url": "./lift_wrist.hdf5", "episodes": "hdf5"}
{"url": "droid_ep.h5", "episodes": "hdf5"}
{"url": "badchunk.hdf5", "episodes": "hdf5", "frame_rate": 8, "camera": "obs/robot0_eye_in_hand_image"}
JEOF
"$INGEST" -C bad -q --clip-seconds 2 bad.jsonl 2>err.txt; rc=$?
check_eq "bad files: partial exit" "$rc" 1
check_eq "bad files: one line per bad source" "$(grep -c 'error' err.txt)" 9
check_eq "bad files: no libhdf5 stack printed" "$(grep -c 'HDF5-DIAG\|#00' err.txt)" 0
check "truncated" grep -q "trunc.hdf5: not an HDF5 file, damaged or unreadable (.*)" err.txt
check "not HDF5" grep -q "text.hdf5: not an HDF5 file, damaged or unreadable" err.txt
check "float camera" grep -q "floatcam.hdf5: data/demo_0/obs/agentview_image: the camera must be uint8 of shape (T, H, W, 3)" err.txt
check "actions short" grep -q "short.hdf5: data/demo_0/actions: 4 steps, the camera has 5" err.txt
check "no demos" grep -q "nodemos.hdf5: data: no episode groups" err.txt
check "no such camera" grep -q "lift.hdf5: data/demo_0/obs/depth: no such dataset (the camera)" err.txt
check "no such actions" grep -q "droid_ep.h5: action/joint_velocity: no such dataset or group" err.txt
check "damaged chunk" grep -q "badchunk.hdf5: data/demo_10/obs/robot0_eye_in_hand_image: cannot read step 4 (.*)" err.txt
check "no rate" grep -q 'lift_wrist.hdf5: .*no step times and no rate' err.txt
check_eq "bad files: failed" "$(q bad/catalog.sqlite "SELECT count(*) FROM sources WHERE status = 'failed'")" 9
check_eq "bad files: nothing staged of them" \
  "$(q bad/catalog.sqlite "SELECT count(*) FROM clips JOIN sources USING (source_id) WHERE status != 'done'")" 0
check_num "the good file still ingested" "$(q bad/catalog.sqlite "SELECT count(*) FROM clips")" ">" 0
summary
