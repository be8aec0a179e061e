"""``minigen eval DIR [--split test]``: the family's metrics on a split, as one JSON object on stdout."""
from __future__ import annotations

import json

from ..training import load_run
from ..training import load_split


def add_commands(commands) -> None:
    p = commands.add_parser("eval", help="print one JSON object of metrics for a trained model")
    p.add_argument("dir", metavar="DIR", help="run folder written by 'minigen train'")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the one it was trained on)")
    p.set_defaults(run=run_eval)


def run_eval(args) -> int:
    run = load_run(args.dir, device=args.device)
    x, y = load_split(run.config["dataset"], args.split)
    metrics = run.recipe.evaluate(x, y)
    print(json.dumps({"model": run.config["model"], "dataset": run.config["dataset"],
                      "split": args.split, "step": run.step, **metrics}))
    return 0
