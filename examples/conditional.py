"""Conditional generation beyond class labels, measured: image -> image with pix2pix and the
image-conditional DDPM beside the unconditional restorations of ``minigen restore`` on the same inputs,
and text -> image with the text-conditional DDPM, with and without guidance.

Image -> image, on the paired sets edges2B, lowres2B, masked2B (B = digits with --quick, else
mnist-5k), each scored on the same test pairs by PSNR and SSIM against the truth and by the share of
outputs an independent CNN (trained on B's real training images) puts in the true digit's class:

    pix2pix           G(x), one output per condition
    ddpm-img2img      one draw from p(y | x), DDIM 50 steps
    restore: ddpm     the unconditional DDPM on B, guided by the observation (minigen restore): the
                      low-resolution digit through super-resolution (ILVR), the masked digit through
                      inpainting with its own mask; DDIM 50 steps
    restore: vae      MAP in the latent space of a VAE on B (300 Adam steps, 4 restarts)
    input             the condition itself as an image: the low-resolution digit upsampled, the
                      masked digit with its hole black (no model)

Text -> image: ``minigen eval`` of the text-conditional DDPM (agreement with the named digit, the ink
gap of "thick" minus "thin" prompts, the slant gap of "right" minus "left"), and with --quick also the
same model with a bag-of-words text encoder (text_layers 0). Figures: per task, conditions and
outputs; and a grid of prompts x samples without and with guidance.

    python examples/conditional.py --quick --runs runs --figures docs/img     # digits, about 30 min on 2 cores
    python examples/conditional.py --runs runs --figures docs/img             # mnist-5k, several hours on 2 cores
    python examples/conditional.py --only image --models pix2pix              # a part: pix2pix beside the restorations

Runs are trained into runs/MODEL-DATASET[-TAG] once and reused; a run whose checkpoint stops short of
its budget (a killed run) is resumed.
"""
import argparse
import os
import sys
import time

import numpy as np

import minigen as mg
from minigen import data, restore, training
from minigen.data import captions, paired
from minigen.metrics.conditional import translation_scores
from minigen.models.classifier import reference_classifier
from minigen.models.translation import JUDGE
from minigen.training.config import read_run_header

# (model, dataset, tag) -> (steps, options), per base set; None as dataset: the base set itself
TRAINING = {
    "digits": {"pix2pix": (660, {}),
               "ddpm-img2img": (1500, {"channels": 16, "channel_mults": [1, 2]}),
               "ddpm-txt2img": (2500, {"channels": 16, "channel_mults": [1, 2]}),
               "ddpm-txt2img-bow": (2500, {"channels": 16, "channel_mults": [1, 2], "text_layers": 0}),
               "ddpm": (2500, {"channels": 16, "channel_mults": [1, 2], "batch_size": 64}),
               "vae": (2000, {})},
    "mnist-5k": {"pix2pix": (930, {}),
                 "ddpm-img2img": (2000, {}),
                 "ddpm-txt2img": (4000, {}),
                 "ddpm": (3000, {"batch_size": 64}),
                 "vae": (3000, {"arch": "conv", "latent_dim": 32})},
}
TRANSLATORS = ("pix2pix", "ddpm-img2img")
PROMPTS = ["a thick seven", "a thin seven", "7, slanted to the left", "7, slanted to the right",
           "a thin slanted four", "a thick upright four", "a wide two", "a narrow two", "the digit eight",
           "an upright one"]


def log(message):
    print(message, file=sys.stderr, flush=True)


def trained(key, dataset, base, runs):
    """The Recipe in runs/NAME, trained there first: from scratch if it has no checkpoint, resumed
    (bit for bit the same run) if its checkpoint stops short of the budget, as a killed run's does."""
    model, _, tag = key.partition("-bow")
    steps, options = TRAINING[base][key]
    out = os.path.join(runs, f"{key}-{dataset}")
    checkpoint = os.path.join(out, training.CHECKPOINT)
    done = read_run_header(checkpoint)["step"] if os.path.exists(checkpoint) else None
    if done is None or done < steps:
        log(f"training {key} on {dataset} for {steps} steps -> {out}"
            + (f" (resumed at step {done})" if done is not None else ""))
        t0 = time.perf_counter()
        training.train(model, dataset, out=out, steps=steps, options=options, seed=0, resume=done is not None)
        log(f"  {time.perf_counter() - t0:.0f} s")
    return training.load_run(out).recipe


