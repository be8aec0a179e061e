"""Tensor: an array that remembers the operation that made it.

``x.data`` is the raw ``numpy.ndarray`` or ``cupy.ndarray``; ``x._ctx`` is the node of the Function
that produced it (None for leaves: data and parameters). ``loss.backward()`` walks those nodes back
to the leaves and fills in ``.grad``. Arithmetic, reductions and the rest are attached as methods in
``minigen/ops/tensor_methods.py``.
"""
from __future__ import annotations

import numpy as np

from .. import backend

DEFAULT_DTYPE = np.float32


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "_version", "__weakref__")
    __array_priority__ = 1000   # so that ndarray * Tensor is handled by Tensor.__rmul__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        data = _as_array(data, dtype, device)
        self.data = data
        self.grad = None
        self._ctx = None
        self.name = None
        self._version = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad):
        """Fast constructor for the engine: wraps an array as is."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t._ctx = None
        t.name = None
        t._version = 0
        t.requires_grad = requires_grad
        return t

    # ------------------------------------------------------------------------ what it is
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self._ctx is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), precision=4, separator=", ",
                               prefix="tensor(")
        extra = ""
        if self.device.type != "cpu":
            extra += f", device='{self.device}'"
        if self.dtype != DEFAULT_DTYPE:
            extra += f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.fn.__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__   # comparisons are elementwise, identity is the hash

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all() on x.data")
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    # ------------------------------------------------------------------------ autograd
    def requires_grad_(self, flag: bool = True):
        if flag and self.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients; this one is "
                            f"{self.dtype} (convert it with .astype('float32') first)")
        self.requires_grad = bool(flag)
        return self

    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is the gradient flowing into ``self`` (defaults to 1 for a scalar).
        The graph is freed afterwards unless ``retain_graph=True``; ``create_graph=True`` records
        the backward pass itself so that the gradients can be differentiated again.
        """
        _engine.backward([self], None if grad is None else [grad], retain_graph, create_graph)

    def detach(self):
        """The same data, cut off from the graph."""
        return Tensor._make(self.data, False)

    def mark_changed(self):
        """Record an in-place change of ``self.data``: a pending backward that saved this tensor will
        refuse to use it (see the module docstring)."""
        self._version += 1
        return self

    def zero_grad_(self):
        self.grad = None
        return self

    # ------------------------------------------------------------------------ devices and copies
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU when it lives there)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def to(self, device=None, dtype=None):
        """Move to a device and/or cast; differentiable (gradients flow back to the source)."""
        from .. import ops
        out = self
        if device is not None and backend.device(device) != self.device:
            out = ops.to_device(out, device)
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = ops.astype(out, dtype)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index: int = 0):
        return self.to(f"cuda:{index}")


from . import engine as _engine  # noqa: E402  (the engine imports Tensor)


def _as_array(data, dtype=None, device=None):
    """Turn data (list, number, numpy or cupy array) into an array on ``device``.

    Python floats and lists of them become float32 (the default dtype); arrays keep their dtype
    unless ``dtype`` is given.
    """
    dev = backend.device(device) if device is not None else None
    if hasattr(data, "__cuda_array_interface__") or isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(DEFAULT_DTYPE)
    if dev is None:
        dev = backend.device_of(arr)
    arr = backend.to_device(arr, dev)
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr
