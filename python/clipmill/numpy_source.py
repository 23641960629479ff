"""Numpy loading, no framework needed: a random-access source for grain and a
batch iterator with exact resume (docs/reader.md "numpy, grain and JAX").

    src = WindowSource("corpus/datasets/v1", "train", frames=16)
    len(src); src[i]      # {"frames": (16, 90, 160, 3) uint8, "clip": int64, "start": int64,
                          #  "clip_id": str array, metadata fields when the dataset has them}

    it = WindowBatches(["ds/platformer", "ds/robotics"], "train", frames=16, batch_size=32,
                       weights=[0.8, 0.2], seed=0)
    for epoch in range(E):
        it.set_epoch(epoch)
        for batch in it: ...  # {"frames": (32, 16, 90, 160, 3) uint8, "source", "clip", "start", "position"}
        ckpt = it.state_dict()   # and it.load_state_dict(ckpt) to resume mid-epoch

WindowSource follows grain's RandomAccessDataSource protocol (__len__,
__getitem__ of an int, picklable): grain shuffles and shards its indices.
WindowBatches does its own order (clipmill.sampler, clipmill.mixture): the
same for any rank count, resumable at a different one.
"""
import warnings

import numpy as np

from .mixture import CMixture, Mixture
from .reader import Dataset, ReaderError
from .sampler import RankPlan, uniform_ints

_START_KEY = 3
STATE_FORMAT = "clipmill.windows/1"


