"""Mini-batches of NumPy arrays as minigen Tensors, in an order that can be replayed.

The order of epoch e is a pure function of (seed, e):

    order_e = permutation of range(N) drawn from np.random.default_rng([seed, e])

so a run stopped after batch b of epoch e resumes exactly with ``loader.batches(e, start=b + 1)``,
without saving any random state. Batch k of an epoch holds order_e[k * B : (k + 1) * B].

Data-parallel training (``shard=dist``, a minigen.distributed communicator of N ranks): B stays the
global batch, and rank r takes the contiguous slice r * B/N : (r + 1) * B/N of every batch k. The
shards of batch k over the ranks are then exactly the one-process batch k, so one epoch visits each
example once across ranks, and the order (a function of seed and epoch only) does not depend on N.
"""
import math

import numpy as np

from .. import ops
from .dataset import TensorDataset


class DataLoader:
    """Iterate over (x, y) in batches of batch_size; yields (xb, yb) Tensors on `device`.

    ``x`` may also be a TensorDataset of (x,) or (x, y).

    ``for xb, yb in loader`` runs epoch ``loader.epoch`` and moves ``loader.epoch`` on by one as it
    starts, so every ``iter(loader)`` (also one abandoned early) draws a fresh order.
    ``loader.batches(epoch, start)`` replays any epoch from any batch and leaves ``epoch`` alone.
    With ``shard=dist`` it yields this rank's share of each global batch (``local_batch_size`` rows).
    """

    def __init__(self, x, y=None, batch_size=64, shuffle=True, drop_last=False, seed=0,
                 device=None, shard=None):
        if isinstance(x, TensorDataset):
            if y is not None or len(x.arrays) > 2:
                raise ValueError(f"DataLoader: a dataset brings its own labels; give {x!r} alone, holding "
                                 "(x,) or (x, y)")
            x, y = x.arrays if len(x.arrays) == 2 else (x.arrays[0], None)
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise TypeError(f"DataLoader: x must be a NumPy array with a leading example axis, "
                            f"got {type(x).__name__} {getattr(x, 'shape', '')}")
        if y is not None and (not isinstance(y, np.ndarray) or y.ndim < 1 or len(y) != len(x)):
            raise ValueError(f"DataLoader: y must be a NumPy array with one entry per example of x "
                             f"({len(x)}), got {type(y).__name__} {getattr(y, 'shape', '')}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an integer >= 1, got {batch_size!r}")
        if drop_last and batch_size > len(x):
            raise ValueError(f"DataLoader: drop_last=True with batch_size {batch_size} > "
                             f"{len(x)} examples would give no batches")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.seed, self.device = int(seed), device
        self.epoch = 0
        self.rank, self.world_size = _check_shard(shard, self.batch_size, len(x), drop_last)
        self.local_batch_size = self.batch_size // self.world_size

    def __len__(self):
        """Batches per epoch."""
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def set_epoch(self, epoch):
        """Make the next plain iteration run `epoch`."""
        self.epoch = _check_epoch(epoch)

    def order(self, epoch):
        """The example indices of `epoch`, in the order its batches take them."""
        _check_epoch(epoch)
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def batches(self, epoch, start=0):
        """The batches of `epoch` from batch index `start` on (0 <= start <= len(self))."""
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) \
                or not 0 <= start <= len(self):
            raise ValueError(f"DataLoader.batches: start must be a batch index in 0..{len(self)}, "
                             f"got {start!r}")
        return self._batches(self.order(epoch), int(start))

    def _batches(self, order, start):
        for k in range(start, len(self)):
            index = order[k * self.batch_size:(k + 1) * self.batch_size]
            if self.world_size > 1:                      # this rank's contiguous share of batch k
                share = len(index) // self.world_size
                index = index[self.rank * share:(self.rank + 1) * share]
            xb = ops.tensor(self.x[index], device=self.device)
            yb = None if self.y is None else ops.tensor(self.y[index], device=self.device)
            yield xb, yb

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)


def _check_shard(shard, batch_size, n, drop_last):
    """(rank, world_size) of ``shard`` (None: one process), after checking that every batch splits
    into equal shares, which the exact average of the ranks' gradients needs."""
    if shard is None:
        return 0, 1
    rank, world = getattr(shard, "rank", None), getattr(shard, "world_size", None)
    if not (isinstance(rank, int) and isinstance(world, int) and 0 <= rank < world):
        raise TypeError(f"DataLoader: shard must be a minigen.distributed communicator (with rank and "
                        f"world_size), got {shard!r}")
    if batch_size % world:
        below, above = batch_size - batch_size % world, batch_size + world - batch_size % world
        suggestion = f"{below} or {above}" if below else f"{above}"
        raise ValueError(f"DataLoader: batch_size {batch_size} is the global batch, shared by "
                         f"{world} ranks, so it must be a multiple of {world} (e.g. {suggestion})")
    last = n % batch_size
    if not drop_last and last % world:
        raise ValueError(f"DataLoader: the last batch of each epoch holds {last} of the {n} examples, "
                         f"which {world} ranks cannot share equally; pass drop_last=True, or a batch "
                         f"size that leaves a multiple of {world} (or nothing) over")
    return rank, world


def _check_epoch(epoch):
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"DataLoader: epoch must be an integer >= 0, got {epoch!r}")
    return int(epoch)
