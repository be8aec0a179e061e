"""Distances between two sets of samples, to judge generated 2-D points against held-out data.

    energy distance   D^2(P, Q) = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||          (Szekely & Rizzo 2004)
    MMD^2 (Gaussian)  MMD^2(P, Q) = E k(X, X') + E k(Y, Y') - 2 E k(X, Y),  k(a, b) = exp(-||a - b||^2 / (2 h^2))

X, X' ~ P and Y, Y' ~ Q independent. Both are zero exactly when P = Q (the energy distance for any
distributions with finite means, MMD for a characteristic kernel such as the Gaussian), and both are
estimated here with the unbiased U-statistics (pairs i != j within a set), so a model's value can be
compared with that of another sample of the data itself, whose expectation is 0.
"""
from __future__ import annotations

import numpy as np


def _as_points(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise ValueError(f"{name}: expected at least 2 points as an (N, D) array, got shape {a.shape}")
    return a


def _pairwise_distances(a, b):
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def _mean_off_diagonal(matrix):
    n = len(matrix)
    return (matrix.sum() - np.trace(matrix)) / (n * (n - 1))


def energy_distance(x, y):
    """The squared energy distance between the samples ``x`` (N, D) and ``y`` (M, D), unbiased."""
    x, y = _as_points(x, "energy_distance: x"), _as_points(y, "energy_distance: y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"energy_distance: points of dimension {x.shape[1]} and {y.shape[1]} differ")
    return float(2 * _pairwise_distances(x, y).mean() - _mean_off_diagonal(_pairwise_distances(x, x))
                 - _mean_off_diagonal(_pairwise_distances(y, y)))


def mmd(x, y, bandwidths=(0.1, 0.3, 1.0, 3.0)):
    """The squared MMD between ``x`` and ``y`` with a sum of Gaussian kernels, one per bandwidth h, unbiased."""
    x, y = _as_points(x, "mmd: x"), _as_points(y, "mmd: y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd: points of dimension {x.shape[1]} and {y.shape[1]} differ")
    d_xx, d_yy, d_xy = (_pairwise_distances(a, b) ** 2 for a, b in ((x, x), (y, y), (x, y)))
    total = 0.0
    for h in bandwidths:
        k = lambda d: np.exp(-d / (2 * h * h))  # noqa: E731
        total += _mean_off_diagonal(k(d_xx)) + _mean_off_diagonal(k(d_yy)) - 2 * k(d_xy).mean()
    return float(total)


def gaussian_fit_samples(data, n, rng):
    """``n`` draws from the Gaussian with the mean and covariance of ``data``: the baseline a model of
    the 2-D sets must beat."""
    data = _as_points(data, "gaussian_fit_samples: data")
    return rng.multivariate_normal(data.mean(0), np.cov(data.T), size=n)
