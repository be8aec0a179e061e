"""Normalisation as one Function: batch, group and layer norm differ only in the axes they average over.

Forward, over the m entries that share a statistic (the axes ``axes`` of ``x`` viewed as ``view``):

    mu    = (1/m) sum x                         sigma = sqrt((1/m) sum (x - mu)^2 + eps)
    x_hat = (x - mu) / sigma                    y     = gamma x_hat + beta

Backward, with g = dL/dy and g_hat = gamma g (the gradient that reaches x_hat):

    dL/dx     = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sigma
    dL/dgamma = sum of g x_hat,     dL/dbeta = sum of g        (over every axis gamma is broadcast along)

The two means in dL/dx are the gradient flowing through mu and sigma: shifting every x by the same
amount changes nothing, and neither does scaling them, so dL/dx has no component along 1 or x_hat.

Written as separate operations this took about a dozen passes over x, each with a temporary kept for
backward; here forward keeps only x and the per-group mu and 1/sigma, and backward recomputes x_hat
and works in place. ``_standardize`` and ``_gradients`` are written with operators and ``.sum`` only,
so the same lines run on arrays (first derivatives, in place) and on Tensors: when the backward
itself is recorded (``create_graph=True``, e.g. a gradient penalty through a layer norm), x_hat is
recomputed from x with recorded operations, and the second derivative comes from differentiating
these same formulas.

``reduce`` (batch norm across processes, see ``minigen.distributed``): a function that returns the
sum of an array of per-channel statistics over all processes. Forward applies it twice (the count
with the sums, then the squared deviations from the global mean) and backward once (its two sums
together), so that every process normalises with the statistics of the whole global batch.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, grad_mode
from ..backend import get_array_module
from ..backend.parallel import chunks, run_chunks


def _standardize(xv, axes, eps, reduce=None, out=None):
    """(x_hat, mu, 1/sigma, var, m) over ``axes`` of ``xv``; on arrays (x_hat written into ``out``
    when given) or on Tensors."""
    m = 1
    for a in axes:
        m *= xv.shape[a]
    total = xv.sum(axis=axes, keepdims=True)
    if reduce is not None:
        # the count and the sums in one message: [sum_1, ..., sum_C, m], in float64 so m stays exact
        xp = get_array_module(total)
        both = reduce(xp.concatenate([total.reshape(-1).astype(xp.float64), xp.full((1,), float(m))]))
        m = int(round(float(both[-1])))
        total = both[:-1].reshape(total.shape).astype(total.dtype)
    mu = total * (1.0 / m)
    x_hat = xv - mu if out is None else get_array_module(xv).subtract(xv, mu, out=out)
    var = (x_hat * x_hat).sum(axis=axes, keepdims=True)
    if reduce is not None:
        var = reduce(var)
    var = var * (1.0 / m)
    inv_sigma = (var + eps) ** -0.5
    x_hat *= inv_sigma                       # in place on arrays; a new recorded Tensor otherwise
    return x_hat, mu, inv_sigma, var, m


def _gradients(g, x_hat, weight, inv_sigma, view, axes, param_shape, m, reduce, needs):
    """(dL/dx, dL/dgamma, dL/dbeta) from the module docstring; on arrays or on Tensors. The
    parameter gradients come back in ``param_shape``."""
    need_x, need_w, need_b = needs
    gx = gw = gb = None
    if need_w:
        gw = _sum_to(g * x_hat.reshape(g.shape), param_shape)
    if need_b:
        gb = _sum_to(g, param_shape)
    if need_x:
        g_hat = (g * weight.reshape(param_shape) if weight is not None else _copy(g)).reshape(view)
        sum_g = g_hat.sum(axis=axes, keepdims=True)
        sum_gx = (g_hat * x_hat).sum(axis=axes, keepdims=True)
        if reduce is not None:                   # both sums in one message (arrays here, never Tensors)
            both = reduce(get_array_module(sum_g).concatenate([sum_g.reshape(-1), sum_gx.reshape(-1)]))
            sum_g, sum_gx = both[:sum_g.size].reshape(sum_g.shape), both[sum_g.size:].reshape(sum_gx.shape)
        g_hat -= sum_g * (1.0 / m)
        g_hat -= x_hat * (sum_gx * (1.0 / m))
        g_hat *= inv_sigma
        gx = g_hat.reshape(g.shape)
    return gx, gw, gb


class Normalize(Function):
    """y = gamma (x - mu) / sigma + beta with mu, sigma over ``axes`` of x viewed as ``view``.

    ``weight`` and ``bias`` (gamma, beta; either may be None) are reshaped to ``param_shape`` to
    broadcast against x. ``stats`` (a list), when given, receives mu and sigma^2 (arrays) and m.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, view, axes, param_shape, eps, reduce=None, stats=None):
        xp = get_array_module(x)
        xv = x.reshape(view)
        y = xp.empty(x.shape, dtype=x.dtype)
        mu, inv_sigma, var = (xp.empty(_stat_shape(view, axes), dtype=x.dtype) for _ in range(3))

        def samples(lo, hi):          # a slice of the batch (all of it when the statistics span it)
            s = _stat_rows(axes, lo, hi)
            x_hat, mu[s], inv_sigma[s], var[s], m = _standardize(
                xv[lo:hi], axes, eps, reduce, out=y[lo:hi].reshape((hi - lo,) + view[1:]))
            if weight is not None:
                y[lo:hi] *= weight.reshape(param_shape)
            if bias is not None:
                y[lo:hi] += bias.reshape(param_shape)
            return m

        m = run_chunks(samples, _batch_chunks(x, axes))[0]
        if stats is not None:
            stats.extend([mu, var, m])
        ctx.layout = (view, axes, param_shape, eps, m, reduce)
        ctx.param_shape_given = (weight if weight is not None else bias if bias is not None else x).shape
        ctx.save_for_backward(x, weight, mu, inv_sigma)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, mu, inv_sigma = ctx.saved_tensors
        view, axes, param_shape, eps, m, reduce = ctx.layout
        needs = ctx.needs_input_grad[:3]
        if grad_mode.is_grad_enabled():
            # create_graph: the gradients must stay functions of x, so x_hat and sigma are recomputed
            # with recorded operations instead of taken from forward's arrays
            if reduce is not None:
                raise RuntimeError("Normalize: second derivatives through a batch norm synchronised "
                                   "across processes are not supported")
            x_hat, _, inv_sigma, _, _ = _standardize(x.reshape(view), axes, eps)
            gx, gw, gb = _gradients(grad, x_hat, weight, inv_sigma, view, axes, param_shape, m, None, needs)
        else:
            gx, gw, gb = _array_gradients(grad.data, x.data, weight, mu.data, inv_sigma.data, ctx.layout,
                                          needs)
        shape = ctx.param_shape_given
        return (gx, None if gw is None else gw.reshape(shape), None if gb is None else gb.reshape(shape),
                None, None, None, None)


