"""A run's configuration: the family's defaults, the options asked for, checks on the dataset and
the device, and what a resumed run must agree with."""
from __future__ import annotations

import os
import random

import numpy as np

from .. import backend, io
from .registry import UsageError

CHECKPOINT = "checkpoint.npz"


def dataset_info(name: str):
    """The data.datasets() record of ``name``, or a UsageError listing the names there are."""
    from .. import data
    records = {info.name: info for info in data.datasets()}
    if name not in records:
        raise UsageError(f"unknown dataset {name!r}; available: {', '.join(records)}")
    return records[name]


def load_split(dataset: str, split: str):
    """data.load, with a dataset that is not on this machine (and cannot be fetched) as a UsageError."""
    from .. import data
    try:
        return data.load(dataset, split=split)
    except data.DataUnavailableError as e:
        raise UsageError(str(e)) from None


def check_supported(recipe_cls, info):
    if recipe_cls.supports(info):
        return
    from .. import data
    ok = [d.name for d in data.datasets() if recipe_cls.supports(d)]
    raise UsageError(f"model '{recipe_cls.name}' needs {recipe_cls.requirement()}; dataset "
                     f"'{info.name}' is not one (try: {', '.join(ok) or 'none installed'})")


def _typed(key, value, default, model):
    """``value`` checked (and converted) against the type of the default for ``key``."""
    if default is None or value is None:
        return value
    kind = type(default)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in (list, tuple):
        ok = isinstance(value, (list, tuple))
        value = list(value) if ok else value
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise UsageError(f"option {key} of model '{model}' takes a {kind.__name__} "
                         f"(like {default!r}), got {value!r}")
    return value


def make_config(recipe_cls, dataset: str, seed: int, options: dict | None) -> dict:
    """The run's config: the family's defaults, overridden by ``options``, plus what identifies it."""
    config = {"model": recipe_cls.name, "dataset": dataset, "seed": int(seed),
              **{k: list(v) if isinstance(v, tuple) else v
                 for k, v in recipe_cls.default_config.items()}}
    for key, value in (options or {}).items():
        if key not in recipe_cls.default_config:
            known = ", ".join(sorted(recipe_cls.default_config)) or "none"
            raise UsageError(f"model '{recipe_cls.name}' has no option {key!r} (its options: {known})")
        config[key] = _typed(key, value, recipe_cls.default_config[key], recipe_cls.name)
    return config


def check_same(saved: dict, asked: dict, keys):
    """On resume, the saved config rules; asking for different hyperparameters is a mistake."""
    for key in keys:
        if key not in ("steps", "epochs") and saved.get(key) != asked[key]:
            raise UsageError(f"--resume continues the saved run, whose {key} is {saved.get(key)!r}, "
                             f"not {asked[key]!r}; drop the option, or train into a new --out folder")


def build_recipe(recipe_cls, config, info, device):
    """The family's constructor; a ValueError there means a bad config value, so it is a UsageError."""
    try:
        return recipe_cls(config, info, device)
    except ValueError as e:
        raise UsageError(f"model '{recipe_cls.name}': {e}") from None


def resolve_device(device):
    try:
        return backend.device(device)
    except (RuntimeError, ValueError, TypeError) as e:
        raise UsageError(str(e)) from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    backend.manual_seed(seed)


def run_config(recipe_cls, dataset, out, epochs, seed, resume, options) -> dict:
    """A new run's config, or the saved one of the run being resumed (checked against what was asked)."""
    ckpt_path = os.path.join(out, CHECKPOINT)
    if epochs is not None:
        options = {**(options or {}), "epochs": epochs}
    if not resume:
        if os.path.exists(ckpt_path):
            raise UsageError(f"{out} already holds a run (checkpoint at step "
                             f"{io.read_header(ckpt_path).get('step')}); pass --resume to continue it, "
                             "or choose another --out")
        return make_config(recipe_cls, dataset, 0 if seed is None else seed, options)
    if not os.path.exists(ckpt_path):
        raise UsageError(f"--resume: no checkpoint to resume from in {out} (expected {ckpt_path})")
    config = dict(io.read_header(ckpt_path)["config"])
    if (config["model"], config["dataset"]) != (recipe_cls.name, dataset):
        raise UsageError(f"--resume: {out} holds a {config['model']} run on {config['dataset']}, "
                         f"not {recipe_cls.name} on {dataset}")
    asked = make_config(recipe_cls, dataset, config["seed"] if seed is None else seed, options)
    check_same(config, asked, list(options or {}) + ([] if seed is None else ["seed"]))
    if epochs is not None:
        config["epochs"] = epochs
    return config
