"""A training run: the one training loop (minigen.recipe.run_steps) with a run folder around it.

    with the run folder locked (lock.py):
        config   a new run's, or the saved one of the run being resumed          -> config.json
        for each step of the loop:
            every log_every steps: the mean of each metric since the last line    -> metrics.jsonl
            every checkpoint_every steps and at the end: everything needed to go on -> checkpoint.npz
        a NaN or Inf metric stops the run, keeping the last good checkpoint
        the end-of-training figure                                               -> samples.png

A run folder holds ``config.json`` (written at the start), ``metrics.jsonl``, ``checkpoint.npz``
(model and optimizer state, step, epoch, batch position, random state; config in its header) and
``samples.png`` (drawn at the end). ``resume=True`` rebuilds the model from the checkpoint and goes on
exactly where it stopped: same weights, optimizer moments, position in the epoch and random stream, so
on the CPU the resumed run's losses equal, bit for bit, those of a run never stopped.

Ctrl-C is caught: the current step finishes, a checkpoint is written, and the message says how to
resume. A second Ctrl-C stops at once (keeping the previous checkpoint, if there is one).

Under an MPI launcher (``mpiexec -n N minigen train ...``) the same loop runs on N ranks as one
data-parallel run: ``batch_size`` is the global batch, only rank 0 holds the lock and writes the run
folder, and the ``parallel.*`` hooks (minigen/recipe/parallel.py; the method in minigen/distributed)
do the rest. ``config.json`` records the number of ranks (``world_size``).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass

from .. import backend, io
from ..recipe import (Position, Recipe, TrainingDiverged, UsageError, build_recipe, check_number,
                      check_supported, dataset_info, load_split, make_config, parallel, prepare,
                      resolve_device, run_steps)
from .config import CHECKPOINT, read_run_header, run_config
from .lock import run_lock
from .metrics import MetricsLog, RunningMean
from .progress import Progress
from .registry import get

CONFIG, METRICS, SAMPLES = "config.json", "metrics.jsonl", "samples.png"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says what was saved and how to go on."""


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


