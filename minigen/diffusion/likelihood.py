"""The variational bound on -log p(x_0) of a diffusion model (Ho et al. 2020, eq. 5), in bits per dimension.

    -log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0
    L_T     = KL(q(x_T | x_0) || N(0, I))                          no parameters; ~0 when alpha_bar_T ~ 0
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))         x_t ~ q(x_t | x_0), two Gaussians
    L_0     = -log p(x_0 | x_1)                                      the decoder

Both Gaussians in L_{t-1} have fixed isotropic variances (beta_tilde_t and sigma_t^2), so
(minigen.distributions.kl_divergence)

    L_{t-1} = 1/2 sum_i [ log(sigma_t^2 / beta_tilde_t) + (beta_tilde_t + (mu_tilde_i - mu_theta_i)^2) / sigma_t^2 - 1 ].

For images, p(x_0 | x_1) is a discretised Gaussian: the data are ``levels`` evenly spaced values in
[-1, 1] (256 for 8-bit images, 17 for the 0..16 pixels of ``digits``), and a pixel's probability is
the Gaussian mass of its bin, [x - d, x + d] with d = 1 / (levels - 1), the outer bins stretched to
-inf and +inf. The bound is then one on the probability of the discrete image, so

    bits/dim = (L_T + sum L_{t-1} + L_0) / (D ln 2)          with no change-of-scale term.

For continuous data (the 2-D sets) the decoder is the Gaussian density N(x_0; mu_theta(x_1, 1), sigma_1^2 I)
and the bound is on -log p(x_0) in nats.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..distributions import Normal, kl_divergence
from .samplers import ancestral_step


def standard_normal_cdf(z):
    return 0.5 * (1.0 + ops.erf(z * (1.0 / math.sqrt(2.0))))


def discretised_gaussian_log_likelihood(x, mean, std, levels):
    """log P(x) per element, for x on ``levels`` evenly spaced values in [-1, 1] and a N(mean, std^2)
    whose mass is cut into one bin per value (the edge bins reach to -inf / +inf). Computed in float64."""
    x, mean = x.astype("float64"), mean.astype("float64")
    half_bin = 1.0 / (levels - 1)
    cdf_upper = standard_normal_cdf((x + half_bin - mean) / std)
    cdf_lower = standard_normal_cdf((x - half_bin - mean) / std)
    at_bottom, at_top = x.data < -1 + half_bin, x.data > 1 - half_bin
    mass = ops.where(at_bottom, cdf_upper, ops.where(at_top, 1.0 - cdf_lower, cdf_upper - cdf_lower))
    return ops.log(ops.maximum(mass, 1e-12))


def variational_bound(eps_model, schedule, x0, variance="beta", clip_x0=False, levels=None, batch_size=500):
    """The bound for each example of ``x0`` (a Tensor in [-1, 1] for images), one x_t ~ q(x_t | x_0) per t.

    ``levels`` selects the discretised decoder (images); None the Gaussian density (continuous data).
    Returns a dict of NumPy arrays: ``total`` (nats per example), ``prior`` (L_T), ``terms``
    (L_{t-1} for t = 2..T, shape (T - 1, N)), ``decoder`` (L_0), and ``bits_per_dim`` per example.
    """
    if levels is not None and (levels < 2 or x0.data.min() < -1 or x0.data.max() > 1):
        raise ValueError(f"variational_bound: the discretised decoder needs data in [-1, 1] and levels >= 2, "
                         f"got levels={levels} and data in [{float(x0.data.min())}, {float(x0.data.max())}]")
    T, N = schedule.T, x0.shape[0]
    sigma2 = schedule.reverse_variance(variance)
    sum_axes = tuple(range(1, x0.ndim))
    dims = int(np.prod(x0.shape[1:]))

    def reduce(per_element):
        return per_element.sum(axis=sum_axes).numpy().astype(np.float64)

    with no_grad():
        mean_T = float(schedule.sqrt_alpha_bar[T]) * x0
        prior = reduce(kl_divergence(Normal(mean_T, math.sqrt(1.0 - schedule.alpha_bar[T])),
                                     Normal(0.0 * x0, 1.0)))
        terms = np.zeros((T - 1, N))
        decoder = np.zeros(N)
        for lo in range(0, N, batch_size):
            x = x0[lo:lo + batch_size]
            for t in range(1, T + 1):
                x_t = schedule.q_sample(x, t, ops.randn_like(x))
                eps_hat = eps_model(x_t, ops.full((x.shape[0],), t, dtype="int64", device=x.device))
                mu_theta, _ = ancestral_step(schedule, x_t, t, eps_hat, variance, clip_x0)
                if t == 1:
                    std = math.sqrt(sigma2[1])
                    log_p = (Normal(mu_theta, std).log_prob(x) if levels is None else
                             discretised_gaussian_log_likelihood(x, mu_theta, std, levels))
                    decoder[lo:lo + batch_size] = -reduce(log_p)
                else:
                    mu_tilde, _, _ = schedule.q_posterior(x, x_t, t)
                    kl = kl_divergence(Normal(mu_tilde, math.sqrt(schedule.beta_tilde[t])),
                                       Normal(mu_theta, math.sqrt(sigma2[t])))
                    terms[t - 2, lo:lo + batch_size] = reduce(kl)
    total = prior + terms.sum(axis=0) + decoder
    return {"total": total, "prior": prior, "terms": terms, "decoder": decoder,
            "bits_per_dim": total / (dims * math.log(2))}
