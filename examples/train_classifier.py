"""Train the digit classifier from Python, then use it: accuracy, predictions, penultimate features.

The same run from the command line is

    minigen train classifier --dataset digits --out runs/classifier-digits
    minigen eval runs/classifier-digits

Run this script with ``python examples/train_classifier.py [--arch cnn|mlp|linear] [--out DIR]``.
Running it twice resumes nothing: it trains into a fresh folder each time (delete DIR or pass another).
"""
import argparse
import time

import numpy as np

import minigen as mg
from minigen import data, training, viz


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="cnn", choices=("cnn", "mlp", "linear"))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or f"runs/classifier-{args.arch}-{args.dataset}-{int(time.time())}"

    t0 = time.perf_counter()
    run = training.train("classifier", args.dataset, out=out, options={"arch": args.arch})
    seconds = time.perf_counter() - t0

    x_test, y_test = data.load(args.dataset, split="test")
    metrics = run.recipe.evaluate(x_test, y_test)
    print(f"{args.arch} on {args.dataset}: test accuracy {metrics['accuracy']:.2%}, "
          f"NLL {metrics['nll']:.4f} nats, {run.step} steps in {seconds:.1f} s")

    # The same model, loaded back from its checkpoint as any later script would
    classifier = training.load_run(out).recipe.model
    with mg.no_grad():
        features = classifier.features(mg.tensor(x_test)).numpy()
    print(f"features(x): {features.shape[1]} numbers per image (the input of FID-style metrics)")

    # Which digits does it confuse? Rows: true class, columns: predicted class
    with mg.no_grad():
        predicted = classifier(mg.tensor(x_test)).numpy().argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y_test, predicted), 1)
    print("confusion matrix (rows: true digit, columns: predicted):")
    print(confusion)

    viz.loss_curves(f"{out}/metrics.jsonl", f"{out}/curves.png", keys=["loss", "accuracy"],
                    title=f"classifier ({args.arch}) on {args.dataset}")
    print(f"figures: {out}/samples.png (predictions), {out}/curves.png (training curves)")


if __name__ == "__main__":
    main()
