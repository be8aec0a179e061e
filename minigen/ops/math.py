"""Elementwise functions and activations.

Backward passes are written with Tensor operations on saved Tensors, so they can be differentiated
again (``create_graph=True``). Where a derivative is a step function (relu, abs, clip) the mask is a
constant: its own derivative is zero almost everywhere.
"""
import math as _math

import numpy as np

from ..autograd import Function, Tensor
from ..backend import cuda_kernels, get_array_module, special
from ..backend.parallel import chunks, run_chunks


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad / (2 * y)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(get_array_module(x).sign(x))
        return get_array_module(x).abs(x)

    @staticmethod
    def backward(ctx, grad):
        sign, = ctx.saved_tensors
        return grad * sign


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).sin(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * cos(x)


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).cos(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return -grad * sin(x)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = _sigmoid_array(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dy/dx = 1 where y > 0, else 0."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        # times a boolean mask (made here, never stored as floats): five times faster than where()
        return grad * (y.data > 0)


class LeakyRelu(Function):
    """y = x if x > 0 else slope x;  dy/dx = 1 if x > 0 else slope."""

    @staticmethod
    def forward(ctx, x, slope=0.01):
        xp = get_array_module(x)
        positive = x > 0
        ctx.save_for_backward(positive)          # one byte per element
        ctx.slope = slope
        y = x * slope
        if slope >= 0:      # x or slope x, whichever the slope makes the right one: no where() pass
            (xp.maximum if slope <= 1 else xp.minimum)(x, y, out=y)
        else:
            y = xp.where(positive, x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        positive, = ctx.saved_tensors
        slope = positive.data.astype(grad.dtype)     # dy/dx: 1 where x > 0, else the slope
        slope *= 1 - ctx.slope
        slope += ctx.slope
        return grad * slope


class Elu(Function):
    @staticmethod
    def forward(ctx, x, alpha=1.0):
        xp = get_array_module(x)
        positive = x > 0
        y = xp.where(positive, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype)
        ctx.save_for_backward(positive, y)
        ctx.alpha = alpha
        return y

    @staticmethod
    def backward(ctx, grad):
        positive, y = ctx.saved_tensors
        # d/dx = 1 for x > 0, alpha e^x = y + alpha otherwise
        return grad * where(positive, 1.0, y + ctx.alpha)


class Softplus(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).logaddexp(0, x)   # log(1 + e^x) without overflow

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * sigmoid(x)


class Erf(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return special(get_array_module(x)).erf(x).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (2 / _math.sqrt(_math.pi)) * exp(-x * x)


class Clip(Function):
    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        ctx.save_for_backward(inside.astype(x.dtype))
        return xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        inside, = ctx.saved_tensors
        return grad * inside


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        xp = get_array_module(cond)
        ctx.save_for_backward(cond)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        cond, = ctx.saved_tensors
        ga = where(cond, grad, 0.0) if ctx.needs_input_grad[1] else None
        gb = where(cond, 0.0, grad) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a if hasattr(a, "shape") else b)
        ctx.save_for_backward(xp.asarray(a >= b))
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a_wins, = ctx.saved_tensors   # ties go to the first argument
        return where(a_wins, grad, 0.0), where(a_wins, 0.0, grad)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a if hasattr(a, "shape") else b)
        ctx.save_for_backward(xp.asarray(a <= b))
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a_wins, = ctx.saved_tensors
        return where(a_wins, grad, 0.0), where(a_wins, 0.0, grad)


def exp(x): return Exp.apply(x)
def log(x): return Log.apply(x)
def sqrt(x): return Sqrt.apply(x)
def abs(x): return Abs.apply(x)   # noqa: A001 - NumPy's name
def sin(x): return Sin.apply(x)
def cos(x): return Cos.apply(x)
def tanh(x): return Tanh.apply(x)
def sigmoid(x): return Sigmoid.apply(x)
def relu(x): return Relu.apply(x)
def leaky_relu(x, negative_slope=0.01): return LeakyRelu.apply(x, negative_slope)
def elu(x, alpha=1.0): return Elu.apply(x, alpha)
def softplus(x): return Softplus.apply(x)
def erf(x): return Erf.apply(x)
def clip(x, lo=None, hi=None): return Clip.apply(x, lo, hi)
def maximum(a, b): return Maximum.apply(a, b)
def minimum(a, b): return Minimum.apply(a, b)


class Silu(Function):
    """y = x s(x) with s the sigmoid (also called swish);  dy/dx = s (1 + x (1 - s)).

    One pass forward and one backward instead of the three operations (and two kept temporaries)
    of x * sigmoid(x). The backward is a Function too, SiluGrad, whose own derivative is written
    with Tensor operations, so SiLU networks have derivatives of every order.
    """

    @staticmethod
    def forward(ctx, x):
        if get_array_module(x) is not np:
            y, s = cuda_kernels.kernel("silu")(x)
        else:
            s, y = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)

            def part(x, s, y):
                _sigmoid_array(x, out=s)
                np.multiply(s, x, out=y)
            _elementwise_in_chunks(part, [x], [s, y])
        ctx.save_for_backward(x, s)              # s is kept: recomputing it costs more than a pass
        return y

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return SiluGrad.apply(grad, x, s.data)


class SiluGrad(Function):
    """g * silu'(x) = g s (1 + x (1 - s)) with s = sigmoid(x) (given, or computed);  its
    derivatives: d/dg = silu'(x), d/dx = g silu''(x) with silu''(x) = s (1 - s) (2 + x (1 - 2 s))."""

    @staticmethod
    def forward(ctx, g, x, s=None):
        ctx.save_for_backward(g, x)
        if s is None:
            s = _sigmoid_array(x)
        if get_array_module(x) is not np:
            return cuda_kernels.kernel("silu_grad")(g, x, s)
        d = np.empty(x.shape, x.dtype)

        def part(g, x, s, d):
            np.subtract(1, s, out=d)
            d *= x
            d += 1
            d *= s                   # silu'(x)
            d *= g
        _elementwise_in_chunks(part, [g, x, s], [d])
        return d

    @staticmethod
    def backward(ctx, h):
        g, x = ctx.saved_tensors
        gg = SiluGrad.apply(h, x) if ctx.needs_input_grad[0] else None
        gx = None
        if ctx.needs_input_grad[1]:
            s = sigmoid(x)
            gx = h * g * s * (1 - s) * (2 + x * (1 - 2 * s))
        return gg, gx, None


def _sigmoid_array(x, out=None):
    """s(x) = (1 + tanh(x/2)) / 2 on an array: no overflow of exp(-x) for large negative x."""
    xp = get_array_module(x)
    s = xp.multiply(x, 0.5, out=out)
    s = xp.tanh(s, out=s if isinstance(s, xp.ndarray) else None)     # in place unless x was a scalar
    s += 1
    s *= 0.5
    return s


def _elementwise_in_chunks(fn, inputs, outputs):
    """fn(*input_pieces, *output_pieces) over pieces of 256K numbers of same-shaped CPU arrays, on
    minigen's threads (NumPy releases the GIL inside each operation). ``outputs`` must be new
    C-ordered arrays: the pieces are views into them."""
    flat = [np.ascontiguousarray(a).reshape(-1) for a in inputs] + [a.reshape(-1) for a in outputs]
    run_chunks(lambda lo, hi: fn(*(a[lo:hi] for a in flat)), chunks(flat[-1].size, 1 << 18))


def silu(x):
    """x * sigmoid(x) (also called swish), as one Function."""
    return Silu.apply(x)


def gelu(x):
    """x * Phi(x) with Phi the standard normal CDF, written with erf (the exact form)."""
    return 0.5 * x * (1 + erf(x * (1 / _math.sqrt(2))))


def where(cond, a, b):
    """Elementwise ``a`` where ``cond`` else ``b``; ``cond`` is a boolean array or tensor."""
    if isinstance(cond, Tensor):
        cond = cond.data
    return Where.apply(cond, a, b)
