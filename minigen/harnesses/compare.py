"""The comparison harness: every family that applies to a dataset, trained under the same budget,
judged by the same metrics, over several seeds.

    for family in the registered generative families that support the dataset:
        for seed in seeds:
            train with minigen.training.train(...) until the budget is spent
                (the same wall-clock seconds, or the same number of optimisation steps, for all)
            draw n samples with recipe.sample(n)            (class-balanced for conditional models)
            metrics  = recipe.evaluate(x_test, y_test)      likelihood where the family defines one
                     + sample metrics                       images: minigen.metrics.sample_quality on
                                                            classifier features; 2-D: energy distance,
                                                            modes captured, high-quality share
                     + cost                                 parameters, training time and steps,
                                                            seconds per sample, peak traced memory
        summary: mean and standard deviation of each metric over the seeds

Peak memory is the peak of ``tracemalloc`` during training: every NumPy array and Python object on the
host (NumPy reports its buffers to tracemalloc). It does not see GPU memory, so on CUDA it is the
host side only; tracing also slows training somewhat, equally for every family.

A wall-clock budget stops a run from the trainer's ``callback`` through its Ctrl-C path (the step
finishes, a checkpoint is written), and the model is reloaded from that checkpoint. Timings depend on
the machine and its load; the step budget (``steps=``) is the reproducible one.
"""
from __future__ import annotations

import io
import math
import os
import time
import tracemalloc

import numpy as np

import minigen as mg
from minigen import training
from minigen.metrics import distances, modes, sample_quality
from minigen.training import load_split

from .features import FeatureExtractor

FEW_STEPS = 50          # fewer optimisation steps than this: the budget was too small to train

# metric -> (column title, higher is better?, format); the order of the report's columns
METRICS = {
    "nll_bits_per_dim": ("NLL (bits/dim)", False, "{:.3f}"),
    "nll_nats": ("NLL (nats)", False, "{:.3f}"),
    "fid": ("classifier FID", False, "{:.2f}"),
    "precision": ("precision", True, "{:.3f}"),
    "recall": ("recall", True, "{:.3f}"),
    "class_entropy_bits": ("class entropy (bits)", True, "{:.3f}"),
    "classifier_confidence": ("classifier confidence", True, "{:.3f}"),
    "classes_present": ("classes present", True, "{:.1f}"),
    "memorisation_ratio": ("memorisation ratio", None, "{:.3f}"),
    "energy_distance": ("energy distance", False, "{:.4f}"),
    "modes_captured": ("modes captured", True, "{:.1f}"),
    "high_quality_share": ("high-quality share", True, "{:.3f}"),
    "parameters": ("parameters", None, "{:,.0f}"),
    "train_steps": ("steps", None, "{:,.0f}"),
    "train_seconds": ("train time (s)", None, "{:.1f}"),
    "ms_per_sample": ("ms / sample", None, "{:.3f}"),
    "peak_memory_mb": ("peak memory (MB)", None, "{:.1f}"),
}


class _BudgetSpent(KeyboardInterrupt):
    """Raised from the trainer's callback: the trainer then saves a checkpoint, as for Ctrl-C."""


def applicable(dataset, models=None):
    """(names to train, {name: reason skipped}) among the registered generative families."""
    info = training.dataset_info(dataset)
    wanted = training.names() if models is None else list(models)
    chosen, skipped = [], {}
    for name in wanted:
        recipe_cls = training.get(name)          # an unknown name is a UsageError listing the known ones
        if not recipe_cls.generative:
            skipped[name] = "not a generative model (it draws no samples)"
        elif not recipe_cls.supports(info):
            skipped[name] = f"needs {recipe_cls.requirement()}; {dataset} is not one"
        else:
            chosen.append(name)
    return chosen, skipped


def count_parameters(recipe):
    return int(sum(p.data.size for module in recipe.modules() for p in module.parameters()))


