"""Snapshots of a process over time, side by side: a diffusion sampler going x_T -> x_0, a flow moving
points layer by layer, a GAN's samples over training.

Every frame is drawn the same way on the same scale, so what changes between panels is the samples:
image frames are grids of thumbnails, point frames share one set of axes limits.
"""
import math

import numpy as np

from ._common import (DPI, SAMPLE_COLOR, as_images, as_points, grid_columns, marker_size, new_figure,
                      plot_style, robust_limits, save, set_view, show_mosaic, to_numpy)

MAX_PANELS_PER_ROW = 8


def trajectory(frames, path, titles=None):
    """Draw ``frames`` left to right (at most 8 a row) to the PNG ``path``; return the path.

    frames: list of arrays, all (N, C, H, W) / (N, H, W) images in [0, 1], or all (N, 2) points.
    titles: one title per frame (default "frame 0", "frame 1", ...), e.g. ["t = 1000", ..., "t = 0"].
    """
    caller = "trajectory"
    frames = [to_numpy(frame) for frame in frames]
    if not frames:
        raise ValueError(f"{caller}: expected at least one frame, got none")
    titles = [f"frame {i}" for i in range(len(frames))] if titles is None else list(titles)
    if len(titles) != len(frames):
        raise ValueError(f"{caller}: expected one title per frame ({len(frames)}), got {len(titles)}")
    are_points = [frame.ndim == 2 for frame in frames]
    if any(are_points) and not all(are_points):
        raise ValueError(f"{caller}: expected frames of one kind, all (N, 2) points or all images; got "
                         f"shapes {[tuple(frame.shape) for frame in frames]}")
    if all(are_points):
        frames = [as_points(frame, caller, f"frame {i}") for i, frame in enumerate(frames)]
    else:
        frames = [as_images(frame, caller, f"frame {i}") for i, frame in enumerate(frames)]

    nrows = math.ceil(len(frames) / MAX_PANELS_PER_ROW)
    ncols = math.ceil(len(frames) / nrows)             # balanced rows: 10 frames are 2 x 5, not 8 + 2
    panel = 2.2
    with plot_style():
        fig = new_figure(ncols * panel + 0.3, nrows * (panel + 0.3))
        share = bool(all(are_points))
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=share, sharey=share).ravel()
        if share:
            # One view for every frame: a shrinking cloud must look like it shrinks.
            limits = robust_limits(np.concatenate(frames))
        for i, (ax, frame, title) in enumerate(zip(axes, frames, titles)):
            if share:
                ax.scatter(*frame.T, s=marker_size(len(frame)), color=SAMPLE_COLOR, alpha=0.7,
                           linewidths=0, rasterized=True)
                set_view(ax, *limits)
                if i + ncols >= len(frames):           # lowest panel of its column keeps its tick labels
                    ax.tick_params(labelbottom=True)
            else:
                ncol = grid_columns(len(frame))
                show_mosaic(ax, frame, ncol, cell_pixels=panel * DPI / ncol)
                ax.set_aspect("equal")
                ax.set_axis_off()
            ax.set_title(str(title))
        for ax in axes[len(frames):]:
            ax.remove()
        return save(fig, path)
