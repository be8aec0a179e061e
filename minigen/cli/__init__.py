"""The command line: ``minigen info | datasets | train | sample | eval | compare | restore | corrupt``
(also ``python -m minigen``).

    minigen info                         versions, devices, BLAS in use
    minigen datasets                     every dataset name, its shape, and where its data comes from
    minigen train MODEL --dataset NAME [--epochs N | --steps N] [--batch-size B] [--lr LR]
                  [--device cpu|cuda] [--seed S] [--out DIR] [--resume] [--KEY VALUE ...]
    minigen sample DIR --n N [--label K] [--steps S] [--seed S] [--out FILE.npy]
    minigen eval DIR [--split test]      prints one JSON object of metrics
    minigen compare --dataset NAME [--budget-seconds S] [--seeds N] [--models a,b] [--out DIR]
    minigen restore DIR --task inpaint|denoise|superres --input FILE.npy --out FILE.npy
                  [--mask FILE.npy | --mask-kind K] [--noise-std SIGMA] [--factor F] [--steps S]
    minigen corrupt --dataset NAME --task inpaint|denoise|superres --out FILE.npy [--truth FILE.npy]

``--KEY VALUE`` sets any other entry of the model's config (``--arch cnn``). Mistakes (an unknown
model, a dataset the model cannot use, a missing checkpoint) print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys

from .. import __version__

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def build_parser() -> argparse.ArgumentParser:
    from . import compare, evaluate, info, restore, sample, train
    parser = argparse.ArgumentParser(
        prog="minigen", description="Generative models on a from-scratch autograd engine.",
        epilog="Run 'minigen COMMAND --help' for a command's options; docs/cli.md has examples.")
    parser.add_argument("--version", action="version", version=f"minigen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (info, train, sample, evaluate, compare, restore):
        module.add_commands(commands)
    return parser


def main(argv=None) -> int:
    """Run one command; returns the exit status (0 on success)."""
    from .. import distributed
    from ..training import TrainingDiverged, TrainingInterrupted, UsageError
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    launch = distributed.launched_by_mpi()
    if args.command != "train" and launch is not None and launch[0] != 0:
        return 0       # under mpiexec only `train` is data-parallel; the other commands run on rank 0
    try:
        return args.run(args) or 0
    except UsageError as e:
        print(f"minigen {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as e:
        print(f"minigen {args.command}: training diverged: {e}", file=sys.stderr)
        return EXIT_FAILED
    except TrainingInterrupted as e:
        print(f"minigen {args.command}: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"minigen {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
