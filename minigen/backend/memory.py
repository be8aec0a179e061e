"""Where the CPU's arrays get their memory: reused from the heap, not faulted in fresh every step.

glibc's malloc gives each allocation above a threshold (128 KB at first) fresh pages from the
kernel and returns them on free, so the next array of that size page-faults its way in again,
which costs about as much as writing it. A training step allocates and frees the same sizes over and
over (a (512, 256) activation is 512 KB), so minigen asks malloc, once, to serve arrays up to 32 MB
from its heap and to keep freed memory for the next step:

    M_MMAP_THRESHOLD = 32 MB    larger arrays still get their own pages (convolution columns are
                                reused through backend.scratch instead)
    M_TRIM_THRESHOLD = 256 MB   do not hand freed memory back until this much is free at the top
    M_TOP_PAD        = 64 MB    grow the heap in large steps

Measured with benchmarks/bench_workloads.py (one thread): the RealNVP workload 25-30% faster, the
U-Net 10%, peak memory unchanged (the memory is reused, not added). Linux with glibc only; when the
user has set any of malloc's own MALLOC_*_ environment variables, their choice stands.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_SETTINGS = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20), (_M_TOP_PAD, 64 << 20))


def keep_arrays_in_the_heap() -> bool:
    """Apply the settings above; False where they do not apply (not glibc, or the user's own)."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):       # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(option, value) == 1 for option, value in _SETTINGS)
