"""DDPM on images: train a small U-Net, then sample, watch x_T -> x_0, inpaint, denoise, and measure.

    python examples/ddpm_digits.py --quick                        # digits, a few minutes on a CPU
    python examples/ddpm_digits.py --steps 4000                   # docs/diffusion.md's numbers
    python examples/ddpm_digits.py --dataset mnist-5k --steps 2500 --batch-size 32 --channel-mults 1,2,2

It trains ``minigen train ddpm`` (or resumes the run already in --out) and writes into --out:

    ddpm-DATASET/              the run folder (config.json, metrics.jsonl, checkpoint.npz, samples.png)
    samples-ddim50.png         64 samples, 50-step DDIM (eta = 0)
    samples-ancestral.png      16 samples, ancestral sampling over all T steps
    trajectory.png             8 samples from x_T (noise) to x_0, ancestral
    inpainting.png             rows: test images, the known half (unknown in grey), the model's completion
    denoising.png              rows: test images, with N(0, 0.3^2) noise (in [-1, 1] units), denoised
                               (both with 100-step DDIM by default, --inverse-steps)
    results.json               the numbers: time per epoch and per sample (1000-step ancestral vs 50-step
                               DDIM), the bound in bits/dim, and how confidently a classifier trained on
                               the real images recognises the samples
"""
import argparse
import json
import os
import time

import numpy as np

import minigen as mg
from minigen import diffusion, viz
from minigen.training import train
from minigen.training import load_split


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def seconds_per_epoch(run_folder, steps_per_epoch):
    records = [json.loads(line) for line in open(os.path.join(run_folder, "metrics.jsonl"))]
    last = records[-1]
    return last["time"] / last["step"] * steps_per_epoch


