"""Planar flows as variational posteriors: Rezende & Mohamed (2015), figure 3.

Fits q_K = (f_K o ... o f_1)_# N(0, I), K planar layers, to each of the paper's four unnormalised 2-D
targets p(z) ~ exp(-U(z)) by minimising the reverse KL (minigen.models.planar.reverse_kl), with the
paper's annealing beta_t = min(1, 0.01 + t / T_anneal), and draws one row per target: the true density,
then q_K for each K, as histograms of 200,000 samples.

    python examples/planar_energy.py              # K = 2, 8, 32; a few minutes on a CPU
    python examples/planar_energy.py --quick      # fewer steps, for a smoke test
Writes docs/img/planar_energy.png and prints the final E[log q_K(z_K) + U(z_K)] per (U, K), which is
KL(q_K || p) - log Z where Z is finite (lower is better). U2-U4 do not grow along z_1, so exp(-U) is only
a density on a window: like the paper, the figure shows [-4, 4]^2.
"""
import argparse
import os

import numpy as np
from matplotlib.figure import Figure

import minigen as mg
from minigen import optim
from minigen.models.planar import ENERGIES, planar_flow, reverse_kl

BOUNDS = 4


def fit(energy, layers, steps, seed=0, lr=5e-3):
    mg.manual_seed(seed)
    transform = planar_flow(2, layers).transform
    optimizer = optim.Adam(transform.parameters(), lr=lr)
    anneal = max(1, steps // 2)
    for t in range(steps):
        beta = min(1.0, 0.01 + t / anneal)
        loss = reverse_kl(transform, energy, n=256, beta=beta)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with mg.no_grad():
        final = float(np.mean([reverse_kl(transform, energy, n=4096).item() for _ in range(5)]))
    return transform, final


def true_density(energy, resolution=200):
    xs = np.linspace(-BOUNDS, BOUNDS, resolution)
    gx, gy = np.meshgrid(xs, xs)
    with mg.no_grad():
        u = energy(mg.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1))).numpy()
    return np.exp(-u).reshape(resolution, resolution)


def sample_histogram(transform, n=200_000, bins=100):
    with mg.no_grad():
        z_K, _ = transform(mg.randn(n, 2))
    hist, _, _ = np.histogram2d(z_K.numpy()[:, 1], z_K.numpy()[:, 0], bins=bins,
                                range=[[-BOUNDS, BOUNDS], [-BOUNDS, BOUNDS]])
    return hist


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps per fit")
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 8, 32], help="values of K")
    parser.add_argument("--quick", action="store_true", help="300 steps per fit")
    parser.add_argument("--out", default="docs/img/planar_energy.png")
    args = parser.parse_args()
    steps = 300 if args.quick else args.steps

    fig = Figure(figsize=(1.8 * (1 + len(args.layers)), 1.8 * len(ENERGIES)), dpi=80,
                 layout="constrained")
    axes = fig.subplots(len(ENERGIES), 1 + len(args.layers), squeeze=False)
    extent = (-BOUNDS, BOUNDS, -BOUNDS, BOUNDS)
    for row, (name, energy) in enumerate(ENERGIES.items()):
        axes[row, 0].imshow(true_density(energy), origin="lower", extent=extent, cmap="viridis")
        axes[row, 0].set_ylabel(name)
        for col, layers in enumerate(args.layers, start=1):
            transform, kl = fit(energy, layers, steps)
            print(f"{name}  K={layers:3d}  E[log q_K + U] = KL - log Z = {kl:.3f}")
            axes[row, col].imshow(sample_histogram(transform), origin="lower", extent=extent, cmap="viridis")
    axes[0, 0].set_title("exp(-U)")
    for col, layers in enumerate(args.layers, start=1):
        axes[0, col].set_title(f"planar K={layers}")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
