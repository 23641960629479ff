"""Batch slots in shared memory between DataLoader workers and the training
process (clipmill.torch.StatefulLoader), reused, handed over without a copy.

Why: a raw batch of 16 windows is 11 MB. Handing each in a new shared-memory
segment (torch's default) costs faulting in fresh pages (38 ms per batch on
the test VM) plus torch's file-descriptor passing; copying it out in the
training process costs as much again. Here a worker owns a few slots,
/dev/shm files mapped once in each process; the C reader writes a batch
straight into a free slot; only the slot's name crosses the DataLoader's queue;
the training process maps the file once (then unlinks it: nothing leaks if a
process is killed later) and yields a tensor over the slot's memory. The slot
goes back to its worker when that tensor, and every view of it, is freed
(a weakref finalizer on the numpy array under the tensor), not when the next
batch arrives, so a trainer may keep batches as long as it likes: the worker
then makes more slots (at most MAX_SLOTS, then it falls back to torch's
own segments), never overwriting one still in use.

Slot file: a 4096-byte header page (int64 state at offset 0: 0 free, 1 filled
by the worker and not yet taken, 2 held by the training process), then the
batch bytes. File names: PREFIX-<worker pid>-<n>, PREFIX =
/dev/shm/clipmill-slot-<training process pid>-<random>; a loader sweeps files
of training processes that no longer exist when it starts.
"""
import glob
import mmap
import os
import secrets
import weakref

import numpy as np

SHM_DIR = "/dev/shm"
HEADER = 4096
MAX_SLOTS = 32          # per worker: prefetched batches plus those the trainer still holds
FREE, FILLED, HELD = 0, 1, 2


def available():
    return os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK)


def new_prefix():
    return os.path.join(SHM_DIR, f"clipmill-slot-{os.getpid()}-{secrets.token_hex(4)}")


def sweep_stale():
    """Unlinks slot files of training processes that have exited (killed ones
    leave the files of batches they had not mapped yet)."""
    for path in glob.glob(os.path.join(SHM_DIR, "clipmill-slot-*")):
        try:
            pid = int(os.path.basename(path).split("-")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            _unlink(path)
        except (ValueError, IndexError, PermissionError):
            pass


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _map(path, size, create):
    fd = os.open(path, os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    try:
        if create:
            os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


class _Slot:
    def __init__(self, path, capacity):
        self.path, self.capacity = path, capacity
        self.mm = _map(path, HEADER + capacity, create=True)
        self.state = np.frombuffer(self.mm, np.int64, 1, 0)
        self.data = np.frombuffer(self.mm, np.uint8, capacity, HEADER)


class WorkerSlots:
    """A worker process's slots (one object per process and loader, kept
    across persistent workers' iterations)."""

    def __init__(self, prefix):
        self.prefix, self.slots = prefix, []
        self._pid = os.getpid()
        weakref.finalize(self, _unlink_all, self.slots)   # a worker leaving normally removes its names

    def take(self, shape, reclaim_filled=False):
        """A free slot as (slot, uint8 array of shape over its memory), marked
        FILLED; None when MAX_SLOTS are all in use. reclaim_filled: slots
        FILLED but never taken (an abandoned iteration's prefetch) count as
        free: call only at the start of a new iteration."""
        n = int(np.prod(shape))
        for s in self.slots:
            if reclaim_filled and s.state[0] == FILLED:
                s.state[0] = FREE
        for s in self.slots:
            if s.state[0] == FREE and s.capacity >= n:
                s.state[0] = FILLED
                return s, s.data[:n].reshape(shape)
        if len(self.slots) >= MAX_SLOTS:
            return None
        s = _Slot(f"{self.prefix}-{self._pid}-{len(self.slots)}", n)
        self.slots.append(s)
        s.state[0] = FILLED
        return s, s.data.reshape(shape)

    @staticmethod
    def describe(slot, shape, gen):
        """What crosses the DataLoader's queue instead of the bytes."""
        return {"path": slot.path, "size": HEADER + slot.capacity, "shape": tuple(int(d) for d in shape), "gen": gen}


def _unlink_all(slots):
    """A worker leaving: its slot names, except those FILLED and not yet taken.
    A worker of an iterable dataset is told to exit as soon as its stream ends,
    while the training process may still hold its last batches in torch's
    reorder buffer, unmapped; under spawn the exit runs this finalizer
    (atexit), so removing those names lost batches ("No such file" on map).
    The training process unlinks each name when it maps the slot, and the
    rest when the iteration ends (MainMaps.close), the dataset goes, or a
    later loader sweeps a dead process's files."""
    for s in slots:
        if s.state[0] != FILLED:
            _unlink(s.path)


def _release(state):
    state[0] = FREE


class MainMaps:
    """The training process's mappings of the workers' slots."""

    def __init__(self, prefix):
        self.prefix, self.maps = prefix, {}

    def array(self, desc):
        """The batch in slot desc as a numpy uint8 array over the slot's memory,
        the slot HELD until that array is freed (with every tensor made from it)."""
        path = desc["path"]
        mm = self.maps.get(path)
        if mm is None:
            mm = self.maps[path] = _map(path, desc["size"], create=False)
            _unlink(path)                   # both processes have it mapped: the name is no longer needed
        state = np.frombuffer(mm, np.int64, 1, 0)
        state[0] = HELD
        arr = np.frombuffer(mm, np.uint8, int(np.prod(desc["shape"])), HEADER).reshape(desc["shape"])
        weakref.finalize(arr, _release, state)
        return arr

    def close(self):
        """Forgets the mappings (held batches keep theirs) and unlinks the
        names of slots made but never mapped here (workers shut down)."""
        self.maps = {}
        unlink_prefix(self.prefix)


def unlink_prefix(prefix):
    for path in glob.glob(prefix + "-*"):
        _unlink(path)


class LocalPool:
    """The same reuse within one process (the loader's own iteration, reader
    threads): buffers handed out as arrays and taken back when the array and
    every tensor made from it are freed. Fresh pages cost more to fault in
    than the C reader takes to fill them, so a loop that keeps no batches
    runs on two or three buffers."""

    def __init__(self):
        self.free = []

    def take(self, shape):
        n = int(np.prod(shape))
        for k, buf in enumerate(self.free):
            if len(buf) >= n:
                del self.free[k]
                break
        else:
            buf = np.empty(n, np.uint8)
        arr = buf[:n].reshape(shape)
        weakref.finalize(arr, self.free.append, buf)
        return arr
