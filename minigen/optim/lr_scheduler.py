"""Learning-rate schedules: the lr of each parameter group as a function of the step count t.

t counts calls of ``scheduler.step()`` (call it once after each ``optimizer.step()``, or once per
epoch if you count in epochs); lr_0 is the group's lr when the scheduler was made.

    StepLR             lr_t = lr_0 * gamma^floor(t / step_size)
    CosineAnnealingLR  lr_t = eta_min + (lr_0 - eta_min) * (1 + cos(pi * min(t, T_max) / T_max)) / 2
                       (stays at eta_min after T_max; PyTorch's would climb back along the cosine)
    LinearWarmup       lr_t = lr_0 * (t + 1) / warmup_steps         for t < warmup_steps
                       lr_t = after.lr_at(t - warmup_steps)          afterwards, with a schedule ``after``
                       lr_t = lr_0                                   afterwards, without one

``lr_at(t)`` is the closed form (a list, one lr per group); ``last_lr`` is ``lr_at`` of the current t,
which is also what the optimizer's groups hold. Warm-up starts at lr_0 / warmup_steps rather than
at 0, so that the first step already moves the parameters.
"""
from __future__ import annotations

import math
import numbers

from .optimizer import Optimizer, check_nonnegative


class LRScheduler:
    """Base class: subclasses define ``lr_at(t)``; ``step()`` advances t and sets the groups' lr."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def lr_at(self, t: int) -> list:
        raise NotImplementedError(f"{type(self).__name__} does not define lr_at")

    def step(self) -> None:
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        self.last_lr = self.lr_at(self.last_step)
        for group, lr in zip(self.optimizer.param_groups, self.last_lr):
            group["lr"] = lr

    def state_dict(self) -> dict:
        return {"last_step": self.last_step, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: dict) -> None:
        base_lrs = [float(lr) for lr in state_dict["base_lrs"]]
        if len(base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved state has {len(base_lrs)} "
                             f"base lr(s), the optimizer has {len(self.optimizer.param_groups)} group(s)")
        self.base_lrs = base_lrs
        self.last_step = int(state_dict["last_step"])
        self._apply()


def _check_positive_int(who: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        _check_positive_int("StepLR", "step_size", step_size)
        if not gamma > 0:
            raise ValueError(f"StepLR: gamma must be > 0, got {gamma!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, t):
        return [lr_0 * self.gamma ** (t // self.step_size) for lr_0 in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr_0 down to ``eta_min`` over ``T_max`` steps, then ``eta_min``."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        check_nonnegative("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, t):
        cosine = (1 + math.cos(math.pi * min(t, self.T_max) / self.T_max)) / 2
        return [self.eta_min + (lr_0 - self.eta_min) * cosine for lr_0 in self.base_lrs]


class LinearWarmup(LRScheduler):
    """Ramp the lr linearly up to lr_0 over ``warmup_steps`` steps, then follow ``after`` if given.

    ``after`` is a scheduler on the same optimizer (e.g. ``CosineAnnealingLR(opt, T_max=...)``, its
    t counting from the end of warm-up). This scheduler drives it: call only ``warmup.step()``.
    """

    def __init__(self, optimizer, warmup_steps: int, after: LRScheduler | None = None):
        _check_positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        if after is not None and not isinstance(after, LRScheduler):
            raise TypeError(f"LinearWarmup: after must be a scheduler or None, got {type(after).__name__}")
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("LinearWarmup: after must schedule the same optimizer")
        self.warmup_steps, self.after = warmup_steps, after
        super().__init__(optimizer)
        if after is not None:
            self.base_lrs = list(after.base_lrs)    # the groups' lr may already be after's lr_at(0)
            self._apply()

    def lr_at(self, t):
        if t < self.warmup_steps:
            return [lr_0 * (t + 1) / self.warmup_steps for lr_0 in self.base_lrs]
        if self.after is not None:
            return self.after.lr_at(t - self.warmup_steps)
        return list(self.base_lrs)

    def step(self):
        self.last_step += 1
        if self.after is not None and self.last_step > self.warmup_steps:
            self.after.step()                       # keeps after.last_step == t - warmup_steps
        self._apply()

    def state_dict(self):
        state = super().state_dict()
        if self.after is not None:
            state["after"] = self.after.state_dict()
        return state

    def load_state_dict(self, state_dict):
        if (self.after is None) != ("after" not in state_dict):
            raise ValueError("LinearWarmup.load_state_dict: the saved state and this scheduler disagree "
                             "on whether warm-up hands over to another schedule")
        if self.after is not None:
            self.after.load_state_dict(state_dict["after"])
        super().load_state_dict(state_dict)
