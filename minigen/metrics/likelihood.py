r"""Likelihood units and yardsticks: bits per dimension, the log-mean-exp of importance weights (IWAE),
the true entropy of a 2-D toy set, and a full-covariance Gaussian baseline for dequantised images.

Likelihoods need discrete data to be comparable across models: image pixels are binarised or
dequantised first (minigen.data.pixels), and a negative log-likelihood in nats per example is reported
per dimension in bits:

    bits/dim = nats / (D log 2)                                                   (bits_per_dim)

Importance-weighted bound (Burda et al., 2016): with z_1..z_k ~ q(z|x) and weights
w_i = p(x, z_i) / q(z_i|x),

    log p(x) >= L_k = log (1/k) sum_i w_i = logsumexp_i(log w_i) - log k          (log_mean_exp)

L_1 is the ELBO, L_k <= L_{k+1} in expectation, and L_k -> log p(x) as k grows.

True entropy (the best NLL any model can reach on fresh data, in nats per example):

    H(p) = -E_p[log p(x)] ~ -1/n sum_i log p(x_i),    x_i ~ p                  (Monte Carlo)
    standard error = std_i(log p(x_i)) / sqrt(n)

Gaussian baseline: fit mean m and covariance S to dequantised training pixels y (D dims), score the
test pixels, and convert to bits/dim of the discrete data as flows do (minigen.data.pixels):

    nll_nats = -log N(y; m, S) + D log L,        bits/dim = nll_nats / (D log 2)

With ``logit_alpha`` the Gaussian is fitted after the flows' logit transform v = logit(alpha +
(1 - 2 alpha) y) instead, and the transform's log-det is added back (a much stronger baseline: pixels
piled up at 0 and 1 are far from Gaussian, their logits less so):

    log p(y) = log N(v; m, S) + sum_i [log(1 - 2 alpha) - log s_i - log(1 - s_i)]
"""
import math

import numpy as np

from .. import ops
from ..data import pixels, toy2d


def bits_per_dim(nats, dims):
    """Convert a negative log-likelihood per example in nats to bits per dimension (a float, or an array
    or Tensor of them)."""
    nats = float(nats) if isinstance(nats, (int, float, np.floating)) else nats
    return nats / (dims * math.log(2.0))


def log_mean_exp(values, axis=0):
    """log (1/k) sum_i exp(values_i) along ``axis`` (k = its length), computed stably (a Tensor)."""
    k = values.shape[axis]
    return ops.logsumexp(values, axis=axis) - math.log(k)


def true_entropy(name, x):
    """(H, standard error) in nats per example, from samples x (n, 2) of the 2-D set ``name``."""
    log_p = toy2d.log_density(name, x)
    if not np.isfinite(log_p).all():
        raise ValueError(f"true_entropy: some points have zero density under {name!r}")
    return float(-log_p.mean()), float(log_p.std() / np.sqrt(len(log_p)))


def gaussian_log_density(y_train, y_test, ridge=1e-6):
    """log N(y_test; m, S) per test row, m and S fitted by maximum likelihood to y_train (n, D)."""
    y_train = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1)
    y_test = np.asarray(y_test, dtype=np.float64).reshape(len(y_test), -1)
    mean = y_train.mean(axis=0)
    cov = np.cov(y_train, rowvar=False, bias=True) + ridge * np.eye(y_train.shape[1])
    chol = np.linalg.cholesky(cov)
    white = np.linalg.solve(chol, (y_test - mean).T)          # L^{-1} (y - m)
    dims = y_train.shape[1]
    log_det_cov = 2 * np.log(np.diag(chol)).sum()
    return -0.5 * ((white ** 2).sum(axis=0) + log_det_cov + dims * np.log(2 * np.pi))


def gaussian_baseline_bits_per_dim(x_train, x_test, levels, logit_alpha=None, seed=0):
    """bits/dim of a full-covariance Gaussian on uniformly dequantised images x = k / (L - 1),
    fitted to the pixels y or (with ``logit_alpha``) to their logits."""
    rng = np.random.default_rng(seed)

    def dequantized(x):
        y = pixels.dequantize(np.asarray(x, dtype=np.float64), levels, rng).reshape(len(x), -1)
        if logit_alpha is None:
            return y, 0.0
        s = logit_alpha + (1 - 2 * logit_alpha) * y
        log_det = (np.log(1 - 2 * logit_alpha) - np.log(s) - np.log1p(-s)).sum(axis=1)
        return np.log(s) - np.log1p(-s), log_det

    (v_train, _), (v_test, log_det) = dequantized(x_train), dequantized(x_test)
    log_p = gaussian_log_density(v_train, v_test) + log_det
    dims = int(np.prod(np.shape(x_test)[1:]))
    nll = -log_p.mean() + dims * np.log(levels)
    return float(nll / (dims * np.log(2)))

