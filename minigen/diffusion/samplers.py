"""Running the diffusion backwards: from x_T ~ N(0, I) to a sample x_0.

Every sampler takes ``eps_model(x_t, t) -> eps_hat``, the network's guess of the noise in x_t (a
DDPM model gives it, whatever it was trained to predict), and a NoiseSchedule. Through q_sample solved
for x_0, a noise guess is a guess of the data:

    x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)            (clipped to [-1, 1] for images)

Ancestral sampling (DDPM, Ho et al. 2020, Algorithm 2), for t = T, ..., 1 (``ancestral_step``):

    x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_hat) + sigma_t z,
    z ~ N(0, I) if t > 1, else z = 0;   sigma_t^2 = beta_t or beta_tilde_t

Its mean is the forward posterior's with x0_hat in place of x_0, mu_tilde_t(x_t, x0_hat), which is
how it is computed when x0_hat is clipped (images). DDIM (Song et al. 2021) visits a subsequence
tau_S = T > ... > tau_1 >= 1 and jumps from t to s = the previous one (s = 0 after tau_1):

    x_s = sqrt(alpha_bar_s) x0_hat + sqrt(1 - alpha_bar_s - sigma^2) eps_hat + sigma z,
    sigma = eta sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_s)

eta = 0 is deterministic; eta = 1 with every step is ancestral sampling with sigma_t^2 = beta_tilde_t.

Classifier-free guidance (Ho & Salimans 2021) mixes the conditional and unconditional noise guesses of
one network, eps~ = (1 + w) eps(x_t, t, c) - w eps(x_t, t, null): ``guided_eps``.

Inverse problems with an unconditional model:
  inpainting -- after every step, overwrite the known region with the known pixels noised to the
      current level, q_sample(x_known, t) (at t = 0 that is x_known itself, exactly);
  denoising  -- y = x_0 + sigma n looks like x_t / sqrt(alpha_bar_t) at the t with SNR_t = 1 / sigma^2
      (schedule.matching_step), so start the reverse process there from x_t = sqrt(alpha_bar_t) y;
  a linear observation y = A x_0 (super-resolution: A averages f x f blocks) -- inpainting with the mask
      generalised to a projection (ILVR, Choi et al. 2021; DDRM-style): after every step, replace the
      part of x_s that A sees by the observation noised to the level of step s,
          x_s <- x_s + A^+ (y_s - A x_s),
          y_s = A q_sample(A^+ y, s) = sqrt(alpha_bar_s) y + sqrt(1 - alpha_bar_s) A eps
      with A^+ a right inverse (A A^+ = I), so that A x_s = y_s; at s = 0, A x_0 = y. For a mask, A^+ = A
      and the update is inpainting's overwrite.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import no_grad


# --------------------------------------------------------------------------------------- one step
def ancestral_step(schedule, x_t, t, eps_theta, z, variance="beta", clip_x0=False):
    """One step of Algorithm 2 (Ho et al. 2020), from x_t to x_{t-1}:

        x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) + sigma_t z

    ``eps_theta`` is the network's guess of the noise in x_t, ``z`` ~ N(0, I) (the sampler passes z = 0
    at t = 1), sigma_t^2 = beta_t or beta_tilde_t (``variance``). ``t`` is an int, or one step per
    example. With z = 0 this is mu_theta(x_t, t), the mean of p(x_{t-1} | x_t) that the variational
    bound compares with the posterior (likelihood.py).

    ``clip_x0`` (images): the data lie in [-1, 1], so the guess of x_0 behind eps_theta is clipped to it
    first, x0_hat = clip((x_t - sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_bar_t)), and the mean is
    the posterior's, mu_tilde_t(x_t, x0_hat) (schedules.py, eq. 7): the formula above, rewritten
    through x0_hat, is that same mean when nothing needs clipping.
    """
    alpha_t, beta_t, alpha_bar_t, sigma_t = schedule.per_example(
        t, x_t, "alphas", "betas", "alpha_bar", np.sqrt(schedule.reverse_variance(variance)))
    if clip_x0:
        x0_hat = ops.clip(schedule.predict_x0(x_t, t, eps_theta), -1.0, 1.0)
        mean = schedule.q_posterior(x0_hat, x_t, t)[0]
    else:
        mean = 1 / ops.sqrt(alpha_t) * (x_t - beta_t / ops.sqrt(1 - alpha_bar_t) * eps_theta)
    return mean + sigma_t * z


def ddim_sigma(schedule, t, s, eta):
    """sigma of the DDIM jump from step t to s: eta sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t))
    sqrt(1 - alpha_bar_t / alpha_bar_s); 0 for eta = 0 (deterministic) and at s = 0."""
    alpha_bar_t, alpha_bar_s = schedule.alpha_bar[t], schedule.alpha_bar[s]
    return float(eta * np.sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t)) * np.sqrt(1 - alpha_bar_t / alpha_bar_s))


def ddim_step(schedule, x_t, t, s, eps_theta, z, eta=0.0, clip_x0=False):
    """The DDIM jump (Song et al. 2021, eq. 12) from step t to an earlier step s (0 <= s < t):

        x_s = sqrt(alpha_bar_s) x0_hat + sqrt(1 - alpha_bar_s - sigma^2) eps_theta + sigma z,
        x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_bar_t)   (clipped to [-1, 1] for images)
    """
    if not 0 <= s < t <= schedule.T:
        raise ValueError(f"ddim_step: expected 0 <= s < t <= T = {schedule.T}, got t = {t}, s = {s}")
    x0_hat = schedule.predict_x0(x_t, t, eps_theta)
    if clip_x0:   # and the eps consistent with the clipped x0_hat, so both terms describe the same x_0
        x0_hat = ops.clip(x0_hat, -1.0, 1.0)
        eps_theta = schedule.predict_eps(x_t, t, x0_hat)
    alpha_bar_s, sigma = schedule.alpha_bar[s], ddim_sigma(schedule, t, s, eta)
    sqrt_alpha_bar_s = float(np.sqrt(alpha_bar_s))
    sqrt_rest = float(np.sqrt(max(1 - alpha_bar_s - sigma ** 2, 0.0)))        # sqrt(1 - alpha_bar_s - sigma^2)
    return sqrt_alpha_bar_s * x0_hat + sqrt_rest * eps_theta + sigma * z


# --------------------------------------------------------------------------------------- whole chains
def ddim_timesteps(start, steps):
    """tau_S = start > ... > tau_1 >= 1: ``steps`` evenly spaced steps, largest first."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= start:
        raise ValueError(f"DDIM: the number of steps must be an integer in [1, {start}], got {steps!r}")
    return [int(t) for t in np.linspace(start, 1, int(steps)).round()]


