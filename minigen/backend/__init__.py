"""Where arrays live: NumPy on the CPU, CuPy on CUDA GPUs.

This is the only module in minigen that imports ``cupy``. Everything above it asks for
``xp = get_array_module(array)`` (or ``device.xp``) and writes one code path that runs on either
library, the way Chainer and DeZero do.

Devices are written ``"cpu"``, ``"cuda"`` (the current GPU, index 0) and ``"cuda:N"``. Each device
has its own seeded random generator; ``manual_seed`` reseeds all of them.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import memory, parallel
from .parallel import get_num_threads, set_num_threads

parallel.pin_blas_to_one_thread()     # minigen parallelises its own work; see backend/parallel.py
memory.keep_arrays_in_the_heap()      # no page faults for each step's arrays; see backend/memory.py

_CUDA_HELP = 'pip install "minigen[cuda12]" (CUDA 12) or "minigen[cuda13]" (CUDA 13)'

# ----------------------------------------------------------------------------------------- cupy
_cupy = None          # the module once imported, False once known to be missing


def _try_cupy():
    """Import cupy lazily; None when it is not installed (or fails to load)."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: the one place minigen imports cupy
            _cupy = cupy
        except Exception:  # ImportError, or a CUDA library that fails to load
            _cupy = False
    return _cupy or None


def _require_cupy():
    cp = _try_cupy()
    if cp is None:
        raise RuntimeError(f"CUDA needs CuPy, which is not installed: {_CUDA_HELP}")
    return cp


def cuda_device_count() -> int:
    """Number of visible CUDA GPUs; 0 without CuPy or without a GPU (never raises)."""
    cp = _try_cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def cuda_is_available() -> bool:
    return cuda_device_count() > 0


