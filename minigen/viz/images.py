"""Grids of images: samples, reconstructions, and the decoded latent plane of a 2-D latent model.

A latent manifold plot decodes a regular grid of latent codes,

    z_{r,c} = (v_c, v_{n-1-r}),   v = linspace(lo, hi, n),   x_{r,c} = decode(z_{r,c}),

and lays image x_{r,c} at row r, column c, so moving right increases z_1 and moving up increases z_2,
exactly like the axes of a scatter plot of the same latent space.
"""
import math

import numpy as np

from ._common import (DPI, as_images, expect_int, grid_columns, new_figure, plot_style, save,
                      show_mosaic, to_numpy)

MAX_GRID_WIDTH = 10.0    # inches; beyond this thumbnails shrink instead of the figure growing
MAX_GRID_HEIGHT = 14.0
MAX_CELL = 1.25          # inches per thumbnail; small sets stay thumbnails, not posters
MARGIN = 0.06


def image_grid(images, path, nrow=None, title=None, labels=None):
    """Write ``images`` as one grid of thumbnails to the PNG ``path``; return the path.

    images: (N, H, W) or (N, C, H, W), C = 1 (gray) or 3 (RGB), values in [0, 1] (clipped).
    nrow:   thumbnails per row, as in torchvision's make_grid (default: about a square grid).
    labels: optional N short labels (class names, scores), drawn small in each thumbnail's corner.
    """
    caller = "image_grid"
    images = as_images(images, caller)
    n, h, w, _ = images.shape
    if nrow is not None:
        expect_int(nrow, caller, "nrow", 1)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{caller}: expected one label per image ({n}), got {len(labels)} labels")
    ncol = grid_columns(n, nrow)
    rows = math.ceil(n / ncol)

    cell_w = min(MAX_CELL, MAX_GRID_WIDTH / ncol, MAX_GRID_HEIGHT / rows * w / h)
    cell_h = cell_w * h / w
    grid_w, grid_h = ncol * cell_w, rows * cell_h
    title_h = 0.4 if title else 0.0
    fig_w = max(grid_w + 2 * MARGIN, 3.0 if title else 0.0)   # room for the title's text
    fig_h = grid_h + 2 * MARGIN + title_h

    with plot_style():
        # The grid's place is computed exactly: no layout engine, so thumbnails keep their pixels.
        fig = new_figure(fig_w, fig_h, layout=None)
        ax = fig.add_axes([(fig_w - grid_w) / 2 / fig_w, MARGIN / fig_h, grid_w / fig_w, grid_h / fig_h])
        show_mosaic(ax, images, ncol, cell_pixels=cell_w * DPI)
        ax.set_axis_off()
        if title:
            fig.suptitle(title, y=1 - title_h / 2 / fig_h, va="center")
        if labels is not None:
            fontsize = float(np.clip(cell_w * 72 * 0.2, 4.5, 8.0))
            for k, label in enumerate(labels):
                r, c = divmod(k, ncol)
                ax.text(c * w - 0.5 + 0.05 * w, r * h - 0.5 + 0.05 * h, str(label), ha="left", va="top",
                        fontsize=fontsize, color="white",
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="black", alpha=0.6, linewidth=0))
        return save(fig, path)


def latent_manifold(decode, path, bounds=(-3, 3), n=15, title=None):
    """Decode an n x n grid of 2-D latent codes over ``bounds`` = (lo, hi) and draw the images in place.

    decode: callable, (M, 2) float32 ndarray of codes -> (M, C, H, W) or (M, H, W) images in [0, 1]
            (a NumPy array or a minigen Tensor; wrap a model in mg.no_grad()), called once on all
            n * n codes. Axis ticks show latent values: each thumbnail is centred on its code.
    """
    caller = "latent_manifold"
    if not callable(decode):
        raise TypeError(f"{caller}: expected decode to be a callable (M, 2) -> images, "
                        f"got {type(decode).__name__}")
    n = expect_int(n, caller, "n", 2)
    lo, hi = _check_range(bounds, caller)

    values = np.linspace(lo, hi, n)
    z1, z2 = np.meshgrid(values, values[::-1])        # top row = largest z_2
    codes = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    images = as_images(to_numpy(decode(codes)), caller, "decoded images")
    if len(images) != n * n:
        raise ValueError(f"{caller}: decode returned {len(images)} images for {n * n} codes")
    _, h, w, _ = images.shape

    half_step = (hi - lo) / (n - 1) / 2
    extent = (lo - half_step, hi + half_step, lo - half_step, hi + half_step)
    with plot_style():
        fig = new_figure(6.0, 6.0 * h / w + (0.5 if title else 0.2))
        ax = fig.add_subplot()
        show_mosaic(ax, images, n, cell_pixels=5.0 / n * DPI, extent=extent)
        ax.set_aspect(h / w)                            # one latent unit is as long on both axes per pixel
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        ax.spines[["top", "right"]].set_visible(True)
        if title:
            ax.set_title(title)
        return save(fig, path)


def _check_range(bounds, caller):
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{caller}: expected bounds = (lo, hi), got {bounds!r}") from None
    if not lo < hi:
        raise ValueError(f"{caller}: expected bounds = (lo, hi) with lo < hi, got {bounds!r}")
    return lo, hi
