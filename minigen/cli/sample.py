"""``minigen sample DIR --n N [--label K] [--steps S] [--seed S] [--out FILE.npy]``: float32 samples in
data space (images (N, C, H, W) in [0, 1], 2-D points (N, 2)), saved with np.save."""
from __future__ import annotations

import os

import numpy as np

from .. import backend, io
from ..training import UsageError, load_run


def add_commands(commands) -> None:
    p = commands.add_parser("sample", help="draw samples from a trained generative model into a .npy file")
    p.add_argument("dir", metavar="DIR", help="run folder written by 'minigen train'")
    p.add_argument("--n", type=int, default=64, metavar="N", help="how many samples (default 64)")
    p.add_argument("--label", type=int, metavar="K", help="class to sample (class-conditional models)")
    p.add_argument("--steps", type=int, metavar="S", help="sampling steps (samplers with a step count)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--out", metavar="FILE.npy", help="default DIR/samples.npy")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the one it was trained on)")
    p.set_defaults(run=run_sample)


def run_sample(args) -> int:
    if args.n < 1:
        raise UsageError(f"--n must be a positive integer, got {args.n}")
    recipe = load_run(args.dir, device=args.device).recipe
    if not recipe.generative:
        raise UsageError(f"'{recipe.name}' is not a generative model: it has nothing to sample "
                         f"(try 'minigen eval {args.dir}')")
    if args.label is not None:
        if not recipe.conditional:
            raise UsageError(f"'{recipe.name}' is not class-conditional, so --label does not apply")
        classes = recipe.info.num_classes
        if not 0 <= args.label < classes:
            raise UsageError(f"--label must be in [0, {classes}) for {recipe.info.name}, got {args.label}")
    if args.steps is not None and not recipe.sampler_steps:
        raise UsageError(f"'{recipe.name}' has no sampler step count, so --steps does not apply")
    backend.manual_seed(args.seed)
    samples = np.asarray(recipe.sample(args.n, label=args.label, steps=args.steps), dtype=np.float32)
    out = args.out or os.path.join(args.dir, "samples.npy")
    with io.atomic_write(out) as f:
        np.save(f, samples, allow_pickle=False)
    print(out)
    return 0
