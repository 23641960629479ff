"""Per-clip metadata and subsets through Python, run by tests/e2e/dataset_meta.sh:
    test_meta.py DATASET_DIR EXPECT_DIR
EXPECT_DIR holds, per split S, S.ids (the dataset's clip ids in reader order,
from meta.sqlite by sqlite3) and sub-S.ids (those of subset "plat"), and
old/ is DATASET_DIR rewritten as format version 1 (no metadata)."""
import os
import sqlite3
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ["CLIPMILL_SRC"], "python"))
from clipmill import Dataset, ReaderError  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def ids_file(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


dataset, expect = sys.argv[1], sys.argv[2]
con = sqlite3.connect(f"file:{dataset}/meta.sqlite?mode=ro&immutable=1", uri=True)
for split in ("train", "val", "test"):
    ds = Dataset(dataset, split)
    want = ids_file(os.path.join(expect, f"{split}.ids"))
    check([ds.clip_id(i) for i in range(len(ds))] == want, f"{split}: clip ids in reader order")
    meta = ds.metadata()
    if len(ds):
        check(set(meta) >= {"clip_id", "source_id", "url", "title", "channel", "domain", "license", "clip_index",
                            "start_s", "duration_s", "motion", "decision", "split", "idx"}, f"columns {sorted(meta)}")
        check(list(meta["clip_id"]) == want, f"{split}: metadata() clip ids")
        check(meta["idx"].dtype == np.int64 and list(meta["idx"]) == list(range(len(ds))), "idx column")
        check(meta["start_s"].dtype == np.float64, "start_s is float64")
    for i in range(len(ds)):
        m = ds.meta(i)
        check(m["clip_id"] == want[i] and m["split"] == split and m["idx"] == i, f"{split}[{i}] meta row")
        row = con.execute("SELECT title, motion, clip_index, channel FROM clips WHERE split = ? AND idx = ?",
                          (split, i)).fetchone()
        check((m["title"], m["motion"], m["clip_index"], m["channel"]) == row, f"{split}[{i}] meta = meta.sqlite")
        check(isinstance(m["scores"], list), "scores is a list")
        for k in ("motion", "title", "clip_index"):
            check(meta[k][i] == m[k], f"metadata()[{k}][{i}] = meta({i})[{k}]")
    try:
        ds.meta(len(ds))
        check(False, "meta past the end must fail")
    except IndexError:
        pass
    q = ds.metadata("sqlite")
    check(q.execute("SELECT count(*) FROM temp.rows").fetchone()[0] == len(ds), "sqlite view rows")
    try:
        q.execute("DELETE FROM main.clips")
        check(False, "meta.sqlite must be read-only")
    except sqlite3.DatabaseError:
        pass
    q.close()

    # subset "plat": exactly the matching clips, windows and metadata mapped
    sub = Dataset(f"{dataset}@plat", split)
    want_sub = ids_file(os.path.join(expect, f"sub-{split}.ids"))
    check([sub.clip_id(i) for i in range(len(sub))] == want_sub, f"{split}@plat: clip ids {len(sub)}")
    check(all(sub.meta(i)["domain"] == "platformer" for i in range(len(sub))), "subset meta rows match --where")
    base = sub.dataset_indices()
    check(list(base) == sorted(base) and len(set(base)) == len(base), "subset indices ascending")
    for i in range(len(sub)):
        check(np.array_equal(sub.window(i, 3, 8, 2), ds.window(int(base[i]), 3, 8, 2)), f"{split}@plat[{i}] window")
    sm = sub.metadata()
    if len(sub):
        check(list(sm["clip_id"]) == want_sub, "subset metadata() ids")
    sub.close()
    ds.close()

# format version 1: reads, no metadata
old = os.path.join(expect, "old")
for split in ("train", "val", "test"):
    ds = Dataset(old, split)
    check([ds.clip_id(i) for i in range(len(ds))] == ids_file(os.path.join(expect, f"{split}.ids")), "old ids")
    if len(ds):
        check(ds[0].shape[0] == ds.frames, "old dataset reads")
        try:
            ds.meta(0)
            check(False, "meta of a format 1 dataset must fail")
        except ReaderError as e:
            check("format version 1" in str(e), f"message: {e}")
    try:
        ds.metadata()
        check(False, "metadata() of a format 1 dataset must fail")
    except ReaderError:
        pass
try:
    Dataset(f"{dataset}@nosuch", "train")
    check(False, "unknown subset must fail")
except ReaderError as e:
    check("nosuch" in str(e), f"message names it: {e}")
print(f"python meta: {failed} failures")
sys.exit(1 if failed else 0)
