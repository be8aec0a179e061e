"""Whether operations are being recorded for backward.

``no_grad()`` turns recording off (inference, optimizer updates, the backward pass itself unless
``create_graph=True``); ``enable_grad()`` turns it back on inside a ``no_grad`` block.
Both work as context managers and as decorators.

The mode belongs to the thread, as in PyTorch: a backward pass on one thread (which turns recording
off while it runs) must not stop another thread's forward pass from being recorded.
"""
import functools
import threading


class _Mode(threading.local):
    enabled = True          # the class attribute is each new thread's starting value


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Set recording on or off for a block: ``with set_grad_enabled(False): ...``."""

    def __init__(self, mode: bool):
        self.prev = _mode.enabled
        _mode.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False


class _GradModeContext:
    mode = True

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
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
