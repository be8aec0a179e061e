"""Training runs: the families by name, run folders, checkpoints, resume, and the lock on a folder.

    run = mg.training.train("classifier", "digits", steps=500, out="runs/clf")
    run = mg.training.load_run("runs/clf")          # later: rebuilt from checkpoint.npz
    run.recipe.evaluate(*mg.data.load("digits", split="test"))
    recipe = mg.training.fit("classifier", "digits", x, y, steps=200)    # the same loop, no folder

The Recipe interface, configs and the training loop itself are minigen.recipe (below the models);
this package sits above them and looks families up by name.
"""
from ..recipe import (Recipe, TrainingDiverged, UsageError, dataset_info, load_split, make_config,
                      register)
from .registry import get, names
from .config import read_run_header
from .trainer import Run, TrainingInterrupted, train, load_run, CONFIG, CHECKPOINT, METRICS, SAMPLES
from .fit import fit
from .lock import run_lock
from .metrics import read_metrics
from .progress import Progress

__all__ = ["Recipe", "UsageError", "register", "get", "names", "Run", "TrainingDiverged",
           "TrainingInterrupted", "train", "load_run", "read_run_header", "fit", "make_config",
           "dataset_info", "load_split", "read_metrics", "run_lock", "Progress", "CONFIG", "CHECKPOINT",
           "METRICS", "SAMPLES"]
