"""Plots for generative models: what you look at first after training.

Every function takes NumPy arrays (or minigen Tensors, or CuPy arrays), writes one PNG to ``path``
(creating its folder) and returns the path. Figures are drawn off-screen with matplotlib's Agg canvas
and never touch pyplot, so nothing pops up, nothing leaks, and the user's backend is left alone.

    image_grid(images, path, nrow=None, title=None, labels=None)        samples, reconstructions
    loss_curves(metrics, path, keys=None, title=None, smooth=0)         metrics.jsonl, one panel per key
    scatter_2d(points, path, reference=None, title=None, labels=None)   2-D samples over 2-D data
    density_heatmap(log_density, path, bounds=(-4, 4, -4, 4), resolution=200, data=None, title=None)
    latent_scatter(z, labels, path, title=None)                         2-D latent codes by class
    latent_manifold(decode, path, bounds=(-3, 3), n=15, title=None)     decoded grid of the latent plane
    trajectory(frames, path, titles=None)                               x_T -> x_0, frame by frame
"""
from .curves import loss_curves
from .images import image_grid, latent_manifold
from .points import density_heatmap, latent_scatter, scatter_2d
from .trajectory import trajectory

__all__ = ["image_grid", "loss_curves", "scatter_2d", "density_heatmap", "latent_scatter",
           "latent_manifold", "trajectory"]
