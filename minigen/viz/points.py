"""Plots of 2-D data: samples over data, a model's density, and a 2-D latent space by class.

The density map evaluates the model on a regular grid over ``bounds`` = (x_min, x_max, y_min, y_max),

    x_j = x_min + j (x_max - x_min) / (R - 1),   y_i = y_min + i (y_max - y_min) / (R - 1),

and shows p(x_j, y_i) = exp(log p(x_j, y_i)) as pixel (i, j), row i = y_i counted from the bottom.
"""
import numpy as np
from matplotlib import colormaps

from ._common import (DENSITY_CMAP, REFERENCE_COLOR, SAMPLE_COLOR, as_points, check_finite,
                      expect_int, marker_size, new_figure, plot_style, robust_limits, save, set_view,
                      to_numpy)

MAX_LEGEND_CLASSES = 20   # more classes than this read better as a colour bar than as a legend


def scatter_2d(points, path, reference=None, title=None, labels=None):
    """Scatter (N, 2) ``points`` (e.g. model samples) over optional (M, 2) ``reference`` data in grey.

    labels: legend names (points_name, reference_name); default ("samples", "data").
    Equal aspect; the view holds all but the outermost 0.5% of points, so one runaway sample cannot
    squash the rest.
    """
    caller = "scatter_2d"
    points = as_points(points, caller)
    names = ("samples", "data") if labels is None else tuple(labels)
    if len(names) != 2:
        raise ValueError(f"{caller}: expected labels = (points_name, reference_name), got {labels!r}")
    with plot_style():
        fig = new_figure(5.0, 5.0 + (0.3 if title else 0.0))
        ax = fig.add_subplot()
        everything = points
        if reference is not None:
            reference = as_points(reference, caller, "reference")
            ax.scatter(*reference.T, s=marker_size(len(reference)), color=REFERENCE_COLOR,
                       linewidths=0, label=names[1], rasterized=True)
            everything = np.concatenate([points, reference])
        ax.scatter(*points.T, s=marker_size(len(points)), color=SAMPLE_COLOR, alpha=0.75,
                   linewidths=0, label=names[0], rasterized=True)
        (x_lo, x_hi), (y_lo, y_hi) = robust_limits(everything)
        set_view(ax, (x_lo, x_hi), (y_lo, y_hi))
        outside = np.count_nonzero((points[:, 0] < x_lo) | (points[:, 0] > x_hi)
                                   | (points[:, 1] < y_lo) | (points[:, 1] > y_hi))
        if outside:                                    # say so rather than hide runaway samples
            ax.text(0.01, 0.01, f"{outside} of {len(points)} {names[0]} outside the view",
                    transform=ax.transAxes, fontsize=7, color="#666666")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        if reference is not None or labels is not None:
            ax.legend(loc="upper right", markerscale=max(1.0, 4.0 / marker_size(len(points)) ** 0.5),
                      frameon=True, framealpha=0.85, edgecolor="none")
        if title:
            ax.set_title(title)
        return save(fig, path)


def density_heatmap(log_density, path, bounds=(-4, 4, -4, 4), resolution=200, data=None, title=None):
    """Show exp(log density) over ``bounds`` as a heat map, optionally beside a scatter of ``data``.

    log_density: callable, (M, 2) float32 ndarray -> (M,) log-densities (ndarray or Tensor), evaluated
                 once on all resolution**2 grid points (wrap a model in mg.no_grad()); or a
                 precomputed 2-D array whose [i, j] entry is the log-density at (x_j, y_i) (rows
                 are y, from the bottom; any grid size, ``resolution`` is then unused).
    data:        optional (N, 2) samples of the data, drawn in a left panel over the same bounds.
    """
    caller = "density_heatmap"
    x_min, x_max, y_min, y_max = _check_bounds(bounds, caller)
    if callable(log_density):
        resolution = expect_int(resolution, caller, "resolution", 2)
        xs = np.linspace(x_min, x_max, resolution)
        ys = np.linspace(y_min, y_max, resolution)
        grid_x, grid_y = np.meshgrid(xs, ys)                  # grid_x[i, j] = x_j, grid_y[i, j] = y_i
        grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)
        log_p = to_numpy(log_density(grid))
        if log_p.size != len(grid):
            raise ValueError(f"{caller}: log_density returned shape {tuple(log_p.shape)} for "
                             f"{len(grid)} points; expected ({len(grid)},)")
        log_p = log_p.reshape(resolution, resolution)
    else:
        log_p = to_numpy(log_density)
        if log_p.ndim != 2:
            raise ValueError(f"{caller}: expected log_density to be a callable or a 2-D grid of "
                             f"log-densities, got an array of shape {tuple(log_p.shape)}")
    log_p = log_p.astype(np.float64)
    # -inf is a legitimate log-density (no mass there); NaN and +inf are a broken model.
    check_finite(np.where(log_p == -np.inf, 0.0, log_p), caller, "log-densities")
    density = np.exp(log_p)

    with plot_style():
        panel = 4.2
        fig = new_figure(panel * (2 if data is not None else 1) + 0.6, panel + (0.35 if title else 0.0))
        axes = fig.subplots(1, 2 if data is not None else 1, squeeze=False)[0]
        if data is not None:
            data = as_points(data, caller, "data")
            axes[0].scatter(*data.T, s=marker_size(len(data)), color=SAMPLE_COLOR, alpha=0.6,
                            linewidths=0, rasterized=True)
            set_view(axes[0], (x_min, x_max), (y_min, y_max))
            axes[0].set_title("data")
        image = axes[-1].imshow(density, origin="lower", extent=(x_min, x_max, y_min, y_max),
                                cmap=DENSITY_CMAP, interpolation="bilinear", aspect="equal")
        for ax in axes:
            ax.set_xlabel("$x_1$")
        axes[0].set_ylabel("$x_2$")
        axes[-1].set_title("model density")
        fig.colorbar(image, ax=axes[-1], shrink=0.8, label="$p(x)$")
        if title:
            fig.suptitle(title)
        return save(fig, path)


