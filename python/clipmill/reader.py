"""ctypes binding of libclipmill_reader.so (lib/clipmill/reader.h)."""
import ctypes
import ctypes.util
import os
import threading

import numpy as np

_ERR = 512


class ReaderError(RuntimeError):
    """A read failed: bad index or window, or a corrupt record (the message names shard, record and clip)."""


class _Info(ctypes.Structure):
    _fields_ = [("clips", ctypes.c_int64), ("frames", ctypes.c_int32), ("height", ctypes.c_int32),
                ("width", ctypes.c_int32), ("channels", ctypes.c_int32), ("fps_num", ctypes.c_int32),
                ("fps_den", ctypes.c_int32), ("codec", ctypes.c_int32)]


def library_path():
    """Where the shared library is: $CLIPMILL_READER_LIB, else build*/lib next to
    the package's repository, else the system's (ctypes.util.find_library)."""
    env = os.environ.get("CLIPMILL_READER_LIB")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for build in ("build", "build-shard", "build-release"):
        p = os.path.join(repo, build, "lib", "libclipmill_reader.so")
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("clipmill_reader")
    if found:
        return found
    raise OSError("libclipmill_reader.so not found: build it (cmake --build build) or set CLIPMILL_READER_LIB")


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
            _lib = lib
    return _lib


class Dataset:
    """One split of a dataset: len(), ds[i] (a whole clip), ds.window(...).

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

    def windows_per_clip(self, frames, stride=1):
        """Start positions a window fits at: 0 .. frames_per_clip - (frames-1)*stride - 1."""
        return max(0, self.frames - (frames - 1) * stride)
