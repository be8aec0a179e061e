"""Casts, device moves, dropout, one-hot and embedding lookups."""
import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from .shape import getitem


class AsType(Function):
    changes_dtype = True

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype), None


class ToDevice(Function):
    @staticmethod
    def forward(ctx, x, device):
        ctx.source = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, grad):
        return to_device(grad, ctx.source), None


def astype(x, dtype):
    if np.dtype(dtype) == x.dtype:
        return x
    if not x.requires_grad:
        return Tensor._make(x.data.astype(dtype), False)
    return AsType.apply(x, np.dtype(dtype))


def to_device(x, device):
    return ToDevice.apply(x, backend.device(device))


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout),
    so that the expected value is unchanged and evaluation needs no rescaling."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    gen = backend.generator(x.device)
    keep = gen.random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return x * mask


def one_hot(indices, num_classes, dtype=np.float32):
    """A constant (N, ..., num_classes) tensor with a 1 at each index."""
    idx = indices.data if isinstance(indices, Tensor) else indices
    xp = backend.get_array_module(idx)
    idx = xp.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise ValueError(f"one_hot: indices must lie in [0, {num_classes}), got [{int(idx.min())}, {int(idx.max())}]")
    return Tensor._make((idx[..., None] == xp.arange(num_classes)).astype(dtype), False)


def embedding(indices, weight):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices``: weight[indices]."""
    idx = indices.data if isinstance(indices, Tensor) else indices
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    return getitem(weight, idx)
