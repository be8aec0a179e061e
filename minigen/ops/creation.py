"""Making tensors: from data, filled with a constant, ranges, and random draws.

Random draws use the generator of the target device (``backend.generator``), which
``mg.manual_seed`` reseeds. Floating tensors default to float32.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor
from ..autograd.tensor import DEFAULT_DTYPE


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


def _make(array, *, requires_grad):
    t = Tensor._make(array)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A tensor from a list, a number, or a NumPy/CuPy array (arrays keep their dtype)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _filled(fill, shape, dtype, device, requires_grad):
    dev = backend.device(device)
    with backend.on_device(dev):
        arr = dev.xp.full(_shape(shape), fill, dtype=dtype or DEFAULT_DTYPE)
    return _make(arr, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled(fill_value, (shape,) if isinstance(shape, int) else (tuple(shape),), dtype, device,
                   requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None):
    dev = backend.device(device)
    with backend.on_device(dev):
        if stop is None:
            start, stop = 0, start
        arr = dev.xp.arange(start, stop, step, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(DEFAULT_DTYPE)
    return Tensor._make(arr)


def linspace(start, stop, num, dtype=None, device=None):
    dev = backend.device(device)
    with backend.on_device(dev):
        arr = dev.xp.linspace(start, stop, num, dtype=dtype or DEFAULT_DTYPE)
    return Tensor._make(arr)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal draws."""
    dev = backend.device(device)
    with backend.on_device(dev):
        arr = backend.generator(dev).standard_normal(_shape(shape), dtype=dtype or DEFAULT_DTYPE)
    return _make(arr, requires_grad=requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform draws on [0, 1)."""
    dev = backend.device(device)
    with backend.on_device(dev):
        arr = backend.generator(dev).random(_shape(shape), dtype=dtype or DEFAULT_DTYPE)
    return _make(arr, requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, device=None):
    """Integers in [low, high) (or [0, low) with one bound)."""
    if high is None:
        low, high = 0, low
    dev = backend.device(device)
    with backend.on_device(dev):
        gen = backend.generator(dev)
        size = (size,) if isinstance(size, int) else tuple(size)
        arr = gen.integers(low, high, size=size).astype(dtype)
    return Tensor._make(arr)


def zeros_like(x, dtype=None, requires_grad=False):
    return zeros(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return ones(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def randn_like(x, dtype=None):
    return randn(x.shape, dtype=dtype or x.dtype, device=x.device)


def rand_like(x, dtype=None):
    return rand(x.shape, dtype=dtype or x.dtype, device=x.device)
