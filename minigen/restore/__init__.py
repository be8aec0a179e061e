r"""Inverse problems with any trained image model: find x from y = A(x) + n (operators.py).

    restore(recipe, y, "inpaint", mask=m)             y = m * x
    restore(recipe, y, "superres", factor=f)          y = f x f block means of x
    restore(recipe, y, "denoise", noise_std=sigma)    y = x + sigma n

One interface, two mechanisms; each family says which (and how) through its Recipe's
``restoration_prior()``, so nothing here knows a family by name:

    GuidedDiffusion         the guided reverse process of a diffusion model (guided.py, ddpm):
                            inpainting overwrites the known pixels at every step, denoising starts at
                            the step whose noise level matches sigma, super-resolution projects every
                            x_s onto {x : A x = y_s} (ILVR); ``steps`` = DDIM steps (None: ancestral)
    LatentGenerator         MAP in the latent space of a generator x = g(z) (latent.py; vae, gan,
                            dcgan, wgan-gp, realnvp, glow):
                                z* = argmin ||A(g(z)) - y||^2 / (2 sigma^2) + ||z||^2 / 2,  x* = g(z*)
                            ``steps`` = Adam steps (default 300), ``restarts`` starting points; for a
                            noise-free y (inpaint, superres) x* is then projected onto {x : A x = y},
                            x* <- x* + A^+(y - A x*): the known pixels are put back, the block means
                            matched, as the DDPM's guided process ends with them

Images are NumPy arrays (N, C, H, W) in [0, 1], in and out (y has the observation's shape: (N, C, H/f,
W/f) for super-resolution); the result is clipped to [0, 1]. The caller's ``seed`` fixes every draw.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen.recipe import UsageError, check_number

from . import latent
from .guided import GuidedDiffusion
from .latent import LatentGenerator
from .operators import (MASK_KINDS, TASKS, Denoise, Inpaint, SuperResolution, corrupt, make_mask,
                        make_operator)

__all__ = ["restore", "check_restorable", "as_batch", "make_operator", "make_mask", "corrupt", "Inpaint",
           "SuperResolution", "Denoise", "TASKS", "MASK_KINDS", "LatentGenerator", "GuidedDiffusion",
           "latent"]


def check_restorable(recipe):
    """A UsageError unless ``recipe`` is an unconditional generative model of images."""
    if not recipe.generative:
        raise UsageError(f"'{recipe.name}' is not a generative model: it has no prior over images to "
                         "restore with (use vae, gan, dcgan, wgan-gp, realnvp, glow or ddpm)")
    if recipe.condition_kind is not None:
        flag = "--condition" if recipe.condition_kind == "image" else "--prompt"
        raise UsageError(f"'{recipe.name}' draws images from a{'n' if recipe.condition_kind == 'image' else ''} "
                         f"{recipe.condition_kind} condition (minigen sample DIR {flag} ...), so it cannot restore "
                         "images: restoration needs an unconditional image model")
    if recipe.info.kind != "image":
        raise UsageError(f"'{recipe.name}' was trained on {recipe.info.name}, which is not a set of "
                         "images: restoration needs an image model")
    if recipe.conditional:
        raise UsageError(f"'{recipe.name}' is class-conditional; restoration needs an unconditional model")


def as_batch(y, observed_channels):
    """y as a float32 batch (N, C, h, w): a single (C, h, w) image, or (h, w) when C = 1, is accepted."""
    y = np.asarray(y)
    if y.dtype.kind not in "fiu":
        raise UsageError(f"the input must hold numbers, got dtype {y.dtype}")
    if y.ndim == 2 and observed_channels == 1:
        y = y[None, None]
    elif y.ndim == 3:
        y = y[None]
    if y.ndim != 4:
        raise UsageError(f"the input must be images (N, C, H, W), one image (C, H, W) or, for one channel, "
                         f"(H, W); got shape {y.shape}")
    if y.size == 0:
        raise UsageError(f"the input holds no images (shape {y.shape})")
    if not np.isfinite(y).all():
        raise UsageError("the input holds NaN or infinite values")
    return y.astype(np.float32)


def restore(recipe, y, task, *, mask=None, factor=None, noise_std=None, steps=None, restarts=None,
            lr=0.05, fit_std=0.05, seed=0):
    """The restored images (N, C, H, W) in [0, 1] behind the observations ``y`` (module docstring)."""
    check_restorable(recipe)
    operator = make_operator(task, mask, factor, noise_std)
    shape = tuple(recipe.info.shape)
    y = as_batch(y, shape[0])
    image_shape = operator.image_shape(y.shape[1:])
    if image_shape != shape:
        raise UsageError(f"{task}: an input of shape {tuple(y.shape[1:])} per image restores to images of "
                         f"shape {image_shape}, but '{recipe.name}' was trained on {recipe.info.name} images "
                         f"of shape {shape}")
    for name, value in (("steps", steps), ("restarts", restarts)):
        if value is not None:
            check_number(name, value, integer=True, positive=True)
    prior = recipe.restoration_prior()
    mg.manual_seed(seed)
    recipe.eval()
    y_t = mg.tensor(y, device=recipe.device)
    x = prior.restore(operator, y_t, steps=steps, restarts=restarts, lr=lr, fit_std=fit_std)
    return np.clip(x, 0.0, 1.0).astype(np.float32)
