"""Tensor's operators and methods, bound to the functions in ``minigen.ops``.

``x + y`` calls ``Tensor.__add__``, which is ``ops.add``, which is ``Add.apply``: follow that chain
to the array call. Methods follow NumPy's names (axis, keepdims, reshape, transpose, astype).
"""
import numpy as np

from .. import backend
from ..autograd import Tensor
from . import arithmetic as A, math as M, reduce as R, shape as S, linalg as L, misc


def _raw(other):
    return other.data if isinstance(other, Tensor) else other


def _compare(op):
    def method(self, other):
        return Tensor._make(op(self.data, _raw(other)))   # comparisons are not differentiable
    return method


def _bind():
    T = Tensor
    T.__add__ = A.add
    T.__radd__ = lambda self, other: A.add(other, self)
    T.__sub__ = A.sub
    T.__rsub__ = lambda self, other: A.sub(other, self)
    T.__mul__ = A.mul
    T.__rmul__ = lambda self, other: A.mul(other, self)
    T.__truediv__ = A.div
    T.__rtruediv__ = lambda self, other: A.div(other, self)
    T.__pow__ = A.pow
    T.__rpow__ = lambda self, other: A.pow(other, self)
    T.__neg__ = A.neg
    T.__pos__ = lambda self: self
    T.__matmul__ = L.matmul
    T.__rmatmul__ = lambda self, other: L.matmul(other, self)
    T.__getitem__ = S.getitem
    T.__abs__ = M.abs
    T.__lt__ = _compare(lambda a, b: a < b)
    T.__le__ = _compare(lambda a, b: a <= b)
    T.__gt__ = _compare(lambda a, b: a > b)
    T.__ge__ = _compare(lambda a, b: a >= b)
    T.__eq__ = _compare(lambda a, b: a == b)
    T.__ne__ = _compare(lambda a, b: a != b)
    T.__mod__ = _compare(lambda a, b: a % b)      # integer arithmetic on indices: not differentiable
    T.__floordiv__ = _compare(lambda a, b: a // b)

    for name in ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus",
                 "clip"):
        setattr(T, name, getattr(M, name))
    for name in ("sum", "mean", "max", "min", "var", "logsumexp"):
        setattr(T, name, getattr(R, name))
    for name in ("reshape", "transpose", "swapaxes", "broadcast_to", "flatten", "squeeze",
                 "expand_dims"):
        setattr(T, name, getattr(S, name))
    T.matmul = L.matmul
    T.astype = misc.astype
    T.T = property(lambda self: S.transpose(self))
    T.argmax = lambda self, axis=None: Tensor._make(self.data.argmax(axis=axis))
    T.argmin = lambda self, axis=None: Tensor._make(self.data.argmin(axis=axis))
    T.float = lambda self: misc.astype(self, "float32")
    T.double = lambda self: misc.astype(self, "float64")
    T.to = _to
    T.cpu = lambda self: _to(self, "cpu")
    T.cuda = lambda self, index=0: _to(self, f"cuda:{index}")


def _to(self, device=None, dtype=None):
    """Move to a device and/or cast; differentiable (gradients flow back to the source)."""
    out = self
    if device is not None and backend.device(device) != self.device:
        out = misc.to_device(out, device)
    if dtype is not None and np.dtype(dtype) != self.dtype:
        out = misc.astype(out, dtype)
    return out


_bind()
