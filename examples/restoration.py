"""Inverse problems across families: inpaint, super-resolve and denoise the same test images with a DDPM, a
flow, a VAE and a GAN, and score each restoration by its PSNR against the truth.

Every family goes through one call, ``minigen.restore.restore(recipe, y, task, ...)`` (the same as
``minigen restore DIR --task ...``):

    ddpm              the guided reverse process: known pixels put back (noised) after every step;
                      the noisy image entered at the step whose noise level matches; for
                      super-resolution every x_s projected onto {A x = y_s} (ILVR). One restoration
                      is a draw from p(x | y); the table also scores the mean of several draws
    realnvp, vae,     MAP in the latent space, z* = argmin ||A(g(z)) - y||^2 / (2 sigma^2) + ||z||^2 / 2,
    dcgan             x* = g(z*), with g the flow's inverse, the VAE decoder's mean, the GAN generator

The corruptions (the same images and the same draws for every family):

    inpaint    the centre square of half the side missing (PSNR over all pixels, and over the missing ones)
    superres   f x f block means (f = 2: 8x8 -> 4x4 digits)
    denoise    Gaussian noise, sigma = 0.2 on [0, 1] pixels

"corrupted input" is the observation itself, lifted to an image by A^+ (missing pixels 0, blocks repeated)
and clipped to [0, 1]. The figure: per task, rows truth / corrupted / each family.

    python examples/restoration.py --quick --runs runs     # digits; trains into runs/ once, then reuses
    python examples/restoration.py --runs runs             # mnist-5k (longer training)
"""
import argparse
import os
import sys

import numpy as np

import minigen as mg
from minigen import data, restore, training, viz
from minigen.metrics.psnr import psnr, summary

# (steps, options) per family: --quick (digits) and the default (mnist-5k)
TRAINING = {
    "digits": {"ddpm": (2500, {"channels": 16, "channel_mults": [1, 2], "batch_size": 64}),
               "realnvp": (800, {"batch_size": 64}), "vae": (2000, {}), "dcgan": (2000, {})},
    "mnist-5k": {"ddpm": (6000, {"channels": 32, "channel_mults": [1, 2, 2], "batch_size": 64}),
                 "realnvp": (4000, {"batch_size": 64}), "vae": (6000, {"arch": "conv", "latent_dim": 32}),
                 "dcgan": (6000, {})},
}


def trained(model, dataset, runs):
    """The Recipe in runs/MODEL-DATASET, trained there first if the folder has no checkpoint."""
    out = os.path.join(runs, f"{model}-{dataset}")
    if not os.path.exists(os.path.join(out, training.CHECKPOINT)):
        steps, options = TRAINING[dataset][model]
        training.train(model, dataset, out=out, steps=steps, options=options, seed=0)
    return training.load_run(out).recipe


def lifted(task_options, task, y):
    """A^+ y clipped to [0, 1]: the corrupted input shown as an image."""
    operator = restore.make_operator(task, **task_options)
    with mg.no_grad():
        return np.clip(operator.pinv(mg.tensor(y)).numpy(), 0.0, 1.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="default mnist-5k (digits with --quick)")
    parser.add_argument("--quick", action="store_true", help="the 8x8 digits")
    parser.add_argument("--models", default="ddpm,realnvp,vae,dcgan")
    parser.add_argument("--runs", default="runs", help="folder of run folders MODEL-DATASET (reused if there)")
    parser.add_argument("--n", type=int, default=16, help="test images (default 16)")
    parser.add_argument("--factor", type=int, default=2, help="super-resolution factor (default 2)")
    parser.add_argument("--noise-std", type=float, default=0.2, help="denoising: noise level (default 0.2)")
    parser.add_argument("--ddpm-steps", type=int, default=100,
                        help="DDIM steps for ddpm (default 100; 0: ancestral sampling over all T steps)")
    parser.add_argument("--ddpm-draws", type=int, default=4,
                        help="also score the mean of this many ddpm restorations (default 4; 0: not)")
    parser.add_argument("--latent-steps", type=int, default=300, help="Adam steps on z (default 300)")
    parser.add_argument("--restarts", type=int, default=4, help="starting points per image (default 4)")
    parser.add_argument("--figure", help="write the image grid here (e.g. docs/img/restoration.png)")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or ("digits" if args.quick else "mnist-5k")
    models = args.models.split(",")
    x_test, _ = data.load(args.dataset, split="test")
    x = x_test[:args.n]
    image_shape = x.shape[1:]
    mask = restore.make_mask("center", image_shape)
    tasks = {"inpaint": {"mask": mask}, "superres": {"factor": args.factor},
             "denoise": {"noise_std": args.noise_std}}
    observed = {task: restore.corrupt(x, restore.make_operator(task, **opts), seed=1) for task, opts in tasks.items()}

    rows = {"corrupted input": {task: lifted(opts, task, observed[task]) for task, opts in tasks.items()}}
    for model in models:
        recipe = trained(model, args.dataset, args.runs)
        steps = (args.ddpm_steps or None) if model == "ddpm" else args.latent_steps
        restarts = None if model == "ddpm" else args.restarts
        rows[model] = {}
        for task, opts in tasks.items():
            rows[model][task] = restore.restore(recipe, observed[task], task, steps=steps,
                                                restarts=restarts, seed=0, **opts)
            print(f"{model} {task}: PSNR {summary(psnr(x, rows[model][task]))} dB", file=sys.stderr, flush=True)
        if model == "ddpm" and args.ddpm_draws > 1:
            # a DDPM restoration is a draw from p(x | y); the mean of several estimates E[x | y], the
            # PSNR-optimal answer (the latent families return one MAP point instead)
            averaged = f"ddpm, mean of {args.ddpm_draws} draws"
            rows[averaged] = {task: np.mean([restore.restore(recipe, observed[task], task, steps=steps, seed=seed,
                                                             **opts) for seed in range(args.ddpm_draws)], axis=0)
                              for task, opts in tasks.items()}

    missing = 1 - mask
    columns = ["inpaint", "inpaint (missing pixels)", "superres", "denoise"]
    print(f"\nPSNR in dB against the truth (mean ± std over {args.n} {args.dataset} test images); inpaint: "
          f"centre square missing; superres: {args.factor}x{args.factor} block means; denoise: sigma = "
          f"{args.noise_std}; ddpm: {'DDIM %d steps' % args.ddpm_steps if args.ddpm_steps else 'ancestral, all T'}; "
          f"latent families: {args.latent_steps} Adam steps, {args.restarts} restarts\n")
    print("| | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, restored in rows.items():
        cells = [summary(psnr(x, restored["inpaint"])), summary(psnr(x, restored["inpaint"], region=missing)),
                 summary(psnr(x, restored["superres"])), summary(psnr(x, restored["denoise"]))]
        print(f"| {name} | " + " | ".join(cells) + " |")

    if args.figure:
        shown = min(args.n, 8)
        images, labels = [x[:shown]], ["truth"] + [""] * (shown - 1)
        for task in tasks:
            for name in [name for name in rows if "mean of" not in name]:
                images.append(rows[name][task][:shown])
                tag = f"{task}: corrupted" if name == "corrupted input" else name
                labels += [tag] + [""] * (shown - 1)
        viz.image_grid(np.concatenate(images), args.figure, nrow=shown, labels=labels,
                       title=f"restoration on {args.dataset}: truth, then per task the input and each family")
        print(f"\nfigure: {args.figure}", file=sys.stderr)


if __name__ == "__main__":
    main()
