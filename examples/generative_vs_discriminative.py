"""Generative vs discriminative classification on the 8x8 digits or the 28x28 mnist-5k.

    generative:      model p(x, y) = p(y) p(x | y) with one Gaussian per class, classify with Bayes' rule;
                     full covariance (QDA), one shared covariance (LDA), or a diagonal one (Gaussian
                     naive Bayes: pixels independent given the class)
    discriminative:  model p(y | x) directly: logistic regression, softmax(W x + b), and the toolkit's
                     MLP classifier (minigen train classifier --arch mlp)

All are fitted to the same training images. The script prints their test accuracies, draws samples
from the generative model (one row per class: the discriminative ones have nothing to draw), and
measures accuracy against the number of training images per class, where the two kinds behave
differently: Ng & Jordan (2002) showed that naive Bayes approaches its (higher) asymptotic error with
O(log D) examples, logistic regression its (lower) one with O(D), so the generative model should win
with few labels and the discriminative one with many. docs/generative-vs-discriminative.md discusses
the numbers.

    python examples/generative_vs_discriminative.py                         # digits, a few minutes
    python examples/generative_vs_discriminative.py --dataset mnist-5k      # 784 pixels, ~20 minutes
"""
import argparse
import os
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minigen as mg  # noqa: E402
from minigen import data, optim, viz  # noqa: E402
from minigen.models import Classifier, GaussianClassifier  # noqa: E402
from minigen.nn import functional as F  # noqa: E402
from _subset_training import classifier_accuracy  # noqa: E402

GAUSSIANS = {"Gaussian, full": "full", "Gaussian, shared": "shared", "naive Bayes": "diagonal"}
DEFAULT_SIZES = {"digits": "2,5,10,20,40,80,140", "mnist-5k": "2,5,10,20,50,100,200,400"}


def fit_gaussian(x, y, covariance="full", reg=0.01, batch_size=500):
    """Closed form: class counts, means and covariances in one pass over the data."""
    model = GaussianClassifier(x[0].size, 10, covariance=covariance, reg=reg)
    for i in range(0, len(x), batch_size):
        model.observe(mg.tensor(x[i:i + batch_size]), mg.tensor(y[i:i + batch_size]))
    return model


def gaussian_accuracy(model, x, y, batch_size=500):
    with mg.no_grad():
        predicted = np.concatenate([model.log_joint(mg.tensor(x[i:i + batch_size])).numpy().argmax(axis=1)
                                    for i in range(0, len(x), batch_size)])
    return float((predicted == y).mean())


def fit_logistic_regression(x, y, steps=500, lr=0.05, weight_decay=1e-3):
    """Gradient descent on the mean cross-entropy, -1/N sum_i log softmax(W x_i + b)_{y_i}, over the
    full training set at every step (Adam keeps the step size sensible without tuning)."""
    model = Classifier(x.shape[1:], 10, arch="linear")
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    x, y = mg.tensor(x), mg.tensor(y)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def logistic_accuracy(model, x, y):
    with mg.no_grad():
        return float((model(mg.tensor(x)).numpy().argmax(axis=1) == y).mean())


