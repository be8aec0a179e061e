"""Broadcasting and its adjoint, which the backward engine itself needs.

An operation that broadcasts an input (a bias added to every row) uses each of its entries several
times, so by the chain rule the input's gradient is the output's gradient summed over the broadcast
axes. The engine applies that sum, ``sum_to``, to whatever a backward returns; ``broadcast_to`` and
``sum_to`` are each other's backward, so derivatives of any order go through them.
"""
from ..backend import get_array_module
from .function import Function


class BroadcastTo(Function):
    """The copies are written out, not a zero-stride view: whatever reads a broadcast (the next
    operation, a leaf's ``.grad``, an optimizer) reads it elementwise, several times faster from a
    contiguous array, and a leaf's gradient must be contiguous anyway."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        y = get_array_module(x).empty(shape, dtype=x.dtype)
        try:
            if x.ndim > y.ndim:      # assignment would drop leading 1s; broadcasting never drops an axis
                raise ValueError
            y[...] = x
        except ValueError:
            raise ValueError(f"cannot broadcast shape {x.shape} to {tuple(shape)}") from None
        return y

    @staticmethod
    def backward(ctx, grad):
        return sum_to(grad, ctx.shape), None


def _sum_to_array(x, shape):
    """Sum the array ``x`` over the axes that broadcasting added or stretched to reach ``shape``."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {x.shape} to the larger shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    for i, n in enumerate(shape):
        if n != 1 and x.shape[lead + i] != n:
            raise ValueError(f"cannot sum shape {x.shape} to {shape}")
    y = x.sum(axis=axes, keepdims=True)
    return y.reshape(shape) if lead else y


class SumTo(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return _sum_to_array(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return broadcast_to(grad, ctx.shape), None


def broadcast_to(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    return BroadcastTo.apply(x, tuple(shape))


def sum_to(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    return SumTo.apply(x, tuple(shape))
