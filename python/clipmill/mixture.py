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

CMixture is the C reader's mixture (cmr_mix_*, clipmill/reader.h) behind the
same interface: independent draws with replacement, draw k a function of
(seed, k) only, the same sequence as a C trainer's for the same seed,
counts and weights (mixing="c" in the loaders).
"""
import ctypes

import numpy as np

from .sampler import Permutation, keys

_BLOCK_KEY, _PASS_KEY, _C_MIX_KEY = 1, 2, 4


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


class CMixture:
    """The C reader's weighted mixture (cmr_mix_new / cmr_mix_draw): position p
    of epoch e is draw p of a cmr_mix seeded with c_seed(seed, e) (the C
    sequence itself when called with draw()). Each draw picks a source by
    weight, then a sample uniformly (with replacement: a sample may come twice
    in an epoch, unlike Mixture)."""

    def __init__(self, sizes, weights=None, seed=0, length=None):
        from .reader import _load, ReaderError
        self._lib = _load()
        self.sizes = [int(n) for n in sizes]
        if weights is None:
            weights = self.sizes
        self.weights = [float(w) for w in weights]
        self.seed, self.length = int(seed), sum(self.sizes) if length is None else int(length)
        self._err = ReaderError
        self._mixes = {}
        self.c_mix(self.seed)             # refuses bad weights now, with the C reader's message

    def __len__(self):
        return self.length

    def state(self):
        return {"mixing": "c", "sizes": list(self.sizes), "weights": list(self.weights), "seed": self.seed,
                "length": self.length}

    @staticmethod
    def c_seed(seed, epoch):
        """The cmr_mix seed of an epoch (a C trainer uses the same to follow it)."""
        return int(keys(seed, epoch, _C_MIX_KEY)[0])

    def c_mix(self, c_seed):
        """A cmr_mix handle for c_seed (cached; freed with this object)."""
        if c_seed not in self._mixes:
            if len(self._mixes) > 4:
                for h in self._mixes.values():
                    self._lib.cmr_mix_free(h)
                self._mixes.clear()
            n = len(self.sizes)
            h, err = ctypes.c_void_p(), ctypes.create_string_buffer(512)
            if self._lib.cmr_mix_new(ctypes.byref(h), (ctypes.c_int64 * n)(*self.sizes),
                                     (ctypes.c_double * n)(*self.weights), n, c_seed, err, 512) != 0:
                raise ValueError(err.value.decode(errors="replace"))
            self._mixes[c_seed] = h
        return self._mixes[c_seed]

    def draw(self, c_seed, ks):
        """cmr_mix_draw(k) for each k of ks: (component, index) int64 arrays."""
        h, comp, idx = self.c_mix(c_seed), ctypes.c_int(), ctypes.c_int64()
        ks = np.asarray(ks, np.uint64).tolist()
        src, sample = np.empty(len(ks), np.int64), np.empty(len(ks), np.int64)
        for i, k in enumerate(ks):
            self._lib.cmr_mix_draw(h, k, ctypes.byref(comp), ctypes.byref(idx))
            src[i], sample[i] = comp.value, idx.value
        return src, sample

    def locate(self, positions, epoch):
        """As Mixture.locate; the 'pass' is position + 1, so every draw gets its
        own window start even when it repeats a sample."""
        pos = np.asarray(positions, np.int64)
        if len(pos) and (pos.min() < 0 or pos.max() >= self.length):
            raise IndexError(f"position out of range [0, {self.length})")
        src, sample = self.draw(self.c_seed(self.seed, epoch), pos)
        return src, sample, pos + 1

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_mixes"], state["_lib"] = {}, None
        return state

    def __setstate__(self, state):
        from .reader import _load
        self.__dict__.update(state)
        self._lib = _load()

    def __del__(self):
        for h in getattr(self, "_mixes", {}).values():
            self._lib.cmr_mix_free(h)
