"""DCGAN and the conditional GAN on the 8x8 digits (or 28x28 mnist-5k), in minutes on a CPU.

Writes into --out:

    dcgan/, cgan/            run folders (config.json, metrics.jsonl, checkpoint.npz, samples.png)
    dcgan-curves.png         d_loss, g_loss, D(x), D(G(z)) over training
    cgan-curves.png          the same, and D(x, wrong label): how strongly D rejects mismatched pairs
    dcgan-samples.png        64 samples
    cgan-per-class.png       one row per class: sample(n, label=k)
    results.json             D(x) and D(G(z)) on the test set; cGAN label accuracy, judged by a
                             logistic-regression classifier trained on the real training images

and copies the four figures into --img (docs/img, the GAN page's figures) as gan_DATASET_NAME.png
(--img "" to skip).

    python examples/gan_digits.py --quick             # a couple of minutes
    python examples/gan_digits.py --dataset mnist-5k --epochs 10
"""
import argparse
import json
import os
import shutil

import numpy as np

import minigen as mg
from minigen import data, viz
from minigen.training import train

CURVES = {"dcgan": ["d_loss", "g_loss", "d_real", "d_fake"],
          "cgan": ["d_loss", "g_loss", "d_real", "d_fake", "d_wrong_label"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist-5k", "mnist"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 epochs")
    parser.add_argument("--out", default=os.path.join("runs", "gan-digits"))
    parser.add_argument("--img", default=os.path.join("docs", "img"),
                        help="where the figures are copied for the docs ('' to skip)")
    args = parser.parse_args()
    epochs = 10 if args.quick else args.epochs
    out = os.path.join(args.out, args.dataset)
    os.makedirs(out, exist_ok=True)
    x_test, y_test = data.load(args.dataset, split="test")

    results = {}
    for model in ("dcgan", "cgan"):
        run = train(model, args.dataset, out=os.path.join(out, model), epochs=epochs, seed=args.seed,
                    log_every=10)
        viz.loss_curves(os.path.join(run.out, "metrics.jsonl"), os.path.join(out, f"{model}-curves.png"),
                        keys=CURVES[model], smooth=5, title=f"{model} on {args.dataset}")
        mg.manual_seed(args.seed)
        results[model] = run.recipe.evaluate(x_test, y_test)
        mg.manual_seed(args.seed)
        if model == "cgan":
            rows = np.concatenate([run.recipe.sample(10, label=k) for k in range(10)])
            viz.image_grid(rows, os.path.join(out, "cgan-per-class.png"), nrow=10,
                           title="cGAN: row k is sample(10, label=k)")
        else:
            viz.image_grid(run.recipe.sample(64), os.path.join(out, "dcgan-samples.png"), nrow=8,
                           title="DCGAN samples")
        print(model, json.dumps(results[model]))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if args.img:
        os.makedirs(args.img, exist_ok=True)
        tag = args.dataset.replace("-", "_")
        for name in ("dcgan-samples", "cgan-per-class", "dcgan-curves", "cgan-curves"):
            shutil.copyfile(os.path.join(out, f"{name}.png"),
                            os.path.join(args.img, f"gan_{tag}_{name.replace('-', '_')}.png"))
    print(f"cGAN label accuracy {results['cgan']['label_accuracy']:.3f} (chance 0.1); figures in {out}")


if __name__ == "__main__":
    main()
