"""``minigen sample DIR --n N [--label K] [--steps S] [--seed S] [--out FILE.npy | FILE.png]``: float32
samples in data space (images (N, C, H, W) in [0, 1], 2-D points (N, 2)), saved with np.save; or, for
an ``--out`` ending in ``.png``, a picture of them to look at: an image grid (one column per class
for a class-conditional model sampled without ``--label``), or the 2-D points scattered over held-out
data (Recipe.picture, which also draws ``samples.png`` after training).

The samples of a ``.npy`` are drawn ``CHUNK`` at a time into a memory map of the output file, so any
N that the disk can hold fits in memory; an N the disk cannot hold is refused before anything is
drawn. A picture holds at most ``PICTURE_IMAGES`` images. A missing folder in ``--out`` is created.
"""
from __future__ import annotations

import os
import shlex

import numpy as np

from .. import backend
from ..recipe import UsageError, check_number, check_seed, load_split
from ..training import load_run
from .files import output_file, save_array_in_chunks

CHUNK = 1000
PICTURE_IMAGES = 400        # thumbnails in one grid; beyond this they are too small to look at
FORMATS = (".npy", ".png")


def add_commands(commands) -> None:
    p = commands.add_parser("sample", help="draw samples from a trained generative model into a .npy file "
                                           "(or a picture of them: --out FILE.png)")
    p.add_argument("dir", metavar="DIR", help="run folder written by 'minigen train'")
    p.add_argument("--n", type=int, default=64, metavar="N", help="how many samples (default 64)")
    p.add_argument("--label", type=int, metavar="K", help="class to sample (class-conditional models)")
    p.add_argument("--steps", type=int, metavar="S", help="sampling steps (samplers with a step count)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--out", metavar="FILE", help="FILE.npy: the samples as an array (default DIR/samples.npy); "
                                                "FILE.png: an image grid, or 2-D points over the data")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the one it was trained on)")
    p.set_defaults(run=run_sample)


def run_sample(args) -> int:
    check_number("--n", args.n, integer=True, positive=True)
    check_seed("--seed", args.seed)
    if args.steps is not None:
        check_number("--steps", args.steps, integer=True, positive=True)
    out = output_file(args.out or os.path.join(args.dir, "samples.npy"), "--out")
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in FORMATS:
        raise UsageError(f"--out {out}: give a .npy file (the samples as an array) or a .png file (a picture "
                         f"of them), got {suffix or 'no extension'}")
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
    image = len(recipe.info.shape) > 1
    if suffix == ".png" and image and args.n > PICTURE_IMAGES:
        raise UsageError(f"--n {args.n}: a picture holds at most {PICTURE_IMAGES} images; ask for fewer, or "
                         "write them to a .npy file")
    backend.manual_seed(args.seed)

    def chunks():
        for start in range(0, args.n, CHUNK):
            n = min(CHUNK, args.n - start)
            yield np.asarray(recipe.sample(n, label=args.label, steps=args.steps), dtype=np.float32)
    if suffix == ".npy":
        save_array_in_chunks(out, (args.n,) + tuple(recipe.info.shape), chunks())
    else:
        _picture(recipe, np.concatenate(list(chunks())), out, args.label)
    print(out)
    return 0


def _picture(recipe, samples, out, label):
    """The samples drawn into the PNG ``out``: over up to 2,000 held-out points for 2-D data; for a
    class-conditional model sampled without a label (classes 0, 1, ..., K-1 in turn), one column per
    class."""
    if len(recipe.info.shape) == 1:
        reference, _ = load_split(recipe.info.name, "test")
        recipe.picture(samples, out, reference=reference[:2000])
        return
    by_class = recipe.conditional and label is None
    nrow = recipe.info.num_classes if by_class and len(samples) >= recipe.info.num_classes else None
    what = f", label {label}" if label is not None else (", one column per class" if nrow else "")
    recipe.picture(samples, out, nrow=nrow, title=f"{recipe.name} samples{what}")
