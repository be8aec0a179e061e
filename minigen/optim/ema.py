"""Exponential moving average of the parameters (Polyak averaging), used to sample from diffusion models.

    shadow_0 = theta_0
    shadow_t = decay_t * shadow_{t-1} + (1 - decay_t) * theta_t          at each ``update()``

The average weights the last ~1 / (1 - decay) steps, smoothing out the noise of SGD; DDPM samples
with decay 0.9999. With ``warmup=True`` the decay grows with the number of updates already made,
t = 0, 1, 2, ...,

    decay_t = min(decay, (1 + t) / (10 + t))        (0.1, 0.18, 0.25, ... -> decay)

so that a short run is not dominated by the random initial weights held in shadow_0. It is off by
default: decay_t = decay from the first update, the plain rule above and what papers report.
"""
from __future__ import annotations

import contextlib

from .. import backend
from .optimizer import import_array, tensor_list


class EMA:
    """Shadow copies of ``params`` (a list of Tensors or a model with ``.parameters()``)."""

    def __init__(self, params, decay: float = 0.999, warmup: bool = False):
        if not 0 <= decay <= 1:
            raise ValueError(f"EMA: decay must be in [0, 1], got {decay!r}")
        self.params = tensor_list(params, "EMA")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.shadow = [p.data.copy() for p in self.params]

    def current_decay(self) -> float:
        """decay_t for the next update."""
        t = self.num_updates
        return min(self.decay, (1 + t) / (10 + t)) if self.warmup else self.decay

    def update(self) -> None:
        """shadow <- decay_t * shadow + (1 - decay_t) * theta, in place."""
        decay_t = self.current_decay()
        for shadow, p in zip(self.shadow, self.params):
            shadow *= decay_t
            shadow += (1 - decay_t) * p.data
        self.num_updates += 1

    def copy_to(self, params=None) -> None:
        """Write the averaged weights into ``params`` (default: the tracked parameters), in place."""
        targets = self.params if params is None else tensor_list(params, "EMA.copy_to")
        if len(targets) != len(self.shadow):
            raise ValueError(f"EMA.copy_to: got {len(targets)} parameters, the average holds "
                             f"{len(self.shadow)}")
        for i, (shadow, p) in enumerate(zip(self.shadow, targets)):
            p.data[...] = import_array(shadow, p, f"EMA.copy_to: average {i}")
            p.mark_changed()

    @contextlib.contextmanager
    def average_parameters(self):
        """``with ema.average_parameters(): sample(...)``: averaged weights inside, live ones after."""
        live = [p.data.copy() for p in self.params]
        self.copy_to()
        try:
            yield self
        finally:
            for p, array in zip(self.params, live):
                p.data[...] = array
                p.mark_changed()

    def state_dict(self) -> dict:
        return {"num_updates": self.num_updates,
                "shadow": {str(i): backend.to_numpy(s).copy() for i, s in enumerate(self.shadow)}}

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict["shadow"]
        if len(saved) != len(self.params):
            raise ValueError(f"EMA.load_state_dict: the saved average has {len(saved)} parameters, "
                             f"this one tracks {len(self.params)}")
        self.shadow = [import_array(saved[str(i)], p, f"EMA.load_state_dict: average {i}")
                       for i, p in enumerate(self.params)]
        self.num_updates = int(state_dict["num_updates"])
