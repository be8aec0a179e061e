"""Generative vs discriminative classification on the 8x8 digits.

    generative:      model p(x, y) = p(y) p(x | y) with one Gaussian per class, classify with Bayes' rule
    discriminative:  model p(y | x) = softmax(W x + b) directly (logistic regression)

Both are fitted to the same training images. The script prints their test accuracies, draws samples
from the generative model (one row per class: the discriminative one has nothing to draw), and plots
accuracy against the number of training images per class, where the two behave differently
(Ng & Jordan, 2002). docs/generative-vs-discriminative.md discusses the numbers.

    python examples/generative_vs_discriminative.py [--out runs/generative-vs-discriminative]
"""
import argparse
import os
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigen as mg  # noqa: E402
from minigen import data, optim, viz  # noqa: E402
from minigen.models import Classifier, GaussianClassifier  # noqa: E402
from minigen.nn import functional as F  # noqa: E402


def fit_gaussian(x, y, covariance="full", reg=0.01):
    """Closed form: class counts, means and covariances in one pass."""
    model = GaussianClassifier(x[0].size, 10, covariance=covariance, reg=reg)
    model.observe(mg.tensor(x), mg.tensor(y))
    return model


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


def accuracy(log_scores, y):
    return float((log_scores.numpy().argmax(axis=1) == y).mean())


def per_class_subset(x, y, n, seed):
    """The first n images of each class after a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(y))
    keep = np.concatenate([order[y[order] == k][:n] for k in range(10)])
    return x[keep], y[keep]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/generative-vs-discriminative")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    mg.manual_seed(0)
    x_train, y_train = data.load("digits", split="train")
    x_test, y_test = data.load("digits", split="test")
    print(f"digits: {len(y_train)} training and {len(y_test)} test images of {x_train[0].size} pixels")

    # ---------------------------------------------------------------- the full training set
    print(f"\n{'model':<42} {'test accuracy':>10} {'fit time':>11}")
    for covariance in ("full", "shared", "diagonal"):
        t0 = time.perf_counter()
        gaussian = fit_gaussian(x_train, y_train, covariance)
        seconds = time.perf_counter() - t0
        acc = accuracy(gaussian.log_posterior(mg.tensor(x_test)), y_test)
        name = f"generative, Gaussian ({covariance} covariance)"
        print(f"{name:<42} {acc:10.2%} {seconds:9.2f} s")
    t0 = time.perf_counter()
    logistic = fit_logistic_regression(x_train, y_train)
    seconds = time.perf_counter() - t0
    with mg.no_grad():
        acc = accuracy(logistic(mg.tensor(x_test)), y_test)
    print(f"{'discriminative, logistic regression':<42} {acc:10.2%} {seconds:9.2f} s")

    # ---------------------------------------------------------------- samples: only one can draw
    gaussian = fit_gaussian(x_train, y_train, "full")
    with mg.no_grad():
        rows = [mg.clip(gaussian.sample(10, label=k), 0.0, 1.0).numpy() for k in range(10)]
    samples = np.concatenate(rows).reshape(-1, 1, 8, 8)
    path = viz.image_grid(samples, os.path.join(args.out, "gaussian_samples.png"), nrow=10,
                          title="x ~ N(mu_k, Sigma_k), one row per class k")
    print(f"\nsamples from the generative model: {path}")

    # ---------------------------------------------------------------- accuracy vs training-set size
    sizes = [2, 5, 10, 20, 40, 80, 140]
    curves = {"Gaussian (full covariance)": [], "Gaussian (shared covariance)": [], "logistic regression": []}
    print("\nimages per class   Gaussian full   Gaussian shared   logistic regression   (mean of 3 draws)")
    for n in sizes:
        scores = {name: [] for name in curves}
        for seed in range(3):
            x, y = per_class_subset(x_train, y_train, n, seed)
            for covariance, name in (("full", "Gaussian (full covariance)"),
                                     ("shared", "Gaussian (shared covariance)")):
                model = fit_gaussian(x, y, covariance)
                scores[name].append(accuracy(model.log_posterior(mg.tensor(x_test)), y_test))
            model = fit_logistic_regression(x, y)
            with mg.no_grad():
                scores["logistic regression"].append(accuracy(model(mg.tensor(x_test)), y_test))
        for name in curves:
            curves[name].append(float(np.mean(scores[name])))
        print(f"{n:16d} " + " ".join(f"{curves[name][-1]:15.2%}" for name in curves))

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(sizes, values, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training images per class")
    ax.set_ylabel("test accuracy")
    ax.set_title("digits: generative vs discriminative")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(args.out, "accuracy_vs_training_size.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\naccuracy against training-set size: {path}")


if __name__ == "__main__":
    main()
