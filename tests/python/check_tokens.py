"""Token sets end to end (tests/e2e/tokens.sh, docs/tokens.md): written then
read back equal for every clip; a writer killed with SIGKILL at random
points (and journals cut at random bytes) resumes to files identical to an
uninterrupted run; windows never cross clips and carry their clip's actions;
a flipped byte is caught by verify and by the reader; refusals.
argv: DATASET WORK BIN. Prints one line per check, 'N checks, M failed' last."""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

SPLITS = ("train", "val", "test")


def tokens_of(split, index, codebook, steps=None):
    """The test's tokens of a clip: a pure function of (split, index, codebook).
    steps: T (default 160, the dataset's frames; a codebook above 65536 uses
    40 + 7 * index steps, so clips differ in T)."""
    seed = SPLITS.index(split) * 1000 + index + codebook
    rng = np.random.default_rng(seed)
    if steps is None:
        steps = 160 if codebook <= 65536 else 40 + 7 * index
    return rng.integers(0, codebook, (steps, 23, 40), dtype=np.int64)


FAILED, CHECKS = 0, 0


def check(desc, ok):
    global FAILED, CHECKS
    CHECKS += 1
    if not ok:
        FAILED += 1
    print(("ok   " if ok else "FAIL ") + desc, flush=True)


def digest(d):
    return {f: hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest() for f in sorted(os.listdir(d))}


def run_child(ds, out, seed, pause, codebook=1024, kill_after=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "tokens_child.py"), ds, out,
                          str(seed), str(pause), str(codebook)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if kill_after is not None:
        time.sleep(kill_after)
        p.send_signal(signal.SIGKILL)
    o, e = p.communicate()
    return p.returncode, o.decode() + e.decode()


