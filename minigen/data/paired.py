r"""Paired image-to-image tasks built from the bundled digits: pairs (x, y) of a condition x and the
target y it should be turned into, in pix2pix's notation G: x -> y (Isola et al. 2017).

    edges2B     x = |Sobel(y)| / max |Sobel(y)|           the digit's edge map             (1, H, W)
    lowres2B    x = A_f y, the mean of each f x f block    a low-resolution digit           (1, H/f, W/f)
    masked2B    x = (m * y, m)                             the digit with a square hidden,  (2, H, W)
                                                           and the mask (1 = seen, 0 = hidden)

for B = ``digits`` (8x8; f = 2, so x is 4x4) or ``mnist-5k`` (28x28; f = 4, so x is 7x7). The targets
y are the base set's images, in its order and with its train/test split, so the i-th pair of a split
is the i-th image of the base split (``base_labels`` finds the digit of a target).

The edge map (Sobel 1968): with the 3x3 kernels (rows top to bottom)

    K_c = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],   K_r = K_c^T,   g_c = K_c * y,  g_r = K_r * y   (zeros outside)

x = sqrt(g_c^2 + g_r^2), divided by its largest value so that every edge map spans [0, 1] (an empty
image stays 0). The low-resolution digit is exactly what ``minigen corrupt --task superres --factor f``
makes (the operator A of minigen.restore), so the conditional models and the unconditional
restorations of ``minigen restore`` can be compared on the same inputs. The masks hide a square of
side H/2 at a position drawn uniformly (the square inside the image) from a NumPy generator seeded with
``seed(name, split)`` = crc32("NAME/SPLIT"): the same masks every time, different ones for train and
test. ``make_pairs(task, y, factor, seed)`` builds pairs for any images with any seed.

Every condition is an image in [0, 1] on the target's grid or a coarser one; the models bring a
condition to the target's grid with ``lift`` (nearest-neighbour upsampling, the pseudo-inverse A^+
of the block means) before they read it.
"""
from __future__ import annotations

import zlib

import numpy as np

from .. import ops

TASKS = ("edges", "lowres", "masked")
BASES = {"digits": 2, "mnist-5k": 4}          # base set -> its super-resolution factor f
TASK_WORDS = {"edges": "Sobel edge map -> digit", "lowres": "low-resolution digit (f x f block means) -> digit",
              "masked": "digit with a hidden square, and its mask -> whole digit"}

SOBEL_C = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])   # d/d(column)
SOBEL_R = SOBEL_C.T                                                          # d/d(row)


def names():
    """{dataset name: (task, base)} for every paired set, e.g. "edges2digits": ("edges", "digits")."""
    return {f"{task}2{base}": (task, base) for task in TASKS for base in BASES}


def condition_shape(task, target_shape, factor):
    """The shape of one condition x for targets of shape (C, H, W)."""
    c, h, w = target_shape
    if task == "edges":
        return (c, h, w)
    if task == "lowres":
        return (c, h // factor, w // factor)
    if task == "masked":
        return (c + 1, h, w)
    raise ValueError(f"unknown paired task {task!r}; expected one of {', '.join(TASKS)}")


def seed(name, split):
    """The seed of a set's random masks: crc32 of "NAME/SPLIT" (fixed, different per split)."""
    return zlib.crc32(f"{name}/{split}".encode())


# --------------------------------------------------------------------------------- the three conditions
def _correlate3x3(images, kernel):
    """sum_{i,j} kernel[i, j] * image[r + i - 1, c + j - 1], zeros outside the image: (N, H, W)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    h, w = images.shape[1:]
    return sum(kernel[i, j] * padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3))


def sobel_edges(y):
    """Edge maps (N, 1, H, W) in [0, 1] of images y (N, 1, H, W): the Sobel gradient's magnitude,
    divided by each map's largest value."""
    y = _images(y, "sobel_edges")
    grey = y[:, 0].astype(np.float64)
    magnitude = np.hypot(_correlate3x3(grey, SOBEL_C), _correlate3x3(grey, SOBEL_R))
    peak = magnitude.max(axis=(1, 2), keepdims=True)
    return (magnitude / np.where(peak > 0, peak, 1.0))[:, None].astype(np.float32)


def block_means(y, factor):
    """A_f y: the mean of each f x f block, (N, C, H/f, W/f) (minigen.restore's super-resolution A)."""
    y = _images(y, "block_means")
    n, c, h, w = y.shape
    if h % factor or w % factor:
        raise ValueError(f"block_means: {h}x{w} images do not split into {factor}x{factor} blocks")
    return y.reshape(n, c, h // factor, factor, w // factor, factor).mean(axis=(3, 5)).astype(np.float32)


def random_masks(n, height, width, rng, side=None):
    """n masks (n, 1, H, W): 1 everywhere except a square of ``side`` (default H // 2) at a uniform
    position inside the image, where they are 0."""
    side = height // 2 if side is None else side
    top = rng.integers(0, height - side + 1, size=n)
    left = rng.integers(0, width - side + 1, size=n)
    rows, cols = np.arange(height)[None, :, None], np.arange(width)[None, None, :]
    hidden = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + side)
              & (cols >= left[:, None, None]) & (cols < left[:, None, None] + side))
    return (~hidden)[:, None].astype(np.float32)


