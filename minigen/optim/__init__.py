"""Optimizers and their helpers: SGD, Adam, AdamW, learning-rate schedules, gradient clipping, EMA.

    opt = mg.optim.AdamW(model.parameters(), lr=1e-3)
    sched = mg.optim.lr_scheduler.LinearWarmup(opt, 500, after=CosineAnnealingLR(opt, T_max=9500))
    loss.backward(); clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); opt.zero_grad()
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from . import lr_scheduler
from .clip import clip_grad_norm_
from .ema import EMA

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "clip_grad_norm_", "EMA"]
