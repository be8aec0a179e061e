"""``minigen train MODEL --dataset NAME ...``: options common to every family, plus ``--KEY VALUE`` for
any entry of the family's ``default_config``, converted to the type of its default.

``minigen train MODEL --help`` lists the family's options with their defaults, where the family
describes them (``Recipe.option_help``) what they do, and where a default depends on the data
(``Recipe.dataset_defaults``) its value on each kind or dataset; ``minigen train MODEL --dataset NAME
--help`` shows the defaults on NAME.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys

from .. import distributed
from ..recipe import dataset_info, family_defaults
from ..recipe.base import COMMON_OPTION_HELP
from ..training import TrainingDiverged, TrainingInterrupted, UsageError, get, names, train
from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE


def _shown(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def model_options_help(recipe_cls, dataset=None) -> str:
    """The lines that list a family's options: --key TYPE, its default, what it sets and where the
    default depends on the data (``Recipe.dataset_defaults``), the value on each kind or dataset. With
    ``dataset``, the defaults shown are that dataset's."""
    defaults = recipe_cls.default_config
    if dataset is not None:
        defaults = family_defaults(recipe_cls, dataset_info(dataset))
    rows = []
    for key, default in defaults.items():
        kind = "a,b,..." if isinstance(default, (list, tuple)) else type(default).__name__.upper()
        text = {**COMMON_OPTION_HELP, **recipe_cls.option_help}.get(key, "")
        on = [f"{where}: {_shown(values[key])}" for where, values in recipe_cls.dataset_defaults.items()
              if key in values]
        if on:
            text = f"{text} [{'; '.join(on)}]" if text else f"[{'; '.join(on)}]"
        rows.append((f"--{key.replace('_', '-')} {kind}", _shown(default), text))
    width = max(len(flag) for flag, _, _ in rows) if rows else 0
    shown_width = max(len(shown) for _, shown, _ in rows) if rows else 0
    where = f" on {dataset}" if dataset is not None else ""
    lines = [f"options of model '{recipe_cls.name}' (--KEY VALUE; the default{where}, then what it sets"
             + (", [the default on each kind or dataset where it depends on the data]"
                if recipe_cls.dataset_defaults else "") + "):"]
    lines += [f"  {flag:<{width}}  {shown:<{shown_width}}  {text}".rstrip() for flag, shown, text in rows]
    if recipe_cls.dataset_defaults and dataset is None:
        lines.append("('minigen train MODEL --dataset NAME --help' shows the defaults on that dataset)")
    return "\n".join(lines)


class _HelpWithModelOptions(argparse.Action):
    """-h/--help for ``train``: the command's options and, once MODEL is given, the model's."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show this help (and, after MODEL, the model's options) and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        text = parser.format_help()
        model = getattr(namespace, "model", None)
        if model is None:
            text += "\nmodels: " + ", ".join(names()) + " ('minigen train MODEL --help' lists a model's options)\n"
        else:
            try:
                text += "\n" + model_options_help(get(model), getattr(namespace, "dataset", None)) + "\n"
            except UsageError as e:
                parser.exit(2, f"{parser.prog}: error: {e}\n")
        sys.stdout.write(text)
        parser.exit(0)


def add_commands(commands) -> None:
    p = commands.add_parser(
        "train", help="train a model, writing config.json, metrics.jsonl, checkpoint.npz, samples.png",
        description="Train MODEL on a dataset. Any other entry of the model's config can be given as "
                    "--KEY VALUE (e.g. --arch cnn for the classifier); 'minigen train MODEL --help' "
                    "lists them.", add_help=False)
    p.add_argument("-h", "--help", action=_HelpWithModelOptions)
    p.add_argument("model", metavar="MODEL", help="model family, e.g. classifier, gaussian-classifier")
    p.add_argument("--dataset", required=True, metavar="NAME", help="see 'minigen datasets'")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, metavar="N", help="passes over the training set")
    length.add_argument("--steps", type=int, metavar="N", help="optimisation steps (wins over epochs)")
    p.add_argument("--batch-size", type=int, metavar="B")
    p.add_argument("--lr", type=float, metavar="LR", help="learning rate")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--seed", type=int, metavar="S", help="random seed (default 0)")
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.set_defaults(run=run_train)


def _parse_value(key: str, text: str, default):
    """``text`` from the command line as the type of ``default``."""
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if isinstance(default, (int, float, str)):
            return type(default)(text)
        if isinstance(default, (list, tuple)):
            kind = type(default[0]) if default else str
            return [kind(item) for item in text.split(",") if item]
        return json.loads(text)       # default None: a number, true/false, or a JSON value
    except ValueError:
        if default is None:
            return text
        name = type(default).__name__
        raise UsageError(f"--{key.replace('_', '-')} takes {'an' if name[0] in 'aeiou' else 'a'} {name} "
                         f"(like {default!r}), got {text!r}") from None


def parse_options(extra: list, defaults: dict, model: str) -> dict:
    """``["--arch", "cnn", "--hidden=128"]`` -> ``{"arch": "cnn", "hidden": 128}``."""
    options, i = {}, 0
    while i < len(extra):
        token = extra[i]
        if not token.startswith("--") or len(token) == 2:
            raise UsageError(f"unexpected argument {token!r}; model options look like --KEY VALUE")
        key, _, value = token[2:].partition("=")
        key = key.replace("-", "_")
        if not _:
            if i + 1 >= len(extra):
                raise UsageError(f"--{key.replace('_', '-')} needs a value")
            value, i = extra[i + 1], i + 1
        if key not in defaults:
            known = ", ".join("--" + k.replace("_", "-") for k in sorted(defaults)) or "none"
            raise UsageError(f"model '{model}' has no option --{key.replace('_', '-')} (its options: {known})")
        options[key] = _parse_value(key, value, defaults[key])
        i += 1
    return options


def run_train(args) -> int:
    # Under mpiexec every rank runs this, and every rank meets the same mistake or the same agreed stop
    # (the trainer takes those decisions from values all ranks share): rank 0 alone reports it, the
    # others leave quietly with the same exit status. (The launcher's rank: distributed.init may not
    # have run yet when the options are parsed.)
    launch = distributed.launched_by_mpi()
    is_root = launch is None or launch[0] == 0
    try:
        recipe_cls = get(args.model)
        options = parse_options(args.extra, recipe_cls.default_config, args.model)
        for key, value in (("batch_size", args.batch_size), ("lr", args.lr)):
            if value is not None:
                options[key] = value
        run = train(args.model, args.dataset, out=args.out, steps=args.steps, epochs=args.epochs,
                    device=args.device, seed=args.seed, resume=args.resume, options=options)
    except (UsageError, TrainingDiverged, TrainingInterrupted) as e:
        if not is_root:
            raise SystemExit(EXIT_USAGE if isinstance(e, UsageError) else
                             EXIT_FAILED if isinstance(e, TrainingDiverged) else EXIT_INTERRUPTED) from None
        raise
    if is_root:
        print(f"trained {run.config['model']} on {run.config['dataset']} for {run.step} steps; "
              f"run folder {run.out} (evaluate with: minigen eval {shlex.quote(run.out)})", file=sys.stderr)
    return 0