def restored(recipe, task, x, factor):
    """minigen restore's answer for the conditions x of ``task`` (lowres: superres; masked: inpaint,
    one call per distinct mask)."""
    steps = 50 if recipe.name == "ddpm" else None
    if task == "lowres":
        return restore.restore(recipe, x, "superres", factor=factor, steps=steps, seed=0)
    out = np.zeros((len(x), *recipe.info.shape), np.float32)
    masks = x[:, 1:]
    for mask in np.unique(masks, axis=0):
        same = (masks == mask).all(axis=(1, 2, 3))
        out[same] = restore.restore(recipe, x[same, :1], "inpaint", mask=mask, steps=steps, seed=0)
    return out


def as_input(task, x, shape):
    """The condition shown as an image: no model."""
    if task == "lowres":
        return paired.preview(x, shape)
    if task == "masked":
        return x[:, :1]
    return None


def image_to_image(base, runs, n, figures, models=TRANSLATORS):
    factor = paired.BASES[base]
    classify = reference_classifier(base, mg.device("cpu"), steps=JUDGE["steps"], arch=JUDGE["arch"])
    priors = {name: trained(name, base, base, runs) for name in ("ddpm", "vae")}
    rows, shown = [], {}
    for task in paired.TASKS:
        dataset = f"{task}2{base}"
        x, y = data.load(dataset, "test")
        x, y = x[:n], y[:n]
        digits = paired.target_digits(base, y)
        outputs = {}
        for key in models:
            recipe = trained(key, dataset, base, runs)
            mg.manual_seed(0)
            t0 = time.perf_counter()
            outputs[key] = np.concatenate([recipe.sample(len(x[i:i + 250]), condition=x[i:i + 250],
                                                         **({"steps": 50} if key != "pix2pix" else {}))
                                           for i in range(0, len(x), 250)])
            log(f"{key} {dataset}: {time.perf_counter() - t0:.0f} s")
        if task != "edges":
            for name, recipe in priors.items():
                t0 = time.perf_counter()
                outputs[f"restore: {name}"] = restored(recipe, task, x, factor)
                log(f"restore {name} {dataset}: {time.perf_counter() - t0:.0f} s")
            outputs["input"] = as_input(task, x, y.shape[1:])
        for name, y_hat in outputs.items():
            scores = translation_scores(y, y_hat, digits, classify)
            rows.append((dataset, name, scores))
        shown[dataset] = (x, y, outputs)
    print(f"\nImage -> image on the first {n} test pairs of each {base} task (judge: CNN, accuracy on the "
          f"true targets {rows[0][2]['truth_agreement']:.3f})\n")
    print("| task | model | PSNR (dB) | SSIM | digit agreement |")
    print("|---|---|---|---|---|")
    for dataset, name, scores in rows:
        print(f"| {dataset} | {name} | {scores['psnr']:.2f} | {scores['ssim']:.3f} | {scores['digit_agreement']:.3f} |")
    if figures:
        translation_figure(shown, os.path.join(figures, f"conditional-{base}-translations.png"))


