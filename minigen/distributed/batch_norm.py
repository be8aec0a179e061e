"""Batch normalisation over the global batch: N ranks normalise as one process would.

In training mode a BatchNorm layer normalises each channel by the mean and variance of its batch. On
N ranks each sees only its shard, so left alone each would normalise by its own shard's statistics,
and N ranks would no longer equal one process. Synchronised, every rank sums the per-channel
statistics over all ranks before using them:

    forward   n = sum_r n_r,  mean = (sum_r sum_i x_i) / n,  var = (sum_r sum_i x_i^2) / n - mean^2
    backward  the per-channel sums of the gradient that the input's gradient needs, summed likewise

``F.batch_norm(..., reduce=...)`` computes these with ``reduce(a)`` = the elementwise sum of ``a`` over
all ranks: one all-reduce of a few numbers per channel in the forward pass and one in the backward pass.
The running averages are then updated from the global statistics, identically on every rank.
"""
from __future__ import annotations

import inspect


def _has_reduce_hook():
    from ..nn import functional as F
    return "reduce" in inspect.signature(F.batch_norm).parameters


def sync_batch_norm(module, dist):
    """Make every BatchNorm layer inside ``module`` use statistics summed over the ranks of ``dist``
    (``dist=None``: back to this rank's own batch). Returns the number of layers changed."""
    from ..nn.norm import _BatchNorm
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    reduce = None if dist is None or dist.world_size == 1 else dist.allreduce_sum
    if layers and reduce is not None and not _has_reduce_hook():
        raise NotImplementedError(
            f"{type(module).__name__} has {len(layers)} BatchNorm layer(s), whose statistics must be "
            "summed over the ranks for N ranks to train as one process, but this version of "
            "minigen.nn.functional.batch_norm has no 'reduce' argument to do it with")
    for layer in layers:
        layer.reduce = reduce
    return len(layers)
