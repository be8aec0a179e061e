"""``minigen sample DIR --n N [--label K] [--steps S] [--seed S] [--out FILE.npy]``: float32 samples in
data space (images (N, C, H, W) in [0, 1], 2-D points (N, 2)), saved with np.save.

The samples are drawn ``CHUNK`` at a time into a memory map of the output file, so any N that the
disk can hold fits in memory; an N the disk cannot hold is refused before anything is drawn. A
missing folder in ``--out`` is created.
"""
from __future__ import annotations

import os
import shlex

import numpy as np

from .. import backend
from ..recipe import UsageError, check_number, check_seed
from ..training import load_run
from .files import output_file, save_array_in_chunks

CHUNK = 1000


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
    check_number("--n", args.n, integer=True, positive=True)
    check_seed("--seed", args.seed)
    if args.steps is not None:
        check_number("--steps", args.steps, integer=True, positive=True)
    out = output_file(args.out or os.path.join(args.dir, "samples.npy"), "--out")
    recipe = load_run(args.dir, device=args.device).recipe
    if not recipe.generative:
        raise UsageError(f"'{recipe.name}' is not a generative model: it has nothing to sample "
                         f"(try 'minigen eval {shlex.quote(args.dir)}')")
    if args.label is not None:
        if not recipe.conditional:
            raise UsageError(f"'{recipe.name}' is not class-conditional, so --label does not apply")
        classes = recipe.info.num_classes
        if not 0 <= args.label < classes:
            raise UsageError(f"--label must be in [0, {classes}) for {recipe.info.name}, got {args.label}")
    if args.steps is not None and not recipe.sampler_steps:
        raise UsageError(f"'{recipe.name}' has no sampler step count, so --steps does not apply")
    backend.manual_seed(args.seed)

    def chunks():
        for start in range(0, args.n, CHUNK):
            n = min(CHUNK, args.n - start)
            yield np.asarray(recipe.sample(n, label=args.label, steps=args.steps), dtype=np.float32)
    save_array_in_chunks(out, (args.n,) + tuple(recipe.info.shape), chunks())
    print(out)
    return 0
