"""Metrics and data conventions for the latent-variable models (VAE, CVAE, VQ-VAE, PixelCNN).

Importance-weighted bound (Burda et al., 2016): with z_1..z_k ~ q(z|x) and weights
w_i = p(x, z_i) / q(z_i|x),

    log p(x) >= L_k = log (1/k) sum_i w_i = logsumexp_i(log w_i) - log k          (log_mean_exp)

L_1 is the ELBO, L_k <= L_{k+1} in expectation, and L_k -> log p(x) as k grows.

Codebook perplexity of a VQ-VAE whose codes were used with frequencies p_k:

    perplexity = exp(-sum_k p_k log p_k)                                         (codebook_perplexity)

1 when one code does all the work, K when all K codes are used equally.

Likelihoods need discrete data to be comparable in bits per dimension. Image pixels here are
intensities in [0, 1] with ``levels`` grey levels (digits: value/16, 17 levels; MNIST: value/255,
256 levels), and the families use one of two proper conventions:

    binarize(x)             x_b ~ Bernoulli(x) per pixel: a Bernoulli likelihood is then a proper
                            probability of the binary image (dynamic binarisation in training, one
                            fixed draw for the test split)
    dequantize(x, levels)   y = (k + u) / levels, k = x (levels - 1), u ~ U[0, 1): a density p(y) on
                            [0, 1]^D bounds the probability of the discrete image,
                            -log P(k) <= E_u[-log p(y)] + D log(levels)

    bits/dim = nats / (D log 2)                                                   (bits_per_dim)

A linear probe measures how linearly separable the classes are in a representation z(x): multinomial
logistic regression on the standardised features, z' = (z - mean) / std (train-split statistics),

    p(y = k | z) = softmax(W z' + b)_k,   min_{W,b} -1/n sum_i log p(y_i | z_i) + lambda ||W||^2

fitted by full-batch Adam and scored by test accuracy                            (linear_probe)
"""
import math

import numpy as np

import minigen as mg

LEVELS = {"digits": 17}           # grey levels per dataset; the MNIST family has 256


def intensity_levels(dataset):
    """Number of grey levels of an image dataset's pixels (17 for digits, 256 for the MNISTs)."""
    return LEVELS.get(dataset, 256)


def log_mean_exp(values, axis=0):
    """log (1/k) sum_i exp(values_i) along ``axis`` (k = its length), computed stably (a Tensor)."""
    k = values.shape[axis]
    return mg.logsumexp(values, axis=axis) - math.log(k)


def bits_per_dim(nats, dims):
    """Convert a negative log-likelihood per example in nats to bits per dimension."""
    return float(nats) / (dims * math.log(2.0))


def binarize(x, seed=None):
    """x_b ~ Bernoulli(x) per pixel, as float32 0/1. ``x`` a NumPy array in [0, 1] or a Tensor; a
    NumPy ``x`` with a ``seed`` gives the same draw every time (the fixed test-set binarisation)."""
    if isinstance(x, mg.Tensor):
        return (mg.rand_like(x) < x).astype(x.dtype)
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape) < x).astype(np.float32)


def dequantize(x, levels, seed=None):
    """y = (k + u) / levels with k = round(x (levels - 1)) and u ~ U[0, 1), so y lies in [0, 1).
    NumPy ``x`` with a ``seed``: a fixed draw; a Tensor: the device's generator."""
    if isinstance(x, mg.Tensor):
        k = mg.tensor((x.data * (levels - 1)).round(), dtype=x.dtype, device=x.device)
        return (k + mg.rand_like(x)) / levels
    rng = np.random.default_rng(seed)
    k = np.round(x * (levels - 1))
    return ((k + rng.random(x.shape)) / levels).astype(np.float32)


def codebook_perplexity(counts):
    """exp(entropy) of the code-usage frequencies ``counts`` (K,) (any array-like of counts)."""
    counts = np.asarray(mg.backend.to_numpy(counts.data if isinstance(counts, mg.Tensor) else counts),
                        dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("codebook_perplexity: no code was used (all counts are zero)")
    p = counts[counts > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def linear_probe(z_train, y_train, z_test, y_test, steps=500, lr=0.05, weight_decay=1e-3, seed=0):
    """Test accuracy of a linear softmax classifier trained on the features ``z_train`` (N, F) with
    labels ``y_train`` (NumPy), then applied to ``z_test``; F may differ between representations."""
    z_train, z_test = np.asarray(z_train, np.float64), np.asarray(z_test, np.float64)
    if z_train.ndim != 2 or z_test.ndim != 2 or z_train.shape[1] != z_test.shape[1]:
        raise ValueError(f"linear_probe: features must be (N, F) arrays with the same F, got "
                         f"{z_train.shape} and {z_test.shape}")
    if len(z_train) != len(y_train) or len(z_test) != len(y_test):
        raise ValueError(f"linear_probe: {len(z_train)} and {len(z_test)} feature rows but "
                         f"{len(y_train)} and {len(y_test)} labels")
    # a constant feature (a code never used, a blank pixel) has std 0: leave it at 0, not inf
    mean, std = z_train.mean(0), z_train.std(0) + 1e-6
    z_train, z_test = (z_train - mean) / std, (z_test - mean) / std
    mg.manual_seed(seed)
    probe = mg.nn.Linear(z_train.shape[1], int(max(y_train.max(), y_test.max())) + 1)
    optimizer = mg.optim.Adam(probe.parameters(), lr=lr)
    z, y = mg.tensor(z_train.astype(np.float32)), mg.tensor(np.asarray(y_train, np.int64))
    for _ in range(steps):
        loss = (mg.nn.functional.cross_entropy(probe(z), y) + weight_decay * (probe.weight ** 2).sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with mg.no_grad():
        predicted = probe(mg.tensor(z_test.astype(np.float32))).argmax(axis=1).numpy()
    return float((predicted == np.asarray(y_test)).mean())
