r"""DataParallel: an optimizer whose step first averages the gradients of all ranks.

Each of the N ranks holds the same parameters theta and computes the gradient of the mean loss over
its own shard S_r of the global batch, b = B / N examples (DataLoader(..., shard=dist)):

    g_r = grad_theta (1/b) sum_{i in S_r} loss_i(theta)

The gradient one process computes on the whole global batch of B = N b examples is their mean,

    grad_theta (1/B) sum_{i=1..B} loss_i(theta)  =  (1/N) sum_{r=1..N} g_r                      (*)

because (1/B) sum_i = (1/N) sum_r (1/b) sum_{i in S_r}. So every rank sums the g_r (an all-reduce)
and divides by N (``_average``, the line marked (*)), and all of them then take the very step the one
process would. Shards of equal size make (*) exact; the DataLoader refuses a batch size that the
world size does not divide. Results differ from the one process only by the order in which float32
sums are taken.

The gradients travel in a few large flat buffers (one per device and dtype, cut at ``bucket_mb``
megabytes), not one message per parameter: a message has a fixed cost, and small models have many
small parameters. Each buffer ends with one slot per parameter holding 1 where this rank has a
gradient for it and 0 where it has none (a GAN's generator step leaves the discriminator's unused, an
unused branch leaves its weights without a gradient). The rank fills the missing gradient with zeros,
so every rank sums the same buffer; after the sum, a parameter that no rank had a gradient for keeps
``grad = None`` and is left alone by the optimizer, exactly as in one process.

At the start, rank 0's parameters and optimizer state are copied to every rank, whatever each rank's
seed was.

Gradient clipping (``minigen.optim.clip_grad_norm_``) asks for the average first, so the norm it clips
is that of the global batch's gradient; code of your own that reads ``p.grad`` between ``backward`` and
``step`` calls ``synchronize()`` first.
"""
from __future__ import annotations

import time
import weakref

from .. import backend
from ..autograd import Tensor
from .comm import current

BUCKET_MB = 25


class _Bucket:
    """Parameters of one device and dtype that travel in one flat buffer."""

    def __init__(self, params, device, dtype):
        self.params, self.device, self.dtype = params, device, dtype
        self.offsets, n = [], 0
        for p in params:
            self.offsets.append((n, n + p.size))
            n += p.size
        self.numel = n                       # gradient entries; one flag per parameter follows

    def flat(self, fill):
        """A new flat buffer holding ``fill(p)`` (an array of p's shape, or None for zeros) of every
        parameter, followed by one flag per parameter (1 where fill gave an array)."""
        xp = self.device.xp
        with backend.on_device(self.device):
            buffer = xp.zeros(self.numel + len(self.params), dtype=self.dtype)
        for j, (p, (lo, hi)) in enumerate(zip(self.params, self.offsets)):
            value = fill(p)
            if value is not None:
                buffer[lo:hi] = value.reshape(-1)
                buffer[self.numel + j] = 1
        return buffer


class DataParallel:
    """Wrap ``optimizer`` so that ``step()`` averages the ranks' gradients first.

    ``dist``: the communicator (default ``minigen.distributed.current()``). The wrapper behaves as the
    optimizer does otherwise: ``zero_grad``, ``state_dict``/``load_state_dict`` (the same checkpoints),
    ``param_groups``. ``comm_seconds`` adds up the time spent in the all-reduces.
    """

    def __init__(self, optimizer, dist=None, bucket_mb: float = BUCKET_MB, broadcast: bool = True):
        if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
            raise TypeError(f"DataParallel wraps an optimizer (with param_groups and step), "
                            f"got {type(optimizer).__name__}")
        if isinstance(optimizer, DataParallel):
            raise TypeError("DataParallel: this optimizer is already wrapped")
        if not bucket_mb > 0:
            raise ValueError(f"DataParallel: bucket_mb must be > 0, got {bucket_mb!r}")
        self.optimizer = optimizer
        self.dist = current() if dist is None else dist
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.buckets = _make_buckets(self.params, bucket_mb * 2**20)
        self.comm_seconds = 0.0
        self._synced = None          # the p.grad objects the last average produced
        if broadcast and self.dist.world_size > 1:
            self.broadcast_from_root()
        _LIVE.add(self)

    # ---------------------------------------------------------------- start: rank 0's state everywhere
    def broadcast_from_root(self):
        """Copy rank 0's parameters (in place) and optimizer state to every rank."""
        for bucket in self.buckets:
            buffer = self.dist.broadcast_(bucket.flat(lambda p: p.data))
            if not self.dist.is_root:
                for p, (lo, hi) in zip(bucket.params, bucket.offsets):
                    p.data[...] = buffer[lo:hi].reshape(p.shape)
                    p.mark_changed()
        state = self.dist.broadcast_object(self.optimizer.state_dict() if self.dist.is_root else None)
        if not self.dist.is_root:
            self.optimizer.load_state_dict(state)

    # ---------------------------------------------------------------- the average
    def synchronize(self):
        """Replace every ``p.grad`` by the mean over the ranks (once per backward: a second call
        before the gradients change does nothing)."""
        if self.dist.world_size == 1 or self._is_synced():
            return
        start = time.perf_counter()
        for bucket in self.buckets:
            buffer = self.dist.allreduce_sum_(bucket.flat(lambda p: None if p.grad is None else p.grad.data))
            self._average(bucket, buffer)
        self._synced = [p.grad for p in self.params]
        self.comm_seconds += time.perf_counter() - start

    def _average(self, bucket, summed):
        n = bucket.numel
        summed[:n] /= self.dist.world_size          # (*) mean over ranks = gradient over the global batch
        has_grad = backend.to_numpy(summed[n:])      # how many ranks had a gradient for each parameter
        for j, (p, (lo, hi)) in enumerate(zip(bucket.params, bucket.offsets)):
            p.grad = Tensor._make(summed[lo:hi].reshape(p.shape)) if has_grad[j] else None

    def _is_synced(self):
        return self._synced is not None and all(p.grad is g for p, g in zip(self.params, self._synced))

    # ---------------------------------------------------------------- the optimizer's interface
    def step(self):
        self.synchronize()
        self.optimizer.step()

    def zero_grad(self):
        self.optimizer.zero_grad()

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    def __getattr__(self, name):        # anything else an optimizer offers (defaults, ...)
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self):
        return (f"DataParallel({type(self.optimizer).__name__}, rank {self.dist.rank} of "
                f"{self.dist.world_size}, {len(self.buckets)} bucket(s))")


def _make_buckets(params, bucket_bytes):
    groups = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    buckets = []
    for (device, dtype), members in groups.items():
        current_params, size = [], 0
        for p in members:
            if current_params and size + p.data.nbytes > bucket_bytes:
                buckets.append(_Bucket(current_params, device, dtype))
                current_params, size = [], 0
            current_params.append(p)
            size += p.data.nbytes
        buckets.append(_Bucket(current_params, device, dtype))
    return buckets


# ---------------------------------------------------------------------------------- clipping
_LIVE = weakref.WeakSet()


def synchronize_before_reading(params):
    """Average the gradients of any DataParallel that owns one of ``params`` (a hook that
    ``minigen.optim.clip_grad_norm_`` calls before it reads the gradients)."""
    wanted = {id(p) for p in params}
    for wrapper in list(_LIVE):
        if any(id(p) in wanted for p in wrapper.params):
            wrapper.synchronize()
