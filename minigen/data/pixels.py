r"""Pixels as discrete values, and the spaces the model families see them in.

An image set's pixels take L evenly spaced values (``DatasetInfo.levels``: 17 for ``digits``, whose UCI
pixels are 0..16, and 256 for the 8-bit MNIST sets), stored in **data space** as x = k / (L - 1) in
[0, 1], k = 0..L-1 (minigen.data.load). A family may model them in another space:

    symmetric      x_s = 2 x - 1 in [-1, 1]: what tanh generators and diffusion models see
                                                                   (to_symmetric, from_symmetric)
    binarised      x_b ~ Bernoulli(x) per pixel: a Bernoulli likelihood is then a proper probability of
                   the binary image (a fresh draw every training step, one fixed draw for the test
                   split)                                          (binarize)
    dequantised    y = (k + u) / L, u ~ U[0, 1)^D: a density on [0, 1)^D (flows, Gaussian VAEs)
                                                                   (dequantize; quantize goes back)

Dequantisation (Theis et al. 2016; RealNVP sec. 4.1): a continuous density on discrete points would put
infinite density on them, so noise spreads each value over its bin [k/L, (k+1)/L)^D. For any density p
on y, the discrete model P(k) is the integral of p over the bin, and by Jensen's inequality

    log P(k) >= E_u[ log p(y) ] - D log L,

so the negative log-likelihood of the discrete pixels in nats per example is bounded by
(``dequantized_nll``)

    nll_nats = -log p(y) + D log L,          and bits/dim = nll_nats / (D log 2)   (minigen.metrics).

The centre of a pixel's bin, y = (k + 1/2) / L, is where a dequantised model's continuous output is read
back as data (``to_bin_centre`` and its inverse ``from_bin_centre``, differentiable, unlike
``quantize``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd import Tensor
from ..backend import get_array_module


def on_grid(x, levels):
    """NumPy images moved to the nearest of the L pixel values, round(x (L - 1)) / (L - 1), float32."""
    return (np.round(np.asarray(x) * (levels - 1)) / (levels - 1)).astype(np.float32)


# --------------------------------------------------------------------------------- symmetric [-1, 1]
def to_symmetric(x):
    """x_s = 2 x - 1: images in [0, 1] to [-1, 1] (a Tensor or an array)."""
    return 2 * x - 1


def from_symmetric(x_s):
    """x = (x_s + 1) / 2: back from [-1, 1] to [0, 1]."""
    return (x_s + 1) / 2


# --------------------------------------------------------------------------------- binarised
def binarize(x, seed=None):
    """x_b ~ Bernoulli(x) per pixel, as 0/1 in x's float type. ``x`` a NumPy array in [0, 1] or a
    Tensor; a NumPy ``x`` with a ``seed`` gives the same draw every time (the fixed test-set
    binarisation), a Tensor uses minigen's generator."""
    if isinstance(x, Tensor):
        return (ops.rand_like(x) < x).astype(x.dtype)
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape) < x).astype(np.float32)


# --------------------------------------------------------------------------------- dequantised
def dequantize(x, levels, seed=None):
    """y = (k + u) / L with k = round(x (L - 1)) and u ~ U[0, 1), so y lies in [0, 1).

    A Tensor ``x``: u from minigen's generator, or from a NumPy generator seeded with ``seed``
    (reproducible evaluation that leaves minigen's random stream alone); the result is a Tensor.
    A NumPy ``x``: u from ``seed`` (a seed or a NumPy Generator), the result NumPy in x's float type
    (float32 for integer arrays)."""
    if isinstance(x, Tensor):
        k = ops.tensor(get_array_module(x.data).round(x.data * (levels - 1)), device=x.device).astype(x.dtype)
        if seed is None:
            u = ops.rand(*x.shape, dtype=x.dtype, device=x.device)
        else:
            u = ops.tensor(np.random.default_rng(seed).random(x.shape).astype(x.dtype), device=x.device)
        return (k + u) / levels
    x = np.asarray(x)
    rng = np.random.default_rng(seed)
    k = np.round(x * (levels - 1))
    return ((k + rng.random(k.shape)) / levels).astype(x.dtype if x.dtype.kind == "f" else np.float32)


def quantize(y, levels):
    """Back to data space: k = floor(L y) clipped to {0..L-1}, returned as k / (L - 1) (a Tensor)."""
    xp = get_array_module(y.data)
    k = xp.clip(xp.floor(y.data * levels), 0, levels - 1)
    return ops.tensor(k / (levels - 1), device=y.device).astype(y.dtype)


def dequantized_nll(log_p_y, num_dims, levels):
    """NLL of the discrete pixels in nats per example, from log p(y) of the dequantised ones:
    -log p(y) + D log L."""
    return -log_p_y + num_dims * math.log(levels)


def to_bin_centre(x, levels):
    """y = (k + 1/2) / L for x = k / (L - 1): the middle of each pixel's dequantisation bin."""
    return (x * (levels - 1) + 0.5) / levels


def from_bin_centre(y, levels):
    """x = (L y - 1/2) / (L - 1): the inverse of ``to_bin_centre``, for any y (differentiable)."""
    return (levels * y - 0.5) / (levels - 1)