def main():
    import clipmill
    from clipmill import ReaderError, Tokens, TokenWriter
    ds_path, work, bin_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    shard = os.path.join(bin_dir, "clipmill-shard")
    counts = {s: len(clipmill.Dataset(ds_path, s)) for s in SPLITS}

    # 1. An uninterrupted run, then read back.
    ref = os.path.join(work, "ref")
    rc, out = run_child(ds_path, ref, 1, 0)
    check(f"uninterrupted run finishes ({out.strip()[-200:]})", rc == 0 and "finished" in out)
    check("no journal or temporary left", sorted(os.listdir(ref)) == ["test.tok", "tokens.json", "train.tok",
                                                                       "val.tok"])
    same = True
    for s in SPLITS:
        tk = Tokens(ds_path, ref, s)
        check(f"{s}: {len(tk)} clips", len(tk) == counts[s])
        for i in range(len(tk)):
            same &= np.array_equal(tk.clip(i), tokens_of(s, i, 1024))
        tk.close()
    check("every clip reads back equal", same)
    tk = Tokens(ds_path, ref, "train")
    check("stored as uint16, tokenizer named", (tk.token_bytes, tk.tokenizer, tk.tokenizer_version, tk.codebook,
                                                tk.patch_size) == (2, "test-tokens", "7", 1024, 4))

    # 2. Windows: never across clips; the clip's actions; strides; the end of a clip.
    rng = random.Random(5)
    ok = True
    for _ in range(200):
        i = rng.randrange(len(tk))
        t, stride = rng.choice([1, 4, 16]), rng.choice([1, 2])
        start = rng.randrange(160 - (t - 1) * stride)
        ok &= np.array_equal(tk.window(i, start, t, stride), tokens_of("train", i, 1024)[start:start + t * stride:stride])
    check("200 random windows equal their clip's steps", ok)
    for start, t in ((160 - 15, 16), (-1, 4), (0, 161)):
        try:
            tk.window(0, start, t)
            check(f"window start {start} of {t} steps past the clip refused", False)
        except ReaderError as e:
            check(f"window start {start} of {t} steps refused ({str(e)[-60:]})", "does not fit" in str(e))
    ds = tk.dataset
    acts = 0
    for i in range(len(tk)):
        rec = tk.sample(i, 8, 16, 2)
        v, m = ds.window_actions(i, 8, 16, 2)
        ok = np.array_equal(rec["actions"], v) and np.array_equal(rec["action_mask"], m)
        acts += int(m.sum() > 0)
        check(f"clip {i}: window actions are its frames' ({rec['actions'].shape})", ok and rec["clip_id"] == ds.clip_id(i))
    check(f"some clips have actions ({acts})", acts > 0)

    # 3. Killed runs: SIGKILL at random moments, then finished; identical files.
    rng = random.Random(2026)
    for attempt in range(2):
        d = os.path.join(work, f"killed{attempt}")
        kills = 0
        for k in range(3):
            rc, _ = run_child(ds_path, d, attempt * 10 + k, 0.03, kill_after=rng.uniform(0.3, 0.8))
            kills += rc == -signal.SIGKILL
            if rc == 0:
                break
        rc, out = run_child(ds_path, d, 99, 0)
        check(f"killed run {attempt} ({kills} kills) resumes and finishes", rc == 0)
        check(f"killed run {attempt}: files identical to the uninterrupted run's", digest(d) == digest(ref))

    # Journals cut at random bytes (a kill in the middle of a write).
    full = os.path.join(work, "full-journal")
    tw = TokenWriter(ds_path, full, tokenizer="test-tokens", version="7", patch_size=4, codebook=1024)
    for s in SPLITS:
        for i in range(counts[s]):
            tw.write(s, i, tokens_of(s, i, 1024))
    tw.close(finish=False)
    journal = open(os.path.join(full, "tokens.journal"), "rb").read()
    ok = True
    for cut in sorted(rng.sample(range(len(journal)), 12)) + [0, 10, 63, 64, 100]:
        d = os.path.join(work, "cut")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        open(os.path.join(d, "tokens.journal"), "wb").write(journal[:cut])
        with TokenWriter(ds_path, d, tokenizer="test-tokens", version="7", patch_size=4, codebook=1024) as tw:
            for s in SPLITS:
                for i in tw.missing(s):
                    tw.write(s, i, tokens_of(s, i, 1024))
        same = digest(d) == digest(ref)
        ok &= same
        if not same:
            print(f"cut at {cut} of {len(journal)}: files differ")
    check("journals cut at 17 byte offsets resume to identical files", ok)
    # Killed inside finish: split files renamed but no tokens.json; or tokens.json but the journal left.
    d = os.path.join(work, "in-finish")
    shutil.copytree(ref, d)
    os.remove(os.path.join(d, "tokens.json"))
    shutil.copy(os.path.join(full, "tokens.journal"), d)
    open(os.path.join(d, "train.tok.tmp.123"), "wb").write(b"half")
    rc, _ = run_child(ds_path, d, 3, 0)
    check("killed before tokens.json: finishes, identical, no temporary", rc == 0 and digest(d) == digest(ref))
    shutil.copy(os.path.join(full, "tokens.journal"), d)
    rc, _ = run_child(ds_path, d, 4, 0)
    check("killed after tokens.json: opens finished, journal removed", rc == 0 and digest(d) == digest(ref))

    # 4. Refusals: other tokens for a written clip, values, shape, finished set, foreign dataset.
    d = os.path.join(work, "refuse")
    tw = TokenWriter(ds_path, d, tokenizer="test-tokens", version="7", codebook=1024)
    tw.write("train", 0, tokens_of("train", 0, 1024))
    check("the same tokens again: not written twice", tw.write("train", 0, tokens_of("train", 0, 1024)) is False)
    for desc, fn in (("other tokens for a written clip", lambda: tw.write("train", 0, tokens_of("train", 1, 1024))),
                     ("a token >= codebook", lambda: tw.write("train", 1, tokens_of("train", 1, 1025))),
                     ("another h, w", lambda: tw.write("train", 1, np.zeros((4, 22, 40), np.int64))),
                     ("a clip out of range", lambda: tw.write("train", counts["train"], tokens_of("train", 0, 1024))),
                     ("finishing with clips missing", tw.finish)):
        try:
            fn()
            check(f"refused: {desc}", False)
        except (ReaderError, ValueError) as e:
            check(f"refused: {desc} ({str(e)[-70:]})", True)
    tw.close(finish=False)
    try:
        TokenWriter(ds_path, ref, tokenizer="other", version="7", codebook=1024)
        check("a finished set of another tokenizer is refused", False)
    except ReaderError:
        check("a finished set of another tokenizer is refused", True)
    with TokenWriter(ds_path, ref, tokenizer="test-tokens", version="7", patch_size=4, codebook=1024) as tw:
        check("the finished set reopens finished", tw.missing("train") == [])
        try:
            tw.write("train", 0, tokens_of("train", 0, 1024))
            check("a finished set is immutable", False)
        except ReaderError:
            check("a finished set is immutable", True)
    check("reopening did not change it", digest(ref) == digest(os.path.join(work, "killed0")))

    # 5. uint32 tokens (codebook 70000) with T differing per clip.
    big = os.path.join(work, "big")
    rc, _ = run_child(ds_path, big, 5, 0, codebook=70000)
    tb = Tokens(ds_path, big, "train")
    ok = tb.token_bytes == 4 and all(np.array_equal(tb.clip(i), tokens_of("train", i, 70000)) for i in range(len(tb)))
    check("uint32 set: every clip equal, T per clip", rc == 0 and ok and tb.steps(1) == 47)
    tb.close()
    print(f"bytes per token: {os.path.getsize(os.path.join(ref, 'train.tok')) / (counts['train'] * 160 * 23 * 40):.4f}"
          " (uint16; raw array 2)")

    # 6. Subsets: DATASET@NAME windows are the dataset's clips.
    if os.path.exists(os.path.join(ds_path, "subsets", "odd.subset")):
        sub = Tokens(ds_path + "@odd", ref, "train")
        idx = sub.dataset.dataset_indices()
        check(f"subset: {len(sub)} clips, windows of the dataset's", len(sub) == len(idx) and all(
            np.array_equal(sub.window(k, 3, 5), tokens_of("train", int(i), 1024)[3:8]) for k, i in enumerate(idx)))

    # 7. A flipped byte: verify and the reader both report it.
    d = os.path.join(work, "flip")
    shutil.copytree(ref, d)
    f = os.path.join(d, "train.tok")
    b = bytearray(open(f, "rb").read())
    off = 64 + 24 * counts["train"] + 32 + 4 * 160 + 2 * 920 * 10 + 7   # clip 0, step 10
    b[off] ^= 0x10
    open(f, "wb").write(bytes(b))
    p = subprocess.run([shard, "verify", "-q", d], capture_output=True, text=True)
    check(f"verify finds the flipped byte ({p.stdout.strip()[:90]})", p.returncode == 1 and "step 10" in p.stdout)
    # The reader: its size is unchanged, so it opens; the step's CRC fails.
    man = os.path.join(d, "tokens.json")
    tf = Tokens(ds_path, d, "train")
    try:
        tf.window(0, 8, 4)
        check("the reader refuses the flipped step", False)
    except ReaderError as e:
        check(f"the reader refuses the flipped step ({str(e)[-70:]})", "CRC" in str(e))
    check("steps before it still read", np.array_equal(tf.window(0, 0, 8), tokens_of("train", 0, 1024)[:8]))
    text = open(man, "rb").read()
    open(man, "wb").write(text.replace(b'"patch_size": 4', b'"patch_size": 5'))
    try:
        Tokens(ds_path, d, "train")
        check("a changed tokens.json is refused", False)
    except ReaderError as e:
        check(f"a changed tokens.json is refused ({str(e)[-50:]})", "CRC" in str(e))
    p = subprocess.run([shard, "verify", "-q", d], capture_output=True, text=True)
    check("verify refuses a changed tokens.json", p.returncode != 0 and "CRC" in p.stdout)
    print(f"{CHECKS} checks, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
