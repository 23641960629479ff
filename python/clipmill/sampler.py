"""The global sample order of clipmill's loaders, and how ranks and workers share it.

An epoch is a sequence of global positions 0 .. length-1; what sits at each
position depends only on (seed, epoch) (clipmill.mixture), never on the number
of ranks or workers. Rank r of W takes positions start + r, start + r + W, ...
(a strided slice) in batches of batch_size, so the ranks' batches of one step
cover one contiguous run of batch_size * W positions; DataLoader worker w of n
fills the rank's batches w, w + n, ... (the DataLoader hands them out in that
order). A checkpoint is one number, the positions consumed: any world size or
worker count resumes from it with nothing repeated or skipped.

Shuffling is a keyed bijection (a Feistel network with cycle walking), not a
stored permutation: a worker computes only the positions of the batch it
fills, so its memory does not grow with the dataset.
"""
import functools

import numpy as np

_U = np.uint64
_ROUNDS = 6


def keys(*words, n=1):
    """n uint64 keys derived from integers (seed, epoch, ...): the same on every
    machine and numpy version (SeedSequence's documented hash). Cached: every
    batch asks for the same few keys, and SeedSequence costs ~0.1 ms a call."""
    return _keys(tuple(int(w) % (1 << 64) for w in words), n).copy()


@functools.lru_cache(maxsize=256)
def _keys(words, n):
    return np.random.SeedSequence(list(words) + [len(words)]).generate_state(n, np.uint64)


def mix(x):
    """splitmix64's finaliser on a uint64 array: a bijective, well-spread hash."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> _U(27))) * _U(0x94D049BB133111EB)
        return x ^ (x >> _U(31))


class Permutation:
    """A pseudo-random bijection of [0, n) keyed by key words: perm(i) for an
    int array i, computed without materialising the permutation (O(len(i)))."""

    def __init__(self, n, *key_words):
        self.n = int(n)
        bits = max(2, (self.n - 1).bit_length())
        bits += bits & 1
        self.half, self.mask = _U(bits // 2), _U((1 << (bits // 2)) - 1)
        self.keys = keys(*key_words, n=_ROUNDS)

    def _rounds(self, x):
        left, right = x >> self.half, x & self.mask
        for k in self.keys:
            left, right = right, left ^ (mix(right ^ k) & self.mask)
        return (left << self.half) | right

    def __call__(self, i):
        x = self._rounds(np.asarray(i, np.int64).astype(np.uint64))
        out = x >= _U(self.n)
        while out.any():       # cycle walking: the domain is < 4n, so a few rounds at most
            x[out] = self._rounds(x[out])
            out = x >= _U(self.n)
        return x.astype(np.int64)


def uniform_ints(ids, bound, *key_words):
    """A deterministic pseudo-random integer in [0, bound) for each id (int array;
    bound scalar or array), keyed by key_words."""
    k = keys(*key_words)[0]
    h = mix(mix(np.asarray(ids, np.int64).astype(np.uint64) ^ k) + k)
    return (h % np.asarray(bound, np.uint64)).astype(np.int64)


class RankPlan:
    """Rank `rank` of `world`'s share of positions [start, length): its batches
    of batch_size, the last one short unless drop_last (then only whole steps of
    batch_size * world positions are taken, so every rank has the same count)."""

    def __init__(self, length, batch_size, rank=0, world=1, start=0, drop_last=False):
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in a world of {world}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.length, self.batch_size, self.rank, self.world = length, batch_size, rank, world
        self.start = min(max(0, start), length)
        step = batch_size * world
        self.end = self.start + (length - self.start) // step * step if drop_last else length
        self.samples = max(0, -(-(self.end - self.start - rank) // world))   # this rank's positions
        self.batches = -(-self.samples // batch_size)

    def positions(self, b):
        """Global positions of this rank's batch b (0 <= b < batches), in order."""
        k = np.arange(b * self.batch_size, min((b + 1) * self.batch_size, self.samples), dtype=np.int64)
        return self.start + self.rank + self.world * k

    def consumed(self, batches):
        """Global positions used once every rank has taken `batches` batches."""
        return min(self.end, self.start + batches * self.batch_size * self.world)