def ancestral(eps_model, schedule, x_T, variance="beta", clip_x0=False, start=None, callback=None,
              constraint=None):
    """Algorithm 2: x_{t-1} = ancestral_step(x_t) for t = start, ..., 1 (start defaults to T), with
    z ~ N(0, I) if t > 1, else z = 0."""
    start = schedule.T if start is None else start

    def step(x_t, t, s, eps_theta):
        return ancestral_step(schedule, x_t, t, eps_theta, _noise(x_t, t > 1), variance, clip_x0=clip_x0)
    return _reverse(eps_model, schedule, x_T, list(range(start, 0, -1)), step, callback, constraint)


def ddim(eps_model, schedule, x_T, steps, eta=0.0, clip_x0=False, start=None, callback=None,
         constraint=None):
    """DDIM sampling in ``steps`` jumps from ``start`` (default T) down to 0."""
    start = schedule.T if start is None else start

    def step(x_t, t, s, eps_theta):
        return ddim_step(schedule, x_t, t, s, eps_theta, _noise(x_t, ddim_sigma(schedule, t, s, eta) > 0),
                         eta, clip_x0=clip_x0)
    return _reverse(eps_model, schedule, x_T, ddim_timesteps(start, steps), step, callback, constraint)


def _noise(x, needed):
    """z ~ N(0, I) shaped like x where the step adds noise, else 0 (and no draw from the generator)."""
    return ops.randn_like(x) if needed else 0.0


def _reverse(eps_model, schedule, x, timesteps, step, callback=None, constraint=None):
    """The loop every sampler shares: x <- step(x, t, s, eps_theta(x, t)) along ``timesteps``, largest
    first, s the next one (0 after the last).

    ``constraint(x_s, s) -> x_s``, applied to the start and after every step, ties the chain to an
    observation (``inpainting_constraint``, ``linear_observation``). ``callback(t, x_t)`` sees the start
    and every step.
    """
    schedule.check_t(np.asarray(timesteps), low=1)
    with no_grad():
        if constraint is not None:
            x = constraint(x, timesteps[0])
        if callback is not None:
            callback(timesteps[0], x)
        for i, t in enumerate(timesteps):
            s = timesteps[i + 1] if i + 1 < len(timesteps) else 0
            eps_theta = eps_model(x, ops.full((x.shape[0],), t, dtype="int64", device=x.device))
            x = step(x, t, s, eps_theta)
            if constraint is not None:
                x = constraint(x, s)
            if callback is not None:
                callback(s, x)
    return x


def inpainting_constraint(schedule, known, mask):
    """x_s <- q_sample(known, s) where the mask is 1: an overwrite (not x + m (y_s - x)), so that the
    known pixels come out exactly equal at s = 0."""
    if tuple(mask.shape) != tuple(known.shape):
        raise ValueError(f"inpainting: known {tuple(known.shape)} and mask {tuple(mask.shape)} must "
                         "have the same shape")
    known_where = mask.data > 0.5

    def constraint(x_s, s):
        if tuple(x_s.shape) != tuple(known.shape):
            raise ValueError(f"inpainting: known {tuple(known.shape)} and mask must have the shape of the "
                             f"samples {tuple(x_s.shape)}")
        return ops.where(known_where, schedule.q_sample(known, s, ops.randn_like(x_s)), x_s)
    return constraint


def linear_observation(schedule, y, A, A_pinv):
    """The constraint x_s <- x_s + A^+(y_s - A x_s), y_s = A q_sample(A^+ y, s, eps) (module docstring).

    ``A`` and ``A_pinv`` are callables on Tensors with A(A_pinv(y)) = y (a right inverse)."""
    lifted = A_pinv(y)
    if tuple(A(lifted).shape) != tuple(y.shape):
        raise ValueError(f"linear_observation: A(A_pinv(y)) has shape {tuple(A(lifted).shape)}, the "
                         f"observation y {tuple(y.shape)}: A_pinv must be a right inverse of A")

    def constraint(x_s, s):
        y_s = A(schedule.q_sample(lifted, s, ops.randn_like(lifted)))
        return x_s + A_pinv(y_s - A(x_s))
    return constraint


# --------------------------------------------------------------------------------------- guidance, inverse problems
def guided_eps(eps_conditional, eps_unconditional, w):
    """eps~ = (1 + w) eps(x_t, t, c) - w eps(x_t, t, null): w = 0 is plain conditional sampling."""
    return (1 + w) * eps_conditional - w * eps_unconditional


def inpaint(eps_model, schedule, known, mask, steps=None, clip_x0=False, variance="beta", eta=0.0):
    """Fill in the pixels where ``mask`` is 0, keeping those where it is 1 exactly; ancestral sampling
    over all T steps, or DDIM with ``steps``."""
    return _sample(eps_model, schedule, ops.randn_like(known), steps, clip_x0, variance, eta,
                   constraint=inpainting_constraint(schedule, known, mask))


def denoise(eps_model, schedule, y, noise_std, steps=None, clip_x0=False, variance="beta", eta=0.0):
    """Remove Gaussian noise of standard deviation ``noise_std`` from ``y`` (same units as the data):
    start the reverse process at the matching step t with x_t = sqrt(alpha_bar_t) y."""
    t = schedule.matching_step(noise_std)
    x_t = float(schedule.sqrt_alpha_bar[t]) * y
    return _sample(eps_model, schedule, x_t, None if steps is None else min(steps, t), clip_x0, variance, eta,
                   start=t)


def solve_linear(eps_model, schedule, y, A, A_pinv, steps=None, clip_x0=False, variance="beta", eta=0.0):
    """x_0 with A x_0 = y for a linear A (super-resolution, ...): sampling under ``linear_observation``;
    ancestral over all T steps, or DDIM with ``steps``."""
    return _sample(eps_model, schedule, ops.randn_like(A_pinv(y)), steps, clip_x0, variance, eta,
                   constraint=linear_observation(schedule, y, A, A_pinv))


def _sample(eps_model, schedule, x_start, steps, clip_x0, variance, eta, start=None, constraint=None):
    """Ancestral sampling over every step (``steps`` None), or DDIM in ``steps`` jumps."""
    if steps is None:
        return ancestral(eps_model, schedule, x_start, variance, clip_x0=clip_x0, start=start,
                         constraint=constraint)
    return ddim(eps_model, schedule, x_start, steps, eta, clip_x0=clip_x0, start=start, constraint=constraint)
