r"""The logit transform (RealNVP sec. 4.1): the first layer of the image flows.

Image flows model dequantised pixels y = (k + u) / L in [0, 1) (minigen.data.pixels: dequantisation
and the D log L that turns log p(y) into a bound on the probability of the discrete pixels). The
logit transform maps [0, 1) to the real line, where Gaussian bases live, shrunk by alpha to keep away
from the infinities at 0 and 1:

    s = alpha + (1 - 2 alpha) y,       z = logit(s) = log s - log(1 - s)
    log|det dz/dy| = sum_i [ log(1 - 2 alpha) - log s_i - log(1 - s_i) ]

It is a flow layer, so its log-det enters eq. (1) of core.py with all the others.
"""
import math

import minigen as mg
from minigen.backend import get_array_module

from .core import FlowLayer, sum_per_example


class LogitTransform(FlowLayer):
    """y in [0, 1) -> z = logit(alpha + (1 - 2 alpha) y)."""

    def __init__(self, alpha=0.05):
        super().__init__()
        if not 0 < alpha < 0.5:
            raise ValueError(f"LogitTransform: alpha must be in (0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, y, cond=None):
        xp = get_array_module(y.data)
        if not bool(((y.data >= 0) & (y.data <= 1)).all()):
            raise ValueError(f"LogitTransform: expected dequantised pixels in [0, 1], got values in "
                             f"[{float(xp.min(y.data)):g}, {float(xp.max(y.data)):g}]")
        s = self.alpha + (1 - 2 * self.alpha) * y
        log_s, log_1ms = mg.log(s), mg.log(1 - s)
        log_det = sum_per_example(math.log(1 - 2 * self.alpha) - log_s - log_1ms)
        return log_s - log_1ms, log_det

    def inverse(self, z, cond=None):
        return (mg.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"
