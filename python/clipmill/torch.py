"""PyTorch loading: WindowDataset, an IterableDataset of batches of windows,
with exact resume at any world size and worker count.

    ds = WindowDataset("corpus/datasets/v1", "train", frames=16, batch_size=8, seed=0,
                       layout="BTCHW", pad_to=4)
    loader = StatefulLoader(ds, num_workers=2)          # a DataLoader that counts batches
    if ckpt: loader.load_state_dict(ckpt["loader"])
    for epoch in range(start_epoch, n):
        ds.set_epoch(epoch)
        for batch in loader:           # uint8 tensor (8, 16, 3, 92, 160)
            ...
            ckpt = {"loader": loader.state_dict(), ...}

A list of paths with weights mixes datasets (clipmill.mixture). Batching
happens inside the dataset (batch_size=None in the DataLoader): one numpy
buffer per batch filled by the C reader, handed to torch without a copy.

Order and work split (clipmill.sampler): the epoch's global order depends
only on (seed, epoch); rank r of W takes every W-th position, in batches; the
DataLoader's worker w fills the rank's batches w, w + n, ... so the loader
yields them in order and only the epoch's last batch is short. The state is
the number of global positions consumed, so a run saved at one world size or
worker count resumes at another with no window repeated or skipped. Epoch,
resume point, rank and world size reach the workers through shared memory, so
persistent_workers=True sees set_epoch and load_state_dict too.
"""
import multiprocessing
import multiprocessing.context
import os
import warnings
import weakref

import numpy as np
import torch
import torch.utils.data

from . import _slots
from .numpy_source import WindowBatches

_EPOCH, _START, _RANK, _WORLD, _GEN, _SLOTS = range(6)
_SLOT_KEY = "clipmill_slot"
_WORKER_SLOTS = {}        # in a worker process: (prefix, pid) -> its _slots.WorkerSlots


