"""The Recipe interface every model family implements, its configuration, and the one training loop.

    base      Recipe (build, train_step, sample, evaluate, save_figure, and what harnesses ask of a
              family: features, anomaly_scores, restoration_prior), UsageError
    registry  @register("name"): how a family plugs in
    config    make_config (the family's defaults for the dataset + options, every number checked in one
              place), family_defaults, dataset_info, seeds
    loop      run_steps, the training loop; fit, that loop on arrays in memory
    parallel  what the loop and the run around it do differently on N ranks (minigen.distributed)

This layer sits below ``minigen.models`` (which implements it) and above everything the families are
built from; ``minigen.training`` adds run folders, checkpoints and look-up by name on top.
"""
from .base import Recipe, UsageError
from .registry import RECIPES, RESERVED_KEYS, register
from .config import (check_number, check_seed, check_supported, dataset_info, family_defaults, load_split,
                     make_config, build_recipe, resolve_device, seed_everything)
from . import parallel
from .loop import Position, TrainingDiverged, fit, make_loader, prepare, run_steps, total_steps

__all__ = ["Recipe", "UsageError", "register", "RECIPES", "RESERVED_KEYS", "check_number", "check_seed",
           "check_supported", "dataset_info", "family_defaults", "load_split", "make_config", "build_recipe",
           "resolve_device", "seed_everything", "Position", "TrainingDiverged", "fit", "make_loader", "prepare",
           "run_steps", "total_steps", "parallel"]
