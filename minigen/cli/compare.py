"""``minigen compare --dataset NAME [--budget-seconds S | --steps N] [--seeds N] [--models a,b]
[--device D] [--out DIR]``: train every applicable family under one budget and write DIR/report.md,
DIR/report.html and DIR/results.json (minigen.harnesses.compare, minigen.harnesses.report)."""
from __future__ import annotations

import os
import sys

from ..recipe import UsageError, check_number
from ..training import dataset_info
from .files import not_a_file


def add_commands(commands) -> None:
    p = commands.add_parser("compare", help="train every family on a dataset under one budget and "
                                            "compare them with the same metrics")
    p.add_argument("--dataset", required=True, metavar="NAME")
    p.add_argument("--budget-seconds", type=float, default=60.0, metavar="S",
                   help="wall-clock training time per family and seed (default 60)")
    p.add_argument("--steps", type=int, metavar="N",
                   help="train each family for N optimisation steps instead of a time budget")
    p.add_argument("--seeds", type=int, default=2, metavar="N", help="seeds 0..N-1 (default 2)")
    p.add_argument("--models", metavar="a,b,c", help="families to compare (default: all that apply)")
    p.add_argument("--samples", type=int, metavar="N",
                   help="samples per family for the metrics (default 1000 for images, 2000 for 2-D)")
    p.add_argument("--sample-steps", type=int, default=50, metavar="S",
                   help="steps of samplers that take a step count, e.g. DDIM (default 50)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--out", metavar="DIR", help="default runs/compare-NAME")
    p.add_argument("--feature-cache", default=os.path.join("runs", "features"), metavar="DIR",
                   help="where the feature classifier of the image metrics is trained once and kept")
    p.set_defaults(run=run_compare)


def run_compare(args) -> int:
    from ..harnesses.compare import compare
    from ..harnesses.report import write_reports
    if args.steps is not None:
        check_number("--steps", args.steps, integer=True, positive=True)
    else:
        check_number("--budget-seconds", args.budget_seconds, positive=True)
    check_number("--seeds", args.seeds, integer=True, positive=True)
    check_number("--sample-steps", args.sample_steps, integer=True, positive=True)
    if args.samples is not None:
        check_number("--samples", args.samples, integer=True, minimum=10)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.models is not None and not models:
        raise UsageError(f"--models names no model: {args.models!r}")
    dataset_info(args.dataset)
    out = not_a_file(args.out or os.path.join("runs", f"compare-{args.dataset}"), "--out")
    not_a_file(args.feature_cache, "--feature-cache")
    results = compare(args.dataset, models=models, budget_seconds=args.budget_seconds, steps=args.steps,
                      seeds=args.seeds, device=args.device, out=out, n_samples=args.samples,
                      sample_steps=args.sample_steps, feature_cache=args.feature_cache,
                      log=lambda line: print(line, file=sys.stderr, flush=True),
                      on_family=lambda partial: write_reports(partial, out))   # a report as it goes
    paths = write_reports(results, out)
    print(open(paths["report.md"]).read())
    print(f"wrote {', '.join(paths.values())}", file=sys.stderr)
    return 0
