"""``minigen restore DIR --task inpaint|denoise|superres --input FILE.npy --out FILE.npy``: restore
corrupted images with a trained model (minigen.restore), and ``minigen corrupt`` to make such inputs.

    minigen corrupt --dataset digits --task inpaint --mask-kind center --n 16 --out y.npy --truth x.npy
    minigen restore runs/vae-digits --task inpaint --mask-kind center --input y.npy --out x_hat.npy

Inputs and outputs are float32 images (N, C, H, W) in [0, 1], like ``minigen sample`` writes; the input
of super-resolution is the small image (N, C, H/f, W/f).
"""
from __future__ import annotations

from ..recipe import UsageError, check_number, check_seed
from ..training import load_run
from .files import load_array, output_file, save_array


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
        mask = load_array(args.mask, "--mask")
    elif args.mask_kind is not None:
        mask = restore.make_mask(args.mask_kind, image_shape,
                                 seed=0 if args.mask_seed is None else check_seed("--mask-seed", args.mask_seed))
    options = {"mask": mask, "factor": args.factor, "noise_std": args.noise_std}
    restore.make_operator(args.task, **options)            # the task/option checks, with their messages
    return {key: value for key, value in options.items() if value is not None}


def _check_numbers(args):
    check_seed("--seed", args.seed)
    if args.noise_std is not None:
        check_number("--noise-std", args.noise_std, positive=True)
    if args.factor is not None:
        check_number("--factor", args.factor, integer=True, minimum=2)


def run_restore(args) -> int:
    from .. import restore
    _check_numbers(args)
    for flag, value in (("--steps", args.steps), ("--restarts", args.restarts)):
        if value is not None:
            check_number(flag, value, integer=True, positive=True)
    output_file(args.out, "--out")
    y = load_array(args.input, "--input")
    recipe = load_run(args.dir, device=args.device).recipe
    restore.check_restorable(recipe)
    options = _task_options(args, tuple(recipe.info.shape))
    x = restore.restore(recipe, y, args.task, steps=args.steps, restarts=args.restarts, seed=args.seed,
                        **options)
    save_array(args.out, x)
    print(args.out)
    return 0


def run_corrupt(args) -> int:
    from .. import restore
    from ..training import dataset_info, load_split
    check_number("--n", args.n, integer=True, positive=True)
    _check_numbers(args)
    output_file(args.out, "--out")
    if args.truth:
        output_file(args.truth, "--truth")
    if dataset_info(args.dataset).kind != "image":
        raise UsageError(f"{args.dataset} is not a set of images: there is nothing to corrupt")
    x = load_split(args.dataset, args.split)[0][:args.n]
    options = _task_options(args, tuple(x.shape[1:]))
    y = restore.corrupt(x, restore.make_operator(args.task, **options), seed=args.seed)
    save_array(args.out, y)
    if args.truth:
        save_array(args.truth, x)
    print(args.out)
    return 0
