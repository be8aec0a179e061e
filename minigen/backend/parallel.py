"""Threads on the CPU: minigen splits its large operations over chunks of the batch itself.

Why not leave it to BLAS? NumPy's OpenBLAS starts a thread per core for every matrix product, and
those threads spin while they wait for the next one. On a quiet machine that is harmless; on a busy
2-core machine the spinning threads took the cores from everything else (100 VAE steps took 7.6 s
with OpenBLAS's two threads and 1.3 s with one). And a product is only part of the work: the
columns of a convolution, the normalisations and the optimizer are array loops that BLAS never sees.

So the policy is:

- BLAS runs on one thread (``threadpoolctl``, a small, well-kept library made for exactly this,
  sets it when minigen is imported; without it, set ``OPENBLAS_NUM_THREADS=1`` yourself);
- an operation big enough to pay for it is cut into chunks of its batch, and the chunks run on a
  pool of threads: NumPy releases the GIL inside BLAS calls, copies and ufunc loops, so the chunks run
  on all cores, and threads that wait for work sleep instead of spinning;
- small operations run on the calling thread.

The chunks are chosen from the shapes alone, never from the number of threads, and partial results
(a weight gradient summed over the batch) are added in chunk order: the numbers are the same for
any number of threads.

``mg.set_num_threads(n)`` or ``MINIGEN_NUM_THREADS=n`` sets the pool size (default: the cores this
process may run on); ``MINIGEN_BLAS_THREADS=n`` gives BLAS n threads of its own instead of one.
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

_threads = None          # the pool size once decided
_pool = None


def _positive_env(name, default):
    env = os.environ.get(name)
    if not env:
        return default
    try:
        n = int(env)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{name} must be a positive integer, got {env!r}")
    return n


def _default_threads():
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return _positive_env("MINIGEN_NUM_THREADS", max(1, cores))


def get_num_threads() -> int:
    """How many threads minigen's CPU operations use."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for minigen's CPU operations (1: everything on the calling thread)."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer, got {n!r}")
    if _pool is not None and n != _threads:
        _pool.shutdown(wait=True)
        _pool = None
    _threads = n


def pin_blas_to_one_thread() -> bool:
    """Run BLAS on one thread (see the module docstring), or on ``MINIGEN_BLAS_THREADS`` threads when
    that is set (e.g. to compare with BLAS's own threading); False when threadpoolctl is missing.
    It applies to the BLAS libraries loaded so far: SciPy brings its own copy, so ``backend.special``
    calls it again after importing scipy."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=_positive_env("MINIGEN_BLAS_THREADS", 1), user_api="blas")
    return True


def blas_threads():
    """{library file: threads} for each BLAS loaded in this process (empty without threadpoolctl).
    NumPy's is the one minigen's products use; SciPy may load its own copy."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    return {os.path.basename(lib["filepath"]): lib["num_threads"]
            for lib in threadpool_info() if lib.get("user_api") == "blas"}


def chunks(n: int, size: int):
    """[(lo, hi), ...] covering range(n) in pieces of ``size`` (the last one may be shorter)."""
    size = max(1, int(size))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def run_chunks(fn, pieces):
    """[fn(lo, hi) for (lo, hi) in pieces], spread over the calling thread and the pool when there is
    more than one piece and more than one thread; the results come back in the order of ``pieces``."""
    global _pool
    workers = min(get_num_threads(), len(pieces))
    if workers < 2:
        return [fn(lo, hi) for lo, hi in pieces]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=get_num_threads() - 1, thread_name_prefix="minigen")
    results = [None] * len(pieces)
    taken = itertools.count()            # next() on a count is atomic: each piece is taken once

    def work():
        for i in iter(taken.__next__, len(pieces)):
            if i >= len(pieces):
                return
            results[i] = fn(*pieces[i])

    helpers = [_pool.submit(work) for _ in range(workers - 1)]
    try:
        work()                           # the calling thread takes pieces too instead of waiting
    finally:
        for h in helpers:                # never return while a helper may still write
            h.result()
    return results
