"""A recipe's configuration and what it is built from: the family's defaults and the options asked
for (each checked against its default's type, every number checked in one place), the dataset's
record, the device and the seeds."""
from __future__ import annotations

import math
import numbers
import random

import numpy as np

from .. import backend
from .base import UsageError

# options that every family reads the same way and that only make sense above zero
POSITIVE_OPTIONS = ("lr", "batch_size", "epochs")
MAX_SEED = 2 ** 63 - 1


def check_number(name: str, value, *, integer=False, positive=False, minimum=None):
    """``value`` if it is a finite number of the right kind, else a UsageError naming ``name``.

    The one rule for every number a user gives (command-line flags and config options alike): never
    NaN or infinite; an integer where one is needed; ``positive`` (> 0) or at least ``minimum``."""
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if ok and not integer:
        ok = math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if ok and minimum is not None:
        ok = value >= minimum
    if not ok:
        if integer:
            what = "a positive integer" if positive else "an integer"
        else:
            what = "a finite number > 0" if positive else "a finite number"
        bound = f" >= {minimum}" if minimum is not None else ""
        raise UsageError(f"{name} must be {what}{bound}, got {value!r}")
    return value


def check_seed(name: str, seed):
    """A seed is an integer in [0, 2^63): NumPy's generators take no negative seeds."""
    check_number(name, seed, integer=True, minimum=0)
    if seed > MAX_SEED:
        raise UsageError(f"{name} must be below 2^63, got {seed}")
    return int(seed)


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
        name = kind.__name__
        raise UsageError(f"option {key} of model '{model}' takes {'an' if name[0] in 'aeiou' else 'a'} {name} "
                         f"(like {default!r}), got {value!r}")
    return value


def check_numbers(config: dict) -> dict:
    """Every number of a config is finite, and the options of POSITIVE_OPTIONS are above zero."""
    for key, value in config.items():
        flag = "--" + key.replace("_", "-")
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, numbers.Real) and not isinstance(item, bool):
                check_number(flag, item, integer=isinstance(item, numbers.Integral),
                             positive=key in POSITIVE_OPTIONS)
    return config


def family_defaults(recipe_cls, info) -> dict:
    """The family's defaults on the dataset ``info`` describes: ``default_config``, then the overrides
    that ``dataset_defaults`` declares for the dataset's kind ("2d", "image"), then those for its name
    ("digits", "mnist-5k"); the more specific wins."""
    defaults = dict(recipe_cls.default_config)
    for key in (info.kind, info.name):
        defaults.update(recipe_cls.dataset_defaults.get(key, {}))
    return defaults


def check_dataset_defaults(recipe_cls) -> None:
    """A family's ``dataset_defaults`` may only change options its ``default_config`` has, each to a value
    of the default's type: checked when the family is registered, so a typo fails at import."""
    for where, overrides in recipe_cls.dataset_defaults.items():
        if not isinstance(overrides, dict):
            raise TypeError(f"{recipe_cls.__name__}.dataset_defaults[{where!r}] must be a dict of options, "
                            f"got {overrides!r}")
        for key, value in overrides.items():
            if key not in recipe_cls.default_config:
                raise ValueError(f"{recipe_cls.__name__}.dataset_defaults[{where!r}] sets {key!r}, which is "
                                 "not in its default_config")
            _typed(key, value, recipe_cls.default_config[key], recipe_cls.name or recipe_cls.__name__)


def make_config(recipe_cls, dataset: str, seed: int, options: dict | None) -> dict:
    """The run's config: the family's defaults for ``dataset`` (``family_defaults``), overridden by
    ``options``, plus what identifies the run. Every path that starts a run (``train``, ``--resume``'s
    check of what was asked, ``fit``, each rank of a data-parallel run) makes its config here."""
    defaults = family_defaults(recipe_cls, dataset_info(dataset))
    config = {"model": recipe_cls.name, "dataset": dataset, "seed": check_seed("--seed", seed),
              **{k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}}
    for key, value in (options or {}).items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise UsageError(f"model '{recipe_cls.name}' has no option {key!r} (its options: {known})")
        config[key] = _typed(key, value, recipe_cls.default_config[key], recipe_cls.name)
    return check_numbers(config)


def build_recipe(recipe_cls, config, info, device):
    """The family's constructor; a ValueError there means a bad config value, so it is a UsageError."""
    try:
        return recipe_cls(config, info, device)
    except UsageError:
        raise
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
