"""Shape operations: reshape, transpose, broadcasting, indexing, joining and padding.

They move numbers around without changing them, so each backward moves the gradient back the
same way: reshape back, transpose by the inverse permutation, sum over broadcast axes, scatter to
the indexed positions.
"""
import builtins

from ..autograd import Function, Tensor
from ..autograd.broadcast import BroadcastTo, SumTo, broadcast_to, sum_to  # noqa: F401  (ops' names)
from ..backend import get_array_module, scatter_add


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Transpose(Function):
    @staticmethod
    def forward(ctx, x, axes=None):
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of a "
                             f"{x.ndim}-d tensor's axes")
        ctx.axes = tuple(a % x.ndim for a in axes)
        return x.transpose(ctx.axes)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return grad.transpose(inverse), None


def _plain_index(index):
    """Tensors inside an index become their arrays (integer or boolean indexing)."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        return GetItemGrad.apply(grad, ctx.index, ctx.shape), None


class GetItemGrad(Function):
    """The adjoint of indexing: a zero tensor with the gradient added at the indexed places."""

    @staticmethod
    def forward(ctx, grad, index, shape):
        xp = get_array_module(grad)
        ctx.index = index
        out = xp.zeros(shape, dtype=grad.dtype)
        if _is_basic(index):
            out[index] = grad                 # basic indexing never repeats an element
        else:
            scatter_add(out, index, grad)     # x[[0, 0]] uses x[0] twice: gradients add up
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, ctx.index), None, None


def getitem(x, index):
    return GetItem.apply(x, _plain_index(index))


class Concatenate(Function):
    @staticmethod
    def forward(ctx, *xs, axis=0):
        xp = get_array_module(xs[0])
        ctx.axis = axis % xs[0].ndim
        ctx.sizes = [x.shape[ctx.axis] for x in xs]
        try:
            return xp.concatenate(xs, axis=axis)
        except ValueError:
            raise ValueError(f"concatenate: shapes {[x.shape for x in xs]} differ off axis {axis}") from None

    @staticmethod
    def backward(ctx, grad):
        grads, start = [], 0
        for size in ctx.sizes:
            index = [builtins.slice(None)] * grad.ndim
            index[ctx.axis] = builtins.slice(start, start + size)
            grads.append(grad[tuple(index)])
            start += size
        return tuple(grads)


class Pad(Function):
    @staticmethod
    def forward(ctx, x, pad_width, value=0.0):
        xp = get_array_module(x)
        ctx.crop = tuple(builtins.slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.crop], None, None


# -------------------------------------------------------------------------- functional forms
def reshape(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape)


def transpose(x, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose.apply(x, axes or None)


def swapaxes(x, a, b):
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, tuple(axes))


def flatten(x, start_axis=0, end_axis=-1):
    """Merge axes start_axis..end_axis into one (``flatten(x, 1)`` keeps the batch axis)."""
    nd = x.ndim
    s, e = start_axis % nd, end_axis % nd
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


def squeeze(x, axis=None):
    if axis is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    axes = [a % x.ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def expand_dims(x, axis):
    nd = x.ndim + 1
    axis = axis % nd
    shape = list(x.shape)
    shape.insert(axis, 1)
    return reshape(x, tuple(shape))


def concatenate(xs, axis=0):
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: needs at least one tensor")
    return Concatenate.apply(*xs, axis=axis)


def stack(xs, axis=0):
    xs = list(xs)
    if builtins.any(x.shape != xs[0].shape for x in xs):
        raise ValueError(f"stack: all tensors need the same shape, got {[x.shape for x in xs]}")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


def split(x, indices_or_sections, axis=0):
    """Like numpy.split: a number of equal sections, or the indices where to cut."""
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"split: axis of size {n} does not divide into {indices_or_sections} equal parts")
        step = n // indices_or_sections
        cuts = list(range(step, n, step))
    else:
        cuts = list(indices_or_sections)
    bounds = [0] + cuts + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index = [builtins.slice(None)] * x.ndim
        index[axis] = builtins.slice(lo, hi)
        out.append(getitem(x, tuple(index)))
    return out


def pad(x, pad_width, value=0.0):
    """Constant padding; ``pad_width`` as in numpy.pad: ((before, after), ...) per axis."""
    if isinstance(pad_width, int):
        pad_width = [(pad_width, pad_width)] * x.ndim
    pad_width = tuple((int(a), int(b)) for a, b in pad_width)
    if len(pad_width) != x.ndim:
        raise ValueError(f"pad: {len(pad_width)} (before, after) pairs for a {x.ndim}-d tensor")
    return Pad.apply(x, pad_width, value)


def _along_axis_index(indices, axis):
    """The fancy index that makes x[index] equal take_along_axis(x, indices, axis)."""
    xp = get_array_module(indices)
    nd = indices.ndim
    axis = axis % nd
    index = []
    for d in range(nd):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * nd
            shape[d] = indices.shape[d]
            index.append(xp.arange(indices.shape[d]).reshape(shape))
    return tuple(index)


def take_along_axis(x, indices, axis):
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along ``axis`` (numpy's name; torch's gather)."""
    if isinstance(indices, Tensor):
        indices = indices.data
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices have {indices.ndim} dimensions, the tensor {x.ndim}")
    return getitem(x, _along_axis_index(indices, axis))


def gather(x, axis, index):
    """PyTorch's name for take_along_axis."""
    return take_along_axis(x, index, axis)
