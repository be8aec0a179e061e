"""The forward (noising) process of a diffusion model and every quantity derived from its schedule.

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)                 t = 1, ..., T
    q(x_t | x_0)     = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)         alpha_t = 1 - beta_t,
                                                                               alpha_bar_t = prod_{s<=t} alpha_s
so x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps with eps ~ N(0, I) in one step (``q_sample``).

The posterior of one step back, given the clean data (Ho et al. 2020, eqs. 6-7):

    q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I)
    mu_tilde_t   = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
                 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
    beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t

Indices follow the paper: t = 1..T, and every array below has T + 1 entries so that ``alpha_bar[t]`` is
alpha_bar_t; entry 0 is "no noise yet" (beta_0 = 0, alpha_bar_0 = 1, x_0 is the data). beta_tilde_1 = 0
(one step from the data, x_0 is certain), so its log is clipped to log beta_tilde_2 -- the "t = 0" entry
of 0-indexed code bases.

Schedules (``linear``, ``cosine``) and the conversions between what a network may predict (eps, x_0 or
v) live here too: the model and every sampler call this one place.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd import Tensor

PREDICTIONS = ("eps", "x0", "v")


class NoiseSchedule:
    """beta_1..beta_T and the arrays derived from them, in float64 (a NumPy array per quantity)."""

    def __init__(self, betas):
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or betas.size < 2:
            raise ValueError(f"NoiseSchedule: expected betas as a 1-D array of T >= 2 values, got shape "
                             f"{betas.shape}")
        bad = ~((betas > 0) & (betas < 1))
        if bad.any():
            t = int(np.argmax(bad)) + 1
            raise ValueError(f"NoiseSchedule: every beta_t must lie in the open interval (0, 1); "
                             f"beta_{t} = {betas[t - 1]!r}")
        self.T = int(betas.size)
        self.betas = np.concatenate([[0.0], betas])                       # beta_0 = 0: no step
        self.alphas = 1.0 - self.betas
        self.alpha_bar = np.cumprod(self.alphas)                          # alpha_bar_0 = 1
        self.alpha_bar_prev = np.concatenate([[1.0], self.alpha_bar[:-1]])
        self.sqrt_alpha_bar = np.sqrt(self.alpha_bar)
        self.sqrt_one_minus_alpha_bar = np.sqrt(1.0 - self.alpha_bar)

        with np.errstate(divide="ignore", invalid="ignore"):
            self.snr = self.alpha_bar / (1.0 - self.alpha_bar)           # signal-to-noise; inf at t = 0
            # q(x_{t-1} | x_t, x_0), for t >= 1 (entry 0 is unused and set to 0)
            one_minus = 1.0 - self.alpha_bar
            self.posterior_coef_x0 = np.where(
                one_minus > 0, np.sqrt(self.alpha_bar_prev) * self.betas / one_minus, 0.0)
            self.posterior_coef_xt = np.where(
                one_minus > 0, np.sqrt(self.alphas) * (1.0 - self.alpha_bar_prev) / one_minus, 0.0)
            self.beta_tilde = np.where(one_minus > 0, (1.0 - self.alpha_bar_prev) / one_minus * self.betas, 0.0)
        # beta_tilde_1 = 0: clip its log to beta_tilde_2's (and entry 0 with it)
        self.log_beta_tilde_clipped = np.log(np.concatenate([self.beta_tilde[2:3].repeat(2),
                                                             self.beta_tilde[2:]]))

    # ----------------------------------------------------------------------------- named schedules
    @classmethod
    def linear(cls, T=1000, beta_start=1e-4, beta_end=0.02):
        """beta_t rising linearly from beta_start to beta_end (Ho et al. 2020: 1e-4 to 0.02, T = 1000).

        For T != 1000 both ends are scaled by 1000 / T (Nichol & Dhariwal 2021), so that alpha_bar_T
        stays near 4e-5 whatever T is: the last step is still (almost) pure noise. Below T = 50 that
        would push betas to 1 and beyond; they are clipped at 0.999, as in the cosine schedule.
        """
        T = _check_T(T)
        scale = 1000.0 / T
        return cls(np.minimum(np.linspace(beta_start * scale, beta_end * scale, T), 0.999))

    @classmethod
    def cosine(cls, T=1000, s=0.008, max_beta=0.999):
        """alpha_bar_t = f(t) / f(0), f(t) = cos^2((t / T + s) / (1 + s) * pi / 2)   (Nichol & Dhariwal 2021)

        beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, clipped at max_beta: near t = T the cosine sends
        alpha_bar to 0 and beta_T would be 1, a step that forgets everything at once.
        """
        T = _check_T(T)
        t = np.arange(T + 1, dtype=np.float64)
        alpha_bar = cosine_alpha_bar(t, T, s)
        return cls(np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta))

    @classmethod
    def from_name(cls, name, T):
        if name not in SCHEDULES:
            raise ValueError(f"unknown noise schedule {name!r}; expected one of {tuple(SCHEDULES)}")
        return getattr(cls, name)(T)

    # ----------------------------------------------------------------------------- indexing
    def check_t(self, t, low=0):
        """t (an int, or an int array/Tensor) as a NumPy int array, checked to lie in [low, T]."""
        array = np.asarray(t.numpy() if isinstance(t, Tensor) else t)
        if array.dtype.kind not in "iu":
            raise TypeError(f"diffusion: t must hold integers (time steps), got dtype {array.dtype}")
        if array.size and (array.min() < low or array.max() > self.T):
            raise ValueError(f"diffusion: t must lie in [{low}, {self.T}] (T = {self.T}), got values in "
                             f"[{array.min()}, {array.max()}]")
        return array.astype(np.int64)

    def per_example(self, t, like, *arrays, low=0):
        """Each of ``arrays`` (indexed by step, as ``self.alpha_bar``; or the name of one) at step t, as
        one value per example: Tensors (N, 1, ..., 1) in the dtype and on the device of ``like``, so that
        they broadcast against it. ``t`` is an int (every example) or one step per example."""
        t = self.check_t(t, low)
        if t.ndim == 0:
            t = np.full(like.shape[0], int(t))
        if t.shape != (like.shape[0],):
            raise ValueError(f"diffusion: expected one time step per example ({like.shape[0]}), got t of "
                             f"shape {t.shape}")
        columns = []
        for values in arrays:
            values = getattr(self, values) if isinstance(values, str) else values
            column = values[t].reshape((-1,) + (1,) * (like.ndim - 1))
            columns.append(ops.tensor(column.astype(like.dtype), device=like.device))
        return columns[0] if len(columns) == 1 else columns

    # ----------------------------------------------------------------------------- the forward process
    def q_sample(self, x0, t, noise):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps: a draw from q(x_t | x_0)."""
        sqrt_alpha_bar_t, sqrt_one_minus_alpha_bar_t = self.per_example(t, x0, "sqrt_alpha_bar",
                                                                         "sqrt_one_minus_alpha_bar")
        return sqrt_alpha_bar_t * x0 + sqrt_one_minus_alpha_bar_t * noise

    def q_posterior(self, x0, x_t, t):
        """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x_0), t in 1..T."""
        coef_x0, coef_xt, beta_tilde_t, log_beta_tilde_t = self.per_example(
            t, x_t, "posterior_coef_x0", "posterior_coef_xt", "beta_tilde", "log_beta_tilde_clipped", low=1)
        return coef_x0 * x0 + coef_xt * x_t, beta_tilde_t, log_beta_tilde_t

    def reverse_variance(self, kind):
        """sigma_t^2 of the reverse step p(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I), t = 0..T.

        "beta" (the upper bound, right for x_0 ~ N(0, I)) or "beta_tilde" (the lower bound, right for
        x_0 a single point); Ho et al. found both sample equally well. sigma_1^2 is beta_tilde_2 for
        both, the clipped value, used only as the variance of the decoder p(x_0 | x_1).
        """
        if kind == "beta":
            variance = self.betas.copy()
        elif kind == "beta_tilde":
            variance = self.beta_tilde.copy()
        else:
            raise ValueError(f"reverse variance must be 'beta' or 'beta_tilde', got {kind!r}")
        variance[:2] = self.beta_tilde[2]
        return variance

    def matching_step(self, noise_std):
        """The t whose noise level matches y = x_0 + noise_std * n: x_t / sqrt(alpha_bar_t) has noise std
        sqrt((1 - alpha_bar_t) / alpha_bar_t) = 1 / sqrt(SNR_t), so pick SNR_t closest to 1 / noise_std^2."""
        if not noise_std > 0:
            raise ValueError(f"matching_step: noise_std must be positive, got {noise_std!r}")
        log_snr = np.log(self.snr[1:])
        return int(np.argmin(np.abs(log_snr + 2 * math.log(noise_std)))) + 1

    # ----------------------------------------------------------------------------- what a network predicts
    def predict_x0(self, x_t, t, eps):
        """x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t): q_sample solved for x_0."""
        sqrt_alpha_bar_t, sqrt_one_minus_alpha_bar_t = self.per_example(t, x_t, "sqrt_alpha_bar",
                                                                         "sqrt_one_minus_alpha_bar")
        return (x_t - sqrt_one_minus_alpha_bar_t * eps) / sqrt_alpha_bar_t

    def predict_eps(self, x_t, t, x0):
        """eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t): q_sample solved for eps."""
        sqrt_alpha_bar_t, sqrt_one_minus_alpha_bar_t = self.per_example(t, x_t, "sqrt_alpha_bar",
                                                                         "sqrt_one_minus_alpha_bar")
        return (x_t - sqrt_alpha_bar_t * x0) / sqrt_one_minus_alpha_bar_t

    def v_target(self, x0, t, eps):
        """v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0   (Salimans & Ho 2022)."""
        sqrt_alpha_bar_t, sqrt_one_minus_alpha_bar_t = self.per_example(t, x0, "sqrt_alpha_bar",
                                                                         "sqrt_one_minus_alpha_bar")
        return sqrt_alpha_bar_t * eps - sqrt_one_minus_alpha_bar_t * x0

    def target(self, prediction, x0, t, eps):
        """What a network predicting ``prediction`` (eps, x0 or v) is regressed onto."""
        if prediction == "eps":
            return eps
        if prediction == "x0":
            return x0
        if prediction == "v":
            return self.v_target(x0, t, eps)
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")

    def eps_from_output(self, prediction, x_t, t, output):
        """The noise eps implied by a network's ``output`` under each parameterisation."""
        if prediction == "eps":
            return output
        if prediction == "x0":
            return self.predict_eps(x_t, t, output)
        if prediction == "v":   # eps = sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v
            sqrt_alpha_bar_t, sqrt_one_minus_alpha_bar_t = self.per_example(t, x_t, "sqrt_alpha_bar",
                                                                             "sqrt_one_minus_alpha_bar")
            return sqrt_one_minus_alpha_bar_t * x_t + sqrt_alpha_bar_t * output
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")

    def __repr__(self):
        return f"NoiseSchedule(T={self.T}, beta_1={self.betas[1]:.3g}, beta_T={self.betas[-1]:.3g})"


def cosine_alpha_bar(t, T, s=0.008):
    """f(t) / f(0) with f(t) = cos^2((t / T + s) / (1 + s) * pi / 2), before any clipping of betas."""
    f = np.cos((np.asarray(t, dtype=np.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
    return f / math.cos(s / (1 + s) * math.pi / 2) ** 2


def _check_T(T):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"the number of diffusion steps T must be an integer >= 2, got {T!r}")
    return int(T)


SCHEDULES = {"linear": NoiseSchedule.linear, "cosine": NoiseSchedule.cosine}
