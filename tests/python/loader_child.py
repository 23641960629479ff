"""A training loop for test_loader.py to kill and resume: WORLD simulated ranks
(each its own WindowDataset and StatefulLoader with WORKERS DataLoader workers)
step in lockstep through one epoch. Each step appends every rank's windows to
LOG as a JSON line, then replaces CKPT (atomically) with rank 0's state_dict
and the steps done, as a trainer checkpoints after its optimiser step.
    loader_child.py JSON_ARGS
JSON_ARGS: {"paths", "weights", "samples", "workers", "world", "batch", "frames",
"wpc", "seed", "epoch", "log", "ckpt", "resume", "sleep", "context"}"""
import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["CLIPMILL_SRC"], "python"))
from clipmill.torch import StatefulLoader, WindowDataset  # noqa: E402

a = json.loads(sys.argv[1])
state = None
if a.get("resume"):
    with open(a["ckpt"]) as f:
        state = json.load(f)["state"]
loaders = []
for r in range(a["world"]):
    ds = WindowDataset(a["paths"], "train", frames=a["frames"], batch_size=a["batch"], seed=a["seed"],
                       windows_per_clip=a["wpc"], weights=a.get("weights"), samples_per_epoch=a.get("samples"),
                       rank=r, world_size=a["world"], drop_last=False, return_info=True, layout="BTHWC")
    ld = StatefulLoader(ds, num_workers=a["workers"], multiprocessing_context=a.get("context"))
    if state:
        ld.load_state_dict(state)
    ds.set_epoch(state["epoch"] if state else a["epoch"])
    loaders.append(ld)
with open(a["log"], "a") as log:
    for step, batches in enumerate(itertools.zip_longest(*loaders)):
        for r, b in enumerate(batches):
            if b is not None:
                log.write(json.dumps({"step": step, "rank": r, "position": b["position"].tolist(),
                                      "source": b["source"].tolist(), "clip": b["clip"].tolist(),
                                      "start": b["start"].tolist(), "frames_sum": int(b["frames"].sum())}) + "\n")
        log.flush()
        tmp = a["ckpt"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"steps": step + 1, "state": loaders[0].state_dict()}, f)
        os.replace(tmp, a["ckpt"])
        time.sleep(a.get("sleep", 0))
print("epoch done", flush=True)
