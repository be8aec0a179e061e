"""DCGAN against the VAE on the same 8x8 digits: sharpness, diversity, and stability across seeds.

Both are trained for the same number of epochs with each family's other defaults, on seeds 0, 1, 2.
From 500 samples of each run (VAE: the decoder's mean image, what `minigen sample` returns):

    sharpness   mean |discrete Laplacian| per pixel, divided by that of real test images (1 = as sharp)
    diversity   mean pairwise L2 distance between samples, divided by that of real images
    frechet     Frechet distance between Gaussians fitted to samples and to test images, in pixel space
                (64 dimensions): ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)); 0 = same statistics
    classes     entropy (in bits) of the class histogram a logistic-regression judge assigns to the
                samples; log2(10) = 3.32 when every class is equally present

and each is reported as mean and standard deviation over the seeds (the stability).

    python examples/gan_vs_vae.py [--epochs 30] [--seeds 0,1,2] [--out runs/gan-vs-vae]
"""
import argparse
import json
import os

import numpy as np
from scipy import linalg

import minigen as mg
from minigen import data, viz
from minigen.models import cgan
from minigen.training import train


def sharpness(images):
    x = np.pad(images[:, 0], ((0, 0), (1, 1), (1, 1)))
    laplacian = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return float(np.abs(laplacian).mean())


def diversity(images):
    flat = images.reshape(len(images), -1).astype(np.float64)
    squared = (flat ** 2).sum(1)[:, None] + (flat ** 2).sum(1)[None] - 2 * flat @ flat.T
    distances = np.sqrt(np.maximum(squared, 0))
    return float(distances.sum() / (len(flat) * (len(flat) - 1)))


def frechet(a, b):
    a, b = (v.reshape(len(v), -1).astype(np.float64) for v in (a, b))
    mu_a, mu_b, cov_a, cov_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def class_entropy(labels):
    p = np.bincount(labels, minlength=10) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=os.path.join("runs", "gan-vs-vae"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x_test, _ = data.load("digits", split="test")
    judge = cgan.reference_classifier("digits", mg.device("cpu"))
    real = {"sharpness": sharpness(x_test), "diversity": diversity(x_test)}

    rows, grids = [], []
    for model in ("dcgan", "vae"):
        for seed in (int(s) for s in args.seeds.split(",")):
            run = train(model, "digits", out=os.path.join(args.out, f"{model}-seed{seed}"),
                        epochs=args.epochs, seed=seed, log_every=20)
            mg.manual_seed(seed)
            samples = run.recipe.sample(500)
            rows.append({"model": model, "seed": seed,
                         "sharpness": sharpness(samples) / real["sharpness"],
                         "diversity": diversity(samples) / real["diversity"],
                         "frechet": frechet(samples, x_test),
                         "classes": class_entropy(judge(samples))})
            if seed == 0:
                grids.append(samples[:32])
    viz.image_grid(np.concatenate([x_test[:32]] + grids), os.path.join(args.out, "real-dcgan-vae.png"),
                   nrow=16, title="rows 1-2 real, 3-4 DCGAN, 5-6 VAE (seed 0)")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(f"\n{'model':<6} {'sharpness':>15} {'diversity':>15} {'frechet':>15} {'classes (bits)':>15}")
    for model in ("dcgan", "vae"):
        cells = []
        for key in ("sharpness", "diversity", "frechet", "classes"):
            values = [r[key] for r in rows if r["model"] == model]
            cells.append(f"{np.mean(values):.3f} +- {np.std(values):.3f}")
        print(f"{model:<6} " + " ".join(f"{c:>15}" for c in cells))
    print(f"(real test images: sharpness 1, diversity 1, frechet 0, "
          f"classes {class_entropy(judge(x_test)):.2f})")


if __name__ == "__main__":
    main()
