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