class WindowSet:
    """The sources of a loader (one split of each dataset path, "DATASET@SUBSET"
    included) and how a sample becomes a window. Sample s of a source is clip
    s // windows_per_clip. Readers are opened lazily in each process; pickling
    keeps the arguments only."""

    def __init__(self, paths, split="train", frames=16, stride=1, pad_to=0, windows_per_clip=1, actions=None):
        """actions: carry each window's actions (docs/reader.md "Actions in
        batches"): None when any clip of the sources has them, True, False,
        or a list of channel names (as token loaders take)."""
        if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
            paths = [paths]
        self.paths, self.split, self.frames, self.stride = [str(p) for p in paths], split, frames, stride
        self.pad_to, self.windows_per_clip = pad_to, windows_per_clip
        self._ds = None
        self.clips, self.starts, shapes = [], [], set()
        for p in self.paths:
            with Dataset(p, split) as ds:
                if len(ds) == 0:
                    warnings.warn(f"{p}: split '{split}' has no clips", stacklevel=3)
                n = ds.frames if frames is None else frames
                starts = ds.windows_per_clip(n, stride)
                if len(ds) and starts < 1:
                    raise ValueError(f"{p}: a window of {n} frames at stride {stride} does not fit in {ds.frames} "
                                     "frames")
                self.clips.append(len(ds))
                self.starts.append(starts)
                shapes.add((n, ds.padded_height(pad_to), ds.width, ds.channels))
        if len(shapes) > 1:
            raise ValueError(f"sources differ in window shape (frames, height, width, channels): {sorted(shapes)}")
        self.shape = shapes.pop()
        self.sizes = [c * windows_per_clip for c in self.clips]
        self.action_channels, self._chan_of, self._chan_maps = [], [], []
        if actions is not False:
            self._scan_actions(None if actions in (None, True) else list(actions))
        if actions is False or (actions is None and not self.action_channels):
            self.action_channels, self._chan_of, self._chan_maps = [], [], []

    def _scan_actions(self, names=None):
        """The action channels of batches: names, or the union of the sources'
        channel names in order of first appearance (clip 0 of source 0 first).
        Per clip, the column of each of its channels (-1: not carried). One
        cmr_clip_actions per clip (~5 us)."""
        fixed = names is not None
        names = list(names or [])
        col = {n: k for k, n in enumerate(names)}
        for p in self.paths:
            maps, seen = [], {}
            with Dataset(p, self.split) as ds:
                ids = np.empty(len(ds), np.int32)
                for i in range(len(ds)):
                    chans = tuple(c[0] for c in ds.action_channels(i))
                    if chans not in seen:
                        for n in chans:
                            if n not in col and not fixed:
                                col[n] = len(names)
                                names.append(n)
                        seen[chans] = len(maps)
                        maps.append(np.array([col.get(n, -1) for n in chans], np.int64))
                    ids[i] = seen[chans]
            self._chan_of.append(ids)
            self._chan_maps.append(maps)
        self.action_channels = names

    def fill_actions(self, src, clip, start, values, mask):
        """The actions of window (clip[i], start[i]) of source src[i]:
        values[i] (T, A) float32 over action_channels, mask[i] (T, A) uint8,
        1 where known: the C reader's per-frame mask (cmr_read_window_actions)
        on the clip's own channels, 0 on channels the clip does not have."""
        ds = self.datasets()
        t = values.shape[1]
        values[...] = 0
        mask[...] = 0
        frame_mask = np.empty(t, np.uint8)
        for i in range(len(clip)):
            d, c = int(src[i]), int(clip[i])
            cols = self._chan_maps[d][self._chan_of[d][c]]
            if not len(cols):
                continue
            v = np.empty((t, len(cols)), np.float32)
            ds[d].window_actions_into(c, int(start[i]), t, self.stride, v, frame_mask)
            keep = cols >= 0
            values[i][:, cols[keep]] = v[:, keep]
            mask[i][:, cols[keep]] = frame_mask[:, None]

    key, dtype = "frames", np.uint8

    def order(self):
        """What the sample order depends on besides the mixture (for state_dict)."""
        return {"windows_per_clip": self.windows_per_clip, "frames": self.frames, "stride": self.stride}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ds"] = None
        return state

    def datasets(self):
        if self._ds is None:
            self._ds = [Dataset(p, self.split) for p in self.paths]
        return self._ds

    def starts_of(self, src, sample, key_words):
        """Window start of each (source, sample id), deterministic per key_words."""
        out = np.empty(len(sample), np.int64)
        for d in np.unique(src):
            m = src == d
            out[m] = uniform_ints(sample[m], self.starts[d], *key_words, _START_KEY, d)
        return out

    def fill(self, src, clip, start, out, chw=False):
        """Reads window (clip[i], start[i]) of source src[i] into out[i]
        ((T, Hp, W, C), or (T, C, Hp, W) with chw), the C reader writing into
        out's memory."""
        ds = self.datasets()
        src, clip, start = np.asarray(src), np.asarray(clip), np.asarray(start)
        for d in np.unique(src):
            rows = np.nonzero(src == d)[0]
            if len(rows) == len(out):
                ds[d].read_windows(clip, start, self.shape[0], self.stride, self.pad_to, out, chw)
            else:
                for i in rows.tolist():
                    ds[d].read_windows(clip[i:i + 1], start[i:i + 1], self.shape[0], self.stride, self.pad_to,
                                       out[i:i + 1], chw)

    def extras(self, src, clip, start):
        """More arrays of a batch: "actions" (B, T, A) float32 and "action_mask"
        (B, T, A) uint8 when it carries actions (fill_actions)."""
        if not self.action_channels:
            return {}
        shape = (len(clip), self.shape[0], len(self.action_channels))
        values, mask = np.empty(shape, np.float32), np.empty(shape, np.uint8)
        self.fill_actions(src, clip, start, values, mask)
        return {"actions": values, "action_mask": mask}

    def close(self):
        for ds in self._ds or ():
            ds.close()
        self._ds = None


def _meta_schema(ds):
    """The metadata columns of ds as column -> 'int', 'float' or 'str', typed as
    Dataset.metadata() types them (text: str; integers with no NULL: int; else
    float, NULL as NaN); {} for a dataset without metadata. One scan of the rows."""
    try:
        con = ds.metadata(as_="sqlite")
    except (AttributeError, ReaderError):    # an older reader, or a dataset of format 1: frames and ids only
        return {}
    try:
        names = [r[1] for r in con.execute("PRAGMA main.table_info(clips)")]
        q = ", ".join(f"max(typeof(\"{n}\") = '{t}')" for n in names for t in ("text", "real", "null"))
        flags = con.execute(f"SELECT {q} FROM temp.rows").fetchone()
    finally:
        con.close()
    kinds = {}
    for i, name in enumerate(names):
        text, real, null = (bool(f) for f in flags[3 * i:3 * i + 3])
        kinds[name] = "str" if text else "float" if real or null else "int"
    return kinds


