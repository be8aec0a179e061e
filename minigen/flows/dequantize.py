r"""Images as densities: dequantisation, the logit transform, and bits per dimension.

Pixels are discrete: k in {0, ..., L-1}, stored in data space as x = k / (L - 1) (minigen.data.load).
The number of levels L is 256 for MNIST-like sets and **17 for ``digits``** (UCI pixels are 0..16,
loaded as value / 16). A continuous density on discrete points would put infinite density on them, so
(Theis et al. 2016; RealNVP sec. 4.1) we add uniform noise and rescale to [0, 1):

    y = (k + u) / L,        u ~ U[0, 1)^D                                            (dequantisation)

For any density p on y, the discrete model P(k) = integral of p over the cube [k/L, (k+1)/L)^D, and by
Jensen's inequality

    log P(k) >= E_u[ log p(y) ] - D log L,

so the negative log-likelihood of the discrete data, in nats per example and in bits per dimension, is
(an upper bound, exact up to the Jensen gap)

    nll_nats = -log p(y) + D log L,          bits/dim = nll_nats / (D log 2).

The logit transform (RealNVP sec. 4.1) maps [0, 1) to the real line, where Gaussian bases live,
shrunk by alpha to keep away from the infinities at 0 and 1:

    s = alpha + (1 - 2 alpha) y,       z = logit(s) = log s - log(1 - s)
    log|det dz/dy| = sum_i [ log(1 - 2 alpha) - log s_i - log(1 - s_i) ]

It is a flow layer, so its log-det enters eq. (1) with all the others.
"""
import math

import numpy as np

import minigen as mg
from minigen.backend import get_array_module

from .core import FlowLayer, sum_per_example

LEVELS = {"digits": 17}   # every other image set: 8-bit pixels, 256 levels


def levels_of(dataset):
    """The number of pixel levels L of an image dataset: 17 for digits, 256 otherwise."""
    return LEVELS.get(dataset, 256)


def dequantize(x, levels, seed=None):
    """y = (k + u) / L for images x = k / (L - 1) (a Tensor in data space).

    u comes from minigen's generator, or from a NumPy generator seeded with ``seed`` (reproducible
    evaluation that leaves minigen's random stream alone)."""
    k = mg.tensor((x.data * (levels - 1)).round(), device=x.device).astype(x.dtype)
    if seed is None:
        u = mg.rand(*x.shape, dtype=x.dtype, device=x.device)
    else:
        u = mg.tensor(np.random.default_rng(seed).random(x.shape).astype(x.dtype), device=x.device)
    return (k + u) / levels


def quantize(y, levels):
    """Back to data space: k = floor(L y) clipped to {0..L-1}, returned as k / (L - 1)."""
    xp = get_array_module(y.data)
    k = xp.clip(xp.floor(y.data * levels), 0, levels - 1)
    return mg.tensor(k / (levels - 1), device=y.device).astype(y.dtype)


def nll_nats(log_p_y, num_dims, levels):
    """NLL of the discrete data in nats per example: -log p(y) + D log L."""
    return -log_p_y + num_dims * math.log(levels)


def bits_per_dim(nll_nats_per_example, num_dims):
    """nats per example -> bits per dimension: nll / (D log 2)."""
    return nll_nats_per_example / (num_dims * math.log(2))


class LogitTransform(FlowLayer):
    """y in [0, 1) -> z = logit(alpha + (1 - 2 alpha) y)."""

    def __init__(self, alpha=0.05):
        super().__init__()
        if not 0 < alpha < 0.5:
            raise ValueError(f"LogitTransform: alpha must be in (0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, y, cond=None):
        xp = get_array_module(y.data)
        if not bool(((y.data >= 0) & (y.data <= 1)).all()):
            raise ValueError(f"LogitTransform: expected dequantised pixels in [0, 1], got values in "
                             f"[{float(xp.min(y.data)):g}, {float(xp.max(y.data)):g}]")
        s = self.alpha + (1 - 2 * self.alpha) * y
        log_s, log_1ms = mg.log(s), mg.log(1 - s)
        log_det = sum_per_example(math.log(1 - 2 * self.alpha) - log_s - log_1ms)
        return log_s - log_1ms, log_det

    def inverse(self, z, cond=None):
        return (mg.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"