# ---------------------------------------------------------------------------------- the run folder
def _check_folder(out):
    """``out`` must be a folder we can write, or not exist yet (then its parent must be writable)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file, not a folder: give a folder for the run")


@contextlib.contextmanager
def _run_folder(out, stream):
    """Create ``out`` if needed and hold its lock; the folders this call created are removed again if
    the run stops before writing anything into them (a mistake found late, like a bad --resume)."""
    _check_folder(out)
    created, folder = [], os.path.abspath(out)
    while not os.path.exists(folder):
        created.append(folder)
        folder = os.path.dirname(folder)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the run folder {out}: {e.strerror}") from None
    try:
        with run_lock(out, stream):
            yield
    except BaseException:
        for folder in created:               # deepest first; rmdir only removes empty folders
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        raise


def _command(*words):
    """A shell command line, each word quoted where the shell needs it."""
    return " ".join(shlex.quote(str(word)) for word in words)


# ---------------------------------------------------------------------------------- train
@parallel.stop_every_rank_on_failure(UsageError, TrainingDiverged, TrainingInterrupted)
def train(model: str, dataset: str, *, out=None, steps: int | None = None, epochs: int | None = None,
          device="cpu", seed: int | None = None, resume: bool = False, options: dict | None = None,
          log_every: int = 10, checkpoint_every: int = 500, callback=None, stream=None) -> Run:
    """Train ``model`` on ``dataset``, writing the run folder ``out`` (default ``runs/MODEL-DATASET``).

    ``options`` overrides the family's ``default_config`` (``{"lr": 3e-4, "arch": "mlp"}``).
    The run lasts ``steps`` optimisation steps, or else ``epochs`` passes over the training set (default:
    the config's ``epochs``). ``callback(step, metrics)`` is called after every step.
    """
    recipe_cls, info = get(model), dataset_info(dataset)
    check_supported(recipe_cls, info)
    dist = parallel.connect(device)          # this rank among several (mpiexec), or a world of one
    device = dist.device if dist.world_size > 1 else resolve_device(device)
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None:
            check_number(f"--{name}", value, integer=True, positive=True)
    make_config(recipe_cls, dataset, 0 if seed is None else seed, options)   # bad options: before any folder
    out = os.fspath(out or os.path.join("runs", f"{recipe_cls.name}-{dataset}"))
    with parallel.on_root_only(dist, lambda: _run_folder(out, stream)):     # rank 0 writes the folder
        return _train_in_folder(recipe_cls, info, out, steps, epochs, device, seed, resume, options,
                                log_every, checkpoint_every, callback, stream, dist)


def _train_in_folder(recipe_cls, info, out, steps, epochs, device, seed, resume, options, log_every,
                     checkpoint_every, callback, stream, dist) -> Run:
    model, dataset = recipe_cls.name, info.name
    ckpt_path = os.path.join(out, CHECKPOINT)
    config = dist.on_root(run_config, recipe_cls, dataset, out, epochs, seed, resume, options)
    if epochs is not None:
        config.pop("steps", None)            # a resumed run given --epochs gets its length from them
    x, y = dist.root_first(load_split, dataset, "train")
    recipe, loader = prepare(recipe_cls, info, config, x, y, device, steps, shard=dist)
    total = config["steps"]

    position, elapsed, window = Position(), 0.0, RunningMean()
    if resume:
        saved = _load_checkpoint(ckpt_path, recipe, dist)
        if saved["step"] > total:
            raise UsageError(f"--resume: the checkpoint is at step {saved['step']}, past the "
                             f"{total} steps asked for")
        backend.set_rng_state(saved["rng"])
        position = Position(saved["step"], saved["epoch"], saved["batch"])
        elapsed, window = saved["time"], RunningMean(saved["window"])
        if dist.is_root:
            _say_if_world_size_changed(config, dist.world_size, stream)
    config["world_size"] = dist.world_size
    parallel.prepare(recipe, dist)
    if dist.is_root:
        with io.atomic_write(os.path.join(out, CONFIG), "w") as f:
            json.dump(config, f, indent=2)
    log = MetricsLog(os.path.join(out, METRICS), resume_at=position.step if resume else None) \
        if dist.is_root else parallel.DISCARD
    progress = Progress(total, start=position.step, desc=f"{model}/{dataset}",
                        stream=stream if dist.is_root else parallel.DISCARD)
    last_saved = position.step if resume else None
    first_step = position.step + 1
    t_start = time.perf_counter() - elapsed

    def save_checkpoint():
        nonlocal last_saved
        parallel.check(recipe, dist, f"at step {position.step}")    # first: then every rank agrees below
        state = recipe.state_dict()
        bad = _first_bad(state)
        if bad:
            raise TrainingDiverged(f"the weights are no longer finite after step {position.step} ({bad})")
        if dist.is_root:
            io.save({"model": state, "step": position.step, "epoch": position.epoch,
                     "batch": position.batch, "rng": backend.get_rng_state(), "window": window.state_dict(),
                     "time": time.perf_counter() - t_start},
                    ckpt_path, header={"model": model, "dataset": dataset, "step": position.step,
                                       "config": config})
        last_saved = position.step

    def after_step(position, metrics):
        window.add(metrics)
        step = position.step
        if step == first_step:
            parallel.check(recipe, dist, f"after step {step}, the first of this run")
        if step % log_every == 0 or step == total:
            log.write({"step": step, "epoch": position.epoch if position.batch else position.epoch - 1,
                       **window.pop(), "lr": recipe.learning_rate(),
                       "time": round(time.perf_counter() - t_start, 3)})
        progress.update(step, metrics)
        if step % checkpoint_every == 0 and step < total:
            save_checkpoint()
        if callback is not None:
            callback(step, metrics)

    stopping = False         # True once every rank has agreed to stop after this step
    try:
        with _DeferredInterrupt(quiet=not dist.is_root) as interrupt:
            run_steps(recipe, loader, total, position, after_step, dist=dist,
                      stop_requested=lambda: interrupt.requested)
            if position.step < total:        # Ctrl-C, agreed by every rank: stop after this step
                stopping = True
                raise KeyboardInterrupt
            save_checkpoint()
    except TrainingDiverged as e:
        raise TrainingDiverged(f"{e}; {_kept(last_saved, ckpt_path)}") from None
    except KeyboardInterrupt:
        progress.close()
        if dist.world_size > 1 and not stopping:
            raise            # one rank's second Ctrl-C, at its own moment: stop the job at once
        saved_now = False
        if not position.in_step:
            try:
                save_checkpoint()
                saved_now = True
            except KeyboardInterrupt:        # a second Ctrl-C while the checkpoint was being written
                pass
        raise TrainingInterrupted(_interrupted(position, total, last_saved, saved_now, ckpt_path, model,
                                               dataset, out)) from None
    finally:
        log.close()
        progress.close()

    parallel.release(recipe)
    recipe.eval()
    if dist.is_root:
        x_test, y_test = load_split(dataset, "test")
        backend.manual_seed(config["seed"])       # the same figure every time
        started = time.perf_counter()
        if recipe.save_figure(os.path.join(out, SAMPLES), x_test, y_test):
            print(f"preview: {os.path.join(out, SAMPLES)} ({recipe.preview_sampler()}, "
                  f"{time.perf_counter() - started:.1f} s)", file=stream or sys.stderr)
    dist.barrier(timeout=False)               # the run folder is complete when train returns anywhere
    return Run(recipe, config, position.step, out)


def _say_if_world_size_changed(config, world_size, stream):
    """A run resumed on another number of ranks goes on as the same run, but not bit for bit."""
    before = config.get("world_size", 1)
    if before != world_size:
        (stream or sys.stderr).write(
            f"resuming a run trained on {before} rank(s) on {world_size}: it goes on as the same run (the "
            "data order and the random draws depend on the global batch only), equal to an "
            f"uninterrupted run up to the order of float32 sums, not bit for bit\n")


def _interrupted(position, total, last_saved, saved_now, ckpt_path, model, dataset, out):
    """What Ctrl-C left behind, and the command that goes on from there (only if one can)."""
    if position.in_step:
        what = (f"interrupted in the middle of step {position.step + 1}, whose update may be half applied, "
                "so nothing was saved")
    elif saved_now:
        what = f"interrupted after step {position.step}/{total}; checkpoint saved to {ckpt_path}"
    else:
        what = f"interrupted after step {position.step}/{total} while saving, so nothing new was saved"
    if last_saved is None:
        return (f"{what}; no checkpoint had been written yet, so there is nothing to resume: run the "
                "same command again to start over")
    if not saved_now:
        what += f"; {_kept(last_saved, ckpt_path)}"
    command = _command("minigen", "train", model, "--dataset", dataset, "--out", out, "--resume")
    return f"{what}\nresume with: {command}"


def _kept(last_saved, ckpt_path):
    if last_saved is None:
        return "no checkpoint had been written yet"
    return f"the last good checkpoint (step {last_saved}) is kept in {ckpt_path}"


# ---------------------------------------------------------------------------------- checkpoints
def _load_checkpoint(ckpt_path, recipe, dist=None) -> dict:
    """The saved state, loaded into ``recipe``; a damaged file or one from another model is a UsageError.
    On N ranks (``dist``) rank 0 reads the file and sends it to the others."""
    try:
        saved = io.load(ckpt_path) if dist is None else dist.on_root(io.load, ckpt_path)
        recipe.load_state_dict(saved["model"])
        return saved
    except (ValueError, KeyError, TypeError, OSError) as e:
        reason = str(e).replace(f"{ckpt_path}: ", "").replace(f"{ckpt_path} ", "")
        raise UsageError(f"{ckpt_path} cannot be loaded into a '{recipe.name}' model: {reason}") from None


def load_run(out, device=None) -> Run:
    """The model saved in the run folder ``out``, rebuilt from its checkpoint, in eval mode.

    ``device`` defaults to the one it was trained on (the CPU if that GPU is not here).
    """
    ckpt_path = os.path.join(os.fspath(out), CHECKPOINT)
    if not os.path.isfile(ckpt_path):
        missing = "" if os.path.isdir(out) else "; the folder does not exist"
        raise UsageError(f"no checkpoint in {out} (expected {ckpt_path}{missing}); train one with "
                         f"'{_command('minigen', 'train', 'MODEL', '--dataset', 'NAME', '--out', out)}'")
    config = read_run_header(ckpt_path)["config"]
    if device is None:
        device = config.get("device", "cpu")
        if device != "cpu" and not backend.cuda_is_available():
            device = "cpu"
    recipe_cls = get(config["model"])
    device = resolve_device(device)
    backend.manual_seed(config["seed"])
    recipe = build_recipe(recipe_cls, config, dataset_info(config["dataset"]), device)
    saved = _load_checkpoint(ckpt_path, recipe)
    recipe.eval()
    return Run(recipe, config, int(saved["step"]), os.fspath(out))