def translation_figure(shown, path, columns=8):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    blocks = []
    for dataset, (x, y, outputs) in shown.items():
        blocks.append((f"{dataset}: condition", paired.preview(x[:columns], y.shape[1:])))
        blocks += [(name, images[:columns]) for name, images in outputs.items() if name != "input"]
        blocks.append(("truth", y[:columns]))
    label_width, strip_width = 3.0, columns * 0.8                  # inches: room for "masked2mnist-5k: condition"
    fig, axes = plt.subplots(len(blocks), 1, figsize=(label_width + strip_width + 0.1, len(blocks) * 0.85))
    fig.subplots_adjust(left=label_width / (label_width + strip_width + 0.1), right=0.99, top=0.995, bottom=0.005,
                        hspace=0.08)
    for ax, (name, images) in zip(axes, blocks):
        ax.imshow(np.concatenate(list(images[:, 0]), axis=1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log(f"figure: {path}")


def text_to_image(base, runs, figures):
    dataset = f"captioned-{base}"
    keys = ["ddpm-txt2img"] + (["ddpm-txt2img-bow"] if "ddpm-txt2img-bow" in TRAINING[base] else [])
    x, y = data.load(dataset, "test")
    print(f"\nText -> image on {dataset}: {TRAINING[base]['ddpm-txt2img'][0]} training steps; eval draws 20 "
          "samples per prompt and digit (DDIM 50 steps), w = 0 and w = 3, the same noise\n")
    print("| text encoder | w | digit agreement | ink gap (thick - thin) | digits in order | slant gap (right - left) | digits in order |")
    print("|---|---|---|---|---|---|---|")
    for key in keys:
        recipe = trained(key, dataset, base, runs)
        t0 = time.perf_counter()
        m = recipe.evaluate(x, y)
        log(f"eval {key}: {time.perf_counter() - t0:.0f} s")
        encoder = "bag of words (text_layers 0)" if key.endswith("bow") else f"attention ({recipe.config['text_layers']} layer)"
        for suffix, w in (("", 0.0), ("_guided", m["guidance"])):
            print(f"| {encoder} | {w:g} | {m['agreement' + suffix]:.3f} | {m['ink_gap' + suffix]:+.4f} | "
                  f"{m['ink_order' + suffix]:.1f} | {m['slant_gap' + suffix]:+.3f} | {m['slant_order' + suffix]:.1f} |")
    print(f"| (real test images, grouped by their captions) | | | {m['data_ink_gap']:+.4f} | | {m['data_slant_gap']:+.3f} | |")
    if figures:
        prompt_figure(trained("ddpm-txt2img", dataset, base, runs),
                      os.path.join(figures, f"conditional-{base}-prompts.png"))


def prompt_figure(recipe, path, per_prompt=8, guidance=(0.0, 3.0)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    texts = [p for p in PROMPTS for _ in range(per_prompt)]
    panels = []
    for w in guidance:
        mg.manual_seed(0)                                 # the same noise for both panels
        panels.append(recipe.sample(len(texts), condition=texts, steps=50, guidance=w))
    label_width, strip_width = 2.2, per_prompt * 0.7                # inches
    width = label_width + len(guidance) * (strip_width + 0.15)
    fig, axes = plt.subplots(len(PROMPTS), len(guidance), figsize=(width, len(PROMPTS) * 0.75 + 0.3))
    fig.subplots_adjust(left=label_width / width, right=0.995, top=1 - 0.3 / (len(PROMPTS) * 0.75 + 0.3),
                        bottom=0.005, hspace=0.1, wspace=0.04)
    for column, (w, images) in enumerate(zip(guidance, panels)):
        for row, prompt in enumerate(PROMPTS):
            ax = axes[row, column]
            strip = images[row * per_prompt:(row + 1) * per_prompt, 0]
            ax.imshow(np.concatenate(list(strip), axis=1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(f'"{prompt}"', rotation=0, ha="right", va="center", fontsize=8)
            if row == 0:
                ax.set_title(f"guidance w = {w:g}", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log(f"figure: {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 8x8 digits (default: mnist-5k)")
    parser.add_argument("--runs", default="runs", help="folder of run folders (reused if there)")
    parser.add_argument("--n", type=int, help="test pairs per task (default: all 360 digits, 200 mnist-5k)")
    parser.add_argument("--figures", help="write the figures into this folder (e.g. docs/img)")
    parser.add_argument("--only", choices=("image", "text"), help="one half only")
    parser.add_argument("--models", default=",".join(TRANSLATORS),
                        help="the conditional image -> image models to train and score, beside the "
                             "restorations (default: %(default)s)")
    args = parser.parse_args(argv)
    models = tuple(name for name in args.models.split(",") if name)
    unknown = sorted(set(models) - set(TRANSLATORS))
    if unknown or not models:
        parser.error(f"--models: expected a comma-separated subset of {','.join(TRANSLATORS)}, got {args.models!r}")
    base = "digits" if args.quick else "mnist-5k"
    n = args.n or (360 if args.quick else 200)
    if args.only != "text":
        image_to_image(base, args.runs, n, args.figures, models)
    if args.only != "image":
        text_to_image(base, args.runs, args.figures)


if __name__ == "__main__":
    main()