def train_within_budget(model, dataset, out, seed, device="cpu", budget_seconds=None, steps=None,
                        options=None):
    """Train ``model`` for ``steps`` steps or until ``budget_seconds`` have passed.

    Returns (run, seconds, peak traced bytes)."""
    if (budget_seconds is None) == (steps is None):
        raise ValueError("train_within_budget: give exactly one of budget_seconds and steps")
    t0 = time.perf_counter()

    def stop_when_spent(step, metrics):
        if time.perf_counter() - t0 >= budget_seconds:
            raise _BudgetSpent

    tracemalloc.start()
    try:
        if steps is not None:
            run = training.train(model, dataset, out=out, steps=steps, device=device, seed=seed,
                                 options=options, stream=io.StringIO())
        else:
            try:
                training.train(model, dataset, out=out, steps=10 ** 9, device=device, seed=seed,
                               options=options, callback=stop_when_spent, stream=io.StringIO())
            except training.TrainingInterrupted:
                pass
            run = training.load_run(out, device=device)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    run.recipe.eval()
    return run, seconds, peak


def draw_samples(recipe, n, seed, sample_steps=None, chunk=250):
    """``n`` samples (class-balanced for a conditional family) and the seconds they took."""
    mg.manual_seed(seed)
    num_classes = recipe.info.num_classes if recipe.conditional else None
    labels = [k % num_classes for k in range(n)] if num_classes else [None] * n
    kwargs = {"steps": sample_steps} if recipe.sampler_steps and sample_steps else {}
    t0 = time.perf_counter()
    parts = []
    with mg.no_grad():
        if num_classes:
            for k in range(num_classes):
                count = labels.count(k)
                parts += [recipe.sample(min(chunk, count - i), label=k, **kwargs)
                          for i in range(0, count, chunk)]
        else:
            parts = [recipe.sample(min(chunk, n - i), **kwargs) for i in range(0, n, chunk)]
    seconds = time.perf_counter() - t0
    return np.concatenate(parts).astype(np.float32), seconds


class Reference:
    """What every family is judged against: held-out data, and for images the feature extractor."""

    def __init__(self, dataset, n_samples, cache_dir, device="cpu", seed=0):
        self.dataset = dataset
        self.info = training.dataset_info(dataset)
        self.x_train, self.y_train = load_split(dataset, "train")
        self.x_test, self.y_test = load_split(dataset, "test")
        rng = np.random.default_rng(seed)
        self.n = min(n_samples, len(self.x_test))
        self.test = self.x_test[rng.permutation(len(self.x_test))[:self.n]]
        train = self.x_train[rng.permutation(len(self.x_train))[:self.n]]
        self.floor = {}
        if self.info.kind == "image":
            self.extractor = FeatureExtractor.for_dataset(dataset, cache_dir, device=device)
            self.test_features = self.extractor.features(self.test)
            self.floor["fid"] = sample_quality.frechet_distance(self.extractor.features(train),
                                                                self.test_features)
            self.floor.update(sample_quality.precision_recall(self.test_features,
                                                              self.extractor.features(train)))
            self.floor["class_entropy_bits"] = sample_quality.class_entropy(
                self.extractor.predict(self.test), self.info.num_classes)
            self.floor.update(sample_quality.classifier_confidence(
                self.extractor.probabilities(self.test), self.info.num_classes))
            self.floor["memorisation_ratio"] = 1.0     # held-out images themselves, by definition
            self.floor["classifier_test_accuracy"] = self.extractor.accuracy(self.x_test, self.y_test)
        else:
            # the entropy of the true density, E[-log p(x)]: the NLL of a perfect model
            self.floor["nll_nats"] = float(-mg.data.toy2d.log_density(dataset, self.x_test).mean())
            self.floor["energy_distance"] = distances.energy_distance(train, self.test)
            self.floor.update(self.mode_metrics(train))

    def mode_metrics(self, points):
        try:
            centres, std = mg.data.toy2d.modes(self.dataset)
        except ValueError:           # not a Gaussian mixture: no modes to count
            return {}
        found = modes.mode_metrics(points, centres, std)
        return {"modes_captured": found["modes_captured"], "num_modes": found["num_modes"],
                "high_quality_share": found["high_quality_share"]}

    def sample_metrics(self, samples):
        if self.info.kind != "image":
            return {"energy_distance": distances.energy_distance(samples, self.test),
                    **self.mode_metrics(samples)}
        features = self.extractor.features(samples)
        return {"fid": sample_quality.frechet_distance(features, self.test_features),
                **sample_quality.precision_recall(self.test_features, features),
                "class_entropy_bits": sample_quality.class_entropy(self.extractor.predict(samples),
                                                                   self.info.num_classes),
                **sample_quality.classifier_confidence(self.extractor.probabilities(samples),
                                                       self.info.num_classes),
                "memorisation_ratio": sample_quality.memorisation_ratio(samples, self.x_train,
                                                                        self.test)}


