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

The sum over t costs T - 1 network calls per image. With ``timesteps=K`` it is estimated instead: the
steps 2..T are cut into K contiguous strata S_k of n_k steps, each example draws one t_k uniformly from
each, and

    sum_{t=2}^T L_{t-1}  ~=  sum_k n_k L_{t_k - 1}        (stratified Monte Carlo: unbiased, E = the sum)

so K calls per image give the bound up to a variance that falls as K grows (with K = T - 1 every stratum
is one step and the sum is exact). The strata widen geometrically with t, because L_{t-1} is largest
and steepest at small t: there the strata are single steps and the sum is exact. Each L_{t-1} already uses a single x_t ~ q(x_t | x_0), so the exact
sum is itself a one-sample estimate of the bound's expectation; strata only add variance across t.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, ops
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


def bound_strata(T, timesteps=None, n=1, rng=None):
    """Which steps t in 2..T estimate sum_t L_{t-1}, for each of ``n`` examples: (steps (S, n), weights (S,)).

    ``timesteps`` None (or >= T - 1): every step, weight 1 (the exact sum). An integer K: 2..T is cut
    into K contiguous strata, geometrically wider with t -- L_{t-1} is largest and changes fastest at
    small t, so the first steps are strata of one step each, summed exactly -- and every example draws
    its own t uniformly within each stratum, weighted by the stratum's size. A pair (steps, weights):
    a fixed quadrature, the same steps for every example (``score_timesteps``; the DDPM's anomaly scores
    rank images with one).
    """
    if isinstance(timesteps, tuple):
        steps, weights = (np.asarray(a) for a in timesteps)
        if steps.ndim != 1 or steps.shape != weights.shape or steps.dtype.kind not in "iu" \
                or not ((2 <= steps) & (steps <= T)).all() or not (weights > 0).all():
            raise ValueError(f"variational_bound: a fixed quadrature needs integer steps in [2, {T}] and as "
                             f"many positive weights, got steps {steps} and weights {weights}")
        return np.repeat(steps[:, None], n, axis=1), weights.astype(float)
    if timesteps is None or timesteps >= T - 1:
        steps = np.arange(2, T + 1)
        return np.repeat(steps[:, None], n, axis=1), np.ones(len(steps))
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) or timesteps < 1:
        raise ValueError(f"variational_bound: timesteps must be a positive integer or None (all), got {timesteps!r}")
    for points in range(int(timesteps), 64 * T):            # the geometric grid with exactly K distinct edges
        edges = np.unique(np.geomspace(2, T + 1, points + 1).round().astype(int))
        if len(edges) >= timesteps + 1:
            break
    rng = backend.generator("cpu") if rng is None else rng       # seeded by mg.manual_seed
    lo, hi = edges[:-1], edges[1:]                                 # stratum k: lo[k] <= t < hi[k]
    steps = rng.integers(lo[:, None], hi[:, None], size=(len(lo), n))
    return steps, (hi - lo).astype(float)


def variational_bound(eps_model, schedule, x0, variance="beta", clip_x0=False, levels=None, batch_size=500,
                      timesteps=None, rng=None):
    """The bound for each example of ``x0`` (a Tensor in [-1, 1] for images), one x_t ~ q(x_t | x_0) per t.

    ``levels`` selects the discretised decoder (images); None the Gaussian density (continuous data).
    ``timesteps``: None sums every L_{t-1}; an integer K estimates the sum from K stratified steps per
    example (``bound_strata``, drawn with the NumPy Generator ``rng``, by default minigen's CPU generator);
    a pair (steps, weights) is a fixed quadrature.
    Returns a dict of NumPy arrays: ``total`` (nats per example), ``prior`` (L_T), ``terms``
    (L_{t-1} at the steps used, shape (S, N)), ``steps`` (S, N) and ``weights`` (S,) (the sum over t is
    ``weights @ terms``), ``decoder`` (L_0), ``eps_error`` (S, N): the squared error of the noise guess
    ||eps - eps_theta(x_t, t)||^2 at the same x_t (L_simple's terms, for free), and ``bits_per_dim``.
    """
    if levels is not None and (levels < 2 or x0.data.min() < -1 or x0.data.max() > 1):
        raise ValueError(f"variational_bound: the discretised decoder needs data in [-1, 1] and levels >= 2, "
                         f"got levels={levels} and data in [{float(x0.data.min())}, {float(x0.data.max())}]")
    T, N = schedule.T, x0.shape[0]
    steps, weights = bound_strata(T, timesteps, N, rng)
    sigma2 = schedule.reverse_variance(variance)
    sum_axes = tuple(range(1, x0.ndim))
    dims = int(np.prod(x0.shape[1:]))

    def reduce(per_element):
        return per_element.sum(axis=sum_axes).numpy().astype(np.float64)

    def mu_theta(x_t, t):
        """The mean of p(x_{t-1} | x_t): the ancestral step without its noise (z = 0), and the network's
        guess of eps it came from."""
        eps_hat = eps_model(x_t, ops.tensor(t, device=x_t.device))
        return ancestral_step(schedule, x_t, t, eps_hat, 0.0, variance, clip_x0=clip_x0), eps_hat

    with no_grad():
        mean_T = float(schedule.sqrt_alpha_bar[T]) * x0
        prior = reduce(kl_divergence(Normal(mean_T, math.sqrt(1.0 - schedule.alpha_bar[T])),
                                     Normal(0.0 * x0, 1.0)))
        terms, eps_error = np.zeros((len(weights), N)), np.zeros((len(weights), N))
        decoder = np.zeros(N)
        for lo in range(0, N, batch_size):
            x = x0[lo:lo + batch_size]
            ones = np.ones(x.shape[0], dtype=np.int64)
            x_1 = schedule.q_sample(x, ones, ops.randn_like(x))                  # L_0 = -log p(x_0 | x_1)
            std, mu_1 = math.sqrt(sigma2[1]), mu_theta(x_1, ones)[0]
            log_p = (Normal(mu_1, std).log_prob(x) if levels is None else
                     discretised_gaussian_log_likelihood(x, mu_1, std, levels))
            decoder[lo:lo + batch_size] = -reduce(log_p)
            for i in range(len(weights)):                                          # L_{t-1}, t >= 2
                t, eps = steps[i, lo:lo + batch_size], ops.randn_like(x)
                x_t = schedule.q_sample(x, t, eps)
                mu_tilde, var_tilde, _ = schedule.q_posterior(x, x_t, t)
                mu, eps_hat = mu_theta(x_t, t)
                sigma_t = ops.sqrt(schedule.per_example(t, x, sigma2))
                kl = kl_divergence(Normal(mu_tilde, ops.sqrt(var_tilde)), Normal(mu, sigma_t))
                terms[i, lo:lo + batch_size] = reduce(kl)
                eps_error[i, lo:lo + batch_size] = reduce((eps - eps_hat) ** 2)
    total = prior + weights @ terms + decoder
    return {"total": total, "prior": prior, "terms": terms, "steps": steps, "weights": weights,
            "decoder": decoder, "eps_error": eps_error, "bits_per_dim": total / (dims * math.log(2))}


def score_timesteps(T, k=10):
    """A fixed quadrature of the sum over t: K steps t_1 < ... < t_K spread geometrically over 2..T, and
    n_k, the number of integer steps in 2..T nearer (in log t) to t_k than to any other (sum n_k = T - 1).

    With it every image sees the same steps, so that scores of different images are comparable
    (the DDPM's anomaly scores): L_{t_k - 1} stands for the n_k steps nearest to t_k."""
    grid = np.unique(np.round(np.geomspace(2, T, k)).astype(np.int64))
    every = np.arange(2, T + 1)
    nearest = np.abs(np.log(every)[:, None] - np.log(grid)[None, :]).argmin(axis=1)
    return grid, np.bincount(nearest, minlength=len(grid))