def latent_scatter(z, labels, path, title=None):
    """Scatter (N, 2) latent codes ``z`` coloured by ``labels`` (N,), with a legend or a colour bar.

    Class labels (integers or strings, at most 20 distinct) get one colour each and a legend; other
    numeric labels (many classes, or a continuous value) get a colour map and a colour bar.
    labels may be None (one colour).
    """
    caller = "latent_scatter"
    z = to_numpy(z)
    if z.ndim == 2 and z.shape[1] > 2:
        raise ValueError(f"{caller}: expected 2-D latent codes z of shape (N, 2), got shape "
                         f"{tuple(z.shape)}; project the codes to 2-D first (e.g. with PCA)")
    z = as_points(z, caller, "z")
    if labels is not None:
        labels = to_numpy(labels).ravel()
        if len(labels) != len(z):
            raise ValueError(f"{caller}: expected one label per code ({len(z)}), got {len(labels)} labels")
    size = marker_size(len(z))

    with plot_style():
        fig = new_figure(5.8, 5.0 + (0.3 if title else 0.0))
        ax = fig.add_subplot()
        if labels is None:
            ax.scatter(*z.T, s=size, color=SAMPLE_COLOR, alpha=0.7, linewidths=0, rasterized=True)
        elif _are_classes(labels):
            if np.issubdtype(labels.dtype, np.floating):
                labels = labels.astype(np.int64)             # legend "3", not "3.0"
            classes = np.unique(labels)
            colors = _class_colors(len(classes))
            for color, label in zip(colors, classes):
                ax.scatter(*z[labels == label].T, s=size, color=color, alpha=0.7, linewidths=0,
                           label=str(label), rasterized=True)
            ax.legend(title="class", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                      markerscale=max(1.0, 5.0 / size ** 0.5))
        else:
            if not np.issubdtype(labels.dtype, np.number):
                raise ValueError(f"{caller}: {len(np.unique(labels))} distinct non-numeric labels: at "
                                 f"most {MAX_LEGEND_CLASSES} fit a legend")
            points = ax.scatter(*z.T, c=labels.astype(np.float64), s=size, cmap="viridis", alpha=0.8,
                                linewidths=0, rasterized=True)
            fig.colorbar(points, ax=ax, shrink=0.8, label="label")
        set_view(ax, *robust_limits(z))
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        if title:
            ax.set_title(title)
        return save(fig, path)


def _are_classes(labels):
    """Few distinct integers, bools or strings are classes; floats only if they are whole numbers."""
    if len(np.unique(labels)) > MAX_LEGEND_CLASSES:
        return False
    if np.issubdtype(labels.dtype, np.floating):
        return bool(np.all(labels == np.round(labels)))
    return True


def _class_colors(n):
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(n)]


def _check_bounds(bounds, caller):
    try:
        x_min, x_max, y_min, y_max = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{caller}: expected bounds = (x_min, x_max, y_min, y_max), "
                         f"got {bounds!r}") from None
    if not (x_min < x_max and y_min < y_max):
        raise ValueError(f"{caller}: expected x_min < x_max and y_min < y_max, got bounds {bounds!r}")
    return x_min, x_max, y_min, y_max