def judge_samples(recipe, n, seed=0, sample_steps=None, feature_cache="runs/features", device="cpu"):
    """The sample measures of a comparison for one trained model (``minigen eval DIR --samples N``):
    ``n`` samples (at most the test split's size; class-balanced for a conditional family) judged
    against held-out data by ``Reference.sample_metrics``, plus ``samples``, their number, and
    ``held_out``: the same measures of real held-out data (the floor a perfect model would reach).
    ``sample_steps``: for a family with a step-count sampler (DDIM), default the steps of its preview."""
    reference = Reference(recipe.info.name, n, feature_cache, device=device)
    steps = sample_steps or recipe.preview_steps
    samples, _ = draw_samples(recipe, reference.n, seed, steps)
    metrics = reference.sample_metrics(samples)
    if steps and recipe.sampler_steps:
        metrics["sample_steps"] = steps
    held_out = {k: v for k, v in reference.floor.items() if k in metrics or k == "classifier_test_accuracy"}
    return {"samples": reference.n, **metrics, "held_out": held_out}


def _likelihood(metrics, kind):
    key = "nll_bits_per_dim" if kind == "image" else "nll_nats"
    value = metrics.get(key)
    return {key: float(value)} if value is not None and math.isfinite(value) else {}


def summarise(runs):
    """{metric: {"mean", "std", "n"}} over the runs (seeds) that report the metric."""
    keys = [k for k in METRICS if any(k in r for r in runs)]
    summary = {}
    for key in keys:
        values = np.array([r[key] for r in runs if key in r], dtype=np.float64)
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1
                        else 0.0, "n": int(len(values))}
    return summary


