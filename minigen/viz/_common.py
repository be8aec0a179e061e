"""What every plot in minigen.viz shares: input checks, the house style, figures and saving.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas, never through pyplot: nothing
opens a window, nothing is registered in pyplot's global list of figures (so nothing leaks), and the
user's chosen backend is left alone. The style is applied with ``matplotlib.style.context``, which
restores every rcParam on the way out.
"""
import math
import os

import numpy as np
import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import backend

DPI = 150
SAMPLE_COLOR = "#2f6db5"      # model samples: a strong blue
REFERENCE_COLOR = "#c4c4c4"   # data drawn behind samples: light grey, so the samples read on top
DENSITY_CMAP = "magma"        # dark = no mass, bright = high density, as the flow papers show it
SEPARATOR_COLOR = "white"

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.edgecolor": "#555555",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


def plot_style():
    """The house style on top of matplotlib's defaults, whatever style the user set globally."""
    return matplotlib.style.context(["default", STYLE])


def new_figure(width, height, layout="constrained"):
    """A figure of ``width`` x ``height`` inches on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path):
    """Write ``fig`` as a PNG to ``path`` (creating its folder) and return the path as a string."""
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"viz writes PNG files: expected a path ending in .png, got {path!r}")
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


def to_numpy(x):
    """A NumPy array from an array, a list, a minigen Tensor (``.numpy()``) or a CuPy array."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(backend.to_numpy(x))


def check_finite(array, caller, what):
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(f"{caller}: {what} contain {bad} NaN or infinite values")


def as_images(images, caller, what="images"):
    """Images as float (N, H, W, C), channels last as matplotlib wants them, clipped to [0, 1].

    Accepts (N, H, W) or (N, C, H, W) with C = 1 (grayscale) or C = 3 (RGB).
    """
    images = to_numpy(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        hint = ""
        if images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
            hint = " (channels come before height and width, not last)"
        raise ValueError(f"{caller}: expected {what} of shape (N, H, W) or (N, C, H, W) with C in "
                         f"{{1, 3}} and N >= 1, got shape {tuple(images.shape)}{hint}")
    images = images.astype(np.float32)
    check_finite(images, caller, what)
    return np.clip(images, 0.0, 1.0).transpose(0, 2, 3, 1)


def as_points(points, caller, what="points"):
    """Points as a float (N, 2) array."""
    points = to_numpy(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{caller}: expected {what} of shape (N, 2), got shape {tuple(points.shape)}")
    points = points.astype(np.float64)
    check_finite(points, caller, what)
    return points


def marker_size(n):
    """Scatter marker area in pt^2: big for a few points, small for a cloud of thousands."""
    return float(np.clip(3000.0 / max(n, 1), 1.5, 30.0))


def robust_limits(points, margin=0.08):
    """(xmin, xmax), (ymin, ymax) holding all but the outermost 0.5% of points on each side.

    One diverged sample at 1e6 must not shrink the other 9,999 to a dot.
    """
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    pad = np.maximum((high - low) * margin, 1e-3)
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def set_view(ax, xlim, ylim):
    """2-D data axes: the given limits, equal aspect, a light grid behind the points."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, alpha=0.6)
    ax.set_axisbelow(True)


def grid_columns(n, ncol=None):
    """Columns of a grid for ``n`` thumbnails: ``ncol`` if given, else about square."""
    if ncol is None:
        ncol = math.ceil(math.sqrt(n))
    return min(ncol, n)


def tile(images, ncol):
    """(N, H, W, C) thumbnails -> one (rows*H, ncol*W[, 3]) mosaic, row by row; empty slots white."""
    n, h, w, c = images.shape
    rows = math.ceil(n / ncol)
    slots = np.ones((rows * ncol, h, w, c), dtype=images.dtype)
    slots[:n] = images
    mosaic = slots.reshape(rows, ncol, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, ncol * w, c)
    return mosaic[..., 0] if c == 1 else mosaic


def show_mosaic(ax, images, ncol, cell_pixels, extent=None):
    """Draw (N, H, W, C) thumbnails on ``ax`` as one image with thin separator lines between them.

    One imshow of a mosaic is far faster than a subplot per thumbnail. ``cell_pixels`` is the width a
    thumbnail gets on screen: enlarged thumbnails use nearest-neighbour so pixels stay crisp, shrunk
    ones are anti-aliased.
    """
    n, h, w, c = images.shape
    rows = math.ceil(n / ncol)
    mosaic = tile(images, ncol)
    if extent is None:
        extent = (-0.5, ncol * w - 0.5, rows * h - 0.5, -0.5)
    ax.imshow(mosaic, cmap="gray" if c == 1 else None, vmin=0.0, vmax=1.0, extent=extent,
              interpolation="nearest" if cell_pixels >= w else "antialiased")
    x0, x1, y0, y1 = extent
    ax.vlines(np.linspace(x0, x1, ncol + 1)[1:-1], min(y0, y1), max(y0, y1),
              colors=SEPARATOR_COLOR, linewidth=1.0)
    ax.hlines(np.linspace(y0, y1, rows + 1)[1:-1], min(x0, x1), max(x0, x1),
              colors=SEPARATOR_COLOR, linewidth=1.0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def expect_int(value, caller, what, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{caller}: expected {what} to be an integer >= {minimum}, got {value!r}")
    return int(value)

