r"""Degradations: the forward models y = A(x) + n of the three inverse problems.

An image x (N, C, H, W) in [0, 1] is observed through a known operator A, with noise n ~ N(0, sigma^2 I):

    inpaint    A x = m * x                 m in {0, 1}^(C, H, W): 1 where the pixel is seen
    superres   A x = avgpool_f(x)          each f x f block averaged: y is (N, C, H/f, W/f)
    denoise    A x = x                     y = x + n, sigma > 0

Each operator is linear; a solver may need, besides ``apply`` (A), the adjoint ``adjoint`` (A^T, with
<A x, y> = <x, A^T y>) and a pseudo-inverse ``pinv`` (A^+, with A A^+ y = y) that lifts an observation
back to image space:

    inpaint    A^T y = A^+ y = m * y                  (the mask is its own transpose and pseudo-inverse)
    superres   A^T y = up_f(y) / f^2,  A^+ y = up_f(y)    (up_f: nearest-neighbour upsampling;
                                                       avgpool_f(up_f(y)) = y, so A A^+ = I)
    denoise    A^T = A^+ = I

``apply`` / ``adjoint`` / ``pinv`` take Tensors (so the latent solver can differentiate through them);
``corrupt`` makes test observations from NumPy images, and ``make_mask`` the standard masks.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import ops
from minigen.recipe import UsageError

MASK_KINDS = ("center", "left-half", "top-half", "random")
TASKS = ("inpaint", "denoise", "superres")


def _check_batch_of_images(x, caller):
    """x must be a batch of images (N, C, H, W)."""
    if x.ndim != 4:
        raise UsageError(f"{caller}: expected images of shape (N, C, H, W), got shape {tuple(x.shape)}")


class Inpaint:
    """A x = m * x: keep the pixels where the mask m (C, H, W) is 1, zero the rest."""

    task = "inpaint"

    def __init__(self, mask):
        mask = np.asarray(mask, dtype=np.float32)
        if mask.ndim == 2:
            mask = mask[None]
        if mask.ndim != 3:
            raise UsageError(f"inpaint: the mask must be (H, W) or (C, H, W), got shape {mask.shape}")
        if not np.isin(mask, (0.0, 1.0)).all():
            raise UsageError("inpaint: the mask must hold only 0 (missing) and 1 (known)")
        if mask.all():
            raise UsageError("inpaint: the mask marks every pixel as known: there is nothing to fill in")
        self.mask = mask

    def image_shape(self, observed_shape):
        """(C, H, W) of the image behind an observation of shape ``observed_shape`` (C', H, W)."""
        if tuple(observed_shape[1:]) != self.mask.shape[1:] or self.mask.shape[0] not in (1, observed_shape[0]):
            raise UsageError(f"inpaint: the mask of shape {self.mask.shape} does not match images of shape "
                             f"{tuple(observed_shape)}")
        return tuple(observed_shape)

    def _m(self, x):
        return mg.tensor(self.mask, dtype=x.dtype, device=x.device)

    def apply(self, x):
        return x * self._m(x)

    adjoint = apply
    pinv = apply

    def known_fraction(self):
        return float(self.mask.mean())


class SuperResolution:
    """A x = the mean of each f x f block: (N, C, H, W) -> (N, C, H/f, W/f)."""

    task = "superres"

    def __init__(self, factor):
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
            raise UsageError(f"superres: the factor must be an integer >= 2, got {factor!r}")
        self.factor = int(factor)

    def image_shape(self, observed_shape):
        c, h, w = observed_shape
        return (c, h * self.factor, w * self.factor)

    def check_divisible(self, shape):
        if shape[1] % self.factor or shape[2] % self.factor:
            raise UsageError(f"superres: images of {shape[1]}x{shape[2]} cannot be pooled by a factor "
                             f"{self.factor} (height and width must be divisible by it)")

    def apply(self, x):
        _check_batch_of_images(x, "superres")
        self.check_divisible(tuple(x.shape[1:]))
        return ops.avg_pool2d(x, self.factor)

    def adjoint(self, y):
        return ops.upsample(y, self.factor) / (self.factor ** 2)

    def pinv(self, y):
        return ops.upsample(y, self.factor)


class Denoise:
    """A x = x; the observation carries Gaussian noise of standard deviation ``noise_std``."""

    task = "denoise"

    def __init__(self, noise_std):
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or not noise_std > 0:
            raise UsageError(f"denoise: the noise level must be a positive number, got {noise_std!r}")
        self.noise_std = float(noise_std)

    def image_shape(self, observed_shape):
        return tuple(observed_shape)

    def apply(self, x):
        return x

    adjoint = apply
    pinv = apply


def make_operator(task, mask=None, factor=None, noise_std=None):
    """The operator of ``task``, refusing options that belong to another task."""
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    given = {"mask": mask is not None, "factor": factor is not None, "noise_std": noise_std is not None}
    needed = {"inpaint": "mask", "superres": "factor", "denoise": "noise_std"}[task]
    stray = [name for name, present in given.items() if present and name != needed]
    if stray:
        raise UsageError(f"task {task!r} takes only a {needed}, not {', '.join(stray)} "
                         f"(mask: inpaint, factor: superres, noise_std: denoise)")
    if not given[needed]:
        flag = {"mask": "--mask FILE.npy or --mask-kind", "factor": "--factor", "noise_std": "--noise-std"}
        raise UsageError(f"task {task!r} needs a {needed} ({flag[needed]} on the command line)")
    if task == "inpaint":
        return Inpaint(mask)
    if task == "superres":
        return SuperResolution(factor)
    return Denoise(noise_std)


def make_mask(kind, image_shape, seed=0, keep=0.25):
    """A standard mask (1 = known) of shape ``image_shape`` (C, H, W):

    center     a centred square of half the side is missing
    left-half  the left half of the image is known, the right half missing
    top-half   the top half is known, the bottom half missing
    random     each pixel known with probability ``keep`` (shared by the channels)
    """
    c, h, w = image_shape
    mask = np.ones((1, h, w), dtype=np.float32)
    if kind == "center":
        mask[:, h // 4:h // 4 + h // 2, w // 4:w // 4 + w // 2] = 0
    elif kind == "left-half":
        mask[:, :, w // 2:] = 0
    elif kind == "top-half":
        mask[:, h // 2:] = 0
    elif kind == "random":
        mask[:] = np.random.default_rng(seed).random((1, h, w)) < keep
    else:
        raise UsageError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
    return np.broadcast_to(mask, (c, h, w)).copy()


def corrupt(x, operator, seed=0):
    """y = A(x) + n for NumPy images x (N, C, H, W) in [0, 1]: the test observation, float32.

    For inpainting the missing pixels of y are 0 (y = m * x); for denoising n ~ N(0, sigma^2 I) (not
    clipped: the noise model is exactly Gaussian); super-resolution is noise-free."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise UsageError(f"corrupt: expected images of shape (N, C, H, W), got shape {x.shape}")
    if isinstance(operator, Inpaint):
        operator.image_shape(x.shape[1:])
    with mg.no_grad():
        y = operator.apply(mg.tensor(x)).numpy()
    if isinstance(operator, Denoise):
        y = y + operator.noise_std * np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    return y.astype(np.float32)
