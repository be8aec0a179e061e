"""Mode collapse, made visible and measured: the GAN and WGAN-GP on a 2-D Gaussian mixture.

For each model and seed the script trains in a few chunks (each chunk resumes the previous one's
checkpoint, so the run is the same as an uninterrupted one), draws the samples after each chunk,
and finally evaluates the mode metrics of minigen.metrics.modes (modes captured out of K, share of
high-quality samples). It writes into --out:

    MODEL-seedS/               the run folder (config.json, metrics.jsonl, checkpoint.npz, samples.png)
    MODEL-seedS-training.png   samples over training, one panel per chunk
    MODEL-seedS-curves.png     d_loss, g_loss, D(x), D(G(z)) (and the gradient penalty for WGAN-GP)
    results.json               the metrics of every run, also printed as a table

and copies the first seed's two figures into --img (docs/img, the GAN page's figures) as
gan_DATASET_MODEL_training.png and gan_DATASET_MODEL_curves.png (--img "" to skip).

    python examples/gan_2d.py --quick                                     # about a minute
    python examples/gan_2d.py --dataset 25gaussians --seeds 0,1,2         # docs/gan.md's numbers
    python examples/gan_2d.py --models gan --generator-loss minimax        # the paper's saturating loss
"""
import argparse
import json
import os
import shutil

import minigen as mg
from minigen import data, viz
from minigen.training import train

# A CPU budget of a few thousand steps: both models use Adam(1e-3, betas (0.5, 0.9)) here, faster
# than WGAN-GP's paper default (1e-4, betas (0, 0.9)), which needs tens of thousands of steps.
OPTIONS = {"gan": {"hidden": 128, "lr": 1e-3, "betas": [0.5, 0.9]},
           "wgan-gp": {"hidden": 128, "lr": 1e-3, "betas": [0.5, 0.9]}}
CURVES = {"gan": ["d_loss", "g_loss", "d_real", "d_fake"],
          "wgan-gp": ["d_loss", "wasserstein", "gp", "d_real", "d_fake"]}


def run_one(model, dataset, seed, steps, chunks, out, options):
    folder = os.path.join(out, f"{model}-seed{seed}")
    frames, titles, run = [], [], None
    for chunk in range(1, chunks + 1):
        run = train(model, dataset, out=folder, steps=steps * chunk // chunks, seed=seed,
                    resume=chunk > 1, options=options, log_every=20)
        mg.manual_seed(seed)
        frames.append(run.recipe.sample(1000))
        titles.append(f"step {run.step}")
    viz.trajectory(frames, os.path.join(out, f"{model}-seed{seed}-training.png"), titles=titles)
    curves = os.path.join(out, f"{model}-seed{seed}-curves.png")
    viz.loss_curves(os.path.join(folder, "metrics.jsonl"), curves, keys=CURVES[model], smooth=5,
                    title=f"{model} on {dataset}, seed {seed}")
    x_test, _ = data.load(dataset, split="test")
    mg.manual_seed(seed)
    return run.recipe.evaluate(x_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="8gaussians", choices=["8gaussians", "25gaussians"])
    parser.add_argument("--models", default="gan,wgan-gp")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--chunks", type=int, default=5, help="sample snapshots over training")
    parser.add_argument("--generator-loss", default="nonsaturating", choices=["nonsaturating", "minimax"],
                        help="the GAN's generator loss (gan.py)")
    parser.add_argument("--quick", action="store_true", help="600 steps, 3 snapshots")
    parser.add_argument("--out", default=os.path.join("runs", "gan-2d"))
    parser.add_argument("--img", default=os.path.join("docs", "img"),
                        help="where the first seed's figures are copied for the docs ('' to skip)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.chunks = 600, 3
    out = os.path.join(args.out, args.dataset)
    if args.generator_loss != "nonsaturating":
        OPTIONS["gan"]["generator_loss"] = args.generator_loss
        out += f"-{args.generator_loss}"
    os.makedirs(out, exist_ok=True)

    results = []
    for model in args.models.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            metrics = run_one(model, args.dataset, seed, args.steps, args.chunks, out, OPTIONS[model])
            results.append({"model": model, "dataset": args.dataset, "seed": seed, "steps": args.steps,
                            **metrics})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if args.img:
        os.makedirs(args.img, exist_ok=True)
        first = args.seeds.split(",")[0]
        tag = os.path.basename(out).replace("-", "_")
        for model in args.models.split(","):
            for kind in ("training", "curves"):
                shutil.copyfile(os.path.join(out, f"{model}-seed{first}-{kind}.png"),
                                os.path.join(args.img, f"gan_{tag}_{model.replace('-', '_')}_{kind}.png"))
    print(f"\n{'model':<8} {'seed':>4} {'modes':>7} {'high-quality':>13}")
    for r in results:
        print(f"{r['model']:<8} {r['seed']:>4} {r['modes_captured']:>3}/{r['num_modes']:<3} "
              f"{r['high_quality_share']:>13.3f}")
    print(f"figures and results.json in {out}")


if __name__ == "__main__":
    main()
