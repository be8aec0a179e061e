"""Batch normalisation over the global batch: N ranks normalise as one process would.

In training mode a BatchNorm layer normalises each channel by the mean and variance of its batch. On
N ranks each sees only its shard, so left alone each would normalise by its own shard's statistics,
and N ranks would no longer equal one process. Synchronised, every rank sums the per-channel
statistics over all ranks before using them:

    forward   n = sum_r n_r,  mean = (sum_r sum_i x_i) / n,  var = (sum_r sum_i (x_i - mean)^2) / n
    backward  the per-channel sums of the gradient that the input's gradient needs, summed likewise

``F.batch_norm(..., reduce=...)`` (minigen.ops.norm) computes these with ``reduce(a)`` = the elementwise
sum of ``a`` over all ranks: two all-reduces of a few numbers per channel in the forward pass (the
count with the sums, then the sums of squared deviations, which need the global mean) and one in the
backward pass (its two sums together). The running averages are then updated
from the global statistics, identically on every rank. The parameters' own gradients (scale and shift)
stay per rank and are averaged with all the others by DataParallel.
"""
from __future__ import annotations


def sync_batch_norm(module, dist):
    """Make every BatchNorm layer inside ``module`` use statistics summed over the ranks of ``dist``
    (``dist=None``, or a world of one: this rank's own batch again). Returns the number of layers."""
    from ..nn.norm import _BatchNorm
    reduce = None if dist is None or dist.world_size == 1 else dist.allreduce_sum
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    for layer in layers:
        layer.reduce = reduce
    return len(layers)
