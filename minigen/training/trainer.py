"""The training loop every model family shares, and the files it leaves in the run folder.

    for step in range(start, total):         # epoch e, batch b: the loader's order is fixed by (seed, e)
        metrics = recipe.train_step(batch, step)
        a NaN or Inf metric stops the run, keeping the last good checkpoint
        every log_every steps: the mean of each metric since the last line    -> metrics.jsonl
        every checkpoint_every steps and at the end: everything needed to go on -> checkpoint.npz

A run folder holds ``config.json`` (written at the start), ``metrics.jsonl``, ``checkpoint.npz``
(model and optimizer state, step, epoch, batch position, random state; config in its header) and
``samples.png`` (drawn at the end). ``resume=True`` rebuilds the model from the checkpoint and goes on
exactly where it stopped: same weights, optimizer moments, position in the epoch and random stream, so
on the CPU the resumed run's losses equal, bit for bit, those of a run never stopped.

Ctrl-C is caught: the current step finishes, a checkpoint is written, and the message says how to
resume. A second Ctrl-C stops at once (keeping the previous checkpoint).

Under an MPI launcher (``mpiexec -n N minigen train ...``) the same loop runs on N ranks as one
data-parallel run: ``batch_size`` is the global batch, only rank 0 writes the run folder, and the
``parallel.*`` hooks below do the rest (parallel.py; the method in minigen/distributed).
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

from .. import backend, io
from .config import (CHECKPOINT, build_recipe, check_supported, dataset_info, load_split,
                     resolve_device, run_config, seed_everything)
from . import parallel
from .metrics import MetricsLog, RunningMean
from .progress import Progress
from .registry import Recipe, UsageError, get

CONFIG, METRICS, SAMPLES = "config.json", "metrics.jsonl", "samples.png"


class TrainingDiverged(RuntimeError):
    """A loss (or the weights) became NaN or infinite; the last good checkpoint was kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says what was saved and how to resume."""


@dataclass
class Run:
    """A trained (or training) model and where it lives: what ``train`` and ``load_run`` return."""
    recipe: Recipe
    config: dict
    step: int
    out: str


def _first_bad(tree, prefix=""):
    """The name of the first NaN or infinite entry of a state dict, or None if all are finite."""
    from ..autograd import Tensor
    if isinstance(tree, dict):
        tree = list(tree.items())
    elif isinstance(tree, (list, tuple)):
        tree = list(enumerate(tree))
    else:
        value = tree.data if isinstance(tree, Tensor) else tree
        if hasattr(value, "dtype") and value.dtype.kind == "f":
            finite = bool(backend.get_array_module(value).isfinite(value).all())
        else:
            finite = not isinstance(value, float) or math.isfinite(value)
        return None if finite else prefix
    for key, value in tree:
        bad = _first_bad(value, f"{prefix}.{key}" if prefix else str(key))
        if bad:
            return bad
    return None


# ---------------------------------------------------------------------------------- Ctrl-C
class _DeferredInterrupt:
    """Turns the first Ctrl-C into a request to stop after the current step (so the checkpoint never
    holds a half-applied update); a second Ctrl-C raises KeyboardInterrupt at once."""

    def __init__(self, quiet=False):
        self.quiet = quiet           # ranks other than 0 do not repeat the message

    def __enter__(self):
        self.requested = False
        self.installed = threading.current_thread() is threading.main_thread()
        if self.installed:
            self.previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if not self.quiet:
            sys.stderr.write("\nCtrl-C: stopping after this step to save a checkpoint "
                             "(press Ctrl-C again to stop at once)\n")

    def __exit__(self, *exc):
        if self.installed:
            signal.signal(signal.SIGINT, self.previous if self.previous is not None else signal.SIG_DFL)
        return False


# ---------------------------------------------------------------------------------- the loop
@parallel.stop_every_rank_on_failure(UsageError, TrainingDiverged, TrainingInterrupted)
def train(model: str, dataset: str, *, out=None, steps: int | None = None, epochs: int | None = None,
          device="cpu", seed: int | None = None, resume: bool = False, options: dict | None = None,
          log_every: int = 10, checkpoint_every: int = 500, callback=None, stream=None) -> Run:
    """Train ``model`` on ``dataset``, writing the run folder ``out`` (default ``runs/MODEL-DATASET``).

    ``options`` overrides the family's ``default_config`` (``{"lr": 3e-4, "arch": "mlp"}``).
    The run lasts ``steps`` optimisation steps, or else ``epochs`` passes over the training set (default:
    the config's ``epochs``). ``callback(step, metrics)`` is called after every step.
    """
    from .. import data
    recipe_cls, info = get(model), dataset_info(dataset)
    check_supported(recipe_cls, info)
    dist = parallel.connect(device)
    device = dist.device if dist.world_size > 1 else resolve_device(device)
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UsageError(f"--{name} must be a positive integer, got {value!r}")
    out = os.fspath(out or os.path.join("runs", f"{model}-{dataset}"))
    ckpt_path = os.path.join(out, CHECKPOINT)
    config = dist.on_root(run_config, recipe_cls, dataset, out, epochs, seed, resume, options)

    x, y = dist.root_first(load_split, dataset, "train")
    try:
        loader = data.DataLoader(x, y, batch_size=config.get("batch_size", 64), shuffle=True,
                                 drop_last=recipe_cls.drop_last, seed=config["seed"], device=device,
                                 shard=dist)
    except ValueError as e:
        raise UsageError(str(e)) from None
    steps_per_epoch = len(loader)
    if steps is not None:
        config["steps"] = steps
    elif epochs is not None or not resume:
        config["steps"] = int(config.get("epochs", 1)) * steps_per_epoch
    total = config["steps"]
    config["device"] = str(device)

    # build (the same initial draws on a resume, then overwritten by the checkpoint)
    seed_everything(config["seed"])
    recipe = build_recipe(recipe_cls, config, info, device)
    step, epoch, position, elapsed, window = 0, 0, 0, 0.0, RunningMean()
    if resume:
        saved = dist.on_root(io.load, ckpt_path)
        if saved["step"] > total:
            raise UsageError(f"--resume: the checkpoint is at step {saved['step']}, past the "
                             f"{total} steps asked for")
        recipe.load_state_dict(saved["model"])
        backend.set_rng_state(saved["rng"])
        step, epoch, position = saved["step"], saved["epoch"], saved["batch"]
        elapsed, window = saved["time"], RunningMean(saved["window"])
    parallel.prepare(recipe, dist)
    if dist.is_root:
        os.makedirs(out, exist_ok=True)
        with io.atomic_write(os.path.join(out, CONFIG), "w") as f:
            json.dump(config, f, indent=2)
    log = MetricsLog(os.path.join(out, METRICS), resume_at=step if resume else None) \
        if dist.is_root else parallel.DISCARD
    progress = Progress(total, start=step, desc=f"{model}/{dataset}",
                        stream=stream if dist.is_root else parallel.DISCARD)
    last_saved = step if resume else None
    t_start = time.perf_counter() - elapsed

    def save_checkpoint():
        nonlocal last_saved
        state = recipe.state_dict()
        bad = _first_bad(state)
        if bad:
            raise TrainingDiverged(f"the weights are no longer finite after step {step} ({bad}); "
                                   f"{_kept(last_saved, ckpt_path)}")
        parallel.check(recipe, dist, f"at step {step}")
        if dist.is_root:
            io.save({"model": state, "step": step, "epoch": epoch, "batch": position,
                     "rng": backend.get_rng_state(), "window": window.state_dict(),
                     "time": time.perf_counter() - t_start},
                    ckpt_path, header={"model": model, "dataset": dataset, "step": step, "config": config})
        last_saved = step

    in_step = False          # True while the model may hold a half-applied update
    stopping = False         # True once every rank has agreed to stop after this step
    first_step = step + 1
    recipe.train()
    try:
        with _DeferredInterrupt(quiet=not dist.is_root) as interrupt:
            while step < total:
                for batch in loader.batches(epoch, start=position):
                    in_step = True
                    with parallel.step_draws(dist, batch):
                        metrics = {k: float(v) for k, v in recipe.train_step(batch, step).items()}
                    metrics, stop = parallel.agree(dist, metrics, interrupt.requested)
                    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
                    if bad:
                        raise TrainingDiverged(
                            f"{bad[0]} is {metrics[bad[0]]} at step {step + 1}: training stopped; "
                            f"{_kept(last_saved, ckpt_path)}")
                    window.add(metrics)
                    step, position = step + 1, position + 1
                    if position == steps_per_epoch:
                        epoch, position = epoch + 1, 0
                    in_step = False
                    if step == first_step:
                        parallel.check(recipe, dist, f"after step {step}, the first of this run")
                    if step % log_every == 0 or step == total:
                        log.write({"step": step, "epoch": epoch if position else epoch - 1,
                                   **window.pop(), "lr": recipe.learning_rate(),
                                   "time": round(time.perf_counter() - t_start, 3)})
                    progress.update(step, metrics)
                    if step % checkpoint_every == 0 and step < total:
                        save_checkpoint()
                    if callback is not None:
                        callback(step, metrics)
                    if stop if dist.world_size > 1 else interrupt.requested:   # N ranks: agreed above
                        stopping = True
                        raise KeyboardInterrupt
                    if step >= total:
                        break
            save_checkpoint()
    except KeyboardInterrupt:
        progress.close()
        if dist.world_size > 1 and not stopping:
            raise            # one rank's second Ctrl-C, at its own moment: stop the job at once
        if in_step:
            what = (f"interrupted in the middle of step {step + 1}, whose update may be half applied, "
                    f"so nothing was saved; {_kept(last_saved, ckpt_path)}")
        else:
            save_checkpoint()
            what = f"interrupted after step {step}/{total}; checkpoint saved to {ckpt_path}"
        raise TrainingInterrupted(f"{what}\nresume with: minigen train {model} --dataset {dataset} "
                                  f"--out {out} --resume") from None
    finally:
        log.close()
        progress.close()

    parallel.release(recipe)
    recipe.eval()
    if dist.is_root:
        x_test, y_test = load_split(dataset, "test")
        backend.manual_seed(config["seed"])       # the same figure every time
        recipe.save_figure(os.path.join(out, SAMPLES), x_test, y_test)
    dist.barrier(timeout=False)               # the run folder is complete when train returns anywhere
    return Run(recipe, config, step, out)


def _kept(last_saved, ckpt_path):
    if last_saved is None:
        return "no checkpoint had been written yet"
    return f"the last good checkpoint (step {last_saved}) is kept in {ckpt_path}"


def load_run(out, device=None) -> Run:
    """The model saved in the run folder ``out``, rebuilt from its checkpoint, in eval mode.

    ``device`` defaults to the one it was trained on (the CPU if that GPU is not here).
    """
    ckpt_path = os.path.join(os.fspath(out), CHECKPOINT)
    if not os.path.exists(ckpt_path):
        raise UsageError(f"no checkpoint in {out} (expected {ckpt_path}); train one with "
                         f"'minigen train MODEL --dataset NAME --out {out}'")
    header = io.read_header(ckpt_path)
    config = header["config"]
    if device is None:
        device = config.get("device", "cpu")
        if device != "cpu" and not backend.cuda_is_available():
            device = "cpu"
    recipe_cls = get(config["model"])
    device = resolve_device(device)
    backend.manual_seed(config["seed"])
    recipe = build_recipe(recipe_cls, config, dataset_info(config["dataset"]), device)
    saved = io.load(ckpt_path)
    recipe.load_state_dict(saved["model"])
    recipe.eval()
    return Run(recipe, config, int(saved["step"]), os.fspath(out))
