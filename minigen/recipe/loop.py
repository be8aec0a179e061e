"""The one training loop, and ``fit``: that loop on arrays in memory.

    for step in range(start, total):     # epoch e, batch b: the loader's order is fixed by (seed, e)
        metrics = recipe.train_step(batch, step)
        on N ranks: the metrics averaged over them (parallel.py), so every rank decides alike
        a NaN or infinite metric stops the loop (TrainingDiverged)
        after_step(position, metrics)    # the caller's: minigen.training logs and checkpoints
        a stop asked for (Ctrl-C) ends the loop after this step, on every rank

``prepare`` turns a config and the training arrays into what the loop needs (the seeded recipe, the
DataLoader, ``config["steps"]``); ``minigen.training.train`` adds a run folder around the same two
calls (config.json, metrics.jsonl, checkpoints, resume), and ``fit`` is those two calls with no folder:
a model needed inside an evaluation or an experiment (the judge of a cGAN's labels, a classifier on a
subset of the data) trains exactly as ``minigen train`` would train it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..autograd import enable_grad
from ..data import DataLoader
from . import parallel
from .base import UsageError
from .config import (build_recipe, check_number, check_supported, dataset_info, make_config,
                     resolve_device, seed_everything)


class TrainingDiverged(RuntimeError):
    """A loss (or the weights) became NaN or infinite."""


@dataclass
class Position:
    """Where a run is: steps done, the epoch and the batch within it that come next."""
    step: int = 0
    epoch: int = 0
    batch: int = 0
    in_step: bool = False        # True while the model may hold a half-applied update

    def advance(self, steps_per_epoch: int) -> None:
        self.step, self.batch = self.step + 1, self.batch + 1
        if self.batch == steps_per_epoch:
            self.epoch, self.batch = self.epoch + 1, 0


def make_loader(recipe_cls, config, x, y, device, shard=None) -> DataLoader:
    """The shuffled batches of (x, y), in an order fixed by the config's seed; with ``shard`` (a
    minigen.distributed communicator), this rank's share of each global batch."""
    try:
        return DataLoader(x, y, batch_size=config.get("batch_size", 64), shuffle=True,
                          drop_last=recipe_cls.drop_last, seed=config["seed"], device=device, shard=shard)
    except ValueError as e:
        raise UsageError(str(e)) from None


def total_steps(config, loader, steps=None) -> int:
    """The run's length: ``steps``; else the config's own (a resumed run keeps its length); else the
    config's epochs (default 1) times the batches per epoch."""
    if steps is not None:
        return steps
    if "steps" in config:
        return config["steps"]
    return int(config.get("epochs", 1)) * len(loader)


def prepare(recipe_cls, info, config, x, y, device, steps=None, shard=None):
    """(recipe, loader): the recipe built from the seed (the same initial draws every time) and the
    DataLoader; ``config["steps"]`` and ``config["device"]`` are set first, because a family may read
    them while it is built (vqvae2 splits its steps between two stages). ``shard``: this rank's
    communicator in a data-parallel run (parallel.prepare then makes the ranks' recipes one)."""
    loader = make_loader(recipe_cls, config, x, y, device, shard)
    config["steps"] = total_steps(config, loader, steps)
    config["device"] = str(device)
    seed_everything(config["seed"])
    return build_recipe(recipe_cls, config, info, device), loader


def run_steps(recipe, loader, total: int, position: Position, after_step=None, *, dist=None,
              stop_requested=None) -> Position:
    """The training loop: ``recipe.train_step`` on each batch until ``total`` steps are done.

    ``after_step(position, metrics)`` is called after every step with the metrics as floats. It runs
    with gradients on even when called under ``no_grad`` (an evaluation may train a small model).

    ``stop_requested()`` (Ctrl-C was pressed) is asked after every step; when it says True the loop
    returns early, with ``position.step < total``.

    ``dist``: this rank's communicator when the loop runs on N ranks (minigen.distributed; the loader
    sharded with it, the recipe made one by parallel.prepare). Each step then draws its per-example
    noise as one process would for the global batch, and its metrics are averaged over the ranks
    before anything reads them, together with whether any rank asked to stop: every rank takes the
    same decisions (a NaN, Ctrl-C) after the same step."""
    several = dist is not None and dist.world_size > 1
    recipe.train()
    with enable_grad():
        while position.step < total:
            for batch in loader.batches(position.epoch, start=position.batch):
                position.in_step = True
                with parallel.step_draws(dist, batch):
                    metrics = {key: float(value)
                               for key, value in recipe.train_step(batch, position.step).items()}
                metrics, stop = parallel.agree(dist, metrics, _asked(stop_requested))
                bad = [key for key, value in metrics.items() if not math.isfinite(value)]
                if bad:
                    raise TrainingDiverged(f"{bad[0]} is {metrics[bad[0]]} at step {position.step + 1}: "
                                           "training stopped")
                position.advance(len(loader))
                position.in_step = False
                if after_step is not None:
                    after_step(position, metrics)
                if not several:          # one process also heeds a Ctrl-C that came during after_step
                    stop = _asked(stop_requested)
                if stop or position.step >= total:
                    return position
    return position


def _asked(stop_requested) -> bool:
    return stop_requested is not None and bool(stop_requested())


def fit(recipe_cls, dataset, x, y=None, steps=None, *, epochs=None, seed=0, options=None, device="cpu",
        batch_size=None):
    """A Recipe of the family ``recipe_cls`` trained on the arrays (x, y) by the training loop, with
    no run folder; returned in eval mode.

    The run lasts ``steps`` steps, or ``epochs`` passes over x (default: the config's epochs).
    ``batch_size`` (default the family's) is capped at len(x), so that a small array still makes a
    batch."""
    info = dataset_info(dataset)
    check_supported(recipe_cls, info)
    if steps is not None:
        check_number("steps", steps, integer=True, minimum=0)
    if epochs is not None:
        options = {**(options or {}), "epochs": epochs}
    config = make_config(recipe_cls, dataset, seed, options)
    config["batch_size"] = min(batch_size or config.get("batch_size", 64), len(x))
    device = resolve_device(device)
    recipe, loader = prepare(recipe_cls, info, config, x, y, device, steps)
    run_steps(recipe, loader, config["steps"], Position())
    return recipe.eval()
