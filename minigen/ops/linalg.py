"""Matrix products.

``_product`` is where every product of minigen's dense layers and attention runs: a large one is
split across the threads of ``minigen.backend.parallel`` (BLAS itself runs on one thread there), by
rows of a 2-D left operand (by columns of the right one when the left is short) or along the leading
axis of stacked ones. Each piece computes whole rows (columns) of the result, so the numbers do not
depend on how it was split.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..backend.parallel import chunks, get_num_threads, run_chunks

_SPLIT_FLOPS = 2e7        # below about a quarter millisecond of work, threads cost more than they save


def _product(a, b):
    """a @ b on arrays (NumPy's matmul), split across threads when it is large."""
    xp = get_array_module(a)
    if xp is not np or get_num_threads() < 2 or a.ndim < 2 or b.ndim < 2:
        return xp.matmul(a, b)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    stacked = a.shape[:-2] if a.ndim > 2 else ()
    flops = 2.0 * m * k * n * int(np.prod(stacked or (1,)))
    if flops < _SPLIT_FLOPS:
        return xp.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2:
        # pieces of at least 64 rows (or columns): BLAS packs the other operand once per piece, so
        # thin pieces spend their time packing; a short, wide product is split by columns instead
        out = xp.empty((m, n), dtype=xp.result_type(a, b))
        if m >= 256 or n < 128:
            pieces = chunks(m, max(64, -(-m // 4)))

            def piece(lo, hi):
                xp.matmul(a[lo:hi], b, out=out[lo:hi])
        else:
            pieces = chunks(n, max(64, -(-n // 4)))

            def piece(lo, hi):
                xp.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
    elif a.ndim == b.ndim and a.shape[:-2] == b.shape[:-2]:
        out = xp.empty(a.shape[:-1] + (n,), dtype=xp.result_type(a, b))
        pieces = chunks(a.shape[0], -(-a.shape[0] // 4))

        def piece(lo, hi):
            xp.matmul(a[lo:hi], b[lo:hi], out=out[lo:hi])
    else:
        return xp.matmul(a, b)
    run_chunks(piece, pieces)
    return out


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
        return _product(a, b)

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


class Linear(Function):
    """y = x W^T + b, the affine map of a dense layer; W is (out, in) as in PyTorch.

        dL/dx = g W,    dL/dW = g^T x  (summed over all leading axes),    dL/db = sum of g

    A Function of its own rather than matmul(x, W.T) + b: written that way the weight gradient is
    computed as x^T g and then transposed, so it reaches W strided, and the copy that makes it
    contiguous for the optimizer costs about as much as a GEMM. Here g^T x lands in W's layout.
    """

    @staticmethod
    def forward(ctx, x, W, b=None):
        if x.shape[-1] != W.shape[1]:
            raise ValueError(f"linear: input has {x.shape[-1]} features on its last axis (shape {x.shape}), "
                             f"the weight expects {W.shape[1]} (weight shape {W.shape})")
        ctx.save_for_backward(x, W)
        y = _product(x.reshape(-1, W.shape[1]), W.T).reshape(x.shape[:-1] + (W.shape[0],))
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, grad):
        x, W = ctx.saved_tensors
        n_out, n_in = W.shape
        gx = grad @ W if ctx.needs_input_grad[0] else None
        gW = gb = None
        if ctx.needs_input_grad[1]:
            gW = grad.reshape(-1, n_out).swapaxes(0, 1) @ x.reshape(-1, n_in)
        has_bias = len(ctx.needs_input_grad) == 3
        if has_bias and ctx.needs_input_grad[2]:
            gb = grad.reshape(-1, n_out).sum(axis=0)
        return (gx, gW, gb) if has_bias else (gx, gW)


def linear(x, weight, bias=None):
    """y = x W^T + b for x (..., in), W (out, in), b (out,) or None."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
