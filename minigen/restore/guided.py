r"""Restoration with a diffusion model: its reverse process, guided by the observation at every step.

    inpaint     the known pixels overwritten by their noised values after every step
    denoise     the reverse process started at the step whose noise level matches sigma
    superres    every x_s projected onto {x : A x = y_s} (ILVR)

all three in minigen.diffusion.samplers. The model works in its own space (DDPM: [-1, 1],
x_model = 2 x - 1); the observation maps the same way: avgpool(2 x - 1) = 2 avgpool(x) - 1, inpainting
reads only the known pixels, and noise of standard deviation sigma in data space is 2 sigma in [-1, 1].
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .. import diffusion, ops
from ..recipe import UsageError
from .operators import Denoise, Inpaint


@dataclass
class GuidedDiffusion:
    """What ``restore`` needs of a diffusion model: its eps_theta(x_t, t) and schedule, its maps between
    data space [0, 1] and model space, its sampler settings, and optionally a context manager under which
    to run (an EMA's ``average_parameters``)."""
    eps_model: Callable
    schedule: object
    to_model_space: Callable
    to_data_space: Callable
    variance: str = "beta"
    eta: float = 0.0
    weights: Optional[Callable] = None

    def restore(self, operator, y, *, steps=None, restarts=None, lr=None, fit_std=None):
        """The restored images (a NumPy array in data space, not yet clipped) behind the observations
        ``y`` (a Tensor); ``steps``: DDIM steps (None: ancestral over all T)."""
        if restarts is not None:
            raise UsageError("restarts apply to the latent families (vae, gan, flows); ddpm samples once")
        y_model = self.to_model_space(y)
        options = dict(steps=steps, clip_x0=True, variance=self.variance, eta=self.eta)
        with (self.weights() if self.weights is not None else contextlib.nullcontext()):
            if isinstance(operator, Inpaint):
                mask = ops.tensor(np.broadcast_to(operator.mask, tuple(y.shape)).copy(), device=y.device)
                x0 = diffusion.inpaint(self.eps_model, self.schedule, y_model, mask, **options)
            elif isinstance(operator, Denoise):
                # in [-1, 1] the noise is twice as large: 2 (x + sigma n) - 1 = (2 x - 1) + 2 sigma n
                x0 = diffusion.denoise(self.eps_model, self.schedule, y_model, 2 * operator.noise_std, **options)
            else:
                x0 = diffusion.solve_linear(self.eps_model, self.schedule, y_model, operator.apply, operator.pinv,
                                            **options)
        return self.to_data_space(x0).numpy()
