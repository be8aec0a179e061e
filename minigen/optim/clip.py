"""Gradient clipping by the global norm of all gradients together.

    ||g||_p = (sum over every parameter and element of |g_i|^p)^(1/p)      (max |g_i| for p = inf)
    g      <- g * max_norm / (||g||_p + 1e-6)                                when ||g||_p > max_norm

Every gradient is scaled by the same factor, so the update keeps its direction and only its length
is capped. A NaN or infinite norm is returned without touching the gradients: whether to skip the
step is the caller's decision.
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from .optimizer import check_nonnegative, tensor_list

# Called with the parameters before their gradients are read. minigen.distributed.DataParallel adds
# one that first averages the gradients over the ranks, so that the norm clipped is the norm of the
# global batch's gradient, as one process would see it.
before_reading_grads = []


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale the gradients of ``params`` so their global norm is at most ``max_norm``.

    Returns the norm before clipping. Parameters without a gradient are skipped. Every parameter's
    gradient counts in the norm, even where two parameters hold the same gradient tensor (as PyTorch
    counts them); such a shared tensor is scaled once. Each ``p.grad`` gets a new, scaled array.
    """
    params = tensor_list(params, "clip_grad_norm_")
    for hook in before_reading_grads:
        hook(params)
    check_nonnegative("clip_grad_norm_", "max_norm", max_norm)
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (or inf), got {norm_type!r}")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    xp = get_array_module(grads[0].data)
    # the norm of the per-parameter norms is the norm of all elements together
    norms = xp.stack([xp.linalg.norm(g.data.ravel(), ord=norm_type) for g in grads])
    total = float(xp.linalg.norm(norms, ord=norm_type))
    if math.isfinite(total) and total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in {id(g): g for g in grads}.values():
            g.data = g.data * scale
    return total
