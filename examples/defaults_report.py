"""What `minigen train MODEL --dataset NAME` gives with its defaults: every family trained on its
datasets, measured, and the table written into the docs.

    python examples/defaults_report.py                       # every row (hours on a loaded 2-core CPU)
    python examples/defaults_report.py --only ddpm/mnist-5k,dcgan/mnist-5k     # (re)run these rows
    python examples/defaults_report.py --only dcgan/mnist-5k --commands  # through the command line
    python examples/defaults_report.py --quick               # 20 steps a run, to check the script
    python examples/defaults_report.py --write-only          # rewrite the docs from results.json

For each (family, dataset) of PLAN, nothing but the defaults (the family's ``default_config`` with its
``dataset_defaults`` for the dataset: minigen.recipe.family_defaults):

    train     minigen.training.train(family, dataset), the loop `minigen train` runs, preview included
    time      wall clock of the whole run (as measured, on whatever load the machine had), the CPU
              seconds of each step (time.process_time in the trainer's callback: every thread of this
              process, so about the time of the step on one unloaded core), and the end of the run
              (last checkpoint and samples.png)
    quality   recipe.evaluate on the test split (what `minigen eval` prints: a likelihood where the family
              defines one), and on images the sample measures of `minigen eval --samples N`
              (minigen.harnesses.compare.judge_samples: the dataset classifier's confidence, the classes
              present, memorisation ratio, classifier FID)

With --commands a row is the documented pair of commands itself, each in a process of its own:
`minigen train FAMILY --dataset NAME --out DIR`, then `minigen eval DIR` (with `--samples N` on images);
its time is that of the train command (wall clock, and the CPU seconds of its process), the time of a
step the median of the intervals that the run's metrics.jsonl logs (wall clock while training).

Rows go into OUT/results.json as each finishes, so a run that stops goes on where it stopped (a row
already there is kept unless --only names it). From results.json the script writes:

    docs/defaults.md            the table, with the machine, the date and the load beside it
    marked regions of README.md and docs/*.md, so that the numbers the pages quote are the table's:
        <!-- defaults: ddpm/mnist-5k, dcgan/mnist-5k -->  ...  <!-- /defaults -->     a table of those rows
        <!-- value: ddpm/mnist-5k classifier_confidence -->0.87<!-- /value -->        one number

--quick writes into runs/defaults-quick and never into the docs.
"""
import argparse
import datetime
import io
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import minigen as mg
from minigen import backend, training
from minigen.harnesses.compare import judge_samples
from minigen.recipe import family_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TWO_D = ("8gaussians", "25gaussians", "moons")
IMAGES = ("digits", "mnist-5k")
PLAN = [(family, dataset) for family in ("gan", "wgan-gp", "planar", "realnvp", "ddpm")
        for dataset in ("8gaussians", "moons")] + [("gan", "25gaussians"), ("wgan-gp", "25gaussians")] + [
    (family, dataset) for dataset in IMAGES
    for family in ("ae", "vae", "cvae", "vqvae", "vqvae2", "pixelcnn", "gan", "dcgan", "cgan", "wgan-gp",
                   "realnvp", "glow", "ddpm", "classifier", "gaussian-classifier")]
JUDGED = {"pixelcnn": 100}        # samples judged per image family (default: the whole test split, at
                                  # most 1,000); a pixel-by-pixel sampler pays 784 network passes per image
QUICK_STEPS = 20

# the columns of the tables: (key, title, format); a row shows the keys it has
QUALITY = {
    "2d": [("modes", "modes captured", "{}"), ("high_quality_share", "high-quality share", "{:.2f}"),
           ("energy_distance", "energy distance", "{:.3f}"), ("nll_gap_nats", "NLL - entropy (nats)", "{:.3f}"),
           ("nll_nats", "NLL (nats)", "{:.3f}")],
    "image": [("classifier_confidence", "classifier confidence", "{:.2f}"),
              ("weakest_class_confidence", "weakest class", "{:.2f}"),
              ("classes_present", "classes", "{}"), ("memorisation_ratio", "memorisation ratio", "{:.2f}"),
              ("fid", "classifier FID", "{:.1f}"), ("likelihood", "likelihood", "{}"),
              ("accuracy", "test accuracy", "{:.3f}"), ("recon_mse", "reconstruction MSE", "{:.4f}")],
}
LIKELIHOOD_KEYS = [("nll_bits_per_dim", "{:.3f} bits/dim"), ("nll_nats", "{:.1f} nats"),
                   ("bound_bits_per_dim", "{:.3f} bits/dim (bound)"), ("prior_nll_nats", "{:.1f} nats (prior of the codes)")]


