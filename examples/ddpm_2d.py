"""DDPM on the 2-D sets: train the MLP denoiser, watch x_T -> x_0, and measure how close the samples are.

The script trains ``minigen train ddpm`` on each dataset, draws 2,000 samples with ancestral sampling
(all T steps) and with 50-step DDIM, and compares each sample set with 2,000 held-out points by the
energy distance (minigen.metrics.distances; 0 for a perfect model, up to noise), next to two references: a
second sample of the data itself (the noise floor) and the Gaussian with the data's mean and covariance
(what a model must beat). It writes into --out:

    ddpm-DATASET/                the run folder (config.json, metrics.jsonl, checkpoint.npz, samples.png)
    DATASET-trajectory.png       the reverse process, x_T (pure noise) to x_0, in 8 snapshots
    DATASET-samples.png          ancestral samples over the held-out data
    results.json                 every number printed

    python examples/ddpm_2d.py --quick                          # moons, about a minute
    python examples/ddpm_2d.py --datasets moons,8gaussians      # docs/diffusion.md's numbers
"""
import argparse
import json
import os
import time

import numpy as np

import minigen as mg
from minigen import viz
from minigen.metrics import distances
from minigen.training import train
from minigen.training import load_split


def trajectory_frames(recipe, n, T, count=8):
    """Samples of the ancestral sampler at ``count`` evenly spaced steps from t = T down to t = 0."""
    keep_at = set(np.linspace(T, 0, count).round().astype(int).tolist())
    frames, titles = [], []

    def keep(t, x_t):
        if t in keep_at:
            frames.append(x_t.numpy())
            titles.append(f"t = {t}")
    recipe.sample(n, callback=keep)
    return frames, titles


def run_dataset(dataset, steps, timesteps, out):
    folder = os.path.join(out, f"ddpm-{dataset}")
    started = time.perf_counter()
    run = train("ddpm", dataset, out=folder, steps=steps, options={"timesteps": timesteps, "batch_size": 256},
                resume=os.path.exists(os.path.join(folder, "checkpoint.npz")))
    train_seconds = time.perf_counter() - started
    x_train, _ = load_split(dataset, "train")
    x_test, _ = load_split(dataset, "test")
    held_out = x_test[:2000]
    results = {"dataset": dataset, "train_steps": run.step, "timesteps": timesteps,
               "train_seconds_incl_figure": round(train_seconds, 1)}
    for name, steps_ in (("ancestral", None), ("ddim50", 50)):
        mg.manual_seed(1)
        started = time.perf_counter()
        samples = run.recipe.sample(2000, steps=steps_)
        results[f"{name}_seconds_for_2000"] = round(time.perf_counter() - started, 2)
        results[f"energy_{name}"] = distances.energy_distance(samples, held_out)
        if name == "ancestral":
            viz.scatter_2d(samples, os.path.join(out, f"{dataset}-samples.png"), reference=held_out,
                           title=f"DDPM on {dataset}: ancestral samples (T = {timesteps}) over held-out data")
    gaussian = distances.gaussian_fit_samples(x_train, 2000, np.random.default_rng(0))
    results["energy_gaussian_fit"] = distances.energy_distance(gaussian, held_out)
    results["energy_data_vs_data"] = distances.energy_distance(x_train[:2000], held_out)
    mg.manual_seed(2)
    frames, titles = trajectory_frames(run.recipe, 1000, timesteps)
    viz.trajectory(frames, os.path.join(out, f"{dataset}-trajectory.png"), titles=titles)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="moons", help="comma-separated 2-D sets (default moons)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    parser.add_argument("--timesteps", type=int, default=1000, help="diffusion steps T (default 1000)")
    parser.add_argument("--quick", action="store_true", help="500 training steps and T = 100")
    parser.add_argument("--out", default="runs/ddpm-2d")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.timesteps = 500, 100
    os.makedirs(args.out, exist_ok=True)
    results = [run_dataset(name, args.steps, args.timesteps, args.out) for name in args.datasets.split(",")]
    for r in results:
        print(f"{r['dataset']:12s} energy distance to held-out data: ancestral {r['energy_ancestral']:.4f}, "
              f"DDIM-50 {r['energy_ddim50']:.4f}, Gaussian fit {r['energy_gaussian_fit']:.4f}, "
              f"data itself {r['energy_data_vs_data']:.4f}")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"figures and results.json in {args.out}")


if __name__ == "__main__":
    main()
