r"""Two matrix functions the 1x1 convolution needs, with their derivatives:

    A^{-1}:         d(A^{-1}) = -A^{-1} dA A^{-1}      so  dL/dA = -A^{-T} (dL/dA^{-1}) A^{-T}
    log|det A|:     d log|det A| = tr(A^{-1} dA)       so  dL/dA = g A^{-T}   (Jacobi's formula)

Backward passes are written with Tensor operations (``inverse`` itself included), so they can be
differentiated again.
"""
from minigen.autograd import Function
from minigen.backend import get_array_module


def _check_square(a, caller):
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{caller}: expected a square matrix (n, n), got shape {a.shape}")


class Inverse(Function):
    @staticmethod
    def forward(ctx, a):
        _check_square(a, "inverse")
        a_inv = get_array_module(a).linalg.inv(a)
        ctx.save_for_backward(a)
        return a_inv

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        a_inv_t = inverse(a).T
        return -(a_inv_t @ grad @ a_inv_t)


class LogAbsDet(Function):
    @staticmethod
    def forward(ctx, a):
        _check_square(a, "log_abs_det")
        xp = get_array_module(a)
        sign, log_abs = xp.linalg.slogdet(a)
        if not bool(sign != 0):
            raise ValueError("log_abs_det: the matrix is singular (det = 0)")
        ctx.save_for_backward(a)
        return xp.asarray(log_abs, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * inverse(a).T


def inverse(a):
    """A^{-1} of a square matrix Tensor."""
    return Inverse.apply(a)


def log_abs_det(a):
    """log|det A| of a square matrix Tensor (a 0-d Tensor)."""
    return LogAbsDet.apply(a)
