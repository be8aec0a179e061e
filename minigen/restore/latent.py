r"""Restoration by latent optimisation: one solver for every family with a generator x = g(z), z ~ N(0, I).

With the observation y = A(x) + n, n ~ N(0, sigma^2 I), and the prior p(z) = N(0, I), the MAP latent is

    z* = argmin_z  E(z),   E(z) = ||A(g(z)) - y||^2 / (2 sigma^2)  +  ||z||^2 / 2
                                = -log p(y | z) - log p(z) + const

and the restoration is x* = g(z*). E is not convex in z (g is a network), so the solver runs Adam from
``restarts`` starting points per image at once (the restarts and the images are independent rows of
one batch, and Adam's update is per coordinate, so they do not interact) and keeps, per image, the z
with the lowest E met along the way. One start may be given (``init``): the encoder's guess for a VAE,
f(A^+ y) for a flow; the others are draws from the prior.

sigma is the noise level of y for denoising. For noise-free observations (inpainting, super-resolution)
it is ``fit_std``: how far a restoration may miss the observed pixels -- the model cannot reproduce
a test image exactly, and sigma -> 0 would let the data term overrule the prior entirely.

The families plug in through ``LatentGenerator``, which each one's ``restoration_prior()`` returns:
VAE decoder means, GAN generators, and flow inverses g = f^{-1}. For a flow, the same solver in z (rather than MAP in x with the exact
log p(x)) is a choice: log p(x) = log p(z) + log|det df/dx| rewards the smooth, near-blank images
that flows overrate (the failure in docs/applications.md, section 2), while the Gaussian penalty on z
keeps z typical (Asim et al. 2020, "Invertible generative models for inverse problems").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import minigen as mg
from minigen import nn, optim

from .operators import Denoise

DEFAULT_STEPS = 300
DEFAULT_RESTARTS = 4


@dataclass
class LatentGenerator:
    """A family's generator for the solver: ``g`` maps latents (B, *latent_shape) to images (B, C, H, W)
    in data space, differentiably; ``encode`` (optional) maps images to a starting z."""
    g: Callable
    latent_shape: tuple
    encode: Optional[Callable] = None

    def restore(self, operator, y, *, steps=None, restarts=None, lr=0.05, fit_std=0.05):
        """x* = g(z*) for the observations ``y`` (a Tensor), as NumPy (not yet clipped): ``steps`` Adam
        steps (default 300) from ``restarts`` starting points (default 4), the encoder's guess of the
        lifted observation A^+ y being one of them. For a noise-free y (inpaint, superres) x* is then
        projected onto {x : A x = y}."""
        noise_std = operator.noise_std if isinstance(operator, Denoise) else fit_std
        init = None
        if self.encode is not None:
            with mg.no_grad():
                init = self.encode(mg.clip(operator.pinv(y), 0.0, 1.0)).detach()
        x, _ = solve(self.g, operator.apply, y, self.latent_shape, noise_std, steps or DEFAULT_STEPS,
                     restarts or DEFAULT_RESTARTS, lr, init)
        if not isinstance(operator, Denoise):
            # a noise-free y is known exactly: project g(z*) onto {x : A x = y}. The projection is
            # orthogonal (A^+ is the pseudo-inverse) onto a set holding the truth, so it never moves x
            # away from it.
            x = x + operator.pinv(y - operator.apply(x))
        return x.numpy()


def solve(g, A, y, latent_shape, noise_std, steps=300, restarts=4, lr=0.05, init=None):
    """x* = g(z*) (N, ...) and z* (N, *latent_shape) for the observations y (N, ...), both Tensors.

    ``g`` maps latents (B, *latent_shape) to images, ``A`` images to observations, both differentiable.
    ``init``: optional (N, *latent_shape) Tensor used as the first restart. The caller seeds.
    """
    if not noise_std > 0:
        raise ValueError(f"latent solver: noise_std must be positive, got {noise_std!r}")
    if steps < 1 or restarts < 1:
        raise ValueError(f"latent solver: steps and restarts must be >= 1, got {steps} and {restarts}")
    n, latent_shape = y.shape[0], tuple(latent_shape)
    z0 = mg.randn(restarts * n, *latent_shape, device=y.device)
    if init is not None:
        if tuple(init.shape) != (n,) + latent_shape:
            raise ValueError(f"latent solver: init must have shape {(n,) + latent_shape}, got {tuple(init.shape)}")
        z0 = mg.concatenate([init.detach(), z0[n:]], axis=0)
    z = nn.Parameter(z0.data)
    optimizer = optim.Adam([z], lr=lr)
    # restart r of image i is row r * n + i
    y_rep = mg.concatenate([y] * restarts, axis=0)
    best_energy = best_z = None
    for step in range(steps + 1):
        x = g(z)
        residual = A(x) - y_rep
        energy = (residual ** 2).reshape(residual.shape[0], -1).sum(axis=1) / (2 * noise_std ** 2) \
            + (z ** 2).reshape(z.shape[0], -1).sum(axis=1) / 2
        with mg.no_grad():      # keep the best z seen so far, per row
            if best_energy is None:
                best_energy, best_z = energy.detach(), z.detach()
            else:
                better = energy.detach() < best_energy
                best_energy = mg.where(better, energy.detach(), best_energy)
                best_z = mg.where(better.reshape((-1,) + (1,) * len(latent_shape)), z.detach(), best_z)
        if step == steps:
            break
        optimizer.zero_grad()
        energy.sum().backward()
        optimizer.step()
    # per image, the restart with the lowest energy
    energies = best_energy.reshape(restarts, n).numpy()
    winner = energies.argmin(axis=0)
    rows = mg.tensor(winner * n + np.arange(n), dtype="int64", device=y.device)
    z_star = best_z[rows]
    with mg.no_grad():
        return g(z_star), z_star