def _rank_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class WindowDataset(torch.utils.data.IterableDataset):
    def __init__(self, path, split="train", frames=16, stride=1, batch_size=8, seed=0, layout="BTCHW", pad_to=0,
                 windows_per_clip=1, drop_last=None, weights=None, samples_per_epoch=None, rank=None,
                 world_size=None, return_info=False, tokens=None, actions=None, mixing="quota"):
        """path: a dataset directory ("DATASET@SUBSET" too) or a list of them,
        mixed by weights (default: by size) into samples_per_epoch windows per
        epoch (default: all of them). rank/world_size: default torch.distributed's,
        else env RANK/WORLD_SIZE, read when iteration starts. drop_last: drop the
        epoch's last, short step (default: only when world_size > 1, so ranks stay
        in step). return_info: yield {"frames", "source", "clip", "start",
        "position"} (tensors) instead of the frames alone. actions (None: when
        the sources have any; True, False, or channel names): frame batches are
        dicts with "frames", "actions" (B, T, A) float32 over
        self.action_channels and "action_mask" (B, T, A) uint8 (docs/reader.md
        "Actions in batches"). tokens: windows of this token set
        (docs/tokens.md) instead of frames, (B, frames, h, w) int32 ("tokens"
        with return_info, and "actions", "action_mask" when actions names
        channels); layout does not apply. mixing: "quota" or "c" (WindowBatches)."""
        super().__init__()
        if layout not in ("BTCHW", "BTHWC"):
            raise ValueError("layout is BTCHW or BTHWC")
        self.layout, self.return_info, self._drop_last = layout, return_info, drop_last
        self._fixed = (rank, world_size)
        self.core = WindowBatches(path, split, frames, stride, batch_size, seed, pad_to, windows_per_clip, weights,
                                  samples_per_epoch, bool(drop_last), tokens=tokens, actions=actions, mixing=mixing)
        self.key = self.core.set.key   # "frames" or "tokens"
        self.action_channels = getattr(self.core.set, "action_channels", None) or getattr(self.core.set, "actions",
                                                                                          None) or []
        self._shared = multiprocessing.RawArray("q", [0, 0, -1, -1, 0, 0])
        self._slot_prefix, self._maps = _slots.new_prefix(), None
        self._resolve()

    def __getstate__(self):
        state = dict(self.__dict__)
        if multiprocessing.context.get_spawning_popen() is None:   # plain pickling: copy the values
            state["_shared"] = list(self._shared)
        state["_maps"], state["_pool"] = None, None
        return state

    def _resolve(self):
        """Rank and world size as seen now (main process), into the shared state."""
        rank, world = _rank_world()
        rank = rank if self._fixed[0] is None else self._fixed[0]
        world = world if self._fixed[1] is None else self._fixed[1]
        self.core.rank, self.core.world_size = rank, world
        self.core.drop_last = world > 1 if self._drop_last is None else self._drop_last
        self._publish()

    def _publish(self):
        c = self.core
        self._shared[_EPOCH], self._shared[_START] = c.epoch, c.start
        self._shared[_RANK], self._shared[_WORLD] = c.rank, c.world_size

    @property
    def epoch(self):
        return self.core.epoch

    def set_epoch(self, epoch):
        """Selects the epoch (reshuffles); a new epoch starts at its beginning."""
        self.core.set_epoch(epoch)
        self._publish()

    def __len__(self):
        """This rank's batches in a whole epoch."""
        self._resolve()
        return len(self.core)

    def state_dict(self, batches=None):
        """The loader's position: batches defaults to those counted by
        StatefulLoader (or by iterating in this process); pass your own count of
        batches taken since set_epoch / load_state_dict with a plain DataLoader."""
        self._resolve()
        return self.core.state_dict(batches)

    def load_state_dict(self, state):
        self.core.load_state_dict(state)
        self._publish()

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        core = self.core
        if info is None:                        # in the training process itself: count here
            self._resolve()
            core._taken, core._finished = 0, False
            if self.key == "frames" and getattr(self, "_pool", None) is None:   # kept across epochs
                self._pool = _slots.LocalPool()
            pool = self._pool if self.key == "frames" else None   # buffers back when the trainer drops them
            for batch in core.batches(core.plan(), core.epoch, alloc=pool and pool.take, chw=self._chw()):
                core._taken += 1
                yield self._wrap(batch, torch.from_numpy(batch[self.key]))
            core._finished = True
            return
        sh = list(self._shared)                  # a worker: epoch and position from the main process
        core.epoch, core.start = sh[_EPOCH], sh[_START]
        rank, world = (sh[_RANK], sh[_WORLD]) if sh[_WORLD] > 0 else _rank_world()
        plan = core.plan(rank, world)
        if sh[_SLOTS] and self.key == "frames" and _slots.available():
            yield from self._slot_batches(plan, info, sh[_GEN])
            return
        # A plain DataLoader: each batch read straight into a new shared segment (torch would make
        # one and copy into it; it cannot tell when the trainer is done with a batch).
        seg = []

        def into_segment(shape):
            seg[:] = [_shared_tensor(shape, torch.int32 if self.key == "tokens" else torch.uint8)]
            return seg[0].numpy()

        for b in core.batches(plan, core.epoch, info.id, info.num_workers, alloc=into_segment, chw=self._chw()):
            yield self._wrap(b, seg[0])

    def _slot_batches(self, plan, info, gen):
        """Under StatefulLoader: each batch in a reused shared-memory slot
        (clipmill._slots), the C reader writing straight into it (BTCHW too:
        cmr_read_window_chw); only the slot's name crosses the queue."""
        key = (self._slot_prefix, os.getpid())
        slots = _WORKER_SLOTS.get(key)
        if slots is None:
            slots = _WORKER_SLOTS[key] = _slots.WorkerSlots(self._slot_prefix)
        core, chw = self.core, self.layout == "BTCHW"
        first, taken = True, [None]

        def into_slot(shape):
            nonlocal first
            taken[0] = slots.take(shape, reclaim_filled=first)
            first = False
            return np.empty(shape, np.uint8) if taken[0] is None else taken[0][1]

        for b in core.batches(plan, core.epoch, info.id, info.num_workers, alloc=into_slot, chw=chw):
            got = taken[0]
            if got is None:                     # every slot held by the trainer: a segment of torch's
                t = _shared_tensor(b["frames"].shape)
                t.copy_(torch.from_numpy(b["frames"]))
                yield self._wrap(b, t)
                continue
            slot, view = got
            yield self._wrap(b, {_SLOT_KEY: _slots.WorkerSlots.describe(slot, view.shape, gen)}, _Packed)

    def _chw(self):
        return self.layout == "BTCHW" and self.key == "frames"

    def _wrap(self, batch, t, small=None):
        """What the loader yields: the frames (tokens) t alone, or a dict with
        the info fields (return_info) and, for frames, actions. small: how the
        small arrays travel (the slot path packs them as bytes: a tensor would
        cost a shared-memory segment and a file descriptor each)."""
        acts = self.key == "frames" or self.return_info
        keys = [k for k in batch if k != self.key and (self.return_info or (acts and k in ("actions", "action_mask")))]
        if not keys:
            return t
        small = small or torch.from_numpy
        out = {k: small(batch[k]) for k in keys}
        out[self.key] = t
        return out