# -------------------------------------------------------------------------------------- devices
class Device:
    """A place for arrays: ``Device("cpu")`` or ``Device("cuda", 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int = 0):
        self.type = type
        self.index = index

    @property
    def xp(self):
        """The array module for this device: numpy or cupy."""
        return np if self.type == "cpu" else _require_cupy()

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    __str__ = __repr__


CPU = Device("cpu")


def device(spec=None) -> Device:
    """Parse a device: None or "cpu" -> cpu; "cuda" -> cuda:0; "cuda:N"; a Device is returned as is.

    Asking for CUDA checks that CuPy is installed and that the GPU exists, and says which is missing.
    """
    if spec is None or isinstance(spec, Device) and spec.type == "cpu":
        return CPU
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device must be 'cpu', 'cuda', 'cuda:N' or a Device, got {spec!r}")
    s = spec.strip().lower()
    if s == "cpu":
        return CPU
    if s == "cuda" or s.startswith("cuda:"):
        index = 0
        if s != "cuda":
            try:
                index = int(s[5:])
            except ValueError:
                raise ValueError(f"bad device {spec!r}: expected 'cuda:N' with an integer N") from None
        _require_cupy()
        n = cuda_device_count()
        if n == 0:
            raise RuntimeError(f"device {spec!r} asked for, but CuPy finds no CUDA GPU on this machine "
                               "(check the driver with nvidia-smi, or use device='cpu')")
        if index >= n:
            raise RuntimeError(f"device {spec!r} asked for, but only {n} CUDA GPU(s) are visible")
        return Device("cuda", index)
    raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def get_array_module(x):
    """numpy or cupy, whichever owns the array ``x`` (numpy for anything that is not a cupy array)."""
    cp = _cupy or None
    if cp is not None and isinstance(x, cp.ndarray):
        return cp
    return np


def device_of(array) -> Device:
    cp = _cupy or None
    if cp is not None and isinstance(array, cp.ndarray):
        return Device("cuda", array.device.id)
    return CPU


def to_device(array, dev) -> object:
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    dev = device(dev)
    src = device_of(array)
    if src == dev:
        return array
    if dev.type == "cpu":
        return array.get()
    cp = _require_cupy()
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)


def to_numpy(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else to_device(array, CPU)


def on_device(dev):
    """Context that makes ``dev`` the current CUDA device for allocations (a no-op for the CPU)."""
    dev = device(dev)
    if dev.type == "cpu":
        import contextlib
        return contextlib.nullcontext()
    return _require_cupy().cuda.Device(dev.index)


def scatter_add(target, index, values):
    """``target[index] += values`` with repeated indices summed (np.add.at / cupyx.scatter_add)."""
    xp = get_array_module(target)
    if xp is np or hasattr(xp.add, "at"):   # CuPy >= 13 has ufunc.at; cupyx.scatter_add is deprecated
        xp.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


def nccl():
    """CuPy's NCCL bindings (``cupy.cuda.nccl``), through which minigen.distributed sums arrays across
    GPUs; a RuntimeError that says what is missing when CuPy or the NCCL library is not there."""
    _require_cupy()
    from cupy.cuda import nccl as module      # cupy.cuda.nccl imports even when NCCL is missing
    if not getattr(module, "available", False):
        raise RuntimeError("data-parallel training on GPUs sums gradients with NCCL, which CuPy cannot "
                           "load here: install NCCL for your CUDA version as CuPy's installation guide "
                           "says under 'Additional CUDA Libraries', or train on the CPU (--device cpu)")
    return module


_scipy_special = None


def special(xp):
    """scipy.special or cupyx.scipy.special, for erf and friends."""
    if xp is np:
        global _scipy_special
        if _scipy_special is None:
            import scipy.special
            parallel.pin_blas_to_one_thread()     # SciPy loads a BLAS of its own
            _scipy_special = scipy.special
        return _scipy_special
    import cupyx.scipy.special
    return cupyx.scipy.special


def as_strided(x, shape, strides):
    xp = get_array_module(x)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


import threading as _threading

_scratch = _threading.local()


def scratch(shape, dtype, like, slot=0):
    """An uninitialised array for a temporary that dies inside the caller (the columns of a
    convolution), reused from call to call on the CPU: a fresh 50 MB array costs as much in page
    faults as filling it, because allocations that large always get new pages from the kernel.
    Each thread has its own buffers; ``slot`` keeps two live temporaries apart. On CUDA, CuPy's
    memory pool already reuses memory, so this is a plain allocation."""
    xp = get_array_module(like)
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    n = 1
    for d in shape:
        n *= d
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buf = buffers.get((slot, dtype))
    if buf is None or buf.size < n:
        buf = buffers[(slot, dtype)] = np.empty(n, dtype=dtype)
    return buf[:n].reshape(shape)


# ------------------------------------------------------------------------------- random state
_seed = None
_generators: dict = {}


def manual_seed(seed: int) -> None:
    """Reseed the generator of every device (those made later derive from the same seed)."""
    global _seed
    _seed = int(seed)
    _generators.clear()


_view = None          # gen -> object with gen's methods, while generator_view(...) is active


def generator(dev=None):
    """The random generator of a device: a numpy Generator on the CPU, a cupy one on CUDA."""
    dev = device(dev)
    gen = _generators.get(dev)
    if gen is None:
        seed = None if _seed is None else _seed + (0 if dev.type == "cpu" else 1000 + dev.index)
        if dev.type == "cpu":
            gen = np.random.Generator(np.random.PCG64(seed))
        else:
            cp = _require_cupy()
            with cp.cuda.Device(dev.index):
                gen = cp.random.default_rng(seed)
        _generators[dev] = gen
    return gen if _view is None else _view(gen)


@contextlib.contextmanager
def generator_view(view):
    """Inside the block, ``generator(dev)`` returns ``view(gen)`` in place of the generator ``gen``.

    minigen.distributed uses it so that the draws a data-parallel rank makes per example are its
    own rows of the draws one process would make for the whole global batch.
    """
    global _view
    previous, _view = _view, view
    try:
        yield
    finally:
        _view = previous


def get_rng_state() -> dict:
    """A JSON-serialisable snapshot of the random state, for checkpoints.

    The CPU generator's state is captured exactly; CUDA generators are recorded by their seed only,
    so a resumed run on CUDA is reseeded rather than continued bit for bit.
    """
    cpu = generator(CPU).bit_generator.state
    state = {"seed": _seed, "cpu": {"state": {k: int(v) for k, v in cpu["state"].items()},
                                    "has_uint32": int(cpu["has_uint32"]), "uinteger": int(cpu["uinteger"]),
                                    "bit_generator": cpu["bit_generator"]}}
    return state


def set_rng_state(state: dict) -> None:
    global _seed
    _seed = state.get("seed")
    _generators.clear()
    gen = generator(CPU)
    gen.bit_generator.state = state["cpu"]


def info() -> dict:
    """Versions and devices, for ``minigen info``."""
    out = {"numpy": np.__version__, "cupy": None, "cuda_devices": []}
    cp = _try_cupy()
    if cp is not None:
        out["cupy"] = cp.__version__
        for i in range(cuda_device_count()):
            try:
                props = cp.cuda.runtime.getDeviceProperties(i)
                name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            except Exception:
                name = "unknown"
            out["cuda_devices"].append(f"cuda:{i} {name}")
    return out
