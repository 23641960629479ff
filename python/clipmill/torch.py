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
import collections
import multiprocessing
import multiprocessing.context
import os
import time

import torch
import torch.utils.data

from .numpy_source import WindowBatches

_EPOCH, _START, _RANK, _WORLD, _GEN, _RING = range(6)
_RELEASED = 6             # then one count per worker: batches the training process has copied out
_MAX_RING_WORKERS = 64


def _rank_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class WindowDataset(torch.utils.data.IterableDataset):
    def __init__(self, path, split="train", frames=16, stride=1, batch_size=8, seed=0, layout="BTCHW", pad_to=0,
                 windows_per_clip=1, drop_last=None, weights=None, samples_per_epoch=None, rank=None,
                 world_size=None, return_info=False, tokens=None, actions=None):
        """path: a dataset directory ("DATASET@SUBSET" too) or a list of them,
        mixed by weights (default: by size) into samples_per_epoch windows per
        epoch (default: all of them). rank/world_size: default torch.distributed's,
        else env RANK/WORLD_SIZE, read when iteration starts. drop_last: drop the
        epoch's last, short step (default: only when world_size > 1, so ranks stay
        in step). return_info: yield {"frames", "source", "clip", "start",
        "position"} (tensors) instead of the frames alone. tokens: windows of this
        token set (docs/tokens.md) instead of frames, (B, frames, h, w) int32
        ("tokens" with return_info, and "actions", "action_mask" when actions
        names channels); layout does not apply."""
        super().__init__()
        if layout not in ("BTCHW", "BTHWC"):
            raise ValueError("layout is BTCHW or BTHWC")
        self.layout, self.return_info, self._drop_last = layout, return_info, drop_last
        self._fixed = (rank, world_size)
        self.core = WindowBatches(path, split, frames, stride, batch_size, seed, pad_to, windows_per_clip, weights,
                                  samples_per_epoch, bool(drop_last), tokens=tokens, actions=actions)
        self.key = self.core.set.key   # "frames" or "tokens"
        self._shared = multiprocessing.RawArray("q", [0, 0, -1, -1, 0, 0] + [0] * _MAX_RING_WORKERS)
        self._resolve()

    def __getstate__(self):
        state = dict(self.__dict__)
        if multiprocessing.context.get_spawning_popen() is None:   # plain pickling: copy the values
            state["_shared"] = list(self._shared)
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
            for batch in core.batches(core.plan(), core.epoch, reuse=self.layout == "BTCHW" and self.key == "frames"):
                core._taken += 1
                yield self._convert(batch)
            core._finished = True
            return
        sh = list(self._shared)                  # a worker: epoch and position from the main process
        core.epoch, core.start = sh[_EPOCH], sh[_START]
        rank, world = (sh[_RANK], sh[_WORLD]) if sh[_WORLD] > 0 else _rank_world()
        plan = core.plan(rank, world)
        # Batches cross to the training process through shared memory, made there by the worker:
        # torch would copy each into a new segment, and fresh shared pages are slow to fault in
        # (38 ms per 11 MB batch here). Under StatefulLoader, which copies each batch out and
        # says so, a worker cycles through `ring` segments of its own instead.
        ring, gen = sh[_RING] if info.id < _MAX_RING_WORKERS else 0, sh[_GEN]
        pool = {}
        for k, b in enumerate(core.batches(plan, core.epoch, info.id, info.num_workers, reuse=True)):
            f = torch.from_numpy(b[self.key])
            f = f.permute(0, 1, 4, 2, 3) if self.layout == "BTCHW" and self.key == "frames" else f
            t = None
            if ring and self._wait_released(info.id, k - ring + 1, gen):
                t = pool.get(k % ring)
                if t is None or t.shape != f.shape:
                    t = pool[k % ring] = _shared_tensor(f.shape, f.dtype)
            t = _shared_tensor(f.shape, f.dtype) if t is None else t
            t.copy_(f)
            yield self._wrap(b, t)

    def _wait_released(self, worker, count, gen):
        """Waits until the training process has copied out `count` of this worker's
        batches; False when a new iteration began meanwhile (then use a new segment)."""
        while self._shared[_RELEASED + worker] < count:
            if self._shared[_GEN] != gen:
                return False
            time.sleep(0.0002)
        return True

    def _wrap(self, batch, t):
        if not self.return_info:
            return t
        out = {k: torch.from_numpy(v) for k, v in batch.items() if k != self.key}
        out[self.key] = t
        return out

    def _convert(self, batch):
        t = torch.from_numpy(batch[self.key])
        if self.key == "frames" and self.layout == "BTCHW":
            t = t.permute(0, 1, 4, 2, 3).contiguous()
        return self._wrap(batch, t)


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
    ahead. Keyword arguments go to torch.utils.data.DataLoader."""

    def __init__(self, dataset, **kwargs):
        self.dataset = dataset
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=None, **kwargs)

    def __len__(self):
        return len(self.dataset)

    def __iter__(self):
        ds = self.dataset
        ds._resolve()
        core, workers = ds.core, self.loader.num_workers
        ring = (self.loader.prefetch_factor or 2) + 2 if workers else 0
        sh = ds._shared
        sh[_GEN] += 1                  # a worker still waiting from an earlier iteration gives up
        for w in range(min(workers, _MAX_RING_WORKERS)):
            sh[_RELEASED + w] = 0
        sh[_RING] = ring
        core._taken, core._finished = 0, False
        # The workers' segments stay mapped here (torch reuses a mapping while its storage lives):
        # mapping a segment anew costs what allocating it does.
        mapped = collections.deque(maxlen=ring * workers)
        for i, batch in enumerate(self.loader):
            if workers:
                core._taken += 1
                if ring:               # copy out of the worker's segment, then let it reuse it
                    key = ds.key
                    seg = batch[key] if isinstance(batch, dict) else batch
                    mapped.append(seg)
                    out = torch.empty(seg.shape, dtype=seg.dtype)
                    out.copy_(seg)
                    batch = dict(batch, **{key: out}) if isinstance(batch, dict) else out
                    if i % workers < _MAX_RING_WORKERS:
                        sh[_RELEASED + i % workers] += 1
            yield batch
        core._finished = True

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
