"""Anomaly detection with generative models: train on every digit but one, then ask each model how
unusual the held-out digit looks.

Each family scores a test image x by its natural measure of "unlikely" (higher = more anomalous):

    ae       reconstruction error          ||x - decode(encode(x))||^2
    vae      negative ELBO (nats)          -E_q[log p(x|z)] + KL(q(z|x) || p(z)) on the binarised image
    realnvp  exact NLL (nats)              -log p(x) of the dequantised image

and the AUROC of "held-out digit" against "the nine normal digits" on the test split is reported per
held-out class (1 = every anomaly scored above every normal digit, 0.5 = chance).

The known failure of likelihoods (Nalisnick et al. 2019, "Do deep generative models know what they
don't know?"): inputs that are *simpler* than the training data can be rated *more* likely. Here, the
same models also score two out-of-distribution sets built from the test digits: inverted images
(1 - x), and nearly blank images (x scaled by 0.1, rounded to the grey levels) -- an AUROC below 0.5 means the model finds them
more likely than real digits.

    python examples/anomaly_detection.py --quick        # digits, held-out 0, 1, 4, 7; a few minutes
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minigen as mg  # noqa: E402
from minigen import data  # noqa: E402
from minigen.eval.anomaly import auroc  # noqa: E402
from minigen.eval.latent import intensity_levels  # noqa: E402
from _subset_training import train_recipe  # noqa: E402


def score(name, recipe, x):
    """Per-image anomaly score (N,) of NumPy images x."""
    with mg.no_grad():
        if name == "ae":
            return ((recipe.reconstruct(x) - x) ** 2).reshape(len(x), -1).sum(1)
        if name == "vae":
            x_obs = mg.tensor(recipe.observe(x, seed=0), device=recipe.device)
            return -recipe.model.elbo(x_obs)["elbo"].numpy()
        if name == "realnvp":
            return recipe.nll_nats(recipe.log_prob(recipe.to_flow_space(mg.tensor(x), seed=0).numpy())).numpy()
    raise ValueError(f"score: no anomaly score for {name!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="default mnist-5k (digits with --quick)")
    parser.add_argument("--classes", help="held-out classes (default all ten; 0,1,4,7 with --quick)")
    parser.add_argument("--models", default="ae,vae,realnvp")
    parser.add_argument("--steps", type=int, help="training steps per model (default 3000; 800 with --quick)")
    parser.add_argument("--quick", action="store_true", help="digits, held-out 0,1,4,7, 800 steps")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or ("digits" if args.quick else "mnist-5k")
    args.classes = args.classes or ("0,1,4,7" if args.quick else "0,1,2,3,4,5,6,7,8,9")
    args.steps = args.steps or (800 if args.quick else 3000)
    x_train, y_train = data.load(args.dataset, split="train")
    x_test, y_test = data.load(args.dataset, split="test")
    models = args.models.split(",")
    levels = intensity_levels(args.dataset)
    near_blank = lambda x: np.round(0.1 * x * (levels - 1)) / (levels - 1)   # noqa: E731  (on the pixel grid)
    held_out_rows, ood_rows = [], {m: {"inverted": [], "near-blank": []} for m in models}
    for k in [int(c) for c in args.classes.split(",")]:
        normal_train = x_train[y_train != k]
        normal, anomalous = x_test[y_test != k], x_test[y_test == k]
        row = []
        for name in models:
            recipe = train_recipe(name, args.dataset, normal_train, y_train[y_train != k], args.steps, seed=0)
            normal_scores = score(name, recipe, normal)
            row.append(auroc(normal_scores, score(name, recipe, anomalous)))
            ood_rows[name]["inverted"].append(auroc(normal_scores, score(name, recipe, 1.0 - normal)))
            ood_rows[name]["near-blank"].append(auroc(normal_scores, score(name, recipe, near_blank(normal))))
            print(f"held-out {k}, {name}: AUROC {row[-1]:.3f}", file=sys.stderr, flush=True)
        held_out_rows.append((k, row))
    print(f"\nAUROC of the held-out digit vs the other nine, {args.dataset} test split; each model trained "
          f"{args.steps} steps on the nine normal classes\n")
    print("| held-out digit | " + " | ".join(models) + " |")
    print("|---|" + "---|" * len(models))
    for k, row in held_out_rows:
        print(f"| {k} | " + " | ".join(f"{a:.3f}" for a in row) + " |")
    print("| mean | " + " | ".join(f"{np.mean([r[i] for _, r in held_out_rows]):.3f}"
                                    for i in range(len(models))) + " |")
    print("\nAUROC of out-of-distribution versions of the normal test digits vs the normal test digits "
          "(mean over the held-out-class runs above; < 0.5: the OOD images look *more* normal)\n")
    print("| OOD set | " + " | ".join(models) + " |")
    print("|---|" + "---|" * len(models))
    for ood in ("inverted", "near-blank"):
        print(f"| {ood} | " + " | ".join(f"{np.mean(ood_rows[m][ood]):.3f}" for m in models) + " |")


if __name__ == "__main__":
    main()
