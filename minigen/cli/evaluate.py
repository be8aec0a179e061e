"""``minigen eval DIR [--split test] [--samples N [--sample-steps S]]``: the family's metrics on a split,
as one JSON object on stdout.

``--samples N`` adds the sample measures of ``minigen compare`` (minigen.harnesses.compare.judge_samples)
for N samples: on images, what the dataset's classifier makes of them (its confidence, the classes
present, classifier FID, precision and recall) and how far they are from the training images
(memorisation ratio); on 2-D data, the energy distance to held-out points and the modes of the Gaussian
mixtures. Measures the family reports itself keep the family's value. The classifier is trained once
per dataset into ``runs/features`` (as ``minigen compare`` does) and loaded from there afterwards.
"""
from __future__ import annotations

import json
import os
import sys

from ..recipe import UsageError, check_number
from ..training import load_run
from ..training import load_split

FEATURES = os.path.join("runs", "features")      # where minigen compare keeps its classifiers too


def add_commands(commands) -> None:
    p = commands.add_parser("eval", help="print one JSON object of metrics for a trained model")
    p.add_argument("dir", metavar="DIR", help="run folder written by 'minigen train'")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--samples", type=int, metavar="N",
                   help="also judge N samples as 'minigen compare' does (classifier confidence, classes "
                        "present, FID and memorisation on images; energy distance and modes on 2-D data)")
    p.add_argument("--sample-steps", type=int, metavar="S",
                   help="sampler steps for --samples (DDIM; default: those of the family's preview)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the one it was trained on)")
    p.set_defaults(run=run_eval)


def run_eval(args) -> int:
    if args.samples is not None:
        check_number("--samples", args.samples, integer=True, minimum=2)
    if args.sample_steps is not None:
        if args.samples is None:
            raise UsageError("--sample-steps goes with --samples N")
        check_number("--sample-steps", args.sample_steps, integer=True, positive=True)
    run = load_run(args.dir, device=args.device)
    x, y = load_split(run.config["dataset"], args.split)
    metrics = run.recipe.evaluate(x, y)
    if args.samples is not None:
        if not run.recipe.generative:
            raise UsageError(f"--samples: '{run.config['model']}' is not a generative model: it has no "
                             "samples to judge")
        from ..harnesses.compare import judge_samples
        classifier = os.path.join(FEATURES, f"classifier-{run.config['dataset']}", "checkpoint.npz")
        if run.recipe.info.kind == "image" and not os.path.exists(classifier):
            print(f"--samples: training the classifier of {run.config['dataset']} that judges them, once, "
                  f"into {os.path.dirname(classifier)}", file=sys.stderr)
        judged = judge_samples(run.recipe, args.samples, seed=run.config["seed"],
                               sample_steps=args.sample_steps, feature_cache=FEATURES,
                               device=run.recipe.device)
        metrics = {**judged, **metrics}
    print(json.dumps({"model": run.config["model"], "dataset": run.config["dataset"],
                      "split": args.split, "step": run.step, **metrics}))
    return 0