class _Packed:
    """A small numpy array crossing the DataLoader's queue as bytes."""

    def __init__(self, a):
        self.data, self.dtype, self.shape = a.tobytes(), a.dtype.str, a.shape

    def tensor(self):
        return torch.from_numpy(np.frombuffer(self.data, self.dtype).reshape(self.shape).copy())


def _shared_tensor(shape, dtype=torch.uint8):
    n = 1
    for d in shape:
        n *= d
    storage = torch.IntStorage if dtype == torch.int32 else torch.ByteStorage
    cls = torch.IntTensor if dtype == torch.int32 else torch.ByteTensor
    return cls(storage._new_shared(n)).view(shape)


class StatefulLoader:
    """A DataLoader over a WindowDataset (batch_size=None) that counts the
    batches it hands out, so state_dict() is exact however many workers run
    ahead. Keyword arguments go to torch.utils.data.DataLoader, except
    pin_memory: with workers, the frames are copied from their slot into
    pinned memory here (torch's caching host allocator, so the slot is free
    at once and a non_blocking copy to the GPU is safe); the DataLoader's pin
    thread would only see the slot's name."""

    def __init__(self, dataset, **kwargs):
        self.dataset = dataset
        self.pin = bool(kwargs.get("pin_memory")) and kwargs.get("num_workers", 0) > 0
        if self.pin:
            kwargs["pin_memory"] = False
            if not torch.cuda.is_available():
                warnings.warn("pin_memory=True but no CUDA device: not pinning", stacklevel=2)
                self.pin = False
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=None, **kwargs)
        self.iterator = None

    def __len__(self):
        return len(self.dataset)

    def __iter__(self):
        ds = self.dataset
        ds._resolve()
        core, workers = ds.core, self.loader.num_workers
        sh = ds._shared
        sh[_GEN] += 1                  # workers see a new iteration (slots filled for an old one are free again)
        gen = sh[_GEN]
        sh[_SLOTS] = 1 if workers else 0
        if workers and ds._maps is None:
            _slots.sweep_stale()
            ds._maps = _slots.MainMaps(ds._slot_prefix)
            # persistent workers leave the names of slots they filled for an abandoned iteration:
            # removed when the dataset goes, or at exit
            weakref.finalize(ds, _slots.unlink_prefix, ds._slot_prefix)
        core._taken, core._finished = 0, False
        try:
            self.iterator = iter(self.loader)     # its workers (bench/read_bench.py reads their memory)
            for batch in self.iterator:
                if workers:
                    core._taken += 1
                    batch = self._from_slot(ds, batch, gen, self.pin)
                yield batch
            core._finished = True
        finally:
            if workers and not self.loader.persistent_workers and ds._maps is not None:
                ds._maps.close()       # its workers are gone: unlink the names of slots never mapped

    @staticmethod
    def _from_slot(ds, batch, gen, pin=False):
        info = isinstance(batch, dict) and _SLOT_KEY not in batch      # return_info: frames among other keys
        frames = batch.get("frames") if info else batch
        if not isinstance(frames, dict):
            return batch               # a fallback batch in torch's own segment
        desc = frames[_SLOT_KEY]
        if desc["gen"] != gen:
            raise RuntimeError("a batch of an earlier iteration of this loader (iterate one at a time)")
        t = torch.from_numpy(ds._maps.array(desc))
        if pin:                        # untested here (no GPU on the test machine)
            t = torch.empty(t.shape, dtype=t.dtype, pin_memory=True).copy_(t)
            batch = {k: v.tensor().pin_memory() if isinstance(v, _Packed) else v for k, v in batch.items()} \
                if info else batch
        if not info:
            return t
        return dict({k: v.tensor() if isinstance(v, _Packed) else v for k, v in batch.items()}, frames=t)

    def state_dict(self):
        return self.dataset.state_dict()

    def load_state_dict(self, state):
        self.dataset.load_state_dict(state)


class TokenWindowDataset(WindowDataset):
    """A WindowDataset over a token set (docs/tokens.md): batches of (B, steps,
    h, w) int32 token windows, each within one clip, in the same global order,
    mixing and state_dict as frame windows. tokens: the set's NAME (in
    DATASET/tokens/) or directory, or one per path; actions: channel names
    for "actions"/"action_mask" (return_info=True yields the dict)."""

    def __init__(self, path, tokens, split="train", steps=16, stride=1, batch_size=8, seed=0, actions=None, **kwargs):
        super().__init__(path, split, frames=steps, stride=stride, batch_size=batch_size, seed=seed, tokens=tokens,
                         actions=actions, **kwargs)
