"""Pooling and nearest-neighbour upsampling.

Pooling reduces each k_h x k_w window (stride s, padding p) of every channel to one number:

    max_pool2d:  y[n, c, oh, ow] = max_{i, j} x_pad[n, c, oh s_h + i, ow s_w + j]        (padding: -inf)
    avg_pool2d:  y[n, c, oh, ow] = 1/(k_h k_w) sum_{i, j} x_pad[n, c, oh s_h + i, ow s_w + j]   (padding: 0)

The windows come from im2col (rows (c, i, j), columns (n, oh, ow)), reshaped so that the k_h k_w
entries of a window lie on one axis; ``max`` and ``mean`` over that axis do the rest, and their
backward passes (gradient to the maximum, split evenly between ties; 1/(k_h k_w) to every entry)
go back through col2im. avg_pool2d counts the padding zeros in the mean, like PyTorch's default
``count_include_pad=True``.

Upsampling repeats every pixel in an r x r block: y[n, c, h r + a, w r + b] = x[n, c, h, w]. Its
adjoint sums each block, which is r^2 times the r x r average pool. (Written as reshape,
broadcast_to and reshape, autograd would derive that sum by itself, but NumPy is slow both to copy
and to sum an innermost axis of length r: 22 ms instead of 5.5 ms forward and backward for a
(64, 32, 14, 14) input in benchmarks/bench_conv.py; hence a Function, with np.repeat forward.)
"""
import operator

from ..autograd import Function
from ..backend import get_array_module
from .conv import Im2Col, _check_4d, _output_size, _pair
from .reduce import max as reduce_max, mean
from .shape import pad


def _windows(op, x, kernel_size, stride, padding):
    """x (N, C, H, W) -> (C, kh kw, N, OH, OW): the entries of each window on axis 1."""
    N, C, H, W = x.shape
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else _pair(stride, "stride", op, 1)
    OH, OW = _output_size(op, (H, W), kernel, stride, padding, (1, 1))
    cols = Im2Col.apply(x, kernel, stride, padding, (1, 1))
    return cols.reshape(C, kernel[0] * kernel[1], N, OH, OW)


def _pool_padding(op, x, kernel_size, padding):
    _check_4d(op, "input", x)
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    padding = _pair(padding, "padding", op, 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        # a wider padding would let a window see nothing but padding
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    return padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over each window; stride defaults to kernel_size; padding counts as -inf."""
    ph, pw = _pool_padding("max_pool2d", x, kernel_size, padding)
    if ph or pw:
        x = pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), value=float("-inf"))
    windows = _windows("max_pool2d", x, kernel_size, stride, (0, 0))
    return reduce_max(windows, axis=1).transpose(1, 0, 2, 3)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over each window; stride defaults to kernel_size; padding zeros count in the mean
    (PyTorch's count_include_pad=True)."""
    padding = _pool_padding("avg_pool2d", x, kernel_size, padding)
    windows = _windows("avg_pool2d", x, kernel_size, stride, padding)
    return mean(windows, axis=1).transpose(1, 0, 2, 3)


class Upsample(Function):
    @staticmethod
    def forward(ctx, x, r):
        xp = get_array_module(x)
        ctx.r = r
        return xp.repeat(xp.repeat(x, r, axis=3), r, axis=2)    # each pixel r times, then each row

    @staticmethod
    def backward(ctx, grad):
        # each input pixel was copied to r*r places: its gradient is the sum over its block
        return avg_pool2d(grad, ctx.r) * (ctx.r * ctx.r), None


def upsample(x, scale_factor=2):
    """Nearest-neighbour upsampling of x (N, C, H, W) by an integer factor r: (N, C, H r, W r)."""
    _check_4d("upsample", "input", x)
    try:
        r = operator.index(scale_factor)
    except TypeError:
        raise TypeError(f"upsample: scale_factor must be a positive int, got {scale_factor!r}") from None
    if r < 1:
        raise ValueError(f"upsample: scale_factor must be a positive int, got {scale_factor!r}")
    return Upsample.apply(x, r)