def classifier_confidence(samples, dataset, out):
    """Mean top-class probability of a classifier trained on the real images, for the samples and for
    held-out real images, and how many of the 10 classes the samples cover."""
    folder = os.path.join(out, f"classifier-{dataset}")
    classifier = train("classifier", dataset, out=folder, epochs=30,
                       resume=os.path.exists(os.path.join(folder, "checkpoint.npz"))).recipe
    x_test, _ = load_split(dataset, "test")
    p_samples = mg.softmax(classifier.logits(samples), axis=1).numpy()
    p_real = mg.softmax(classifier.logits(x_test[:len(samples)]), axis=1).numpy()
    return {"classifier_confidence_samples": float(p_samples.max(1).mean()),
            "classifier_confidence_real": float(p_real.max(1).mean()),
            "classes_covered": int(len(set(p_samples.argmax(1).tolist()))),
            "class_histogram": np.bincount(p_samples.argmax(1), minlength=10).tolist()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits", choices=("digits", "mnist-5k"))
    parser.add_argument("--steps", type=int, default=4000, help="training steps (default 4000)")
    parser.add_argument("--timesteps", type=int, default=1000, help="diffusion steps T (default 1000)")
    parser.add_argument("--channels", type=int, default=16, help="U-Net base width (default 16)")
    parser.add_argument("--channel-mults", default="1,2", help="width per resolution (default 1,2)")
    parser.add_argument("--inverse-steps", type=int, default=100,
                        help="DDIM steps for inpainting and denoising (default 100; 0: ancestral, all T)")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch (default 64)")
    parser.add_argument("--bound-examples", type=int, default=100,
                        help="test images the bound is computed on (default 100)")
    parser.add_argument("--bound-timesteps", type=int, default=100,
                        help="stratified steps that estimate the bound's sum over t (default 100; 0: all T)")
    parser.add_argument("--quick", action="store_true", help="800 training steps, T = 200")
    parser.add_argument("--out", default="runs/ddpm-images")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.timesteps = 800, 200
    args.inverse_steps = args.inverse_steps or None
    os.makedirs(args.out, exist_ok=True)
    folder = os.path.join(args.out, f"ddpm-{args.dataset}")
    options = {"timesteps": args.timesteps, "channels": args.channels, "batch_size": args.batch_size,
               "bound_timesteps": args.bound_timesteps,
               "channel_mults": [int(m) for m in args.channel_mults.split(",")]}
    run = train("ddpm", args.dataset, out=folder, steps=args.steps, options=options,
                resume=os.path.exists(os.path.join(folder, "checkpoint.npz")))
    recipe, T = run.recipe, args.timesteps
    x_test, _ = load_split(args.dataset, "test")
    steps_per_epoch = run.recipe.info.n_train // options["batch_size"]
    results = {"dataset": args.dataset, "train_steps": run.step, "timesteps": T, **options,
               "seconds_per_epoch": round(seconds_per_epoch(folder, steps_per_epoch), 2)}

    # sampling: 50-step DDIM vs all-T-step ancestral, seconds per sample (16 at a time for both)
    mg.manual_seed(0)
    ancestral_samples, seconds = timed(lambda: recipe.sample(16))
    results[f"seconds_per_sample_ancestral{T}"] = round(seconds / 16, 4)
    viz.image_grid(ancestral_samples, os.path.join(args.out, "samples-ancestral.png"), nrow=8,
                   title=f"DDPM on {args.dataset}: ancestral, {T} steps")
    mg.manual_seed(0)
    _, seconds = timed(lambda: recipe.sample(16, steps=50))
    results["seconds_per_sample_ddim50"] = round(seconds / 16, 4)
    mg.manual_seed(1)
    ddim_samples = recipe.sample(200, steps=50)
    viz.image_grid(ddim_samples[:64], os.path.join(args.out, "samples-ddim50.png"), nrow=8,
                   title=f"DDPM on {args.dataset}: 50-step DDIM")
    results.update(classifier_confidence(ddim_samples, args.dataset, args.out))

    # the trajectory x_T -> x_0
    frames, titles = [], []
    keep_at = set(np.linspace(T, 0, 8).round().astype(int).tolist())

    def keep(t, x_t):
        if t in keep_at:
            frames.append(recipe.to_data_space(x_t).numpy())
            titles.append(f"t = {t}")
    mg.manual_seed(2)
    recipe.sample(8, callback=keep)
    viz.trajectory(frames, os.path.join(args.out, "trajectory.png"), titles=titles)

    # inverse problems with the unconditional model, in [-1, 1]
    x = mg.tensor(x_test[:8] * 2 - 1)
    mask = mg.zeros(*x.shape)
    mask.data[..., : x.shape[-1] // 2] = 1.0                  # the left half is known
    with recipe.ema.average_parameters():
        mg.manual_seed(3)
        filled = diffusion.inpaint(recipe.eps_model(), recipe.model.schedule, x, mask, steps=args.inverse_steps,
                                   clip_x0=True)
        noise_std = 0.3
        noisy = x + noise_std * mg.randn(*x.shape)
        denoised = diffusion.denoise(recipe.eps_model(), recipe.model.schedule, noisy, noise_std,
                                     steps=args.inverse_steps, clip_x0=True)
    results["inpainting_known_pixels_kept_exactly"] = bool(
        np.array_equal(filled.numpy()[..., : x.shape[-1] // 2], x.numpy()[..., : x.shape[-1] // 2]))
    results["denoising_start_step"] = recipe.model.schedule.matching_step(noise_std)
    results["denoising_mse_noisy"] = float(((noisy - x) ** 2).mean().item())
    results["denoising_mse_denoised"] = float(((denoised - x) ** 2).mean().item())
    masked = mask * x                                          # unknown pixels at 0, the grey of [-1, 1]
    to_image = recipe.to_data_space
    viz.image_grid(np.concatenate([to_image(t).numpy() for t in (x, masked, filled)]),
                   os.path.join(args.out, "inpainting.png"), nrow=8,
                   title="inpainting: originals / the known left half / completed by the model")
    viz.image_grid(np.concatenate([to_image(t).numpy() for t in (x, noisy, denoised)]),
                   os.path.join(args.out, "denoising.png"), nrow=8,
                   title=f"denoising: originals / + N(0, {noise_std}^2) noise / denoised from t = "
                         f"{results['denoising_start_step']}")

    # the bound, as `minigen eval` reports it
    mg.manual_seed(4)
    metrics, seconds = timed(lambda: recipe.evaluate(x_test[:args.bound_examples]))
    results.update({k: v for k, v in metrics.items()}, bound_seconds=round(seconds, 1))

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    for key, value in results.items():
        print(f"{key:40s} {value}")
    print(f"figures and results.json in {args.out}")


if __name__ == "__main__":
    main()