# ------------------------------------------------------------------------------------ one row
def run_row(family, dataset, out, quick):
    """Train ``family`` on ``dataset`` with its defaults into ``out``/FAMILY-DATASET and measure it."""
    folder = os.path.join(out, "runs", f"{family}-{dataset}")
    shutil.rmtree(folder, ignore_errors=True)
    stamps = []                                          # (process_time, perf_counter) after each step
    load_before = os.getloadavg()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run = training.train(family, dataset, out=folder, steps=QUICK_STEPS if quick else None,
                         stream=io.StringIO(),
                         callback=lambda step, metrics: stamps.append((time.process_time(), time.perf_counter())))
    cpu1, wall1 = time.process_time(), time.perf_counter()
    per_step = [b[0] - a[0] for a, b in zip(stamps[1:], stamps[2:])] or [stamps[-1][0] - cpu0]
    info, recipe_cls = training.dataset_info(dataset), training.get(family)
    batch = min(run.config.get("batch_size", 64), info.n_train)
    row = {"family": family, "dataset": dataset, "steps": run.step, "epochs": run.config.get("epochs"),
           "batch_size": batch, "steps_per_epoch": info.n_train // batch if recipe_cls.drop_last
           else -(-info.n_train // batch),
           "defaults": {k: run.config[k] for k in family_defaults(training.get(family),
                                                                   training.dataset_info(dataset))},
           "wall_s": wall1 - wall0, "cpu_s": cpu1 - cpu0, "cpu_per_step_s": statistics.median(per_step),
           "end_wall_s": wall1 - stamps[-1][1], "end_cpu_s": cpu1 - stamps[-1][0],
           "load_before": load_before, "load_after": os.getloadavg(), "commit": machine_record()["commit"],
           "finished": datetime.datetime.now().isoformat(timespec="seconds")}
    # steps x the median step + the end: the run on one unloaded core (the median skips the steps
    # that a busy machine or a first-call set-up made slow)
    row["estimate_s"] = row["steps"] * row["cpu_per_step_s"] + row["end_cpu_s"]
    eval_cpu = time.process_time()
    x_test, y_test = training.load_split(dataset, "test")
    mg.manual_seed(run.config["seed"])
    with mg.no_grad():
        evaluated = run.recipe.evaluate(x_test, y_test)
    row["eval"] = {k: v for k, v in evaluated.items() if isinstance(v, (int, float))}
    if run.recipe.generative and run.recipe.info.kind == "image":
        n = JUDGED.get(family, 1000)
        with mg.no_grad():
            row["judge"] = judge_samples(run.recipe, n, seed=run.config["seed"],
                                         feature_cache=os.path.join(out, "features"))
    row["eval_cpu_s"] = time.process_time() - eval_cpu
    return row


def run_commands(family, dataset, out, quick):
    """The row of ``family`` on ``dataset`` measured by running the documented commands (--commands)."""
    import resource
    folder = os.path.abspath(os.path.join(out, "runs", f"{family}-{dataset}"))
    shutil.rmtree(folder, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def minigen(*words):
        proc = subprocess.run([sys.executable, "-m", "minigen", *words], cwd=out, env=env, capture_output=True,
                              text=True)
        if proc.returncode:
            raise SystemExit(f"defaults_report: minigen {' '.join(words)} exited {proc.returncode}:\n"
                             f"{proc.stderr[-2000:]}")
        return proc

    load_before = os.getloadavg()
    usage0, wall0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    minigen("train", family, "--dataset", dataset, "--out", folder, *(["--steps", str(QUICK_STEPS)] if quick else []))
    usage1, wall1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    config = json.load(open(os.path.join(folder, "config.json")))
    logged = [json.loads(line) for line in open(os.path.join(folder, "metrics.jsonl")) if line.strip()]
    logged = [m for m in logged if "time" in m and "step" in m]
    per_step = [(b["time"] - a["time"]) / (b["step"] - a["step"]) for a, b in zip(logged[1:], logged[2:])
                if b["step"] > a["step"]] or [(wall1 - wall0) / max(config["steps"], 1)]
    info, recipe_cls = training.dataset_info(dataset), training.get(family)
    batch = min(config.get("batch_size", 64), info.n_train)
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    row = {"family": family, "dataset": dataset, "steps": config["steps"], "epochs": config.get("epochs"),
           "batch_size": batch, "steps_per_epoch": info.n_train // batch if recipe_cls.drop_last
           else -(-info.n_train // batch),
           "defaults": {k: config[k] for k in family_defaults(recipe_cls, info)},
           "wall_s": wall1 - wall0, "cpu_s": cpu, "cpu_per_step_s": statistics.median(per_step),
           "end_wall_s": wall1 - wall0 - (logged[-1]["time"] if logged else 0.0),
           # the CPU seconds of the whole command: about its time on one unloaded core
           "estimate_s": cpu, "via": "commands",
           "load_before": load_before, "load_after": os.getloadavg(), "commit": machine_record()["commit"],
           "finished": datetime.datetime.now().isoformat(timespec="seconds")}
    judged = recipe_cls.generative and info.kind == "image"
    eval_cpu = time.perf_counter()
    printed = json.loads(minigen("eval", folder, *(["--samples", str(JUDGED.get(family, 1000))] if judged else []))
                         .stdout.strip().splitlines()[-1])
    numbers = {k: v for k, v in printed.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    row["eval"] = numbers
    if judged:
        row["judge"] = {**numbers, "held_out": printed.get("held_out", {})}
    row["eval_wall_s"] = time.perf_counter() - eval_cpu
    return row


def quality(row):
    """The numbers the tables show for a row, by column key."""
    ev, judged = row.get("eval", {}), row.get("judge", {})
    cells = {k: judged[k] for k in ("classifier_confidence", "weakest_class_confidence", "classes_present",
                                    "memorisation_ratio", "fid") if k in judged}
    if "modes_captured" in ev:
        cells["modes"] = f"{ev['modes_captured']}/{ev['num_modes']}"
        cells["high_quality_share"] = ev["high_quality_share"]
    for key in ("energy_distance", "accuracy", "recon_mse"):
        if key in ev:
            cells[key] = ev[key]
    if "true_entropy_nats" in ev:
        cells["nll_gap_nats"] = ev["nll_nats"] - ev["true_entropy_nats"]
    if row["dataset"] in TWO_D and "nll_nats" in ev:
        cells["nll_nats"] = ev["nll_nats"]
    if row["dataset"] not in TWO_D:
        for key, form in LIKELIHOOD_KEYS:
            if key in ev and math.isfinite(ev[key]) and row["family"] not in ("classifier", "gaussian-classifier"):
                cells["likelihood"] = form.format(ev[key])
                break
    return cells


def values(row):
    """Everything a page may quote of a row: evaluate's and the judge's numbers, quality's cells, times."""
    return {**row.get("eval", {}), **row.get("judge", {}), **quality(row), "steps": row["steps"],
            "minutes": row["wall_s"] / 60, "estimate_minutes": row["estimate_s"] / 60,
            "cpu_per_step_ms": 1000 * row["cpu_per_step_s"]}


# ------------------------------------------------------------------------------------ tables
def _minutes(seconds):
    return f"{seconds / 60:.1f}" if seconds >= 60 else f"{seconds / 60:.2f}"


def table(rows, kind, not_run=()):
    """A Markdown table of ``rows`` (of one kind of dataset): command, quality, time; then a line for
    each (family, dataset) of ``not_run`` saying that this report has not run it (no number is shown
    that was not measured)."""
    columns = [(k, title, form) for k, title, form in QUALITY[kind] if any(k in quality(r) for r in rows)]
    head = ["command", "steps (epochs x batches)", *[title for _, title, _ in columns],
            "wall min (measured)", "ms / step", "min on an unloaded core (estimate)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = quality(row)
        shown = []
        for key, _, form in columns:
            value = cells.get(key)
            shown.append("-" if value is None else value if isinstance(value, str) else form.format(value))
        epochs, per_epoch = row.get("epochs"), row["steps_per_epoch"]
        length = f"{row['steps']:,}" + (f" ({epochs} x {per_epoch})" if epochs and row["steps"] == epochs * per_epoch
                                         else "")
        lines.append("| " + " | ".join([f"`minigen train {row['family']} --dataset {row['dataset']}`", length,
                                         *shown, _minutes(row["wall_s"]), f"{1000 * row['cpu_per_step_s']:.0f}",
                                         _minutes(row["estimate_s"])]) + " |")
    for family, dataset in not_run:
        lines.append("| " + " | ".join([f"`minigen train {family} --dataset {dataset}`", "not run for this report",
                                         *["-"] * (len(head) - 2)]) + " |")
    return "\n".join(lines)


def machine(results):
    rows = list(results["rows"].values())
    loads = [r["load_before"][0] for r in rows] + [r["load_after"][0] for r in rows]
    dates = sorted(r["finished"][:10] for r in rows)
    commits = sorted({r.get("commit", results["machine"]["commit"]) for r in rows})
    return (f"{results['machine']['cpu']}, {results['machine']['cores']} cores, {results['machine']['system']}; "
            f"minigen {', '.join(commits)}; runs finished {dates[0]} to {dates[-1]}; load average "
            f"(1 min) during the runs {min(loads):.1f} to {max(loads):.1f}, median {statistics.median(loads):.1f} "
            f"on {results['machine']['cores']} cores")


PAGE_HEAD = """# What the defaults give

Generated by `python examples/defaults_report.py` from its `results.json`; do not edit by hand (the
script rewrites this page, and the numbers that the family pages and the README quote from it).

Every row is `minigen train FAMILY --dataset NAME` with nothing but the defaults: the family's
`default_config` and its `dataset_defaults` for that dataset ([training.md](training.md#defaults-that-depend-on-the-data);
`minigen train FAMILY --dataset NAME --help` lists them), trained once with seed 0, preview included,
then measured on the test split:

- **quality**: on the 2-D mixtures the modes captured and the share of samples within 3 standard
  deviations of a mode (`minigen eval`, 10,000 samples); for the flows the exact test NLL above the
  entropy of the true density (in nats; 0 is perfect); on images what `minigen eval DIR --samples N`
  reports for N samples (1,000 on mnist-5k, the 360 test images on digits, 100 for `pixelcnn`):
  the confidence of a CNN classifier trained on the real images (mean top-class probability; on
  real test images it is {confidence_floor}), the weakest class's confidence, the classes present
  (at least a fifth of a fair share of the samples), the memorisation ratio (median distance of a
  sample to its nearest training image over the same for test images: about 1 for new images, near
  0 for copies) and the classifier FID (for comparing models on one dataset only);
- **likelihood** where the family defines one (`minigen eval`): exact for flows and PixelCNN, a bound
  for the VAE (IWAE, k = 500) and DDPM, the priors' NLL of the test codes for VQ-VAE-2;
- **time**: the wall clock of the whole command as measured, on a machine that other jobs were
  loading (so it is an upper bound); the median time of one step; and about the command's time on
  one unloaded core. Rows measured in the script's process (2-D data): the step's CPU time
  (`time.process_time`, every thread of the process), and the steps times that median plus the end
  of the run (last checkpoint and preview). Rows measured by running the commands themselves
  (`--commands`: `minigen train`, then `minigen eval`, each in its own process; the image rows): the
  step's wall clock from the run's `metrics.jsonl`, and the CPU seconds of the whole train command
  (start-up, training, preview). The runs used one thread (`MINIGEN_NUM_THREADS=1`,
  `OPENBLAS_NUM_THREADS=1`); two unloaded cores are faster still where minigen's thread pool splits
  the large operations ([Performance](performance.md)).

Machine: {machine}.

<!-- docs-test
skip minigen train: the rows of the tables below, which python examples/defaults_report.py runs
-->
"""


def write_page(results, path):
    rows = list(results["rows"].values())
    floor = next((r["judge"]["held_out"]["classifier_confidence"] for r in rows
                  if r["dataset"] == "mnist-5k" and "classifier_confidence" in r.get("judge", {}).get("held_out", {})),
                 None)
    text = PAGE_HEAD.format(machine=machine(results),
                            confidence_floor=f"{floor:.2f}" if floor else "about 0.98")
    for title, kind, datasets in (("2-D data", "2d", TWO_D), ("digits (8x8)", "image", ("digits",)),
                                  ("mnist-5k (28x28)", "image", ("mnist-5k",))):
        chosen = [r for r in rows if r["dataset"] in datasets]
        missing = [(f, d) for f, d in PLAN if d in datasets and f"{f}/{d}" not in results["rows"]]
        text += f"\n## {title}\n\n" + table(sorted(chosen, key=lambda r: (r["dataset"], order(r))), kind,
                                              missing) + "\n"
    total = sum(r["wall_s"] for r in rows)
    estimate = sum(r["estimate_s"] for r in rows)
    text += (f"\n{len(rows)} of the plan's {len(PLAN)} runs measured: {total / 3600:.1f} hours as measured, about "
             f"{estimate / 3600:.1f} hours on one unloaded core. A row \"not run for this report\" has no "
             "numbers here: `python examples/defaults_report.py --only FAMILY/DATASET` measures it.\n")
    # every number of every row, for tests/test_documented_commands.py: the conditions that the pages
    # state for a default run must hold for the row measured here
    numbers = {key: {k: v for k, v in values(row).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
               for key, row in results["rows"].items()}
    text += "\n<!-- defaults-values\n" + json.dumps(numbers, sort_keys=True) + "\n-->\n"
    with open(path, "w") as f:
        f.write(text)


def order(row):
    return [f for f, d in PLAN if d == row["dataset"]].index(row["family"])


REGION = re.compile(r"(<!-- defaults: ([^>]*?) -->\n).*?(<!-- /defaults -->)", re.S)
VALUE = re.compile(r"(<!-- value: (\S+) (\S+)(?: (\S+))? -->).*?(<!-- /value -->)")


def rewrite_quotes(results, paths):
    """Replace each marked region of the pages with the table's rows and numbers (module docstring).
    A value marker may give a format: ``<!-- value: ddpm/mnist-5k fid {:.0f} -->``."""
    rows = results["rows"]

    def region(match):
        keys = [k.strip() for k in match.group(2).split(",")]
        chosen = [rows[k] for k in keys if k in rows]
        missing = [tuple(k.split("/")) for k in keys if k not in rows]
        kind = "2d" if keys[0].split("/")[1] in TWO_D else "image"
        return match.group(1) + table(chosen, kind, missing) + "\n" + match.group(3)

    def value(match):
        key, name, form = match.group(2), match.group(3), match.group(4) or "{:.2f}"
        if key not in rows or name not in values(rows[key]):
            raise SystemExit(f"defaults_report: the pages quote {name} of {key}, which results.json lacks")
        got = values(rows[key])[name]
        return match.group(1) + (got if isinstance(got, str) else form.format(got)) + match.group(5)

    for path in paths:
        text = open(path).read()
        new = VALUE.sub(value, REGION.sub(region, text))
        if new != text:
            with open(path, "w") as f:
                f.write(new)
            print(f"rewrote the quoted numbers in {os.path.relpath(path, ROOT)}")


# ------------------------------------------------------------------------------------ main
def machine_record():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, NumPy {__import__('numpy').__version__}", "commit": commit,
            "threads": backend.parallel.get_num_threads() if hasattr(backend, "parallel") else None}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="results and run folders (default runs/defaults, runs/defaults-quick with --quick)")
    p.add_argument("--only", help="rows to (re)run, e.g. ddpm/mnist-5k,dcgan/digits (default: the missing ones)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps a run; writes no docs")
    p.add_argument("--commands", action="store_true",
                   help="measure each row by running `minigen train` and `minigen eval` (module docstring)")
    p.add_argument("--write-only", action="store_true", help="rewrite the docs from results.json, train nothing")
    p.add_argument("--docs", default=os.path.join(ROOT, "docs"), help="where defaults.md goes (default docs/)")
    args = p.parse_args()
    out = args.out or os.path.join("runs", "defaults-quick" if args.quick else "defaults")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "results.json")
    results = json.load(open(path)) if os.path.exists(path) else {"rows": {}}
    plan = [f"{f}/{d}" for f, d in PLAN]
    wanted = plan if args.only is None else [k.strip() for k in args.only.split(",")]
    unknown = set(wanted) - set(plan)
    if unknown:
        p.error(f"--only: {sorted(unknown)} are not rows of the plan; rows look like {plan[0]}")
    if not args.write_only:
        results["machine"] = machine_record()
        for key in wanted:
            if key in results["rows"] and args.only is None:
                continue
            family, dataset = key.split("/")
            print(f"{key}: training with the defaults", flush=True)
            row = (run_commands if args.commands else run_row)(family, dataset, out, args.quick)
            results["rows"][key] = row
            results["rows"] = {k: results["rows"][k] for k in plan if k in results["rows"]}
            with open(path + ".tmp", "w") as f:
                json.dump(results, f, indent=1)
            os.replace(path + ".tmp", path)
            shown = ", ".join(f"{k} {v}" if isinstance(v, str) else f"{k} {v:.3g}" for k, v in quality(row).items())
            print(f"{key}: {row['steps']} steps, {row['wall_s'] / 60:.1f} min measured, "
                  f"{row['estimate_s'] / 60:.1f} min on one core (estimate); {shown}", flush=True)
    if args.quick:
        write_page(results, os.path.join(out, "defaults.md"))
        print(f"quick run: the table is in {os.path.join(out, 'defaults.md')}; the docs are left alone")
        return
    if not results["rows"]:
        sys.exit("defaults_report: no results yet")
    write_page(results, os.path.join(args.docs, "defaults.md"))
    pages = [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(args.docs, name) for name in os.listdir(args.docs) if name.endswith(".md"))
    rewrite_quotes(results, pages)


if __name__ == "__main__":
    main()
