"""Weight initialisers: fill a tensor in place with draws scaled to keep activations well sized.

For a weight of shape (fan_out, fan_in_per_unit, *kernel), with r = prod(kernel):

    fan_in  = shape[1] * r          fan_out = shape[0] * r

    kaiming (He et al. 2015):     std = gain / sqrt(fan),   gain = sqrt(2 / (1 + a^2))  (leaky ReLU slope a)
    xavier (Glorot & Bengio 2010): std = gain * sqrt(2 / (fan_in + fan_out))

A uniform draw U(-b, b) has std b / sqrt(3), so the uniform variants use b = sqrt(3) * std.

The default initialisation of Linear and Conv layers is PyTorch's: ``kaiming_uniform_(w, a=sqrt(5))``,
which works out to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
Draws come from ``minigen.backend.generator(device)``, so ``mg.manual_seed`` makes them repeatable.
"""
import math

import numpy as np

from .. import backend


def calculate_gain(nonlinearity, param=None):
    """The factor by which a nonlinearity shrinks the std of its input, inverted (PyTorch's table)."""
    if nonlinearity in ("linear", "conv2d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of linear, "
                     "conv2d, conv_transpose2d, sigmoid, tanh, relu, leaky_relu")


def fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive_field = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor, mode):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def _fill(tensor, draw):
    """Replace the tensor's data by ``draw(generator, shape)`` (float64 draws cast to its dtype)."""
    dev = tensor.device
    with backend.on_device(dev):
        tensor.data = draw(backend.generator(dev), tensor.shape).astype(tensor.dtype)
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with draws from U(a, b)."""
    return _fill(tensor, lambda gen, shape: a + (b - a) * gen.random(shape, dtype=np.float64))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with draws from N(mean, std^2)."""
    return _fill(tensor, lambda gen, shape: mean + std * gen.standard_normal(shape, dtype=np.float64))


def zeros_(tensor):
    tensor.data = tensor.device.xp.zeros_like(tensor.data)
    return tensor


def ones_(tensor):
    tensor.data = tensor.device.xp.ones_like(tensor.data)
    return tensor


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


def xavier_uniform_(tensor, gain=1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def default_weight_and_bias_(weight, bias):
    """PyTorch's default for Linear and Conv layers: kaiming_uniform_(a=sqrt(5)) for the weight, which
    is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same range for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in_and_fan_out(weight)[0])
        uniform_(bias, -bound, bound)
