"""Activation functions as modules, for use inside Sequential. Each calls the op of the same name:

    ReLU       max(x, 0)                     LeakyReLU  x if x > 0 else slope * x
    ELU        x if x > 0 else alpha (e^x - 1)   SiLU   x sigmoid(x)
    GELU       x Phi(x) (exact, with erf)    Tanh       tanh(x)
    Sigmoid    1 / (1 + e^{-x})              Softplus   log(1 + e^x)
"""
from .. import ops
from .module import Module


class ReLU(Module):
    def forward(self, x):
        return ops.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return ops.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SiLU(Module):
    def forward(self, x):
        return ops.silu(x)


class GELU(Module):
    def forward(self, x):
        return ops.gelu(x)


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return ops.sigmoid(x)


class Softplus(Module):
    def forward(self, x):
        return ops.softplus(x)