def _meta_value(v, kind):
    """One metadata value as a numpy scalar of its column's kind: every record
    has the same keys and dtypes (NULL: NaN, or "" in a text column)."""
    if kind == "int":
        return np.int64(v)
    if kind == "float":
        return np.float64(np.nan if v is None else v)
    return np.str_("" if v is None else v)


class WindowSource:
    """Random access to windows of one dataset split, for grain (RandomAccessDataSource):
    record i is window i % windows_per_clip of clip i // windows_per_clip, its start
    drawn once from (seed, i). frames=None: whole clips. Pickles by arguments."""

    def __init__(self, path, split="train", frames=16, stride=1, pad_to=0, windows_per_clip=1, seed=0, meta=True,
                 actions=None):
        """meta: add the clip's metadata columns (docs/reader.md), when the dataset has them.
        actions: add "actions" (T, A) float32 and "action_mask" (T, A) uint8 (WindowSet)."""
        self.set = WindowSet(path, split, frames, stride, pad_to, windows_per_clip, actions)
        self.seed, self.meta, self._schema = seed, meta, None

    def __len__(self):
        return self.set.sizes[0]

    def __repr__(self):   # grain records the source's repr in its checkpoints
        s = self.set
        return (f"WindowSource({s.paths[0]!r}, {s.split!r}, frames={s.frames}, stride={s.stride}, pad_to={s.pad_to}, "
                f"windows_per_clip={s.windows_per_clip}, seed={self.seed})")

    def __getitem__(self, record_key):
        i = int(record_key)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"record {record_key} out of range [0, {len(self)})")
        s = self.set
        clip, start = i // s.windows_per_clip, int(s.starts_of(np.zeros(1, np.int64), np.array([i]), (self.seed,))[0])
        frames = np.empty(s.shape, np.uint8)
        s.fill([0], [clip], [start], frames[None])
        ds = s.datasets()[0]
        rec = {"frames": frames, "clip": np.int64(clip), "start": np.int64(start), "clip_id": np.array(ds.clip_id(clip))}
        rec.update({k: v[0] for k, v in s.extras([0], [clip], [start]).items()})
        if self.meta:
            if self._schema is None:
                self._schema = _meta_schema(ds)
            if self._schema:
                row = ds.meta(clip)
                for k, kind in self._schema.items():
                    if k not in rec:
                        rec[k] = _meta_value(row.get(k), kind)
        return rec

    def __getitems__(self, record_keys):
        return [self[k] for k in record_keys]


