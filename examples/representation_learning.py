"""Representation learning: how linearly separable are the classes in a generative model's latents?

    z = encoder(x)                   AE: the code; VAE: the posterior mean mu(x) of q(z|x)
    linear probe: p(y | z) = softmax(W z + b), trained on n labelled codes, scored on the test codes

against the same probe on raw pixels. The encoders are trained without labels (on every training image);
only the probe sees labels: a few (10 per class) or all of them. Also draws the VAE's latent means,
projected to their first two principal components, coloured by class.

    python examples/representation_learning.py --quick        # digits, a few minutes on a CPU
"""
import argparse
import io
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minigen as mg  # noqa: E402
from minigen import data, nn, optim, training, viz  # noqa: E402
from minigen.nn import functional as F  # noqa: E402
from _subset_training import balanced_subset  # noqa: E402


def linear_probe(z_train, y_train, z_test, y_test, steps=500, seed=0):
    """Test accuracy of multinomial logistic regression on standardised features, full-batch Adam."""
    mean, std = z_train.mean(0), z_train.std(0) + 1e-6
    z_train, z_test = (z_train - mean) / std, (z_test - mean) / std
    mg.manual_seed(seed)
    probe = nn.Linear(z_train.shape[1], int(y_train.max()) + 1)
    optimizer = optim.Adam(probe.parameters(), lr=0.05)
    z, y = mg.tensor(z_train.astype(np.float32)), mg.tensor(y_train)
    for _ in range(steps):
        loss = F.cross_entropy(probe(z), y) + 1e-3 * (probe.weight ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with mg.no_grad():
        predicted = probe(mg.tensor(z_test.astype(np.float32))).argmax(axis=1).numpy()
    return float((predicted == y_test).mean())


def encoder_of(name, recipe):
    """x (NumPy images) -> codes (NumPy (N, d)) for the families with an encoder."""
    def encode(x):
        with mg.no_grad():
            h = recipe.model.encode(mg.tensor(x, device=recipe.device))
            return (h.mean if name == "vae" else h).numpy().reshape(len(x), -1)
    return encode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="default mnist-5k (digits with --quick)")
    parser.add_argument("--steps", type=int, help="training steps of each encoder (default 3000; 1000 "
                                                  "with --quick)")
    parser.add_argument("--few", type=int, default=10, help="labelled images per class, 'few labels'")
    parser.add_argument("--seeds", type=int, default=2, help="subsets of the few labels")
    parser.add_argument("--figure", default=None, help="where to draw the VAE latent map (PNG)")
    parser.add_argument("--quick", action="store_true", help="digits, 1000 encoder steps")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or ("digits" if args.quick else "mnist-5k")
    args.steps = args.steps or (1000 if args.quick else 3000)
    x_train, y_train = data.load(args.dataset, split="train")
    x_test, y_test = data.load(args.dataset, split="test")
    encoders = {"raw pixels": lambda x: x.reshape(len(x), -1)}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("ae", "vae"):
            run = training.train(name, args.dataset, out=os.path.join(tmp, name), steps=args.steps,
                                 stream=io.StringIO())
            encoders[name] = encoder_of(name, run.recipe.eval())
            print(f"trained {name} for {args.steps} steps", file=sys.stderr, flush=True)
    rows = []
    for name, encode in encoders.items():
        z_train, z_test = encode(x_train), encode(x_test)
        few = [linear_probe(*_subset_codes(z_train, y_train, args.few, seed), z_test, y_test, seed=seed)
               for seed in range(args.seeds)]
        everything = linear_probe(z_train, y_train, z_test, y_test)
        rows.append((name, z_train.shape[1], np.mean(few), np.std(few, ddof=1) if len(few) > 1 else 0.0,
                     everything))
        if name == "vae" and args.figure:
            centred = z_test - z_test.mean(0)
            axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
            viz.latent_scatter(centred @ axes.T, y_test, args.figure,
                               title=f"VAE latent means of {args.dataset} test images (first 2 PCs)")
    print(f"\nLinear-probe test accuracy on {args.dataset}; encoders trained {args.steps} steps without "
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
