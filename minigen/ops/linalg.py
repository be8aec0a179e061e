"""Matrix products."""
from ..autograd import Function
from ..backend import get_array_module


class MatMul(Function):
    """C = A @ B over the last two axes, leading (batch) axes broadcast as in NumPy.

    dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC; the engine sums those over broadcast batch axes.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align on the inner axis "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        ctx.save_for_backward(a, b)
        return get_array_module(a).matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad @ b.swapaxes(-1, -2) if ctx.needs_input_grad[0] else None
        gb = a.swapaxes(-1, -2) @ grad if ctx.needs_input_grad[1] else None
        return ga, gb


def matmul(a, b):
    """NumPy's matmul, 1-d operands included (a vector is a row on the left, a column on the right)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalars are not allowed; use * for scaling")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align on the inner axis")
        return (a * b).sum()
    if a.ndim == 1:
        return MatMul.apply(a.reshape(1, -1), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul.apply(a, b.reshape(-1, 1)).squeeze(-1)
    return MatMul.apply(a, b)
