"""Opt-in anomaly mode: find the operation that first made a NaN or an infinity.

    with mg.autograd.detect_anomaly():
        loss = model(x)
        loss.backward()

Every forward output and every gradient a backward returns is checked; the first non-finite one
raises ``FloatingPointError`` naming the operation. Off by default because the checks cost a pass
over every array.
"""
from .. import backend

_enabled = False


class detect_anomaly:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = self.enabled
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


class paused:
    """Inside a Function's backward the engine checks the result itself, naming that Function."""

    def __enter__(self):
        global _enabled
        self.prev, _enabled = _enabled, False

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


def _finite(a) -> bool:
    xp = backend.get_array_module(a)
    if not hasattr(a, "dtype") or a.dtype.kind not in "fc":
        return True
    return bool(xp.isfinite(a).all())


def _describe(args):
    return ", ".join(str(tuple(a.shape)) if hasattr(a, "shape") else repr(a) for a in args)


def check_forward(fn, args, out):
    if not _finite(out):
        raise FloatingPointError(
            f"anomaly: {fn.__name__}.forward produced NaN or Inf (inputs: {_describe(args)})")


def check_backward(fn, grads):
    for i, g in enumerate(grads):
        data = getattr(g, "data", g)
        if data is not None and not _finite(data):
            raise FloatingPointError(
                f"anomaly: {fn.__name__}.backward produced NaN or Inf in the gradient of input {i}")
