"""ctypes binding of libclipmill_reader.so (lib/clipmill/reader.h)."""
import ctypes
import ctypes.util
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import urllib.parse

import numpy as np

_ERR = 512


class ReaderError(RuntimeError):
    """A read failed: bad index or window, or a corrupt record (the message names shard, record and clip)."""


class _ActionChannel(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 64), ("type", ctypes.c_int32), ("interp", ctypes.c_int32)]


ACTION_TYPES = ("held", "pressed", "value")
ACTION_INTERPS = ("none", "hold", "linear")


class _Info(ctypes.Structure):
    _fields_ = [("clips", ctypes.c_int64), ("frames", ctypes.c_int32), ("height", ctypes.c_int32),
                ("width", ctypes.c_int32), ("channels", ctypes.c_int32), ("fps_num", ctypes.c_int32),
                ("fps_den", ctypes.c_int32), ("codec", ctypes.c_int32)]


def _installed_library():
    """The installed libclipmill_reader.so, or None: pkg-config's libdir of
    clipmill-reader (a prefix on PKG_CONFIG_PATH, the .deb's /usr), then lib/
    beside the clipmill tools on PATH (a prefix or module install), then the
    dynamic linker's cache (ctypes.util.find_library)."""
    dirs = []
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "clipmill-reader"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            dirs.append(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass                                  # no pkg-config: the other places
    tool = shutil.which("clipmill-shard")
    if tool:
        dirs.append(os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(tool))), "lib"))
    for d in dirs:
        for name in ("libclipmill_reader.so", "libclipmill_reader.so.0"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                return os.path.normpath(p)
    return ctypes.util.find_library("clipmill_reader")


def library_path():
    """Where the shared library is: $CLIPMILL_READER_LIB when set (an explicit
    choice wins: the tests point it at the build under test, a sanitizer build
    needs its own), else the installed library (_installed_library), else
    build*/lib next to the package's repository (running from a checkout)."""
    env = os.environ.get("CLIPMILL_READER_LIB")
    if env:
        return env
    found = _installed_library()
    if found:
        return found
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for build in ("build", "build-shard", "build-release"):
        p = os.path.join(repo, build, "lib", "libclipmill_reader.so")
        if os.path.exists(p):
            return p
    raise OSError("libclipmill_reader.so not found: install clipmill (cmake --install, the .deb, or a module "
                  "that puts its lib/pkgconfig on PKG_CONFIG_PATH), build it here (cmake --build build), or set "
                  "CLIPMILL_READER_LIB")


_lib = None
_lib_lock = threading.Lock()


def _load():
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = ctypes.CDLL(library_path())
            p, i64, i32, sz = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_size_t
            buf = ctypes.c_char_p
            lib.cmr_version.restype = ctypes.c_char_p
            lib.cmr_open.argtypes = [ctypes.POINTER(p), ctypes.c_char_p, ctypes.c_char_p, buf, sz]
            lib.cmr_close.argtypes = [p]
            lib.cmr_close.restype = None
            lib.cmr_count.argtypes = [p]
            lib.cmr_count.restype = i64
            lib.cmr_get_info.argtypes = [p, ctypes.POINTER(_Info)]
            lib.cmr_get_info.restype = None
            lib.cmr_clip_id.argtypes = [p, i64, buf, sz, buf, sz]
            lib.cmr_window_bytes.argtypes = [p, i32, i32]
            lib.cmr_window_bytes.restype = sz
            lib.cmr_read_clip.argtypes = [p, i64, p, sz, buf, sz]
            lib.cmr_read_window.argtypes = [p, i64, i32, i32, i32, i32, p, sz, buf, sz]
            if hasattr(lib, "cmr_read_window_chw"):      # an older library: transposed in numpy
                lib.cmr_read_window_chw.argtypes = [p, i64, i32, i32, i32, i32, p, sz, buf, sz]
            lib.cmr_clip_meta.argtypes = [p, i64, buf, sz, buf, sz]
            lib.cmr_clip_meta.restype = i64
            lib.cmr_dataset_index.argtypes = [p, i64]
            lib.cmr_dataset_index.restype = i64
            lib.cmr_metadata_path.argtypes = [p]
            lib.cmr_metadata_path.restype = ctypes.c_char_p

            lib.cmr_mix_new.argtypes = [ctypes.POINTER(p), ctypes.POINTER(i64), ctypes.POINTER(ctypes.c_double), i32,
                                        ctypes.c_uint64, buf, sz]
            lib.cmr_mix_free.argtypes = [p]
            lib.cmr_mix_free.restype = None
            lib.cmr_mix_draw.argtypes = [p, ctypes.c_uint64, ctypes.POINTER(i32), ctypes.POINTER(i64)]
            lib.cmr_mix_draw.restype = None
            if hasattr(lib, "cmr_read_window_actions"):   # an older library reads frames only
                lib.cmr_clip_actions.argtypes = [p, i64, ctypes.POINTER(i32), p, i32, buf, sz]
                lib.cmr_read_window_actions.argtypes = [p, i64, i32, i32, i32, p, sz, p, buf, sz]
            _lib = lib
    return _lib


def _column(values):
    """A metadata column as numpy: int64 when every value is an integer,
    float64 (NaN for NULL) when numbers, else an object array (str or None)."""
    kinds = {type(v) for v in values} - {type(None)}
    if kinds <= {int} and None not in values:
        return np.array(values, np.int64)
    if kinds <= {int, float}:
        return np.array([np.nan if v is None else v for v in values], np.float64)
    return np.array(values, object)


class Dataset:
    """One split of a dataset: len(), ds[i] (a whole clip), ds.window(...),
    ds.meta(i) and ds.metadata(). path may be "DATASET@SUBSET" (docs/reader.md).

    Safe to share between threads (reads release the GIL) and across fork: the
    C reader reopens its LMDB environments in a child process by itself. Pickles
    as (path, split) and reopens on unpickling (spawn DataLoader workers, grain)."""

    def __init__(self, path, split="train"):
        self._lib = _load()
        self.path, self.split = os.fspath(path), split
        err = ctypes.create_string_buffer(_ERR)
        h = ctypes.c_void_p()
        if self._lib.cmr_open(ctypes.byref(h), self.path.encode(), split.encode(), err, _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))
        self._h = h
        info = _Info()
        self._lib.cmr_get_info(h, ctypes.byref(info))
        self.frames, self.height, self.width, self.channels = info.frames, info.height, info.width, info.channels
        self.fps = info.fps_num / info.fps_den
        self.codec = ("raw", "h264")[info.codec]
        self._len = info.clips

    def __getstate__(self):
        """Pickles as (path, split): the handle is per process (spawn workers, grain)."""
        return {"path": self.path, "split": self.split}

    def __setstate__(self, state):
        self.__init__(state["path"], state["split"])   # reopens; ReaderError if the dataset went away

    def close(self):
        if getattr(self, "_h", None):
            self._lib.cmr_close(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self._len

    def clip_id(self, index):
        """The catalog clip id of clip index. IndexError out of range; ReaderError
        for an id that is not one (a shard built from a damaged catalog)."""
        out, err = ctypes.create_string_buffer(64), ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_clip_id(self._h, index, out, 64, err, _ERR) != 0:
            msg = err.value.decode(errors="replace")
            raise (IndexError if "out of range" in msg else ReaderError)(msg)
        try:
            return out.value.decode("ascii")
        except UnicodeDecodeError:   # an older libclipmill_reader that does not check ids
            raise ReaderError(f"{self.path}: clip {index}: clip id {out.value!r} is not a clip id") from None

    def __getitem__(self, index):
        if index < 0:
            index += self._len
        out = np.empty((self.frames, self.height, self.width, self.channels), np.uint8)
        err = ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_read_clip(self._h, index, out.ctypes.data, out.nbytes, err, _ERR) != 0:
            msg = err.value.decode(errors="replace")
            raise (IndexError if "out of range" in msg else ReaderError)(msg)
        return out

    def padded_height(self, pad_to=0):
        return self.height if pad_to <= 1 else -(-self.height // pad_to) * pad_to

    def window(self, index, start, frames, stride=1, pad_to=0, out=None):
        """Frames start, start+stride, ... (frames of them) of clip index as a
        (frames, Hp, W, C) uint8 array, Hp = height rounded up to pad_to (zero rows
        at the bottom). out: an optional C-contiguous uint8 array of that shape."""
        shape = (frames, self.padded_height(pad_to), self.width, self.channels)
        if out is None:
            out = np.empty(shape, np.uint8)
        elif out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous uint8 of shape {shape}")
        err = ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_read_window(self._h, index, start, frames, stride, pad_to, out.ctypes.data, out.nbytes,
                                     err, _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))
        return out

    def read_windows(self, clips, starts, frames, stride=1, pad_to=0, out=None, chw=False):
        """Windows (clips[k], starts[k]) into out[k], out a C-contiguous uint8
        array of shape (n, frames, Hp, W, C) (made when None), the C reader
        writing straight into out's memory (a torch tensor's .numpy(), a
        shared-memory slot): one ctypes call per window (each releases the GIL),
        no allocation per window. chw: (n, frames, C, Hp, W) instead
        (cmr_read_window_chw). Returns out."""
        hp = self.padded_height(pad_to)
        shape = (frames, self.channels, hp, self.width) if chw else (frames, hp, self.width, self.channels)
        clips, starts = np.asarray(clips, np.int64).tolist(), np.asarray(starts, np.int64).tolist()
        if chw and not hasattr(self._lib, "cmr_read_window_chw"):
            if out is None:
                out = np.empty((len(clips),) + shape, np.uint8)
            hwc = self.read_windows(clips, starts, frames, stride, pad_to)
            out[...] = hwc.transpose(0, 1, 4, 2, 3)
            return out
        if out is None:
            out = np.empty((len(clips),) + shape, np.uint8)
        elif out.shape != (len(clips),) + shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous uint8 of shape {(len(clips),) + shape}")
        step = int(np.prod(shape))
        base = out.__array_interface__["data"][0]
        err, h = ctypes.create_string_buffer(_ERR), self._h
        read = self._lib.cmr_read_window_chw if chw else self._lib.cmr_read_window
        for k in range(len(clips)):
            if read(h, clips[k], starts[k], frames, stride, pad_to, base + k * step, step, err, _ERR) != 0:
                raise ReaderError(err.value.decode(errors="replace"))
        return out

    def windows_per_clip(self, frames, stride=1):
        """Start positions a window fits at: 0 .. frames_per_clip - (frames-1)*stride - 1."""
        return max(0, self.frames - (frames - 1) * stride)

    def meta(self, index):
        """Clip index's metadata (its meta.sqlite row and "scores") as a dict.
        IndexError out of range; ReaderError for a dataset of format version 1."""
        if index < 0:
            index += self._len
        err, out = ctypes.create_string_buffer(_ERR), ctypes.create_string_buffer(8192)
        n = self._lib.cmr_clip_meta(self._h, index, out, 8192, err, _ERR)   # one call when the row fits (most do)
        if n >= 8192:
            out = ctypes.create_string_buffer(n + 1)
            n = self._lib.cmr_clip_meta(self._h, index, out, n + 1, err, _ERR)
        if n < 0:
            msg = err.value.decode(errors="replace")
            raise (IndexError if "out of range" in msg else ReaderError)(msg)
        return json.loads(out.raw[:n].decode())

    def dataset_indices(self):
        """Each clip's index in the whole dataset's split (differs under DATASET@SUBSET)."""
        return np.array([self._lib.cmr_dataset_index(self._h, i) for i in range(self._len)], np.int64)

    def metadata(self, as_="numpy"):
        """Every clip's metadata, in this reader's order. as_="numpy": a dict of
        column -> array of len(self) (int64, float64 with NaN for NULL, or
        object for text). as_="sqlite": a read-only sqlite3 connection to the
        dataset's meta.sqlite with a TEMP VIEW `rows` (column i = reader index,
        then the clips columns), for SQL of your own. ReaderError for format 1."""
        path = self._lib.cmr_metadata_path(self._h)
        if not path:
            raise ReaderError(f"{self.path}: no per-clip metadata (a dataset of format version 1)")
        uri = "file:" + urllib.parse.quote(os.fsdecode(path)) + "?mode=ro&immutable=1"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        con.execute("CREATE TEMP TABLE reader_order (i INTEGER PRIMARY KEY, idx INTEGER NOT NULL)")
        con.executemany("INSERT INTO temp.reader_order VALUES (?, ?)", enumerate(self.dataset_indices().tolist()))
        split = self.split.replace("'", "''")
        con.execute("CREATE TEMP VIEW rows AS SELECT o.i, c.* FROM temp.reader_order AS o"
                    f" JOIN main.clips AS c ON c.split = '{split}' AND c.idx = o.idx ORDER BY o.i")
        if as_ == "sqlite":
            return con
        if as_ != "numpy":
            con.close()
            raise ValueError('as_ is "numpy" or "sqlite"')
        cur = con.execute("SELECT * FROM temp.rows")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        con.close()
        return {name: _column([r[k] for r in rows]) for k, name in enumerate(names) if name != "i"}

    def action_channels(self, index):
        """The action channels of clip index (docs/actions.md) as a list of
        (name, type, interp) tuples, e.g. ("held:right", "held", "none"); [] for a
        clip without actions."""
        if not hasattr(self._lib, "cmr_clip_actions"):
            return []
        n, err = ctypes.c_int(0), ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_clip_actions(self._h, index, ctypes.byref(n), None, 0, err, _ERR) != 0:
            msg = err.value.decode(errors="replace")
            raise (IndexError if "out of range" in msg else ReaderError)(msg)
        chans = (_ActionChannel * max(n.value, 1))()
        if n.value and self._lib.cmr_clip_actions(self._h, index, ctypes.byref(n), chans, n.value, err, _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))
        return [(c.name.decode("utf-8", errors="replace"), ACTION_TYPES[c.type], ACTION_INTERPS[c.interp])
                for c in chans[: n.value]]

    def window_actions(self, index, start, frames, stride=1, channels=None):
        """The actions of the frames window() reads: (values, mask), values a
        (frames, A) float32 array (A = len(action_channels(index)); pass channels
        to skip asking) and mask a (frames,) uint8 array, 1 where the frame's
        actions are known. A clip without actions gives A = 0 and a zero mask."""
        if channels is None:
            channels = self.action_channels(index)
        values = np.zeros((frames, len(channels)), np.float32)
        mask = np.zeros(frames, np.uint8)
        if not hasattr(self._lib, "cmr_read_window_actions"):
            return values, mask
        err = ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_read_window_actions(self._h, index, start, frames, stride, values.ctypes.data, values.size,
                                             mask.ctypes.data, err, _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))
        return values, mask

    def window_actions_into(self, index, start, frames, stride, values, mask):
        """window_actions into given C-contiguous arrays: values (frames, A)
        float32 with A the clip's channel count, mask (frames,) uint8."""
        err = ctypes.create_string_buffer(_ERR)
        if self._lib.cmr_read_window_actions(self._h, index, start, frames, stride, values.ctypes.data, values.size,
                                             mask.ctypes.data, err, _ERR) != 0:
            raise ReaderError(err.value.decode(errors="replace"))

    def sample(self, index, start=0, frames=None, stride=1, pad_to=0):
        """A window as a dict: "frames" (window()), "actions" (frames, A) float32,
        "action_mask" (frames,) uint8, "action_channels" (names), "clip_id"."""
        frames = self.frames if frames is None else frames
        chans = self.action_channels(index)
        values, mask = self.window_actions(index, start, frames, stride, chans)
        return {"frames": self.window(index, start, frames, stride, pad_to), "actions": values, "action_mask": mask,
                "action_channels": [c[0] for c in chans], "clip_id": self.clip_id(index)}