def _array_gradients(g, x, weight, mu, inv_sigma, layout, needs):
    """``_gradients`` on arrays, a slice of the batch at a time where the statistics allow (the
    parameter gradients are sums over the batch: each slice's share is added in slice order)."""
    view, axes, param_shape, eps, m, reduce = layout
    xp = get_array_module(g)
    xv = x.reshape(view)
    w = None if weight is None else weight.data
    gx = xp.empty(g.shape, dtype=g.dtype) if needs[0] else None

    def samples(lo, hi):
        s = _stat_rows(axes, lo, hi)
        x_hat = (xv[lo:hi] - mu[s]) * inv_sigma[s]              # recomputed instead of kept
        gx_part, gw, gb = _gradients(g[lo:hi], x_hat, w, inv_sigma[s], (hi - lo,) + view[1:], axes,
                                     param_shape, m, reduce, needs)
        if gx is not None:
            gx[lo:hi] = gx_part
        return gw, gb

    parts = run_chunks(samples, _batch_chunks(x, axes))
    gw = gb = None
    if needs[1]:
        gw = parts[0][0]
        for part in parts[1:]:
            gw = gw + part[0]
    if needs[2]:
        gb = parts[0][1]
        for part in parts[1:]:
            gb = gb + part[1]
    return gx, gw, gb


def _stat_shape(view, axes):
    return tuple(1 if a in axes else n for a, n in enumerate(view))


def _stat_rows(axes, lo, hi):
    """The statistics of batch rows lo..hi: their own when each sample has its own (group and layer
    norm), the single shared row when the statistics span the batch (batch norm)."""
    return slice(None) if 0 in axes else slice(lo, hi)


def _batch_chunks(x, axes):
    """Slices of the batch to run on minigen's threads: about 256K numbers each when every sample has
    its own statistics, else one slice (batch norm's statistics need the whole batch)."""
    n = x.shape[0]
    if 0 in axes or get_array_module(x) is not np:
        return [(0, n)]
    per_sample = max(1, x.size // max(n, 1))
    return chunks(n, max(1, (1 << 18) // per_sample))


def _sum_to(a, shape):
    """Sum ``a`` over the axes along which ``shape`` (as many axes) is broadcast."""
    axes = tuple(i for i, (n, k) in enumerate(zip(a.shape, shape)) if k == 1 and n != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


def _copy(a):
    return a * 1.0 if isinstance(a, Tensor) else a.copy()


def normalize(x, weight, bias, view, axes, param_shape, eps, reduce=None, stats=None):
    """``Normalize.apply``; see the module docstring."""
    return Normalize.apply(x, weight, bias, tuple(view), tuple(axes), tuple(param_shape), eps,
                           reduce=reduce, stats=stats)
