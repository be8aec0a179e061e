"""Function: an operation with its forward and its backward side by side.

Every differentiable operation in minigen, built-in or yours, is a subclass::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):                 # arrays in (numpy or cupy), an array out
            y = get_array_module(x).exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):             # Tensors in, one gradient per forward argument out
            y, = ctx.saved_tensors
            return grad * y                  # d exp(x)/dx = exp(x)

    y = Exp.apply(x)

``forward`` works on raw arrays, so it is as fast as the array library. ``backward`` works on
Tensors and is written with Tensor operations; when the engine runs it with ``create_graph=True``
those operations are recorded too, which is how higher-order gradients come for free.
A backward may also return plain arrays: that is fine for first-order gradients, but the engine
cannot differentiate through them.

Non-Tensor positional arguments (Python numbers, axes, flags) reach ``forward`` unchanged and get no
gradient: return ``None`` for them (trailing ones may be left out). Keyword arguments reach
``forward`` only.
"""
from __future__ import annotations

import weakref

from .. import backend
from . import grad_mode
from . import anomaly
from .tensor import Tensor


class Context:
    """What one application of a Function remembers for its backward pass."""

    __slots__ = ("fn", "inputs", "needs_input_grad", "_saved", "freed", "__dict__")

    def __init__(self, fn, inputs, needs_input_grad):
        self.fn = fn
        self.inputs = inputs                  # the positional arguments, Tensors or constants
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self.freed = False

    def save_for_backward(self, *items):
        """Keep arrays (inputs, the output or anything else) for backward, as Tensors.

        Saving an input or the output keeps the Tensor itself, so a backward that uses it stays
        differentiable in it; any other array is saved as a constant.
        """
        self._saved = items

    @property
    def saved_tensors(self):
        if self.freed:
            raise RuntimeError(
                f"{self.fn.__name__}: the saved tensors were freed after a first backward pass; "
                "call backward(retain_graph=True) the first time to go through the graph again")
        out = []
        for s in self._saved:
            if isinstance(s, _OutputRef):
                s = s.ref()
                if s is None:
                    raise RuntimeError(f"{self.fn.__name__}: its output was freed before backward")
            out.append(s)
        return tuple(out)

    def free(self):
        self._saved = ()
        self.inputs = ()
        self.freed = True

    def __repr__(self):
        return f"<{self.fn.__name__} node>"


class Function:
    """Base class of differentiable operations; see the module docstring."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        arrays = []
        dev = None
        requires_grad = False
        for a in args:
            if isinstance(a, Tensor):
                if dev is None:
                    dev = a.device
                elif a.device != dev:
                    raise RuntimeError(
                        f"{cls.__name__}: tensors are on different devices ({dev} and {a.device}); "
                        "move them with .to(device) first")
                requires_grad = requires_grad or a.requires_grad
                arrays.append(a.data)
            else:
                arrays.append(a)

        record = requires_grad and grad_mode._enabled
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args) if record else ()
        ctx = Context(cls, args if record else (), needs)
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:   # e.g. NumPy's broadcasting error, which does not say which op
            msg = str(e)
            if msg.startswith(cls.__name__.lower()) or msg.startswith(cls.__name__):
                raise
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays if hasattr(a, "shape"))
            raise ValueError(f"{cls.__name__}: {msg} (input shapes: {shapes})") from None
        if anomaly._enabled:
            anomaly.check_forward(cls, args, out)
        result = Tensor._make(out, record)
        if record:
            result._ctx = ctx
            ctx._saved = tuple(_as_saved(item, args, arrays, out, result) for item in ctx._saved)
        return result


def _as_saved(item, args, arrays, out, result):
    if item is out:
        # the output is saved weakly: backward only ever runs while its output is alive, and a
        # strong reference would make a cycle output -> ctx -> output that delays freeing memory.
        return _OutputRef(result)
    for a, arr in zip(args, arrays):
        if arr is item and isinstance(a, Tensor):
            return a
    if isinstance(item, Tensor) or not _is_array(item):
        return item
    return Tensor._make(item, False)


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (int, float))


class _OutputRef:
    __slots__ = ("ref",)

    def __init__(self, t):
        self.ref = weakref.ref(t)
