"""``minigen sample DIR [--n N] [--label K | --condition FILE | --prompt TEXT] [--guidance W] [--steps S]
[--seed S] [--out FILE.npy | FILE.png]``: float32 samples in data space (images (N, C, H, W) in [0, 1],
2-D points (N, 2)), saved with np.save; or, for an ``--out`` ending in ``.png``, a picture of them to
look at: an image grid (one column per class for a class-conditional model sampled without
``--label``), or the 2-D points scattered over held-out data (Recipe.picture, which also draws
``samples.png`` after training).

What a model draws from is its Recipe's to say: a class (``--label``, class-conditional models), a
condition image (``--condition``, image -> image models, ``condition_kind`` "image") or a prompt
(``--prompt``, text -> image models, ``condition_kind`` "text"); ``--guidance`` for families that take a
classifier-free guidance weight (``guided``). With ``--condition``, ``--n`` is the number of draws per
condition (default 1), and the output holds them condition by condition; otherwise it is the number of
samples (default 64).

A condition file is a NumPy .npy array, (N, C, h, w) or one condition (C, h, w) (or (h, w) for one
channel), in [0, 1]; or a PNG image, read as grey levels in [0, 1] (white strokes on black, like the
data), whose alpha channel, for conditions that carry a mask (masked2digits), marks the hidden pixels
as transparent.

The samples of a ``.npy`` are drawn ``CHUNK`` at a time into a memory map of the output file, so any
N that the disk can hold fits in memory; an N the disk cannot hold is refused before anything is
drawn. A picture holds at most ``PICTURE_IMAGES`` images. A missing folder in ``--out`` is created.
"""
from __future__ import annotations

import os
import shlex

import numpy as np

from .. import backend
from ..data import paired
from ..recipe import UsageError, check_number, check_seed, load_split
from ..training import load_run
from .files import load_array, load_png, output_file, save_array_in_chunks

CHUNK = 1000
DEFAULT_N = 64
PICTURE_IMAGES = 400        # thumbnails in one grid; beyond this they are too small to look at
FORMATS = (".npy", ".png")


def add_commands(commands) -> None:
    p = commands.add_parser("sample", help="draw samples from a trained generative model into a .npy file "
                                           "(or a picture of them: --out FILE.png)")
    p.add_argument("dir", metavar="DIR", help="run folder written by 'minigen train'")
    p.add_argument("--n", type=int, metavar="N",
                   help=f"how many samples (default {DEFAULT_N}); with --condition, draws per condition (default 1)")
    p.add_argument("--label", type=int, metavar="K", help="class to sample (class-conditional models)")
    p.add_argument("--condition", metavar="FILE", help="image -> image models: the condition(s), a .npy array "
                   "(N, C, h, w) or one (C, h, w), or a .png image")
    p.add_argument("--prompt", metavar="TEXT", help="text -> image models: what to draw, e.g. "
                   "\"a thin slanted four\"")
    p.add_argument("--guidance", type=float, metavar="W",
                   help="classifier-free guidance weight (conditional diffusion; default: the model's)")
    p.add_argument("--steps", type=int, metavar="S", help="sampling steps (samplers with a step count)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--out", metavar="FILE", help="FILE.npy: the samples as an array (default DIR/samples.npy); "
                                                "FILE.png: an image grid, or 2-D points over the data")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the one it was trained on)")
    p.set_defaults(run=run_sample)


def load_conditions(path, info):
    """The conditions in ``path`` (.npy or .png) for a model trained on the paired set ``info``."""
    if os.path.isdir(path):
        raise UsageError(f"--condition: {path} is a folder, not a .npy or .png file")
    if not os.path.exists(path):
        raise UsageError(f"--condition: no such file {path}")
    with open(path, "rb") as f:
        is_png = f.read(8) == b"\x89PNG\r\n\x1a\n"
    array = load_png(path, "--condition", info.condition_shape[0]) if is_png else load_array(path, "--condition")
    try:
        return paired.as_conditions(array, info)
    except ValueError as e:
        raise UsageError(f"--condition {path}: {e}") from None


def _what_to_draw(args, recipe):
    """(keyword options of recipe.sample beyond n, the conditions to repeat or None), checked."""
    kind = recipe.condition_kind
    given = {"--condition": args.condition is not None, "--prompt": args.prompt is not None}
    wanted = {"image": "--condition", "text": "--prompt"}.get(kind)
    for flag, present in given.items():
        if present and flag != wanted:
            takes = f"; it takes {wanted}" if wanted else ""
            raise UsageError(f"{flag} does not apply to '{recipe.name}' (trained on {recipe.info.name}){takes}")
    if wanted and not given[wanted]:
        example = "--condition FILE.npy (or FILE.png)" if kind == "image" else '--prompt "a thin slanted four"'
        raise UsageError(f"'{recipe.name}' draws from a {'condition image' if kind == 'image' else 'prompt'}: "
                         f"give {example}")
    options = {}
    if args.guidance is not None:
        if not recipe.guided:
            raise UsageError(f"'{recipe.name}' has no classifier-free guidance, so --guidance does not apply")
        options["guidance"] = check_number("--guidance", args.guidance, minimum=0)
    if kind == "text":
        options["condition"] = args.prompt
    conditions = load_conditions(args.condition, recipe.info) if kind == "image" else None
    return options, conditions


def run_sample(args) -> int:
    if args.n is not None:
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
    options, conditions = _what_to_draw(args, recipe)
    if conditions is not None:                    # --n draws per condition, condition by condition
        conditions = np.repeat(conditions, args.n or 1, axis=0)
    total = len(conditions) if conditions is not None else (args.n or DEFAULT_N)
    image = len(recipe.info.shape) > 1
    if suffix == ".png" and image and total > PICTURE_IMAGES:
        raise UsageError(f"--n {total}: a picture holds at most {PICTURE_IMAGES} images; ask for fewer, or "
                         "write them to a .npy file")
    backend.manual_seed(args.seed)

    def chunks():
        for start in range(0, total, CHUNK):
            n = min(CHUNK, total - start)
            if conditions is not None:
                options["condition"] = conditions[start:start + n]
            yield np.asarray(recipe.sample(n, label=args.label, steps=args.steps, **options), dtype=np.float32)
    if suffix == ".npy":
        save_array_in_chunks(out, (total,) + tuple(recipe.info.shape), chunks())
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
