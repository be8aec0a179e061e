"""A run's configuration: a new run's (minigen.recipe.make_config), or the saved one of the run being
resumed, which what was asked must agree with."""
from __future__ import annotations

import os

from .. import io
from ..recipe import UsageError, make_config

CHECKPOINT = "checkpoint.npz"


def read_run_header(ckpt_path) -> dict:
    """The header of a run's checkpoint, or a UsageError saying why it is not one (damaged,
    truncated, not written by minigen, or a minigen file that holds no run)."""
    try:
        header = io.read_header(ckpt_path)
    except (ValueError, OSError) as e:
        reason = str(e).replace(f"{ckpt_path} ", "").replace(f"{ckpt_path}: ", "")
        raise UsageError(f"{ckpt_path} is not a readable minigen checkpoint: {reason}") from None
    config = header.get("config")
    if not (isinstance(config, dict) and {"model", "dataset", "seed"} <= set(config)):
        raise UsageError(f"{ckpt_path} is a minigen file but not a training checkpoint (its header has "
                         "no run config); was it written by mg.save?")
    return header


def check_same(saved: dict, asked: dict, keys):
    """On resume, the saved config rules; asking for different hyperparameters is a mistake."""
    for key in keys:
        if key not in ("steps", "epochs") and saved.get(key) != asked[key]:
            raise UsageError(f"--resume continues the saved run, whose {key} is {saved.get(key)!r}, "
                             f"not {asked[key]!r}; drop the option, or train into a new --out folder")


def run_config(recipe_cls, dataset, out, epochs, seed, resume, options) -> dict:
    """A new run's config, or the saved one of the run being resumed (checked against what was asked)."""
    ckpt_path = os.path.join(out, CHECKPOINT)
    if epochs is not None:
        options = {**(options or {}), "epochs": epochs}
    if not resume:
        if os.path.exists(ckpt_path):
            raise UsageError(f"{out} already holds a run (checkpoint at step "
                             f"{read_run_header(ckpt_path).get('step')}); pass --resume to continue it, "
                             "or choose another --out")
        return make_config(recipe_cls, dataset, 0 if seed is None else seed, options)
    if not os.path.exists(ckpt_path):
        raise UsageError(f"--resume: no checkpoint to resume from in {out} (expected {ckpt_path})")
    config = dict(read_run_header(ckpt_path)["config"])
    if (config["model"], config["dataset"]) != (recipe_cls.name, dataset):
        raise UsageError(f"--resume: {out} holds a {config['model']} run on {config['dataset']}, "
                         f"not {recipe_cls.name} on {dataset}")
    asked = make_config(recipe_cls, dataset, config["seed"] if seed is None else seed, options)
    check_same(config, asked, list(options or {}) + ([] if seed is None else ["seed"]))
    if epochs is not None:
        config["epochs"] = epochs
    return config
