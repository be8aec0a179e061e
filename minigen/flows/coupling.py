r"""Coupling layers (NICE, RealNVP): half of the variables pass through unchanged and parameterise an
invertible map of the other half.

With a binary mask b (1 = passes through) and a network NN that only sees b * x:

    affine (RealNVP):   (s, t) = NN(b * x),   s = scale * tanh(s_raw)          (bounded: stable)
                        z = b * x + (1 - b) * (x * exp(s) + t)
                        log|det dz/dx| = sum_i (1 - b_i) s_i
    additive (NICE):    t = NN(b * x),   z = b * x + (1 - b) * (x + t),   log|det dz/dx| = 0

Why the determinant is that cheap: order the variables so the masked ones come first. z_a = x_a, and
z_b depends on x_a (through NN, in any complicated way) and on x_b only elementwise, so

    dz/dx = [[ I,          0        ],
             [ dz_b/dx_a,  diag(exp(s)) ]]

is block lower-triangular: its determinant is the product of the diagonal, prod exp(s_i). NN is never
inverted: the inverse reuses NN(b * z) = NN(b * x),

    x = b * z + (1 - b) * (z - t) * exp(-s).

Masks: ``checkerboard_mask`` alternates over pixels (or over the features of a vector),
``channel_mask`` keeps the first or second half of the channels. Alternate the parity from one coupling
to the next so every variable gets transformed.

Conditioners (``MLPConditioner`` for vectors, ``ConvConditioner`` for images) end in a zero-initialised
layer, so each coupling starts as the identity (Glow, sec. 3.3); an optional ``cond`` (N, K) is
concatenated to their input (as K constant feature maps for images).
"""
import numpy as np

import minigen as mg
from minigen import nn
from minigen.nn import functional as F

from .core import FlowLayer, sum_per_example


# ------------------------------------------------------------------------------------------ masks
def checkerboard_mask(shape, parity=0):
    """b for one example of ``shape`` (D,) or (C, H, W): b = 1 where (index sum + parity) is even,
    as a float32 tensor with a leading batch axis of 1."""
    shape = tuple(shape)
    if len(shape) == 1:
        b = (np.arange(shape[0]) + parity) % 2 == 0
    elif len(shape) == 3:
        i, j = np.meshgrid(np.arange(shape[1]), np.arange(shape[2]), indexing="ij")
        b = np.broadcast_to((i + j + parity) % 2 == 0, shape)
    else:
        raise ValueError(f"checkerboard_mask: expected a shape (D,) or (C, H, W), got {shape}")
    return mg.tensor(b[None].astype(np.float32))


def channel_mask(shape, parity=0):
    """b = 1 on the first half of the channels (parity 0) or the second half (parity 1); the channel
    count must be even. ``shape`` is (C, H, W) or (D,) (features as channels)."""
    shape = tuple(shape)
    channels = shape[0]
    if channels % 2:
        raise ValueError(f"channel_mask: a channel split needs an even number of channels, got "
                         f"{channels} (shape {shape})")
    b = np.zeros(shape, dtype=np.float32)
    half = slice(0, channels // 2) if parity == 0 else slice(channels // 2, channels)
    b[half] = 1.0
    return mg.tensor(b[None])


# ------------------------------------------------------------------------------------ conditioners
def _zero_init(layer):
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MLPConditioner(nn.Module):
    """NN(x [, cond]) for vectors (N, D) -> (N, out_features): two hidden ReLU layers."""

    def __init__(self, in_features, out_features, hidden=128, cond_features=0):
        super().__init__()
        self.cond_features = cond_features
        self.hidden1 = nn.Linear(in_features + cond_features, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.out = _zero_init(nn.Linear(hidden, out_features))

    def forward(self, x, cond=None):
        x = _with_cond(x, cond, self.cond_features, "MLPConditioner")
        return self.out(F.relu(self.hidden2(F.relu(self.hidden1(x)))))


class ConvConditioner(nn.Module):
    """NN(x [, cond]) for images (N, C, H, W) -> (N, out_channels, H, W): 3x3 conv, 1x1 conv, 3x3 conv
    (Glow's coupling network), ReLU between, the last one zero-initialised."""

    def __init__(self, in_channels, out_channels, hidden=64, cond_features=0):
        super().__init__()
        self.cond_features = cond_features
        self.conv1 = nn.Conv2d(in_channels + cond_features, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.conv3 = _zero_init(nn.Conv2d(hidden, out_channels, 3, padding=1))

    def forward(self, x, cond=None):
        x = _with_cond(x, cond, self.cond_features, "ConvConditioner")
        return self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))


def _with_cond(x, cond, cond_features, caller):
    if cond_features == 0:
        if cond is not None:
            raise ValueError(f"{caller}: got a cond input but was built with cond_features=0")
        return x
    if cond is None or cond.ndim != 2 or cond.shape != (x.shape[0], cond_features):
        got = None if cond is None else tuple(cond.shape)
        raise ValueError(f"{caller}: expected cond of shape ({x.shape[0]}, {cond_features}), got {got}")
    if x.ndim == 4:  # one constant feature map per conditioning feature
        cond = mg.broadcast_to(cond.reshape(*cond.shape, 1, 1), (*cond.shape, *x.shape[2:]))
    return mg.concatenate([x, cond.astype(x.dtype)], axis=1)


# ------------------------------------------------------------------------------------------ layers
class _Coupling(FlowLayer):
    def __init__(self, mask, net):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net

    def _check(self, x):
        if tuple(x.shape[1:]) != tuple(self.mask.shape[1:]):
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, "
                             f"{', '.join(map(str, self.mask.shape[1:]))}), got {tuple(x.shape)}")

    def extra_repr(self):
        return f"mask shape {tuple(self.mask.shape[1:])}"


class AffineCoupling(_Coupling):
    """RealNVP's affine coupling; ``net`` maps (N, *shape) to twice the channels (s_raw, t)."""

    def __init__(self, mask, net):
        super().__init__(mask, net)
        channels = mask.shape[1]
        scale_shape = (1, channels) + (1,) * (mask.ndim - 2)
        self.scale = nn.Parameter(mg.ones(*scale_shape))

    def _s_t(self, x_a, cond):
        s_raw, t = mg.split(self.net(x_a, cond), 2, axis=1)
        b = self.mask
        s = (1 - b) * self.scale * mg.tanh(s_raw)       # |s| <= scale: exp(s) stays in a sane range
        return s, (1 - b) * t

    def forward(self, x, cond=None):
        self._check(x)
        b = self.mask
        s, t = self._s_t(b * x, cond)
        z = b * x + (1 - b) * (x * mg.exp(s) + t)
        return z, sum_per_example(s)                   # log|det| = sum (1 - b) s

    def inverse(self, z, cond=None):
        self._check(z)
        b = self.mask
        s, t = self._s_t(b * z, cond)
        return b * z + (1 - b) * (z - t) * mg.exp(-s)


class AdditiveCoupling(_Coupling):
    """NICE's additive coupling (volume preserving); ``net`` maps (N, *shape) to the same channels."""

    def forward(self, x, cond=None):
        self._check(x)
        b = self.mask
        z = x + (1 - b) * self.net(b * x, cond)
        return z, mg.zeros(x.shape[0], dtype=x.dtype, device=x.device)   # det = 1

    def inverse(self, z, cond=None):
        self._check(z)
        b = self.mask
        return z - (1 - b) * self.net(b * z, cond)