def make_pairs(task, y, factor=2, seed=0):
    """The conditions x of targets y (N, 1, H, W) in [0, 1] for ``task``: (x, y), both float32."""
    y = _images(y, "make_pairs")
    if task == "edges":
        x = sobel_edges(y)
    elif task == "lowres":
        x = block_means(y, factor)
    elif task == "masked":
        m = random_masks(len(y), y.shape[2], y.shape[3], np.random.default_rng(seed))
        x = np.concatenate([m * y, m], axis=1)
    else:
        raise ValueError(f"unknown paired task {task!r}; expected one of {', '.join(TASKS)}")
    return x.astype(np.float32), y


def pairs(name, y, split):
    """(x, y) of the paired set ``name`` from its base images y of ``split`` (what data.load returns)."""
    task, base = names()[name]
    return make_pairs(task, y, BASES[base], seed(name, split))


def _images(y, caller):
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 4:
        raise ValueError(f"{caller}: expected images of shape (N, C, H, W), got shape {y.shape}")
    return y


# --------------------------------------------------------------------------------- what the models use
def lift(x, target_shape):
    """A condition (a Tensor (N, C, h, w)) on the target's grid (H, W): nearest-neighbour upsampling
    by H / h, the pseudo-inverse A^+ of the block means; a condition already on the grid is returned."""
    factor = target_shape[1] // x.shape[2]
    if factor == 1:
        return x
    return ops.upsample(x, factor)


def as_conditions(x, info, n=None):
    """Conditions for a model trained on the paired set ``info``, as float32 (N, *condition_shape).

    One condition may come without its batch axis ((C, h, w), or (h, w) for one channel). With ``n``,
    the result has n rows: one condition repeated n times, or exactly n conditions. A wrong shape, a
    value outside [0, 1] or a NaN is a ValueError that names what was expected."""
    expected = tuple(info.condition_shape)
    x = np.asarray(x)
    shape_text = ", ".join(str(s) for s in expected)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"a condition must hold numbers, got dtype {x.dtype}")
    if x.ndim == len(expected) - 1 and expected[0] == 1:
        x = x[None]
    if x.ndim == len(expected):
        x = x[None]
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"{info.name} conditions have shape ({shape_text}) each (a batch (N, {shape_text})"
                         f"{f' or one ({expected[1]}, {expected[2]})' if expected[0] == 1 else ''}); got "
                         f"shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"the condition array holds no conditions (shape {x.shape})")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError("the conditions hold NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"conditions are images in [0, 1] (as data.load gives them); got values in "
                         f"[{x.min():.3g}, {x.max():.3g}]")
    if n is not None and len(x) != n:
        if len(x) != 1:
            raise ValueError(f"{n} samples asked for with {len(x)} conditions: give one condition, or one "
                             "per sample")
        x = np.repeat(x, n, axis=0)
    return x


def preview(x, target_shape):
    """Conditions shown as images on the target's grid (for figures): the first channel, upsampled
    (nearest) where coarser."""
    first = np.asarray(x)[:, :1]
    factor = target_shape[1] // first.shape[2]
    return first.repeat(factor, axis=2).repeat(factor, axis=3)


def figure_rows(x, y_hat, y, columns=8):
    """Images for a grid of ``columns`` per row: per group of pairs, the conditions (``preview``),
    the translations y_hat, the truth y."""
    shown = preview(x, y.shape[1:])
    return np.concatenate([np.concatenate([shown[i:i + columns], y_hat[i:i + columns], y[i:i + columns]])
                           for i in range(0, len(y), columns)])


def base_labels(base_x, base_y, targets):
    """The digit of each target image: looked up (exactly) among the base images ``base_x`` with labels
    ``base_y``; -1 where a target is not one of them."""
    index = {image.tobytes(): int(label) for image, label in zip(np.asarray(base_x, np.float32), base_y)}
    return np.array([index.get(t.tobytes(), -1) for t in np.asarray(targets, np.float32)], dtype=np.int64)


def target_digits(base, targets):
    """The digit of each target of a set built from ``base`` (either split), -1 where none matches:
    the label of the identical base image."""
    from .datasets import load
    images, labels = zip(*(load(base, split) for split in ("train", "test")))
    return base_labels(np.concatenate(images), np.concatenate(labels), targets)