class WindowBatches:
    """Batches of windows from one dataset or a weighted mixture, in the global
    order of clipmill.sampler: {"frames": (B, T, Hp, W, C) uint8, "source",
    "clip", "start", "position": (B,) int64}. Iterating yields this rank's
    batches of the current epoch from the resume point; state_dict() says where
    it is (positions consumed by all ranks, assuming they run in step)."""

    def __init__(self, paths, split="train", frames=16, stride=1, batch_size=8, seed=0, pad_to=0,
                 windows_per_clip=1, weights=None, samples_per_epoch=None, drop_last=False, rank=0, world_size=1,
                 tokens=None, actions=None, mixing="quota"):
        """tokens: read windows of this token set of each dataset instead of
        frames (a set NAME in DATASET/tokens/, or one directory per path):
        {"tokens": (B, frames, h, w) int32, ...}; actions: channel names whose
        values the token batches carry as "actions" (B, frames, A) float32 and
        "action_mask" (B, frames, A) uint8 (0: unknown, or a clip without that
        channel). clipmill.tokens.TokenWindowSet. For frames, actions is None
        (the default: when the sources have any), True (the union of their
        channels), False, or channel names; batches then carry the same two
        arrays (docs/reader.md "Actions in batches"). mixing: "quota"
        (Mixture: exact shares per block of 1024, each source without
        replacement within a pass) or "c" (CMixture: the C reader's cmr_mix
        draws, with replacement; what a C trainer gets)."""
        if tokens is not None:
            from .tokens import TokenWindowSet
            self.set = TokenWindowSet(paths, tokens, split, frames, stride, windows_per_clip, actions)
        else:
            self.set = WindowSet(paths, split, frames, stride, pad_to, windows_per_clip, actions)
        if weights is not None and len(weights) != len(self.set.paths):
            raise ValueError(f"{len(weights)} weights for {len(self.set.paths)} datasets")
        if weights is None and len(self.set.paths) > 1:
            weights = self.set.sizes
        if mixing not in ("quota", "c"):
            raise ValueError('mixing is "quota" or "c"')
        self.mixture = (CMixture if mixing == "c" else Mixture)(self.set.sizes, weights, seed, samples_per_epoch)
        self.batch_size, self.seed, self.drop_last = batch_size, seed, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0
        self._taken, self._finished = 0, False

    def set_epoch(self, epoch):
        """Selects the epoch to iterate; a new epoch starts at its beginning (one
        loaded by load_state_dict keeps its resume point)."""
        if epoch != self.epoch:
            self.epoch, self.start = epoch, 0
        self._taken, self._finished = 0, False

    def plan(self, rank=None, world=None):
        return RankPlan(len(self.mixture), self.batch_size, self.rank if rank is None else rank,
                        self.world_size if world is None else world, self.start, self.drop_last)

    def __len__(self):
        """This rank's batches in a whole epoch."""
        return RankPlan(len(self.mixture), self.batch_size, self.rank, self.world_size, 0, self.drop_last).batches

    def batches(self, plan, epoch, worker=0, workers=1, reuse=False, alloc=None, chw=False):
        """Batches worker, worker + workers, ... of plan. reuse: fill one buffer
        again for every batch (for callers that copy it before the next); alloc:
        makes each new buffer from its shape (default np.empty, uint8); chw:
        frames as (B, T, C, Hp, W)."""
        buf = None
        for b in range(worker, plan.batches, workers):
            pos = plan.positions(b)
            src, sample, npass = self.mixture.locate(pos, epoch)
            clip = sample // self.set.windows_per_clip
            start = self.set.starts_of(src, sample + npass * np.asarray(self.set.sizes)[src], (self.seed, epoch))
            if buf is None or len(buf) != len(pos) or not reuse:
                shape = (len(pos),) + self.set.shape
                if chw:
                    t, hp, w, c = self.set.shape
                    shape = (len(pos), t, c, hp, w)
                buf = np.empty(shape, self.set.dtype) if alloc is None else alloc(shape)
            if chw:
                self.set.fill(src, clip, start, buf, chw=True)
            else:
                self.set.fill(src, clip, start, buf)
            yield dict({self.set.key: buf, "source": src, "clip": clip, "start": start, "position": pos},
                       **self.set.extras(src, clip, start))

    def __iter__(self):
        self._taken, self._finished = 0, False
        for batch in self.batches(self.plan(), self.epoch):
            self._taken += 1
            yield batch
        self._finished = True

    def state_dict(self, batches=None, world_size=None):
        """Where the epoch stands: batches (default: those this iterator has
        yielded since the epoch or the resume began) taken by every one of
        world_size ranks (default self.world_size)."""
        plan = self.plan(0, self.world_size if world_size is None else world_size)
        if batches is None and self._finished:
            consumed = len(self.mixture)
        else:
            consumed = plan.consumed(self._taken if batches is None else batches)
        return {"format": STATE_FORMAT, "epoch": self.epoch, "consumed": consumed, "order": self._order()}

    def _order(self):
        return dict(self.mixture.state(), **self.set.order())

    def load_state_dict(self, state):
        """Resumes: the next iteration continues state's epoch after its consumed
        positions, at this object's rank, world size and batch size. ValueError when
        the order would differ (other datasets, weights, seed, windows)."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a clipmill loader state: format {state.get('format')!r}")
        if state["order"] != self._order():
            raise ValueError(f"state is for another order: {state['order']} vs {self._order()}")
        self.epoch, self.start = int(state["epoch"]), int(state["consumed"])
        self._taken, self._finished = 0, False

    def close(self):
        self.set.close()
