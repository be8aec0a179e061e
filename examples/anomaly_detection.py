"""Anomaly detection with generative models: train on every digit but one, then ask each model how
unusual the held-out digit looks.

Each family scores a test image by its natural measure of "unlikely" (higher = more anomalous;
minigen.harnesses.anomaly, each family's Recipe.anomaly_scores):

    ae          reconstruction error          ||x - decode(encode(x))||^2
    vae         -IWAE_16 (nats)               a bound on -log p(x_b) of the binarised image
    realnvp     exact NLL (nats)              -log p(x) of the dequantised image (glow: the same)
    gan, dcgan  -logit of the discriminator   how fake the image looks to D
    ddpm        denoising error               ||eps - eps_theta(x_t, t)||^2 averaged over 10 fixed t
    ddpm-bound  the variational bound (nats)  L_T + L_0 + the sum over t by quadrature at the same 10 t

and the AUROC of "held-out digit" against "the nine normal digits" on the test split is reported per
held-out class (1 = every anomaly scored above every normal digit, 0.5 = chance).

The known failure of likelihoods (Nalisnick et al. 2019, "Do deep generative models know what they
don't know?"): inputs that are *simpler* than the training data can be rated *more* likely. The same
models therefore also score out-of-distribution (OOD) sets built from the normal test digits, or from
the other bundled digit set, put on the data's grey-level grid (OOD_SETS below). An AUROC below 0.5 means
the model finds the OOD images *more* normal than real digits.

A likelihood is not a typicality test: in many dimensions the images a model *generates* have an NLL
close to its mean on the training data, and images far *below* it (too likely) are as atypical as images
far above it. The last table turns every score into the two-sided "typicality" score
|s(x) - mean of s over training images| (Nalisnick et al. 2019b), which flags both.

    python examples/anomaly_detection.py --quick        # digits, held-out 0, 1, 4, 7, 800 steps
    python examples/anomaly_detection.py --classes 1,7 --steps 1500 --models ae,vae,gan   # mnist-5k
    python examples/anomaly_detection.py --classes 1 --steps 1500 --models ae,vae,gan \
        --figure docs/img/anomaly-mnist-scores.png      # score histograms of the first held-out class
"""
import argparse
import os
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from minigen import data  # noqa: E402
from minigen.data import pixels  # noqa: E402
from minigen.harnesses.anomaly import all_scores, family_of, score_families  # noqa: E402
from minigen.metrics.auroc import auroc  # noqa: E402
from _subset_training import train_recipe  # noqa: E402

# smaller networks / batches than the families' defaults, so that a --quick run takes minutes on a CPU
OPTIONS = {"realnvp": {"batch_size": 64, "conv_channels": 32}, "glow": {"batch_size": 64, "hidden": 32},
           "ddpm": {"batch_size": 64}}


# ------------------------------------------------------------------------------ out-of-distribution sets
def other_digit_set(dataset, shape):
    """The test images of the *other* bundled digit set at this one's resolution: mnist-5k pooled to
    8x8 for digits (padded to 32x32, then each 4x4 block averaged, the way the 8x8 digits were made from
    32x32 bitmaps), or the 8x8 digits upsampled (bilinear) to 28x28 for the MNIST sets."""
    if dataset == "digits":
        x, _ = data.load("mnist-5k", split="test")
        x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
        return x.reshape(len(x), 1, 8, 4, 8, 4).mean(axis=(3, 5))
    x, _ = data.load("digits", split="test")
    side = shape[-1]
    up = ndimage.zoom(x, (1, 1, (side + 4) / 8, (side + 4) / 8), order=1)     # 8 -> side + 4, then crop
    return np.clip(up[:, :, 2:side + 2, 2:side + 2], 0.0, 1.0)


