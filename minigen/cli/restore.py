"""``minigen restore DIR --task inpaint|denoise|superres --input FILE.npy --out FILE.npy``: restore
corrupted images with a trained model (minigen.restore), and ``minigen corrupt`` to make such inputs.

    minigen corrupt --dataset digits --task inpaint --mask-kind center --n 16 --out y.npy --truth x.npy
    minigen restore runs/vae-digits --task inpaint --mask-kind center --input y.npy --out x_hat.npy

Inputs and outputs are float32 images (N, C, H, W) in [0, 1], like ``minigen sample`` writes; the input
of super-resolution is the small image (N, C, H/f, W/f).
"""
from __future__ import annotations

import os

import numpy as np

from .. import io
from ..training import UsageError, load_run


def _add_task_options(p):
    p.add_argument("--task", required=True, choices=("inpaint", "denoise", "superres"))
    p.add_argument("--mask", metavar="FILE.npy", help="inpaint: 0/1 mask (H, W) or (C, H, W), 1 = known")
    p.add_argument("--mask-kind", choices=("center", "left-half", "top-half", "random"),
                   help="inpaint: a standard mask instead of --mask (random: 25%% of the pixels known)")
    p.add_argument("--mask-seed", type=int, help="inpaint with --mask-kind random: its seed (default 0)")
    p.add_argument("--noise-std", type=float, metavar="SIGMA", help="denoise: the noise level, in [0, 1] units")
    p.add_argument("--factor", type=int, metavar="F", help="superres: the downsampling factor (2 halves H, W)")
    p.add_argument("--seed", type=int, default=0, metavar="S")


def add_commands(commands) -> None:
    p = commands.add_parser("restore", help="inpaint, denoise or super-resolve images with a trained model")
    p.add_argument("dir", metavar="DIR", help="run folder written by 'minigen train'")
    _add_task_options(p)
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the one it was trained on)")
    p.add_argument("--input", required=True, metavar="FILE.npy", help="the corrupted images")
    p.add_argument("--out", required=True, metavar="FILE.npy", help="where the restored images go")
    p.add_argument("--steps", type=int, metavar="S", help="ddpm: DDIM steps (default: ancestral, all T); "
                   "latent families: Adam steps on z (default 300)")
    p.add_argument("--restarts", type=int, metavar="R",
                   help="latent families: starting points per image (default 4)")
    p.set_defaults(run=run_restore)

    p = commands.add_parser("corrupt", help="make corrupted test images for 'minigen restore'")
    p.add_argument("--dataset", required=True, metavar="NAME", help="an image dataset (minigen datasets)")
    _add_task_options(p)
    p.add_argument("--n", type=int, default=16, metavar="N", help="how many test images (default 16)")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--out", required=True, metavar="FILE.npy", help="the corrupted images")
    p.add_argument("--truth", metavar="FILE.npy", help="also save the clean images here")
    p.set_defaults(run=run_corrupt)


def _task_options(args, image_shape):
    """The keyword options of minigen.restore for the task, refusing those of other tasks."""
    from .. import restore
    if args.mask_seed is not None and args.mask_kind != "random":
        raise UsageError("--mask-seed goes with --mask-kind random")
    mask = None
    if args.mask is not None and args.mask_kind is not None:
        raise UsageError("give --mask FILE.npy or --mask-kind, not both")
    if args.mask is not None:
        mask = _load(args.mask, "--mask")
    elif args.mask_kind is not None:
        mask = restore.make_mask(args.mask_kind, image_shape, seed=args.mask_seed or 0)
    options = {"mask": mask, "factor": args.factor, "noise_std": args.noise_std}
    restore.make_operator(args.task, **options)            # the task/option checks, with their messages
    return {key: value for key, value in options.items() if value is not None}


def _load(path, flag):
    if not os.path.exists(path):
        raise UsageError(f"{flag}: no such file {path}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        raise UsageError(f"{flag}: {path} is not a NumPy .npy array ({e})") from None


def _save(path, array):
    with io.atomic_write(path) as f:
        np.save(f, np.asarray(array, dtype=np.float32), allow_pickle=False)


def run_restore(args) -> int:
    from .. import restore
    recipe = load_run(args.dir, device=args.device).recipe
    restore.check_restorable(recipe)
    options = _task_options(args, tuple(recipe.info.shape))
    y = _load(args.input, "--input")
    x = restore.restore(recipe, y, args.task, steps=args.steps, restarts=args.restarts, seed=args.seed,
                        **options)
    _save(args.out, x)
    print(args.out)
    return 0


def run_corrupt(args) -> int:
    from .. import restore
    from ..training import dataset_info, load_split
    if args.n < 1:
        raise UsageError(f"--n must be a positive integer, got {args.n}")
    if dataset_info(args.dataset).kind != "image":
        raise UsageError(f"{args.dataset} is not a set of images: there is nothing to corrupt")
    x = load_split(args.dataset, args.split)[0][:args.n]
    options = _task_options(args, tuple(x.shape[1:]))
    y = restore.corrupt(x, restore.make_operator(args.task, **options), seed=args.seed)
    _save(args.out, y)
    if args.truth:
        _save(args.truth, x)
    print(args.out)
    return 0
