"""Data augmentation with class-conditional samples: does generated data help a classifier trained on
few labels?

    for n in (10, 50) labelled images per class, for each seed:
        baseline:  classifier trained on the n * 10 real images           -> test accuracy
        for each class-conditional family G (cvae, cgan, ddpm --conditional true):
            train G on the same n * 10 labelled images (it sees nothing more)
            draw m images per class from G
            classifier trained on the real images + the generated ones   -> test accuracy

The generator never sees more labels than the classifier: whatever it adds is what it could
infer from the same few images. Printed as a Markdown table, mean ± std over the seeds.

    python examples/augmentation.py                      # mnist-5k, 10 and 50 per class, 2 seeds
    python examples/augmentation.py --quick              # digits, short training: a few minutes
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minigen as mg  # noqa: E402
from minigen import data, training  # noqa: E402
from _subset_training import balanced_subset, classifier_accuracy, train_recipe  # noqa: E402

GENERATORS = {"cvae": {}, "cgan": {}, "ddpm": {"conditional": True}}


def generate(recipe, per_class, num_classes, seed):
    mg.manual_seed(seed)
    kwargs = {"steps": 50} if recipe.sampler_steps else {}
    with mg.no_grad():
        images = np.concatenate([recipe.sample(per_class, label=k, **kwargs) for k in range(num_classes)])
    return images, np.arange(num_classes).repeat(per_class)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="default mnist-5k (digits with --quick)")
    parser.add_argument("--sizes", default="10,50", help="labelled images per class")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--models", default=",".join(GENERATORS))
    parser.add_argument("--generator-steps", type=int, help="default 2000 (300 with --quick)")
    parser.add_argument("--classifier-steps", type=int, help="default 500 (300 with --quick)")
    parser.add_argument("--generated-per-class", type=int, help="default 100 (50 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="digits, 300 generator and 300 classifier steps, 50 samples per class")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or ("digits" if args.quick else "mnist-5k")
    args.generator_steps = args.generator_steps or (300 if args.quick else 2000)
    args.classifier_steps = args.classifier_steps or (300 if args.quick else 500)
    args.generated_per_class = args.generated_per_class or (50 if args.quick else 100)
    info = training.dataset_info(args.dataset)
    x_train, y_train = data.load(args.dataset, split="train")
    x_test, y_test = data.load(args.dataset, split="test")
    models = [m for m in args.models.split(",") if m]
    sizes = [int(s) for s in args.sizes.split(",")]
    accuracy = {}                              # (n, method) -> [accuracy per seed]
    for n in sizes:
        for seed in range(args.seeds):
            x, y = balanced_subset(x_train, y_train, n, seed)
            acc = classifier_accuracy(args.dataset, x, y, x_test, y_test, args.classifier_steps, seed)
            accuracy.setdefault((n, "real only"), []).append(acc)
            print(f"n={n} seed={seed} real only: {acc:.3f}", file=sys.stderr, flush=True)
            for model in models:
                recipe = train_recipe(model, args.dataset, x, y, args.generator_steps, seed, GENERATORS.get(model))
                x_gen, y_gen = generate(recipe, args.generated_per_class, info.num_classes, seed)
                acc = classifier_accuracy(args.dataset, np.concatenate([x, x_gen]), np.concatenate([y, y_gen]),
                                    x_test, y_test, args.classifier_steps, seed)
                accuracy.setdefault((n, f"+ {model}"), []).append(acc)
                print(f"n={n} seed={seed} + {model}: {acc:.3f}", file=sys.stderr, flush=True)
    methods = ["real only"] + [f"+ {m}" for m in models]
    print(f"\nTest accuracy on {args.dataset} ({len(x_test)} test images), mean ± std over {args.seeds} "
          f"seeds; generators: {args.generator_steps} steps, {args.generated_per_class} samples per class; "
          f"classifier: MLP, {args.classifier_steps} steps\n")
    print("| labelled per class | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for n in sizes:
        cells = [f"{np.mean(accuracy[n, m]):.3f} ± {np.std(accuracy[n, m], ddof=1) if args.seeds > 1 else 0:.3f}"
                 for m in methods]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
