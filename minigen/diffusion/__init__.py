"""Diffusion: the forward noising process, its reverse samplers, and the likelihood bound.

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
    q(x_t | x_0)     = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),   alpha_bar_t = prod_{s<=t} (1 - beta_s)

schedules   NoiseSchedule (linear, cosine, any T): alpha_bar_t, the posterior q(x_{t-1} | x_t, x_0),
            q_sample, SNR, and the eps / x0 / v conversions -- computed here once
samplers    ancestral (DDPM) and DDIM sampling, classifier-free guidance, inpainting, denoising
likelihood  the variational bound L_T + sum L_{t-1} + L_0 in bits/dim
docs/diffusion.md derives each equation and points back here; minigen/models/ddpm.py trains a model.
"""
from .schedules import NoiseSchedule, SCHEDULES, PREDICTIONS, cosine_alpha_bar
from .samplers import (ancestral, ancestral_step, ddim, ddim_sigma, ddim_step, ddim_timesteps, guided_eps,
                       inpaint, inpainting_constraint, denoise, linear_observation, solve_linear)
from .likelihood import variational_bound, discretised_gaussian_log_likelihood, score_timesteps

__all__ = ["NoiseSchedule", "SCHEDULES", "PREDICTIONS", "cosine_alpha_bar", "ancestral", "ancestral_step",
           "ddim", "ddim_sigma", "ddim_step", "ddim_timesteps", "guided_eps", "inpaint", "inpainting_constraint",
           "denoise", "linear_observation", "solve_linear", "variational_bound",
           "discretised_gaussian_log_likelihood", "score_timesteps"]
