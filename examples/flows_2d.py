"""Flows on the 2-D toy sets: exact test NLL against the data's true entropy, and density plots.

Trains each model (realnvp, planar) on each 2-D set with the same recipe as `minigen train`, then
prints, per set, the exact test NLL (nats per point), the true entropy H(p) = -E_p[log p(x)] estimated
by Monte Carlo on the test set from minigen.data.toy2d.log_density (no model can beat it on fresh
data), their gap, and the time per epoch; and writes docs/img/flows_<model>_<set>.png: the learned
density p(x) = N(f(x); 0, I) |det df/dx| as a heat map beside the test data.

    python examples/flows_2d.py                                   # realnvp and planar, 8gaussians and moons
    python examples/flows_2d.py --models realnvp planar --datasets 8gaussians moons 2spirals
    python examples/flows_2d.py --quick                           # 3 epochs each, a smoke test
"""
import argparse
import os
import tempfile
import time

import minigen as mg
from minigen import viz
from minigen.training import read_metrics, train


def shrink_png(path, colors=256):
    """Rewrite a PNG with an adaptive palette of ``colors`` colours: a few times smaller, same look."""
    from PIL import Image  # matplotlib's own dependency
    Image.open(path).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=colors).save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["realnvp", "planar"], choices=["realnvp", "planar"])
    parser.add_argument("--datasets", nargs="+", default=["8gaussians", "moons"])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="3 epochs per model, to check it runs")
    parser.add_argument("--img", default="docs/img", help="folder for the density plots")
    parser.add_argument("--runs", default=None, help="folder for the run folders (default: a temporary one)")
    args = parser.parse_args()
    epochs = 3 if args.quick else args.epochs
    runs = args.runs or tempfile.mkdtemp(prefix="flows_2d_")

    print(f"{'model':8s} {'dataset':12s} {'test NLL':>9s} {'entropy':>8s} {'gap':>6s} {'s/epoch':>8s}")
    for model in args.models:
        for dataset in args.datasets:
            out = os.path.join(runs, f"{model}-{dataset}")
            start = time.perf_counter()
            run = train(model, dataset, out=out, epochs=epochs, stream=None)
            seconds = time.perf_counter() - start
            x_test, _ = mg.data.load(dataset, "test")
            metrics = run.recipe.evaluate(x_test)
            nll, entropy = metrics["nll_nats"], metrics["true_entropy_nats"]
            train_time = read_metrics(os.path.join(out, "metrics.jsonl"))[-1]["time"]
            print(f"{model:8s} {dataset:12s} {nll:9.3f} {entropy:8.3f} {nll - entropy:6.3f} "
                  f"{train_time / epochs:8.2f}   ({seconds:.0f} s in all)")
            path = viz.density_heatmap(run.recipe.log_prob, os.path.join(args.img, f"flows_{model}_{dataset}.png"),
                                       resolution=120, data=x_test[:1500],
                                       title=f"{model} on {dataset}: test NLL {nll:.3f} nats "
                                             f"(entropy {entropy:.3f})")
            shrink_png(path)
            print(f"    wrote {path}")


if __name__ == "__main__":
    main()
