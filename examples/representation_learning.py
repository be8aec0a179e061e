"""Representation learning: how linearly separable are the classes in a generative model's latents?

    z = features(x), learnt without labels:
        ae      the code E(x)
        vae     the posterior mean mu(x) of q(z|x)
        vqvae   z_q = e_k(x), the quantized latents of every position concatenated (they keep *where*
                each code sits), and the histogram of the code indices over the positions (a bag of
                codes: *which* codes, not where)
        glow    the flow's z = f(y) of the dequantised image y (same size as x; invertible, so nothing
                is lost, only re-coordinated); realnvp gives the same kind of z
        gan     the MLP discriminator's last hidden layer
        dcgan   the conv discriminator's features before its final s x s convolution
    linear probe: p(y | z) = softmax(W z + b), trained on n labelled codes, scored on the test codes
                  (minigen.metrics.probe.linear_probe)

against the same probe on raw pixels. Every model is trained on every training image without its
label; only the probe sees labels: a few (10 per class) or all of them. ``--figure`` draws the test
codes of each representation projected to their first two principal components, coloured by class;
``--vae-figure`` the VAE panel alone.

    python examples/representation_learning.py --quick        # digits, ~20 minutes on a loaded 2-core CPU
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minigen as mg  # noqa: E402
from minigen import data, viz  # noqa: E402
from minigen.metrics.probe import linear_probe  # noqa: E402
from _subset_training import balanced_subset, train_recipe  # noqa: E402

MODELS = ("ae", "vae", "vqvae", "glow", "gan", "dcgan")


def representations(name, recipe):
    """{label: x (NumPy images) -> features (N, F)} for a trained recipe of family ``name``."""
    if name in ("ae", "vae"):
        def encode(x):
            with mg.no_grad():
                h = recipe.model.encode(mg.tensor(x, device=recipe.device))
                return (h.mean if name == "vae" else h).numpy().reshape(len(x), -1)
        return {f"{name} {'mu(x)' if name == 'vae' else 'code'}": encode}
    if name == "vqvae":
        return {"vqvae z_q (embeddings)": lambda x: recipe.features(x, "embeddings"),
                "vqvae code histogram": lambda x: recipe.features(x, "histogram")}
    if name in ("realnvp", "glow"):
        return {f"{name} z": recipe.features}
    if name in ("gan", "dcgan"):
        return {f"{name} discriminator": recipe.features}
    raise ValueError(f"representations: no feature accessor for {name!r}; expected one of "
                     f"{MODELS + ('realnvp',)}")


def in_batches(encode, x, batch_size=500):
    return np.concatenate([encode(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def first_two_pcs(z):
    centred = z - z.mean(0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def draw_maps(maps, y, path, dataset):
    """One panel per representation: test codes on their first two principal components."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    columns = min(4, len(maps))
    rows = math.ceil(len(maps) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (name, z2) in zip(axes.flat, maps.items()):
        for k in np.unique(y):
            ax.scatter(*z2[y == k].T, s=3, color=colors(int(k)), alpha=0.7, linewidths=0, rasterized=True,
                       label=str(k))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(maps):]:
        ax.axis("off")
    axes.flat[0].legend(markerscale=3, fontsize=6, ncol=2, loc="best")
    fig.suptitle(f"{dataset} test images: first two principal components of each representation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="default mnist-5k (digits with --quick)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"any of {','.join(MODELS)},realnvp")
    parser.add_argument("--steps", type=int, help="training steps of each model (default 3000; 1000 "
                                                  "with --quick)")
    parser.add_argument("--few", type=int, default=10, help="labelled images per class, 'few labels'")
    parser.add_argument("--seeds", type=int, default=2, help="subsets of the few labels")
    parser.add_argument("--figure", default=None, help="where to draw the 2-D maps of every representation")
    parser.add_argument("--vae-figure", default=None, help="where to draw the VAE latent map alone (PNG)")
    parser.add_argument("--quick", action="store_true", help="digits, 1000 training steps")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or ("digits" if args.quick else "mnist-5k")
    args.steps = args.steps or (1000 if args.quick else 3000)
    x_train, y_train = data.load(args.dataset, split="train")
    x_test, y_test = data.load(args.dataset, split="test")
    encoders = {"raw pixels": lambda x: x.reshape(len(x), -1)}
    for name in [m for m in args.models.split(",") if m]:
        # labels are passed only because fit takes (x, y); these families never read them
        recipe = train_recipe(name, args.dataset, x_train, y_train, args.steps, seed=0)
        encoders.update(representations(name, recipe))
        print(f"trained {name} for {args.steps} steps", file=sys.stderr, flush=True)
    rows, maps = [], {}
    for name, encode in encoders.items():
        z_train, z_test = in_batches(encode, x_train), in_batches(encode, x_test)
        few = [linear_probe(*_subset_codes(z_train, y_train, args.few, seed), z_test, y_test, seed=seed)
               for seed in range(args.seeds)]
        everything = linear_probe(z_train, y_train, z_test, y_test)
        rows.append((name, z_train.shape[1], np.mean(few), np.std(few, ddof=1) if len(few) > 1 else 0.0,
                     everything))
        maps[name] = first_two_pcs(z_test)
        print(f"{name}: few {np.mean(few):.3f}, all {everything:.3f}", file=sys.stderr, flush=True)
    if args.figure:
        draw_maps(maps, y_test, args.figure, args.dataset)
    if args.vae_figure and "vae mu(x)" in maps:
        viz.latent_scatter(maps["vae mu(x)"], y_test, args.vae_figure,
                           title=f"VAE latent means of {args.dataset} test images (first 2 PCs)")
    print(f"\nLinear-probe test accuracy on {args.dataset}; models trained {args.steps} steps without "
          f"labels; few = {args.few} per class (mean ± std over {args.seeds} subsets), all = "
          f"{len(x_train)} labels\n")
    print("| features | dimension | few labels | all labels |")
    print("|---|---|---|---|")
    for name, dim, few_mean, few_std, everything in rows:
        print(f"| {name} | {dim} | {few_mean:.3f} ± {few_std:.3f} | {everything:.3f} |")


def _subset_codes(z, y, per_class, seed):
    index = balanced_subset(np.arange(len(y)), y, per_class, seed)[0]
    return z[index], y[index]


if __name__ == "__main__":
    main()
