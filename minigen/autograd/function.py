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

``apply`` also enforces two rules for every op, so that no model pays for a silent conversion:
the tensors of one op live on one device, and floating-point tensors (or NumPy arrays) of different
precision do not meet (float32 with float64 raises a TypeError naming the op; cast one of them).
Numbers adapt: Python and NumPy scalars, and integer or boolean arrays, take the precision of the
float tensors (NumPy alone would make float32 * int64 float64). Casts (``astype``) are the exception,
marked with ``changes_dtype = True``.
"""
from __future__ import annotations

import itertools
import weakref

import numpy as np

from . import grad_mode
from . import anomaly
from .tensor import Tensor


_applications = itertools.count()       # numbers the nodes in the order they were made


class Context:
    """What one application of a Function remembers for its backward pass."""

    __slots__ = ("fn", "inputs", "needs_input_grad", "_saved", "_versions", "freed", "seq", "__dict__")

    def __init__(self, fn, inputs, needs_input_grad):
        self.seq = next(_applications)        # later than the nodes of its inputs: see engine.py
        self.fn = fn
        self.inputs = inputs                  # the positional arguments, Tensors or constants
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._versions = ()                   # (tensor, its array, its version) for saved inputs
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
        for t, array, version in self._versions:
            if t.data is not array or t._version != version:
                raise RuntimeError(
                    f"{self.fn.__name__}: an input it saved for backward (shape {tuple(array.shape)}"
                    f"{', ' + repr(t.name) if t.name else ''}) was changed in place after the forward "
                    f"pass (its version went from {version} to {t._version}, or .data was replaced), "
                    "so its gradient would be wrong. Change tensors only after backward (e.g. "
                    "optimizer.step() after loss.backward()), or use x.detach() for a value to keep.")
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
        self._versions = ()
        self.inputs = ()
        self.freed = True

    def __repr__(self):
        return f"<{self.fn.__name__} node>"


class Function:
    """Base class of differentiable operations; see the module docstring."""

    changes_dtype = False      # True for the casts, whose output precision is the point

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        arrays, needs = [], []     # the arguments as arrays; which of them want a gradient
        first = None               # the first Tensor's array: the others must share its device and precision
        for a in args:
            if isinstance(a, Tensor):
                needs.append(a.requires_grad)
                a = a.data
                if first is None:
                    first = a
                elif a.dtype is not first.dtype or type(a) is not np.ndarray:
                    _check_same_place(cls, first, a)
            else:
                needs.append(False)
                if isinstance(a, np.generic):
                    a = a.item()   # a NumPy scalar is a number: it takes the tensor's precision
                elif isinstance(a, np.ndarray) and first is not None and a.dtype is not first.dtype:
                    _check_same_place(cls, first, a)
            arrays.append(a)

        record = grad_mode._mode.enabled and True in needs
        ctx = Context(cls, args, tuple(needs)) if record else Context(cls, (), ())
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:   # e.g. NumPy's broadcasting error, which does not say which op
            msg = str(e)
            if msg.startswith(cls.__name__.lower()) or msg.startswith(cls.__name__):
                raise
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays if hasattr(a, "shape"))
            raise ValueError(f"{cls.__name__}: {msg} (input shapes: {shapes})") from None
        if first is not None and out.dtype is not first.dtype and not cls.changes_dtype:
            out = _keep_float_precision(arrays, out)
        if anomaly._enabled:
            anomaly.check_forward(cls, args, out)
        result = Tensor._make(out, requires_grad=record)
        if record:
            result._ctx = ctx
            if ctx._saved:
                _keep_saved(ctx, args, arrays, out, result)
        return result


_CPU_TYPES = (np.ndarray, np.generic)


def _check_same_place(fn, first, a):
    """Two arrays meeting in one op: the same device, and (for floats) the same precision.

    minigen never promotes float32 to float64 behind your back: a float64 input reaching float32
    weights would silently turn the whole model float64 (twice the memory, half the speed).
    """
    if type(a) is not type(first) or not isinstance(a, _CPU_TYPES):
        from .. import backend
        here, there = backend.device_of(first), backend.device_of(a)
        if here != there:
            raise RuntimeError(f"{fn.__name__}: tensors are on different devices ({here} and {there}); "
                               "move them with .to(device) first")
    if a.dtype != first.dtype and a.dtype.kind == "f" and first.dtype.kind == "f":
        raise TypeError(
            f"{fn.__name__}: inputs of different precision, {first.dtype} and {a.dtype}; minigen does "
            f"not promote silently: cast one of them with .astype('{first.dtype}') (or "
            f".astype('{a.dtype}')), or move a model with model.to(dtype=...)")


def _keep_float_precision(arrays, out):
    """NumPy widens float32 * int64 to float64; minigen keeps the float inputs' precision."""
    if out.dtype.kind != "f":
        return out
    widest = max((a.dtype for a in arrays if hasattr(a, "dtype") and a.dtype.kind == "f"),
                 key=lambda d: d.itemsize, default=None)
    if widest is None or widest.itemsize >= out.dtype.itemsize:
        return out
    return out.astype(widest)


def _keep_saved(ctx, args, arrays, out, result):
    saved, versions = [], []
    for item in ctx._saved:
        if item is out:
            # the output is saved weakly: backward only ever runs while its output is alive, and a
            # strong reference would make a cycle output -> ctx -> output that delays freeing memory.
            saved.append(_OutputRef(result))
            continue
        for a, arr in zip(args, arrays):
            if arr is item and isinstance(a, Tensor):
                saved.append(a)
                versions.append((a, arr, a._version))
                break
        else:
            if isinstance(item, Tensor) or not _is_array(item):
                saved.append(item)
            else:
                saved.append(Tensor._make(item))
    ctx._saved = tuple(saved)
    ctx._versions = tuple(versions)


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (int, float))


class _OutputRef:
    __slots__ = ("ref",)

    def __init__(self, t):
        self.ref = weakref.ref(t)
