"""PyTorch loading: WindowDataset, an IterableDataset of random windows.

    ds = WindowDataset("corpus/datasets/v1", "train", frames=16, batch_size=8, seed=0,
                       layout="BTCHW", pad_to=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    for epoch in range(n):
        ds.set_epoch(epoch)
        for batch in loader:           # uint8 tensor (8, 16, 3, 92, 160)
            ...

Batching happens inside the dataset (batch_size=None in the DataLoader): one
preallocated numpy buffer per batch filled by the C reader with no per-sample
Python objects, handed to torch with torch.from_numpy (no copy).

Work split: each epoch, the clips are shuffled with (seed, epoch) - the same
permutation in every process - and dealt round-robin first across distributed
ranks (torch.distributed when initialised, else env RANK / WORLD_SIZE), then
across the DataLoader's workers. Each rank gets the same number of clips
(the permutation is cut to a multiple of world_size) so ranks stay in step.
Every clip yields windows_per_clip windows at random starts (all inside the
clip: windows never cross clips).
"""
import os

import numpy as np
import torch
import torch.utils.data

from .reader import Dataset


def _rank_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class WindowDataset(torch.utils.data.IterableDataset):
    def __init__(self, path, split="train", frames=16, stride=1, batch_size=8, seed=0, layout="BTCHW", pad_to=0,
                 windows_per_clip=1, drop_last=True):
        super().__init__()
        if layout not in ("BTCHW", "BTHWC"):
            raise ValueError("layout is BTCHW or BTHWC")
        self.path, self.split, self.frames, self.stride = path, split, frames, stride
        self.batch_size, self.seed, self.layout, self.pad_to = batch_size, seed, layout, pad_to
        self.windows_per_clip, self.drop_last, self.epoch = windows_per_clip, drop_last, 0
        self._ds = None
        with Dataset(path, split) as ds:
            self._len = len(ds)
            if ds.windows_per_clip(frames, stride) < 1:
                raise ValueError(f"a window of {frames} frames at stride {stride} does not fit in {ds.frames} frames")

    def set_epoch(self, epoch):
        """Reshuffles: call before iterating each epoch (also in the main process with workers:
        the DataLoader copies the dataset, epoch included, into its workers when iteration starts)."""
        self.epoch = epoch

    def _clips(self):
        rank, world = _rank_world()
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self._len)
        perm = perm[: len(perm) // world * world] if len(perm) >= world else perm
        return perm[rank::world][wid::nw], np.random.default_rng([self.seed, self.epoch, rank, wid])

    def __iter__(self):
        if self._ds is None:
            self._ds = Dataset(self.path, self.split)   # opened in the worker process
        ds = self._ds
        clips, rng = self._clips()
        starts = ds.windows_per_clip(self.frames, self.stride)
        hp = ds.padded_height(self.pad_to)
        buf = np.empty((self.batch_size, self.frames, hp, ds.width, ds.channels), np.uint8)
        n = 0
        for c in clips:
            for s in rng.integers(0, starts, size=self.windows_per_clip):
                ds.window(int(c), int(s), self.frames, self.stride, self.pad_to, out=buf[n])
                n += 1
                if n == self.batch_size:
                    yield self._tensor(buf)
                    buf = np.empty_like(buf)
                    n = 0
        if n and not self.drop_last:
            yield self._tensor(buf[:n])

    def _tensor(self, b):
        t = torch.from_numpy(b)
        return t.permute(0, 1, 4, 2, 3).contiguous() if self.layout == "BTCHW" else t