def shrink(x):
    """The digit at half size (2x2 blocks averaged) in the centre of a blank image."""
    n, c, h, w = x.shape
    small = x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))
    out = np.zeros_like(x)
    out[:, :, h // 4:h // 4 + h // 2, w // 4:w // 4 + w // 2] = small
    return out


OOD_SETS = {
    "inverted (1 - x)": lambda x, rng: 1.0 - x,
    "near-blank (0.1 x)": lambda x, rng: 0.1 * x,
    "blank (all 0)": lambda x, rng: np.zeros_like(x),
    "blurred (3x3 box)": lambda x, rng: ndimage.uniform_filter(x, size=(1, 1, 3, 3), mode="constant"),
    "shrunk (half size, centred)": lambda x, rng: shrink(x),
    "flipped left-right": lambda x, rng: x[..., ::-1],
    "noise (uniform)": lambda x, rng: rng.random(x.shape),
    "noise (dim, 0.25 x uniform)": lambda x, rng: 0.25 * rng.random(x.shape),
}


def ood_sets(dataset, x_normal, seed=0):
    """{name: images} for every OOD set, on the dataset's grey-level grid (as the real images are)."""
    levels = data.info(dataset).levels
    rng = np.random.default_rng(seed)
    sets = {name: make(x_normal, rng) for name, make in OOD_SETS.items()}
    sets["other digit set"] = other_digit_set(dataset, x_normal.shape)
    return {name: pixels.on_grid(np.clip(x, 0, 1), levels) for name, x in sets.items()}


# ------------------------------------------------------------------------------ scoring
def score_sets(scores, recipe, sets):
    """{score: {set name: (N,) scores}} for the scores of one trained family (all of a family's scores
    come from one pass: the DDPM's two share their network calls)."""
    by_set = {name: all_scores(recipe, x) for name, x in sets.items()}
    return {s: {name: by_set[name][s] for name in sets} for s in scores}


FIGURE_SETS = ("normal", "held-out", "shrunk (half size, centred)", "near-blank (0.1 x)")


def draw_histograms(by_score, path, title):
    """One panel per score: histograms of the normal test digits, the held-out digit and two OOD sets;
    the blank images (all alike) as a line at their median score."""
    from minigen.viz._common import new_figure, plot_style, save
    with plot_style():
        fig = new_figure(3.0 * len(by_score), 2.6)
        axes = fig.subplots(1, len(by_score), squeeze=False)[0]
        for ax, (score, by_set) in zip(axes, by_score.items()):
            blank = float(np.median(by_set["blank (all 0)"]))
            values = np.concatenate([by_set[name] for name in FIGURE_SETS] + [[blank]])
            low, high = np.percentile(values, [0.5, 99.5])
            bins = np.linspace(min(low, blank), max(high, blank) + 1e-9, 40)
            for name in FIGURE_SETS:
                ax.hist(np.clip(by_set[name], bins[0], bins[-1]), bins=bins, density=True, histtype="step",
                        linewidth=1.2, label=name)
            ax.axvline(blank, color="black", linestyle="--", linewidth=1.0, label="blank (all 0)")
            ax.set_title(score)
            ax.set_xlabel("anomaly score (higher = more anomalous)")
            ax.set_yticks([])
        axes[-1].legend(loc="best", fontsize=6)
        fig.suptitle(title)
        save(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="default mnist-5k (digits with --quick)")
    parser.add_argument("--classes", help="held-out classes (default all ten; 0,1,4,7 with --quick)")
    parser.add_argument("--models", default="ae,vae,realnvp,gan,dcgan,ddpm,ddpm-bound",
                        help="scores to compare (minigen.harnesses.anomaly.score_families())")
    parser.add_argument("--steps", type=int, help="training steps per model (default 3000; 800 with --quick)")
    parser.add_argument("--quick", action="store_true", help="digits, held-out 0,1,4,7, 800 steps")
    parser.add_argument("--figure", help="PNG: score histograms of the first held-out class's models")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or ("digits" if args.quick else "mnist-5k")
    args.classes = args.classes or ("0,1,4,7" if args.quick else "0,1,2,3,4,5,6,7,8,9")
    args.steps = args.steps or (800 if args.quick else 3000)
    scores = args.models.split(",")
    for s in scores:
        if s not in score_families():
            parser.error(f"unknown score {s!r}; expected any of {','.join(score_families())}")
    families = list(dict.fromkeys(family_of(s) for s in scores))
    x_train, y_train = data.load(args.dataset, split="train")
    x_test, y_test = data.load(args.dataset, split="test")

    held_out = {s: [] for s in scores}
    ood, typical = {s: {} for s in scores}, {s: {} for s in scores}
    first = {}                           # every score of every set, for the first held-out class
    classes = [int(c) for c in args.classes.split(",")]
    for k in classes:
        normal, anomalous = x_test[y_test != k], x_test[y_test == k]
        reference = x_train[y_train != k][:500]       # training images: the typical score
        sets = {"normal": normal, "held-out": anomalous, "train": reference,
                **ood_sets(args.dataset, normal, seed=k)}
        for family in families:
            recipe = train_recipe(family, args.dataset, x_train[y_train != k], y_train[y_train != k],
                                  args.steps, seed=0, options=OPTIONS.get(family))
            mine = [s for s in scores if family_of(s) == family]
            for s, by_set in score_sets(mine, recipe, sets).items():
                if k == classes[0]:
                    first[s] = by_set
                held_out[s].append(auroc(by_set["normal"], by_set["held-out"]))
                centre = by_set["train"].mean()
                for name in sets:
                    if name not in ("normal", "held-out", "train"):
                        ood[s].setdefault(name, []).append(auroc(by_set["normal"], by_set[name]))
                        typical[s].setdefault(name, []).append(
                            auroc(np.abs(by_set["normal"] - centre), np.abs(by_set[name] - centre)))
                print(f"held-out {k}, {s}: AUROC {held_out[s][-1]:.3f}", file=sys.stderr, flush=True)

    print(f"\nAUROC of the held-out digit vs the other nine, {args.dataset} test split; each model trained "
          f"{args.steps} steps on the nine normal classes\n")
    print("| held-out digit | " + " | ".join(scores) + " |")
    print("|---|" + "---|" * len(scores))
    for i, k in enumerate(classes):
        print(f"| {k} | " + " | ".join(f"{held_out[s][i]:.3f}" for s in scores) + " |")
    print("| mean | " + " | ".join(f"{np.mean(held_out[s]):.3f}" for s in scores) + " |")
    print(f"\nAUROC of out-of-distribution images vs the normal test digits (mean over the {len(classes)} "
          "held-out-class models above; < 0.5: the OOD images look *more* normal than real digits)\n")
    print("| OOD set | " + " | ".join(scores) + " |")
    print("|---|" + "---|" * len(scores))
    for name in ood[scores[0]]:
        print(f"| {name} | " + " | ".join(f"{np.mean(ood[s][name]):.3f}" for s in scores) + " |")
    print("\nThe same with the two-sided typicality score |s(x) - mean s(training images)|\n")
    print("| OOD set | " + " | ".join(scores) + " |")
    print("|---|" + "---|" * len(scores))
    for name in typical[scores[0]]:
        print(f"| {name} | " + " | ".join(f"{np.mean(typical[s][name]):.3f}" for s in scores) + " |")
    if args.figure:
        draw_histograms(first, args.figure, f"{args.dataset}: models trained without the digit {classes[0]}")


if __name__ == "__main__":
    main()
