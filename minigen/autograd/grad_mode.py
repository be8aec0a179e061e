"""Whether operations are being recorded for backward.

``no_grad()`` turns recording off (inference, optimizer updates, the backward pass itself unless
``create_graph=True``); ``enable_grad()`` turns it back on inside a ``no_grad`` block.
Both work as context managers and as decorators.
"""
import functools

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


class set_grad_enabled:
    """Set recording on or off for a block: ``with set_grad_enabled(False): ...``."""

    def __init__(self, mode: bool):
        global _enabled
        self.prev = _enabled
        _enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


class _GradModeContext:
    mode = True

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = self.mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Record nothing: results have ``requires_grad=False``."""
    mode = False


class enable_grad(_GradModeContext):
    mode = True
