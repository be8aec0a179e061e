"""The command line: ``minigen info | datasets | train | sample | eval | compare | restore | corrupt``
(also ``python -m minigen``).

    minigen info                         versions, devices, BLAS in use
    minigen datasets                     every dataset name, its shape, and where its data comes from
    minigen train MODEL --dataset NAME [--epochs N | --steps N] [--batch-size B] [--lr LR]
                  [--device cpu|cuda] [--seed S] [--out DIR] [--resume] [--KEY VALUE ...]
    minigen sample DIR [--n N] [--label K | --condition FILE | --prompt TEXT] [--guidance W] [--steps S]
                  [--seed S] [--out FILE.npy]
    minigen eval DIR [--split test]      prints one JSON object of metrics
    minigen compare --dataset NAME [--budget-seconds S] [--seeds N] [--models a,b] [--out DIR]
    minigen restore DIR --task inpaint|denoise|superres --input FILE.npy --out FILE.npy
                  [--mask FILE.npy | --mask-kind K] [--noise-std SIGMA] [--factor F] [--steps S]
    minigen corrupt --dataset NAME --task inpaint|denoise|superres --out FILE.npy [--truth FILE.npy]

``--KEY VALUE`` sets any other entry of the model's config (``--arch cnn``); ``minigen train MODEL
--help`` lists them. Mistakes (an unknown model, a dataset the model cannot use, a missing or damaged
checkpoint, a bad number, a file that cannot be written) print one line and exit with status 2, never
a traceback; an internal error (a bug) prints one line and exits with 1 (MINIGEN_TRACEBACK=1 shows
the traceback).
"""
from __future__ import annotations

import argparse
import os
import sys

from .. import __version__

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class Parser(argparse.ArgumentParser):
    """argparse with its mistakes on one line (its default prints the usage first)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from . import compare, evaluate, info, restore, sample, train
    parser = Parser(
        prog="minigen", description="Generative models on a from-scratch autograd engine.",
        epilog="Run 'minigen COMMAND --help' for a command's options; docs/cli.md has examples.")
    parser.add_argument("--version", action="version", version=f"minigen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (info, train, sample, evaluate, compare, restore):
        module.add_commands(commands)
    return parser


def _fail(command, message, status=EXIT_USAGE) -> int:
    """Print ``message`` as one line (a multi-line message folded) and return ``status``."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"minigen {command}: {line}", file=sys.stderr)
    return status


def main(argv=None) -> int:
    """Run one command; returns the exit status (0 on success)."""
    from .. import distributed
    from ..recipe import TrainingDiverged, UsageError
    from ..training import TrainingInterrupted
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
        return _fail(args.command, f"error: {e}")
    except TrainingDiverged as e:
        return _fail(args.command, f"training diverged: {e}", EXIT_FAILED)
    except TrainingInterrupted as e:
        print(f"minigen {args.command}: {e}", file=sys.stderr)     # the resume command on its own line
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", EXIT_INTERRUPTED)
    except OSError as e:                 # a path that cannot be read or written, a full disk
        where = f": {e.filename}" if e.filename else ""
        return _fail(args.command, f"error: {e.strerror or e}{where}")
    except MemoryError:
        return _fail(args.command, "error: not enough memory for this request (ask for fewer samples or a "
                                   "smaller batch)")
    except (ValueError, TypeError, IndexError) as e:       # bad values found deep down, with their message
        return _fail(args.command, f"error: {e}")
    except Exception as e:               # a bug: still one line, the traceback on request
        if os.environ.get("MINIGEN_TRACEBACK"):
            raise
        return _fail(args.command, f"internal error: {type(e).__name__}: {e} (this is a bug; run with "
                                   "MINIGEN_TRACEBACK=1 to see the traceback)", EXIT_FAILED)