def per_class_subset(x, y, n, seed):
    """The first n images of each class after a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(y))
    keep = np.concatenate([order[y[order] == k][:n] for k in range(10)])
    return x[keep], y[keep]


def accuracies(dataset, x, y, x_test, y_test, mlp_steps, seed):
    """Test accuracy of every model fitted to (x, y): {name: accuracy}."""
    scores = {name: gaussian_accuracy(fit_gaussian(x, y, covariance), x_test, y_test)
              for name, covariance in GAUSSIANS.items()}
    mg.manual_seed(seed)
    scores["logistic regression"] = logistic_accuracy(fit_logistic_regression(x, y), x_test, y_test)
    if mlp_steps:
        scores["MLP"] = classifier_accuracy(dataset, x, y, x_test, y_test, mlp_steps, seed, arch="mlp")
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits", choices=("digits", "mnist-5k"))
    parser.add_argument("--out", default="runs/generative-vs-discriminative")
    parser.add_argument("--sizes", help="training images per class on the learning curve (default "
                                        f"{DEFAULT_SIZES['digits']} on digits, {DEFAULT_SIZES['mnist-5k']} "
                                        "on mnist-5k)")
    parser.add_argument("--draws", type=int, default=3, help="random subsets per size")
    parser.add_argument("--mlp-steps", type=int, default=500,
                        help="minibatch Adam steps of the toolkit's MLP classifier (0: leave it out)")
    args = parser.parse_args()
    out = os.path.join(args.out, args.dataset)
    os.makedirs(out, exist_ok=True)
    sizes = [int(s) for s in (args.sizes or DEFAULT_SIZES[args.dataset]).split(",")]
    mg.manual_seed(0)
    x_train, y_train = data.load(args.dataset, split="train")
    x_test, y_test = data.load(args.dataset, split="test")
    image_shape = x_train.shape[1:]
    print(f"{args.dataset}: {len(y_train)} training and {len(y_test)} test images of "
          f"{x_train[0].size} pixels")

    # ---------------------------------------------------------------- the full training set
    print(f"\n{'model':<48} {'test accuracy':>10} {'fit time':>11}")
    for name, covariance in GAUSSIANS.items():
        t0 = time.perf_counter()
        gaussian = fit_gaussian(x_train, y_train, covariance)
        acc = gaussian_accuracy(gaussian, x_test, y_test)     # the fit (Cholesky) happens at first use
        seconds = time.perf_counter() - t0
        label = f"generative, {'Gaussian' if covariance != 'diagonal' else name} ({covariance} covariance)"
        print(f"{label:<48} {acc:10.2%} {seconds:9.2f} s")
    t0 = time.perf_counter()
    acc = logistic_accuracy(fit_logistic_regression(x_train, y_train), x_test, y_test)
    print(f"{'discriminative, logistic regression':<48} {acc:10.2%} {time.perf_counter() - t0:9.2f} s")
    if args.mlp_steps:
        t0 = time.perf_counter()
        acc = classifier_accuracy(args.dataset, x_train, y_train, x_test, y_test, args.mlp_steps, 0, arch="mlp")
        label = f"discriminative, MLP ({args.mlp_steps} steps)"
        print(f"{label:<48} {acc:10.2%} {time.perf_counter() - t0:9.2f} s")

    # ---------------------------------------------------------------- samples: only one can draw
    gaussian = fit_gaussian(x_train, y_train, "full")
    with mg.no_grad():
        rows = [mg.clip(gaussian.sample(10, label=k), 0.0, 1.0).numpy() for k in range(10)]
    samples = np.concatenate(rows).reshape(-1, *image_shape)
    path = viz.image_grid(samples, os.path.join(out, "gaussian_samples.png"), nrow=10,
                          title="x ~ N(mu_k, Sigma_k), one row per class k")
    print(f"\nsamples from the generative model: {path}")

    # ---------------------------------------------------------------- accuracy vs training-set size
    curves = {}                                     # name -> [(mean, std) per size]
    for n in sizes:
        scores = {}
        for seed in range(args.draws):
            x, y = per_class_subset(x_train, y_train, n, seed)
            for name, acc in accuracies(args.dataset, x, y, x_test, y_test, args.mlp_steps, seed).items():
                scores.setdefault(name, []).append(acc)
        for name, values in scores.items():
            curves.setdefault(name, []).append((np.mean(values), np.std(values, ddof=1) if len(values) > 1 else 0.0))
        print(f"n = {n} per class: " + ", ".join(f"{name} {np.mean(v):.3f}" for name, v in scores.items()),
              file=sys.stderr, flush=True)
    print(f"\nTest accuracy against training images per class on {args.dataset} (mean ± std over "
          f"{args.draws} random subsets; logistic regression: 500 full-batch Adam steps; MLP: "
          f"{args.mlp_steps} minibatch steps)\n")
    print("| images per class | " + " | ".join(curves) + " |")
    print("| ---: |" + " ---: |" * len(curves))
    for i, n in enumerate(sizes):
        cells = [f"{100 * curves[name][i][0]:.1f} ± {100 * curves[name][i][1]:.1f}" for name in curves]
        print(f"| {n} | " + " | ".join(cells) + " |")

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        means, stds = np.array(values).T
        ax.errorbar(sizes, means, yerr=stds, marker="o", capsize=2, label=name,
                    linestyle="--" if name in GAUSSIANS else "-")
    ax.set_xscale("log")
    ax.set_xlabel("training images per class")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{args.dataset}: generative (dashed) vs discriminative (solid)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "accuracy_vs_training_size.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\naccuracy against training-set size: {path}")


if __name__ == "__main__":
    main()