def compare(dataset, models=None, budget_seconds=60.0, steps=None, seeds=2, device="cpu", out=None,
            n_samples=None, sample_steps=50, feature_cache="runs/features", log=print, on_family=None):
    """Train and evaluate every applicable family on ``dataset``; returns the results dict that the
    report writers (minigen.harnesses.report) turn into DIR/report.md, report.html and results.json.

    ``steps`` (if given) replaces the wall-clock ``budget_seconds``; ``sample_steps`` is passed to
    families with a step-count sampler (DDIM). ``on_family(results)`` is called after each family, so
    a long comparison can write its report as it goes."""
    from minigen import viz
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise training.UsageError(f"--seeds must be a positive integer, got {seeds!r}")
    if steps is None and not (budget_seconds and budget_seconds > 0):
        raise training.UsageError(f"--budget-seconds must be positive, got {budget_seconds!r}")
    info = training.dataset_info(dataset)
    if info.kind not in ("image", "2d"):      # paired and captioned sets: their models draw from a condition
        raise training.UsageError(f"compare measures unconditional samples of images or 2-D points; {dataset} "
                                  f"is a {info.kind} set (train its models with 'minigen train' and compare "
                                  "them with 'minigen eval')")
    out = os.fspath(out or os.path.join("runs", f"compare-{dataset}"))
    figures = os.path.join(out, "figures")
    os.makedirs(figures, exist_ok=True)
    chosen, skipped = applicable(dataset, models)
    for name, reason in skipped.items():
        log(f"skipping {name}: {reason}")
    if not chosen:
        raise training.UsageError(f"no generative family applies to {dataset}")
    n_samples = n_samples or (2000 if info.kind != "image" else 1000)
    log(f"reference data for {dataset}" + (" (training the feature classifier once)"
                                           if info.kind == "image" else ""))
    reference = Reference(dataset, n_samples, feature_cache, device=device)
    budget = {"steps": steps} if steps is not None else {"seconds": float(budget_seconds)}
    results = {"dataset": dataset, "kind": info.kind, "budget": budget, "seeds": list(range(seeds)),
               "device": str(device), "n_samples": reference.n, "sample_steps": sample_steps,
               "floor": reference.floor, "skipped": skipped, "families": {}, "out": out,
               "models": list(models) if models else None}
    for name in chosen:
        family = {"runs": [], "notes": [], "figures": {}}
        for seed in range(seeds):
            run_dir = os.path.join(out, "runs", f"{name}-seed{seed}")
            if os.path.exists(os.path.join(run_dir, training.CHECKPOINT)):
                os.remove(os.path.join(run_dir, training.CHECKPOINT))     # a fresh run every time
            log(f"{name} seed {seed}: training ({_budget_words(budget)})")
            try:
                run, seconds, peak = train_within_budget(name, dataset, run_dir, seed, device,
                                                         budget_seconds if steps is None else None, steps)
                recipe = run.recipe
                samples, sample_seconds = draw_samples(recipe, reference.n, seed, sample_steps)
                mg.manual_seed(seed)
                with mg.no_grad():
                    evaluated = recipe.evaluate(reference.x_test, reference.y_test)
                metrics = {**_likelihood(evaluated, info.kind), **reference.sample_metrics(samples),
                           "parameters": count_parameters(recipe), "train_steps": run.step,
                           "train_seconds": seconds, "ms_per_sample": 1000 * sample_seconds / len(samples),
                           "peak_memory_mb": peak / 2 ** 20, "seed": seed}
            except Exception as e:      # one family's failure must not lose the others' results
                family["notes"].append(f"seed {seed}: failed: {type(e).__name__}: {e}")
                log(f"{name} seed {seed}: failed: {type(e).__name__}: {e}")
                continue
            if run.step < FEW_STEPS:
                family["notes"].append(f"seed {seed}: only {run.step} steps fit in the budget: "
                                       "too small to train this family")
            family["runs"].append(metrics)
            log(f"{name} seed {seed}: " + ", ".join(f"{k}={_fmt(k, v)}" for k, v in metrics.items()
                                                    if k in METRICS))
            if seed == 0:
                family["figures"] = _draw(viz, name, samples, reference, run_dir, figures)
        family["summary"] = summarise(family["runs"])
        results["families"][name] = family
        if on_family is not None:
            on_family(results)
    return results


def _budget_words(budget):
    return f"{budget['steps']} steps" if "steps" in budget else f"{budget['seconds']:g} s"


def _fmt(key, value):
    return METRICS[key][2].format(value)


def _draw(viz, name, samples, reference, run_dir, figures):
    """Sample figure and loss curves of one run; returns {kind: path}."""
    drawn = {}
    path = os.path.join(figures, f"{name}-samples.png")
    if reference.info.kind == "image":
        viz.image_grid(samples[:64], path, nrow=8, title=f"{name} samples")
    else:
        viz.scatter_2d(samples[:2000], path, reference=reference.test[:2000], title=f"{name} samples")
    drawn["samples"] = path
    metrics_path = os.path.join(run_dir, training.METRICS)
    if os.path.exists(metrics_path) and training.read_metrics(metrics_path):
        path = os.path.join(figures, f"{name}-loss.png")
        try:
            viz.loss_curves(metrics_path, path, title=f"{name} training")
            drawn["loss"] = path
        except ValueError:       # nothing plottable (a single logged record)
            pass
    return drawn
