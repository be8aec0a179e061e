"""Elementwise functions and activations.

Backward passes are written with Tensor operations on saved Tensors, so they can be differentiated
again (``create_graph=True``). Where a derivative is a step function (relu, abs, clip) the mask is a
constant: its own derivative is zero almost everywhere.
"""
import math as _math

from ..autograd import Function, Tensor
from ..backend import get_array_module, special


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
        return where(y.data > 0, grad, 0.0)      # a boolean mask, never a float copy of it


class LeakyRelu(Function):
    """y = x if x > 0 else slope x;  dy/dx = 1 if x > 0 else slope."""

    @staticmethod
    def forward(ctx, x, slope=0.01):
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = slope
        return get_array_module(x).where(positive, x, x * slope)

    @staticmethod
    def backward(ctx, grad):
        positive, = ctx.saved_tensors
        return where(positive.data, grad, grad * ctx.slope)


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
        ctx.save_for_backward(x)
        y = _sigmoid_array(x)
        y *= x
        return y

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return SiluGrad.apply(grad, x)


class SiluGrad(Function):
    """g * silu'(x) = g s (1 + x (1 - s));  its derivatives: d/dg = silu'(x),
    d/dx = g silu''(x) with silu''(x) = s (1 - s) (2 + x (1 - 2 s))."""

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(g, x)
        s = _sigmoid_array(x)
        d = 1 - s
        d *= x
        d += 1
        d *= s                       # silu'(x)
        d *= g
        return d

    @staticmethod
    def backward(ctx, h):
        g, x = ctx.saved_tensors
        gg = SiluGrad.apply(h, x) if ctx.needs_input_grad[0] else None
        gx = None
        if ctx.needs_input_grad[1]:
            s = sigmoid(x)
            gx = h * g * s * (1 - s) * (2 + x * (1 - 2 * s))
        return gg, gx


def _sigmoid_array(x):
    """s(x) = (1 + tanh(x/2)) / 2 on an array: no overflow of exp(-x) for large negative x."""
    s = get_array_module(x).tanh(x * 0.5)
    s += 1
    s *= 0.5
    return s


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
