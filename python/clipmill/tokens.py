"""Token sets (docs/tokens.md): write a tokenizer's codes for every clip of a
dataset, resumably, then read token windows that never cross clips.

    with TokenWriter("corpus/datasets/v1", "vq4",             # corpus/datasets/v1/tokens/vq4
                     tokenizer="patchmean", version="1", patch_size=4, codebook=1024) as tw:
        for split in ("train", "val", "test"):
            for i in tw.missing(split):          # a resumed run skips what is written
                tw.write(split, i, tokens_of(i))  # (T, h, w) integer array
    # leaving the block finishes the set (tokens.json); an exception leaves the journal

    tk = Tokens("corpus/datasets/v1", "vq4", "train")     # "DATASET@SUBSET" too
    tk.window(0, start=8, steps=16)                        # (16, h, w) int32
    tk.dataset                                             # the clipmill.Dataset: actions, meta
"""
import ctypes
import os

import numpy as np

from .reader import Dataset, ReaderError, _ERR, _load

SPLITS = ("train", "val", "test")


class _Tokenizer(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("version", ctypes.c_char_p), ("patch_size", ctypes.c_int32),
                ("codebook", ctypes.c_uint64)]


class _TokensInfo(ctypes.Structure):
    _fields_ = [("clips", ctypes.c_int64), ("height", ctypes.c_int32), ("width", ctypes.c_int32),
                ("token_bytes", ctypes.c_int32), ("patch_size", ctypes.c_int32), ("codebook", ctypes.c_uint64),
                ("tokenizer", ctypes.c_char * 128), ("tokenizer_version", ctypes.c_char * 128)]


def _lib():
    lib = _load()
    if not hasattr(lib, "cmr_tokens_open"):
        raise OSError("this libclipmill_reader has no token sets (older than clipmill's tokens)")
    if not getattr(lib, "_tokens_bound", False):
        p, i64, i32, sz, buf = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_size_t, ctypes.c_char_p
        lib.cmr_tokw_open.argtypes = [ctypes.POINTER(p), buf, buf, ctypes.POINTER(_Tokenizer), buf, sz]
        lib.cmr_tokw_write.argtypes = [p, buf, i64, p, ctypes.c_int, i32, i32, i32, buf, sz]
        lib.cmr_tokw_written.argtypes = [p, buf, i64]
        lib.cmr_tokw_finish.argtypes = [p, buf, sz]
        lib.cmr_tokw_close.argtypes = [p]
        lib.cmr_tokw_close.restype = None
        lib.cmr_tokens_open.argtypes = [ctypes.POINTER(p), buf, buf, buf, buf, sz]
        lib.cmr_tokens_close.argtypes = [p]
        lib.cmr_tokens_close.restype = None
        lib.cmr_tokens_count.argtypes = [p]
        lib.cmr_tokens_count.restype = i64
        lib.cmr_tokens_get_info.argtypes = [p, ctypes.POINTER(_TokensInfo)]
        lib.cmr_tokens_get_info.restype = None
        lib.cmr_tokens_steps.argtypes = [p, i64]
        lib.cmr_tokens_steps.restype = i32
        lib.cmr_tokens_read_window.argtypes = [p, i64, i32, i32, i32, p, sz, ctypes.c_int, buf, sz]
        lib._tokens_bound = True
    return lib


class TokenWriter:
    """Writes the tokens of every clip of a dataset to out (a directory, or a
    NAME without '/' for DATASET/tokens/NAME, where Tokens(dataset, NAME) reads). Resumes a killed run's journal;
    close() finishes the set (every clip of every split written), after which
    it is immutable. One writer per directory at a time."""

    def __init__(self, dataset, out, tokenizer, codebook, version="1", patch_size=0):
        self._lib = _lib()
        self.dataset, self.out = os.fspath(dataset), os.fspath(out)
        self.codebook = int(codebook)
        self.dtype = np.uint16 if self.codebook <= 65536 else np.uint32
        tok = _Tokenizer(str(tokenizer).encode(), str(version).encode(), int(patch_size), self.codebook)
        err, h = ctypes.create_string_buffer(_ERR), ctypes.c_void_p()
        if self._lib.cmr_tokw_open(ctypes.byref(h), self.dataset.encode(), self.out.encode(), ctypes.byref(tok), err,
                                   _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))
        self._h = h
        self._clips = {}
        for s in SPLITS:
            try:
                with Dataset(self.dataset, s) as ds:
                    self._clips[s] = len(ds)
            except ReaderError:
                self._clips[s] = 0

    def clips(self, split):
        return self._clips[split]

    def written(self, split, index):
        r = self._lib.cmr_tokw_written(self._h, split.encode(), int(index))
        if r < 0:
            raise IndexError(f"{self.out}: no clip {index} in split {split!r}")
        return bool(r)

    def missing(self, split):
        """Indices of split's clips not written yet, ascending."""
        return [i for i in range(self._clips[split]) if not self.written(split, i)]

    def write(self, split, clip_index, tokens):
        """tokens: an integer array (T, h, w), every value in [0, codebook).
        Returns True when written, False when this run had written the same
        tokens already (resumed); ReaderError for other tokens or bad values."""
        a = np.asarray(tokens)
        if a.ndim != 3 or a.dtype.kind not in "iu":
            raise ValueError(f"tokens must be an integer array (T, h, w), not {a.dtype} {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= self.codebook):
            raise ValueError(f"{split}[{clip_index}]: tokens outside [0, {self.codebook})")
        a = np.ascontiguousarray(a, self.dtype)
        err = ctypes.create_string_buffer(_ERR)
        r = self._lib.cmr_tokw_write(self._h, split.encode(), int(clip_index), a.ctypes.data, a.dtype.itemsize,
                                     a.shape[0], a.shape[1], a.shape[2], err, _ERR)
        if r < 0:
            raise ReaderError(err.value.decode(errors="replace"))
        return r == 0

    def finish(self):
        err = ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_tokw_finish(self._h, err, _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))

    def close(self, finish=True):
        """Finishes the set (unless finish=False: the journal stays for a later run) and closes."""
        if getattr(self, "_h", None):
            try:
                if finish:
                    self.finish()
            finally:
                self._lib.cmr_tokw_close(self._h)
                self._h = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(finish=exc_type is None)

    def __del__(self):
        if getattr(self, "_h", None):
            self._lib.cmr_tokw_close(self._h)
            self._h = None


class Tokens:
    """Split `split` of token set `tokens` (a directory, or NAME for
    DATASET/tokens/NAME) of `dataset` (DIR or DIR@SUBSET): len(), steps(i),
    window(i, start, steps, stride) -> (steps, h, w) int32, clip(i). The
    dataset's reader is .dataset (actions, metadata, frames). Pickles as its
    arguments."""

    def __init__(self, dataset, tokens, split="train"):
        self._ds, self._h = None, None
        self._lib = _lib()
        self.path, self.tokens, self.split = os.fspath(dataset), os.fspath(tokens), split
        err, h = ctypes.create_string_buffer(_ERR), ctypes.c_void_p()
        if self._lib.cmr_tokens_open(ctypes.byref(h), self.path.encode(), self.tokens.encode(), split.encode(), err,
                                     _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))
        self._h = h
        info = _TokensInfo()
        self._lib.cmr_tokens_get_info(h, ctypes.byref(info))
        self.height, self.width, self.codebook = info.height, info.width, info.codebook
        self.token_bytes, self.patch_size = info.token_bytes, info.patch_size
        self.tokenizer = info.tokenizer.decode(errors="replace")
        self.tokenizer_version = info.tokenizer_version.decode(errors="replace")
        self._len = info.clips
        self._ds = None

    @property
    def dataset(self):
        if self._ds is None:
            self._ds = Dataset(self.path, self.split)
        return self._ds

    def __getstate__(self):
        return {"path": self.path, "tokens": self.tokens, "split": self.split}

    def __setstate__(self, state):
        self.__init__(state["path"], state["tokens"], state["split"])

    def __len__(self):
        return self._len

    def steps(self, index):
        """T of clip index."""
        t = self._lib.cmr_tokens_steps(self._h, int(index))
        if t < 0:
            raise IndexError(f"{self.path}: clip {index} out of range ({self._len} clips)")
        return t

    def window(self, index, start, steps, stride=1, out=None):
        """Steps start, start+stride, ... of clip index as (steps, h, w) int32
        (out: an optional C-contiguous int32/uint32 array of that shape)."""
        shape = (steps, self.height, self.width)
        if out is None:
            out = np.empty(shape, np.int32)
        elif out.shape != shape or out.dtype.itemsize != 4 or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous 4-byte integers of shape {shape}")
        err = ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_tokens_read_window(self._h, int(index), int(start), int(steps), int(stride), out.ctypes.data,
                                            out.size, 4, err, _ERR) != 0:
            msg = err.value.decode(errors="replace")
            raise (IndexError if "out of range" in msg else ReaderError)(msg)
        return out

    def clip(self, index):
        """Every step of clip index, (T, h, w) int32."""
        return self.window(index, 0, self.steps(index))

    def windows_per_clip(self, steps, stride=1, index=0):
        return max(0, self.steps(index) - (steps - 1) * stride) if self._len else 0

    def sample(self, index, start, steps, stride=1):
        """A token window as a dict: "tokens", the clip's "actions" (steps, A),
        "action_mask", "action_channels" (when the token steps are the clip's
        frames, docs/tokens.md) and "clip_id"."""
        ds = self.dataset
        rec = {"tokens": self.window(index, start, steps, stride), "clip_id": ds.clip_id(index)}
        if self.steps(index) == ds.frames:
            chans = ds.action_channels(index)
            rec["actions"], rec["action_mask"] = ds.window_actions(index, start, steps, stride, chans)
            rec["action_channels"] = [c[0] for c in chans]
        return rec

    def close(self):
        if getattr(self, "_h", None):
            self._lib.cmr_tokens_close(self._h)
            self._h = None
        if self._ds is not None:
            self._ds.close()
            self._ds = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TokenWindowSet:
    """The sources of a token loader (numpy_source.WindowBatches(tokens=...),
    torch.WindowDataset(tokens=...)): the token set `tokens` of each dataset
    path (DATASET@SUBSET too), windows of `frames` steps at `stride`, drawn
    within one clip each: the same sample order, mixing and resume state as
    frame windows (a sample s of a source is clip s // windows_per_clip, its
    start drawn from (seed, epoch, sample) below the clip's own T). actions:
    channel names to carry (see WindowBatches). Readers open lazily per process."""

    key, dtype = "tokens", np.int32

    def __init__(self, paths, tokens, split="train", frames=16, stride=1, windows_per_clip=1, actions=None):
        import warnings
        if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
            paths = [paths]
        self.paths, self.split, self.frames, self.stride = [os.fspath(p) for p in paths], split, frames, stride
        tokens = [tokens] * len(self.paths) if isinstance(tokens, (str, bytes)) or hasattr(tokens, "__fspath__") \
            else list(tokens)
        if len(tokens) != len(self.paths):
            raise ValueError(f"{len(tokens)} token sets for {len(self.paths)} datasets")
        self.tokens, self.windows_per_clip, self.pad_to = [os.fspath(t) for t in tokens], windows_per_clip, 0
        self.actions = list(actions) if actions is not None else None
        self._tk = None
        self.clips, self.steps, shapes, self.sets = [], [], set(), []
        for p, t in zip(self.paths, self.tokens):
            with Tokens(p, t, split) as tk:
                if len(tk) == 0:
                    warnings.warn(f"{p}: split '{split}' has no clips", stacklevel=3)
                steps = np.array([tk.steps(i) for i in range(len(tk))], np.int64)
                short = np.nonzero(steps - (frames - 1) * stride < 1)[0]
                if len(short):
                    raise ValueError(f"{p} tokens {t}: a window of {frames} steps at stride {stride} does not fit in "
                                     f"clip {short[0]} ({steps[short[0]]} steps)")
                self.clips.append(len(tk))
                self.steps.append(steps)
                shapes.add((frames, tk.height, tk.width))
                self.sets.append({"tokenizer": tk.tokenizer, "version": tk.tokenizer_version,
                                  "codebook": tk.codebook})
        if len(shapes) > 1:
            raise ValueError(f"token sets differ in window shape (steps, h, w): {sorted(shapes)}")
        self.shape = shapes.pop()
        self.sizes = [c * windows_per_clip for c in self.clips]

    def order(self):
        return {"windows_per_clip": self.windows_per_clip, "frames": self.frames, "stride": self.stride,
                "tokens": self.sets}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tk"] = None
        return state

    def datasets(self):
        if self._tk is None:
            self._tk = [Tokens(p, t, self.split) for p, t in zip(self.paths, self.tokens)]
        return self._tk

    def starts_of(self, src, sample, key_words):
        from .numpy_source import _START_KEY
        from .sampler import uniform_ints
        out = np.empty(len(sample), np.int64)
        for d in np.unique(src):
            m = src == d
            clip = sample[m] % self.sizes[d] // self.windows_per_clip
            bound = self.steps[d][clip] - (self.frames - 1) * self.stride
            out[m] = uniform_ints(sample[m], bound, *key_words, _START_KEY, d)
        return out

    def fill(self, src, clip, start, out):
        tk = self.datasets()
        for i in range(len(clip)):
            tk[src[i]].window(int(clip[i]), int(start[i]), self.frames, self.stride, out=out[i])

    def extras(self, src, clip, start):
        if self.actions is None:
            return {}
        b, a = len(clip), len(self.actions)
        values = np.zeros((b, self.frames, a), np.float32)
        mask = np.zeros((b, self.frames, a), np.uint8)
        col = {name: k for k, name in enumerate(self.actions)}
        for i in range(b):
            tk = self.datasets()[src[i]]
            ds = tk.dataset
            if tk.steps(int(clip[i])) != ds.frames:
                continue               # steps are not frames: no actions (docs/tokens.md)
            chans = ds.action_channels(int(clip[i]))
            if not chans:
                continue
            v, m = ds.window_actions(int(clip[i]), int(start[i]), self.frames, self.stride, chans)
            for j, c in enumerate(chans):
                k = col.get(c[0])
                if k is not None:
                    values[i, :, k] = v[:, j]
                    mask[i, :, k] = m
        return {"actions": values, "action_mask": mask}

    def close(self):
        for tk in self._tk or ():
            tk.close()
        self._tk = None
