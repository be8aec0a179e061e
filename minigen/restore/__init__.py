r"""Inverse problems with any trained image model: find x from y = A(x) + n (operators.py).

    restore(recipe, y, "inpaint", mask=m)             y = m * x
    restore(recipe, y, "superres", factor=f)          y = f x f block means of x
    restore(recipe, y, "denoise", noise_std=sigma)    y = x + sigma n

One interface, two mechanisms, by family:

    ddpm                    the guided reverse process (minigen.diffusion.samplers): inpainting
                            overwrites the known pixels at every step, denoising starts at the step
                            whose noise level matches sigma, super-resolution projects every x_s onto
                            {x : A x = y_s} (ILVR); ``steps`` = DDIM steps (None: ancestral, all T)
    vae, gan, dcgan,        MAP in the latent space (latent.py):
    wgan-gp, realnvp, glow      z* = argmin ||A(g(z)) - y||^2 / (2 sigma^2) + ||z||^2 / 2,  x* = g(z*)
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
from minigen.training import UsageError

from . import latent
from .generators import LatentModel, latent_model
from .operators import (MASK_KINDS, TASKS, Denoise, Inpaint, SuperResolution, corrupt, make_mask,
                        make_operator)

DEFAULT_LATENT_STEPS = 300
DEFAULT_RESTARTS = 4

__all__ = ["restore", "check_restorable", "as_batch", "make_operator", "make_mask", "corrupt", "Inpaint",
           "SuperResolution", "Denoise", "TASKS", "MASK_KINDS", "LatentModel", "latent_model", "latent"]


def check_restorable(recipe):
    """A UsageError unless ``recipe`` is an unconditional generative model of images."""
    if not recipe.generative:
        raise UsageError(f"'{recipe.name}' is not a generative model: it has no prior over images to "
                         "restore with (use vae, gan, dcgan, wgan-gp, realnvp, glow or ddpm)")
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
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise UsageError(f"steps must be a positive integer, got {steps!r}")
    mg.manual_seed(seed)
    recipe.eval()
    y_t = mg.tensor(y, device=recipe.device)
    from minigen.models.ddpm import DDPMRecipe
    if isinstance(recipe, DDPMRecipe):
        if restarts is not None:
            raise UsageError("restarts apply to the latent families (vae, gan, flows); ddpm samples once")
        x = _restore_ddpm(recipe, operator, y_t, steps)
    else:
        if restarts is not None and (isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1):
            raise UsageError(f"restarts must be a positive integer, got {restarts!r}")
        x = _restore_latent(recipe, operator, y_t, steps or DEFAULT_LATENT_STEPS, restarts or DEFAULT_RESTARTS,
                            lr, fit_std)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _restore_ddpm(recipe, operator, y, steps):
    """The guided reverse process in the model's space [-1, 1], x_model = 2 x - 1. The observation maps
    the same way: avgpool(2 x - 1) = 2 avgpool(x) - 1, and inpainting reads only the known pixels."""
    from minigen import diffusion
    schedule, variance, eta = recipe.model.schedule, recipe.config["variance"], recipe.config["eta"]
    with recipe.ema.average_parameters():
        eps_model = recipe.eps_model()
        if isinstance(operator, Inpaint):
            mask = mg.tensor(np.broadcast_to(operator.mask, tuple(y.shape)).copy(), device=y.device)
            x0 = diffusion.inpaint(eps_model, schedule, recipe.to_model_space(y), mask, steps, True, variance, eta)
        elif isinstance(operator, Denoise):
            # in [-1, 1] the noise is twice as large: 2 (x + sigma n) - 1 = (2 x - 1) + 2 sigma n
            x0 = diffusion.denoise(eps_model, schedule, recipe.to_model_space(y), 2 * operator.noise_std, steps,
                                   True, variance, eta)
        else:
            x0 = diffusion.solve_linear(eps_model, schedule, recipe.to_model_space(y), operator.apply, operator.pinv,
                              steps, True, variance, eta)
    return recipe.to_data_space(x0).numpy()


def _restore_latent(recipe, operator, y, steps, restarts, lr, fit_std):
    model = latent_model(recipe)
    noise_std = operator.noise_std if isinstance(operator, Denoise) else fit_std
    init = None
    if model.encode is not None:
        with mg.no_grad():
            init = model.encode(mg.clip(operator.pinv(y), 0.0, 1.0)).detach()
    x, _ = latent.solve(model.g, operator.apply, y, model.latent_shape, noise_std, steps, restarts, lr, init)
    if not isinstance(operator, Denoise):
        # a noise-free y is known exactly: project g(z*) onto {x : A x = y}. The projection is orthogonal
        # (A^+ is the pseudo-inverse) onto a set holding the truth, so it never moves x away from it.
        x = x + operator.pinv(y - operator.apply(x))
    return x.numpy()
