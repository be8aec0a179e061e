r"""The flow interface: invertible layers that report their log-determinant, and the change of variables.

A flow layer is a bijection f with a Jacobian whose determinant is cheap:

    z, log_det = layer(x)            z = f(x),  log_det = log |det df/dx|   (one number per example)
    x = layer.inverse(z)

A ``FlowSequence`` composes layers z_0 = x -> z_1 -> ... -> z_K = z and adds up their log-dets; a
``Flow`` puts a base density p(z) = N(0, I) under it. The change-of-variables formula is then

    log p(x) = log p(z_K) + sum_{k=1..K} log |det dz_k / dz_{k-1}|          (1)

and sampling runs the layers backwards from z ~ N(0, T^2 I) (T = 1 is the model; T < 1, Glow's
"temperature", trades diversity for typicality).

Every layer takes an optional ``cond`` (a class one-hot, say) that it may feed to its networks; the
bijection is in x for each fixed cond, so (1) holds for the conditional density p(x | cond).
"""
import minigen as mg
from minigen import nn
from minigen.backend import get_array_module
from minigen.distributions import Normal


def sum_per_example(values):
    """(N, ...) -> (N,): the sum over every axis but the batch axis."""
    return values.reshape(values.shape[0], -1).sum(axis=1)


class FlowLayer(nn.Module):
    """A bijection x -> z. Subclasses define ``forward(x, cond=None) -> (z, log_det)`` with log_det of
    shape (N,), and ``inverse(z, cond=None) -> x``."""

    def forward(self, x, cond=None):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x, cond=None)")

    def inverse(self, z, cond=None):
        raise NotImplementedError(f"{type(self).__name__} must define inverse(z, cond=None)")


class FlowSequence(FlowLayer):
    """z = f_K(... f_1(x)): log-dets add, inverses run in the opposite order."""

    def __init__(self, *layers):
        super().__init__()
        for layer in layers:
            if not isinstance(layer, FlowLayer):
                raise TypeError(f"FlowSequence: expected FlowLayer objects, got {type(layer).__name__}")
        self.layers = nn.ModuleList(layers)

    def forward(self, x, cond=None):
        log_det = mg.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, log_det_k = layer(x, cond)
            log_det = log_det + log_det_k          # sum_k log|det dz_k/dz_{k-1}|, eq. (1)
        return x, log_det

    def inverse(self, z, cond=None):
        for layer in reversed(self.layers):
            z = layer.inverse(z, cond)
        return z

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


def check_finite(x, caller):
    """Raise a clear error if x holds NaN or +-inf (a density has nothing to say about them)."""
    xp = get_array_module(x.data)
    finite = xp.isfinite(x.data)
    if not bool(finite.all()):
        bad = int(finite.size - int(finite.sum()))
        raise ValueError(f"{caller}: the input holds {bad} NaN or infinite value(s) out of "
                         f"{finite.size}; a flow's density is defined for finite inputs only")


class Flow(nn.Module):
    """A density p(x) = N(f(x); 0, I) |det df/dx|, with f a FlowLayer and z = f(x) of shape z_shape."""

    def __init__(self, transform, z_shape):
        super().__init__()
        if not isinstance(transform, FlowLayer):
            raise TypeError(f"Flow: transform must be a FlowLayer, got {type(transform).__name__}")
        self.transform = transform
        self.z_shape = tuple(z_shape)

    def base(self, like, temperature=1.0):
        """The base density N(0, T^2 I), on the device and in the dtype of ``like``."""
        zero = mg.zeros((), dtype=like.dtype, device=like.device)
        return Normal(zero, zero + temperature)

    def forward(self, x, cond=None):
        """(z, log_det) = f(x)."""
        return self.transform(x, cond)

    def log_prob(self, x, cond=None):
        """log p(x) per example, shape (N,): eq. (1)."""
        check_finite(x, "Flow.log_prob")
        z, log_det = self.transform(x, cond)
        log_p_z = sum_per_example(self.base(z).log_prob(z))
        return log_p_z + log_det

    def sample(self, n, temperature=1.0, cond=None):
        """n draws x = f^{-1}(z), z ~ N(0, T^2 I)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"Flow.sample: n must be a positive integer, got {n!r}")
        if temperature <= 0:
            raise ValueError(f"Flow.sample: temperature must be positive, got {temperature!r}")
        like = next(iter(self.parameters()))
        z = self.base(like, temperature).sample((n,) + self.z_shape)
        return self.transform.inverse(z, cond)
