"""Training: the registry where model families plug in, and the loop that trains any of them.

    run = mg.training.train("classifier", "digits", steps=500, out="runs/clf")
    run = mg.training.load_run("runs/clf")          # later: rebuilt from checkpoint.npz
    run.recipe.evaluate(*mg.data.load("digits", split="test"))
"""
from .registry import Recipe, UsageError, register, get, names
from .config import make_config, dataset_info
from .trainer import (Run, TrainingDiverged, TrainingInterrupted, train, load_run,
                      CONFIG, CHECKPOINT, METRICS, SAMPLES)
from .fit import fit
from .metrics import read_metrics
from .progress import Progress

__all__ = ["Recipe", "UsageError", "register", "get", "names", "Run", "TrainingDiverged",
           "TrainingInterrupted", "train", "load_run", "fit", "make_config", "dataset_info", "read_metrics",
           "Progress", "CONFIG", "CHECKPOINT", "METRICS", "SAMPLES"]
