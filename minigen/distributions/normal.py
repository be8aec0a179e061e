"""The Normal distribution, and the reparameterization trick.

    N(x; mu, sigma^2):  log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2
    entropy          :  H = log sigma + (1 + log(2 pi)) / 2

Reparameterization (Kingma & Welling 2014): a sample z ~ N(mu, sigma^2) is written as a
deterministic, differentiable function of the parameters and parameter-free noise,

    z = mu + sigma * eps,     eps ~ N(0, I),

so that d z / d mu = 1 and d z / d sigma = eps, and gradients of E_q[f(z)] flow into mu and sigma.
That one line is ``rsample``; ``sample`` draws without a graph.
"""
import math

import minigen as mg
from minigen.autograd import Tensor

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _as_tensor(value, like=None):
    if isinstance(value, Tensor):
        return value
    if like is not None:
        return mg.full(like.shape, value, dtype=like.dtype, device=like.device)
    return mg.tensor(value)


class Normal:
    """Independent Gaussians with mean ``loc`` and standard deviation ``scale`` (elementwise)."""

    def __init__(self, loc, scale):
        if not isinstance(scale, Tensor) and (mg.tensor(scale).data <= 0).any():
            raise ValueError(f"Normal: scale must be positive, got {scale}")
        if not isinstance(loc, Tensor) and not isinstance(scale, Tensor):
            loc = mg.tensor(loc)
        self.loc = _as_tensor(loc, scale if isinstance(scale, Tensor) else None)
        self.scale = _as_tensor(scale, self.loc)
        if self.scale.shape != self.loc.shape:
            shape = mg.backend.device(self.loc.device).xp.broadcast_shapes(self.loc.shape, self.scale.shape)
            self.loc = mg.broadcast_to(self.loc, shape)
            self.scale = mg.broadcast_to(self.scale, shape)

    @classmethod
    def from_log_var(cls, mu, log_var):
        """The VAE encoder's parameterization: sigma = exp(log sigma^2 / 2)."""
        return cls(mu, (0.5 * log_var).exp())

    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    @property
    def shape(self):
        return self.loc.shape

    def rsample(self, shape=()):
        """z = mu + sigma * eps: a sample that gradients flow through (the reparameterization trick)."""
        eps = mg.randn(tuple(shape) + self.shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + self.scale * eps

    def sample(self, shape=()):
        with mg.no_grad():
            return self.rsample(shape)

    def log_prob(self, x):
        """Elementwise log N(x; mu, sigma^2) (one fused op, ``minigen.ops.logprob``); sum over the
        event axes yourself."""
        return mg.ops.normal_log_prob(x, self.loc, self.scale)

    def entropy(self):
        return self.scale.log() + (0.5 + _HALF_LOG_2PI)

    def __repr__(self):
        return f"Normal(shape={self.shape})"
