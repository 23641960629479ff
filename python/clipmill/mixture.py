"""What sits at each global position of an epoch: a weighted mixture of sources.

    m = Mixture([n_platformer, n_robotics], [0.8, 0.2], seed=0)
    src, sample, rnd = m.locate(np.arange(0, 16), epoch=3)

Positions are cut into blocks of `block` (1024); every block holds exactly
round(block * weight) positions of each source (largest remainder, so a
source's share is off by less than 1/block), placed at positions shuffled per
(seed, epoch, block). The number of draws of a source before any position is
therefore known without scanning the epoch, so any position is found in O(block)
work and memory. A source's draws walk through a permutation of its samples
(per seed, epoch, source and pass); a source drawn more often than it has
samples starts a new pass, reshuffled (sampling without replacement within a
pass). With one source and the default length this is a plain shuffle.
"""
import numpy as np

from .sampler import Permutation

_BLOCK_KEY, _PASS_KEY = 1, 2


class Mixture:
    def __init__(self, sizes, weights=None, seed=0, length=None, block=1024):
        """sizes: samples per source; weights: one per source (normalised; default
        proportional to sizes); length: positions per epoch (default sum(sizes))."""
        sizes = [int(n) for n in sizes]
        if not sizes:
            raise ValueError("a mixture needs at least one source")
        if weights is None:
            weights = sizes if sum(sizes) else [1] * len(sizes)   # all empty: an empty epoch
        w = np.asarray(weights, np.float64)
        if len(w) != len(sizes) or (w < 0).any() or not w.sum() > 0:
            raise ValueError(f"weights {list(w)} must be one non-negative number per source, not all zero")
        self.sizes, self.weights, self.seed, self.block = sizes, w / w.sum(), int(seed), int(block)
        self.length = sum(sizes) if length is None else int(length)
        for i, (n, wi) in enumerate(zip(sizes, w)):
            if wi > 0 and n < 1 and self.length:
                raise ValueError(f"source {i} has no samples but weight {wi}")
        exact = self.weights * self.block                   # slots per block, largest remainder
        per_block = np.floor(exact).astype(np.int64)
        short = self.block - per_block.sum()
        per_block[np.argsort(-(exact - per_block), kind="stable")[:short]] += 1
        self.per_block = per_block
        self._slots = np.repeat(np.arange(len(sizes)), per_block)
        self._cache = {}

    def __len__(self):
        return self.length

    def state(self):
        """What a checkpoint must match to resume (the order depends on all of it)."""
        return {"sizes": list(self.sizes), "weights": [float(x) for x in self.weights], "seed": self.seed,
                "length": self.length, "block": self.block}

    def _block_draws(self, epoch, b):
        """For block b: each offset's source and its draw number within the block."""
        key = (epoch, b)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            src = self._slots[Permutation(self.block, self.seed, epoch, _BLOCK_KEY, b)(np.arange(self.block))]
            nth = np.empty(self.block, np.int64)
            for d in range(len(self.sizes)):
                m = src == d
                nth[m] = np.arange(int(m.sum()))
            self._cache[key] = (src, nth)
        return self._cache[key]

    def locate(self, positions, epoch):
        """For global positions (int array, each in [0, length)): the source of
        each, the sample within that source, and the pass over that source (a key
        for per-sample randomness such as a window's start)."""
        pos = np.asarray(positions, np.int64)
        if len(pos) and (pos.min() < 0 or pos.max() >= self.length):
            raise IndexError(f"position out of range [0, {self.length})")
        if len(self.sizes) == 1:
            src, draw = np.zeros(len(pos), np.int64), pos
        else:
            src, draw = np.empty(len(pos), np.int64), np.empty(len(pos), np.int64)
            blocks = pos // self.block
            for b in np.unique(blocks):
                m = blocks == b
                s, nth = self._block_draws(epoch, int(b))
                off = pos[m] - b * self.block
                src[m] = s[off]
                draw[m] = b * self.per_block[s[off]] + nth[off]
        sample, npass = np.empty(len(pos), np.int64), np.empty(len(pos), np.int64)
        for d in np.unique(src):
            m = src == d
            n = self.sizes[d]
            p, off = np.divmod(draw[m], n)
            out = np.empty(len(off), np.int64)
            for q in np.unique(p):
                mq = p == q
                out[mq] = Permutation(n, self.seed, epoch, _PASS_KEY, d, q)(off[mq])
            sample[m], npass[m] = out, p
        return src, sample, npass
