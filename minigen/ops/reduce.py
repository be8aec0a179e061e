"""Reductions: sum, mean, max, min, var, logsumexp; softmax and log_softmax built from them."""
from ..autograd import Function
from ..backend import get_array_module


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim)
    return tuple(sorted(out))


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = _normalize_axis(axis, x.ndim)
        ctx.shape = x.shape
        return x.sum(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        # every summed element receives the output's gradient
        if grad.ndim and grad.ndim != len(ctx.shape):
            grad = grad.reshape(_keepdims_shape(ctx.shape, ctx.axes))    # put the summed axes back
        return grad.broadcast_to(ctx.shape)


class _Extreme(Function):
    """max / min: the gradient goes to the extreme elements, split evenly between ties."""
    reduce = None

    @classmethod
    def forward(cls, ctx, x, axis=None, keepdims=False):
        axes = _normalize_axis(axis, x.ndim)
        y = getattr(x, cls.reduce)(axis=axes, keepdims=True)
        if ctx.needs_input_grad:   # the tie mask is only needed when a backward will run
            hit = (x == y).astype(x.dtype)
            hit /= hit.sum(axis=axes, keepdims=True)
            ctx.save_for_backward(hit)
            ctx.kept = y.shape
        return y if keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx, grad):
        share, = ctx.saved_tensors
        return grad.reshape(ctx.kept) * share


class Max(_Extreme):
    reduce = "max"


class Min(_Extreme):
    reduce = "min"


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        xp = get_array_module(x)
        axes = _normalize_axis(axis, x.ndim)
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)        # all -inf rows: avoid inf - inf
        y = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m   # log sum e^x, shifted by the max
        ctx.kept = y.shape
        out = y if keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        # d/dx_i log sum_j e^{x_j} = e^{x_i - y}: the softmax
        return grad.reshape(ctx.kept) * (x - y.reshape(ctx.kept)).exp()


def sum(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    axes = _normalize_axis(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axis, keepdims) * (1.0 / count)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return Min.apply(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False, ddof=0):
    """Mean squared deviation from the mean (divided by n - ddof)."""
    axes = _normalize_axis(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    d = x - mean(x, axes, keepdims=True)
    return sum(d * d, axes, keepdims) * (1.0 / (count - ddof))


def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def log_softmax(x, axis=-1):
    """log softmax(x) = x - logsumexp(x): stable for any magnitude of x."""
    return x - logsumexp(x, axis, keepdims=True)


def softmax(x, axis=-1):
    return log_softmax(x, axis).exp()
