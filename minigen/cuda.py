"""``mg.cuda.is_available()`` and friends: safe to call on any machine, with or without CuPy."""
from . import backend


def is_available() -> bool:
    return backend.cuda_is_available()


def device_count() -> int:
    return backend.cuda_device_count()
