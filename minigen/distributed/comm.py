"""Who this process is among the ranks, and the collective operations between them.

``init()`` looks at how the process was started:

    started by mpiexec / mpirun / srun (an MPI launcher)  ->  MPI through mpi4py: backend "mpi", or
                                                             "nccl" when the device is a GPU (NCCL
                                                             sums the arrays, MPI carries the rest)
    started as a plain process                            ->  backend "single": world_size 1, no MPI

Every communicator offers the same few operations, so the code above never asks which one it has:

    allreduce_sum(a)        the elementwise sum of ``a`` over all ranks (a new array)
    allreduce_sum_(a)       the same, in place
    broadcast_(a, root)     rank ``root``'s ``a`` copied into everyone's ``a``, in place
    broadcast_object(o)     any picklable Python object from the root to everyone
    allgather_object(o)     a list of every rank's ``o``, in rank order
    on_root(fn, ...)        rank 0 calls fn; everyone gets its result, or raises its exception
    root_first(fn, ...)     rank 0 calls fn first (downloads, caches), then the others

Arrays stay where they are: NumPy arrays go through MPI; CuPy arrays through NCCL, one GPU per rank
(``cuda:local_rank``), the NCCL unique id handed from rank 0 to the others over MPI. Objects always go
through MPI (pickled in memory, between processes of the same program: no file is ever unpickled).

The collectives of training (all-reduces, broadcasts, barriers) wait at most ``timeout`` seconds
(``MINIGEN_DIST_TIMEOUT``, default 300); after that the rank says what it was waiting for and stops the
whole job (faults.py), so a rank that hangs or vanishes never leaves the others waiting for ever. Waits
whose length depends on work that rank 0 does alone (``on_root``: reading a checkpoint; ``together``;
``barrier(timeout=False)``: the last figure) have no limit: a rank 0 that dies there is seen by the
launcher, which stops the job.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import socket

import numpy as np

from .. import backend
from .faults import Watchdog, abort_job

MPI_HELP = 'pip install "minigen[mpi]"'
DEFAULT_TIMEOUT = 300.0

# Variables an MPI launcher sets in the processes it starts: (rank variable, size variable).
# Hydra (MPICH, Intel MPI, MVAPICH), Open MPI's mpirun/prterun, and PMIx launchers such as srun.
_LAUNCHER_VARS = (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                  ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"), ("PMIX_RANK", None))


def launched_by_mpi():
    """``(rank, size, variable)`` from the environment when an MPI launcher started this process, else
    None. Reads only the environment: it never loads MPI. ``size`` is None where the launcher does
    not say it."""
    for rank_var, size_var in _LAUNCHER_VARS:
        if rank_var in os.environ:
            try:
                rank = int(os.environ[rank_var])
                size = int(os.environ[size_var]) if size_var and size_var in os.environ else None
            except ValueError:
                continue
            return rank, size, rank_var
    return None


def _timeout(timeout):
    if timeout is None:
        text = os.environ.get("MINIGEN_DIST_TIMEOUT", "")
        try:
            timeout = float(text) if text else DEFAULT_TIMEOUT
        except ValueError:
            raise ValueError(f"MINIGEN_DIST_TIMEOUT must be a number of seconds, got {text!r}") from None
    if not timeout > 0:
        raise ValueError(f"the distributed timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class RemoteError(RuntimeError):
    """An exception raised on another rank that could not be rebuilt here (it did not pickle)."""


# ---------------------------------------------------------------------------------- one process
class Communicator:
    """A world of one: every collective is the identity. Also the base of the real ones."""

    backend = "single"
    _nccl = None          # the NCCL communicator that sums CuPy arrays, when there is one

    def __init__(self, device=None):
        self.rank, self.world_size, self.local_rank, self.local_size = 0, 1, 0, 1
        self.device = backend.device(device)
        self.host = socket.gethostname()

    @property
    def is_root(self) -> bool:
        """True on rank 0, the rank that writes files and prints."""
        return self.rank == 0

    def __repr__(self):
        return (f"{type(self).__name__}(backend={self.backend!r}, rank={self.rank}, "
                f"world_size={self.world_size}, local_rank={self.local_rank}, device={self.device})")

    # ---------------------------------------------------------------- arrays
    def allreduce_sum(self, a):
        """The elementwise sum of the array ``a`` over all ranks, as a new array on ``a``'s device."""
        return self.allreduce_sum_(backend.get_array_module(a).array(a, copy=True, order="C"))

    def allreduce_sum_(self, a):
        """Replace the C-contiguous array ``a`` by its sum over all ranks; returns ``a``."""
        _check_contiguous(a, "allreduce_sum_")
        if self._nccl is not None and _on_gpu(a):
            return self._nccl.allreduce_sum_(a, self._waiting)
        return self._host_allreduce_sum_(a)

    def broadcast_(self, a, root: int = 0):
        """Copy rank ``root``'s C-contiguous array ``a`` into ``a`` on every rank; returns ``a``."""
        _check_contiguous(a, "broadcast_")
        if self._nccl is not None and _on_gpu(a):
            return self._nccl.broadcast_(a, root, self._waiting)
        return self._host_broadcast_(a, root)

    def _host_allreduce_sum_(self, a):
        return a

    def _host_broadcast_(self, a, root):
        return a

    # ---------------------------------------------------------------- objects
    def broadcast_object(self, obj, root: int = 0, timeout=None):
        """Rank ``root``'s picklable ``obj`` on every rank."""
        return obj

    def allgather_object(self, obj, timeout=None) -> list:
        """Every rank's ``obj``, in rank order."""
        return [obj]

    def barrier(self, timeout=None) -> None:
        """Wait until every rank has reached this call."""

    # ---------------------------------------------------------------- running code on some ranks
    def on_root(self, fn, *args, **kwargs):
        """Rank 0 calls ``fn(*args, **kwargs)``; every rank returns its result, or raises the exception
        it raised (for what only rank 0 can see, such as the run folder of a run being resumed)."""
        outcome = _call(fn, args, kwargs) if self.is_root else None
        return _unwrap(self.broadcast_object(_picklable(outcome), timeout=False))

    def together(self, fn, *args, **kwargs):
        """Every rank calls ``fn``; if any raises, every rank raises (the lowest such rank's exception),
        so that all of them stop at the same point instead of some waiting for the others forever."""
        outcome = _call(fn, args, kwargs)
        failed = outcome if outcome[0] == "error" else ("ok", None)
        failures = [o for o in self.allgather_object(_picklable(failed), timeout=False) if o[0] == "error"]
        if failures and outcome[0] != "error":
            outcome = failures[0]
        return _unwrap(outcome)

    def root_first(self, fn, *args, **kwargs):
        """Rank 0 calls ``fn`` first, then the other ranks (one process fills a download cache that the
        others then read); if it raises on any rank, it raises on every rank."""
        first = self.on_root(fn, *args, **kwargs)
        return self.together(lambda: first) if self.is_root else self.together(fn, *args, **kwargs)

    # ---------------------------------------------------------------- failure and waiting
    @contextlib.contextmanager
    def _waiting(self, what, timeout=None):
        yield

    def abort(self, message: str, exit_code: int = 1):
        """Print ``message`` and stop every rank of the job at once (a world of one just exits)."""
        abort_job(message, None, exit_code)

    def close(self) -> None:
        """Free what the communicator holds (NCCL's resources, the watchdog thread)."""
        if self._nccl is not None:
            self._nccl.close()
            self._nccl = None


def _on_gpu(a):
    return backend.get_array_module(a) is not np


def _check_contiguous(a, who):
    if not a.flags.c_contiguous:
        raise ValueError(f"{who}: the array must be C-contiguous, got one with strides {a.strides}")


def _call(fn, args, kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:    # noqa: BLE001  (handed to the other ranks and raised there too)
        return ("error", e)


def _unwrap(outcome):
    kind, value = outcome
    if kind == "error":
        raise value
    return value


def _picklable(outcome):
    """``outcome``; an exception that does not pickle is replaced by a RemoteError that names it."""
    if isinstance(outcome, tuple) and outcome[0] == "error":
        try:
            pickle.dumps(outcome[1])
        except Exception:  # noqa: BLE001
            return ("error", RemoteError(f"{type(outcome[1]).__name__}: {outcome[1]}"))
    return outcome


# ---------------------------------------------------------------------------------- MPI
def _import_mpi(launch):
    try:
        from mpi4py import MPI
    except ImportError:
        rank, size, var = launch
        ranks = f"{size} ranks" if size else "several ranks"
        raise RuntimeError(f"this process was started by an MPI launcher ({var}={rank}, {ranks}), but "
                           f"mpi4py is not installed, so it cannot work with the other ranks: "
                           f"{MPI_HELP}") from None
    return MPI


class MPICommunicator(Communicator):
    """Ranks started by an MPI launcher: NumPy arrays and objects over MPI (mpi4py)."""

    backend = "mpi"

    def __init__(self, MPI, device=None, timeout=None):
        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)   # the ranks on this machine
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        self.host = socket.gethostname()
        self.device = backend.device(device)
        self.timeout = _timeout(timeout)
        self.watchdog = Watchdog(self._timed_out)

    @contextlib.contextmanager
    def _waiting(self, what, timeout=None):
        """Run the block under the watchdog: ``timeout`` seconds (default ``self.timeout``; False:
        no limit, for waits whose length depends on work only rank 0 does)."""
        if timeout is False:
            yield
            return
        with self.watchdog.waiting(what, self.timeout if timeout is None else timeout):
            yield

    def _timed_out(self, what, waited):
        self.abort(f"minigen.distributed: rank {self.rank} of {self.world_size} ({self.host}) waited "
                   f"{waited:.0f} s in {what} for the other ranks, past the timeout of {self.timeout:g} s "
                   "(MINIGEN_DIST_TIMEOUT): another rank has failed, hung or lost its connection; "
                   "stopping every rank")

    def _host_allreduce_sum_(self, a):
        _check_host(a, "allreduce_sum_")
        with self._waiting("an all-reduce"):
            self.comm.Allreduce(self.MPI.IN_PLACE, a, op=self.MPI.SUM)
        return a

    def _host_broadcast_(self, a, root):
        _check_host(a, "broadcast_")
        with self._waiting("a broadcast"):
            self.comm.Bcast(a, root=root)
        return a

    def broadcast_object(self, obj, root: int = 0, timeout=None):
        with self._waiting("a broadcast", timeout):
            return self.comm.bcast(obj, root=root)

    def allgather_object(self, obj, timeout=None) -> list:
        with self._waiting("an all-gather", timeout):
            return self.comm.allgather(obj)

    def barrier(self, timeout=None) -> None:
        with self._waiting("a barrier", timeout):
            self.comm.Barrier()

    def abort(self, message: str, exit_code: int = 1):
        def stop():
            if self._nccl is not None:        # pending GPU collectives must not wait for the dead
                with contextlib.suppress(Exception):
                    self._nccl.abort()
            self.comm.Abort(exit_code)
        abort_job(message, stop, exit_code)

    def close(self) -> None:
        super().close()
        self.watchdog.stop()


def _check_host(a, who):
    if _on_gpu(a):
        raise TypeError(f"{who}: got a CuPy array, but this communicator sums on the CPU (backend "
                        "'mpi'); call minigen.distributed.init(device='cuda') to sum GPU arrays with NCCL")


# ---------------------------------------------------------------------------------- init
_current = None
_alone = 0


def init(device=None, backend_name=None, timeout=None) -> Communicator:
    """The communicator of this process: ``rank``, ``world_size``, ``local_rank``, ``backend``, ``device``.

    Started by an MPI launcher (``mpiexec -n 4 python train.py``), it joins the other ranks over MPI
    (this needs ``minigen[mpi]``); ``device="cuda"`` gives each rank its own GPU, ``cuda:local_rank``,
    and NCCL for the sums of arrays. Started as a plain process, it is a world of one (backend
    ``"single"``), which needs no MPI at all; ``backend_name="nccl"`` makes a one-rank NCCL world on
    the GPU instead (a smoke test of the NCCL path).

    ``timeout``: how many seconds a blocking operation may wait for the other ranks before the whole job
    is stopped (default: ``MINIGEN_DIST_TIMEOUT``, or 300). Calling ``init`` again returns the same
    communicator.
    """
    global _current
    if backend_name not in (None, "single", "mpi", "nccl"):
        raise ValueError(f"backend must be 'single', 'mpi' or 'nccl', got {backend_name!r}")
    kind = _device_kind(device)
    if _alone:
        return Communicator(device)
    if _current is not None and _current.backend != "single":
        if kind is not None and kind != _current.device.type:
            raise RuntimeError(f"minigen.distributed.init: already initialised for device "
                               f"{_current.device}, now asked for {device!r}")
        return _current
    launch = launched_by_mpi()
    if launch is None:
        if backend_name == "mpi":
            raise RuntimeError("backend 'mpi' asked for, but this process was not started by an MPI "
                               "launcher; start it with: mpiexec -n N python ...")
        comm = Communicator(_gpu(device, 0, 1) if backend_name == "nccl" else device)
        if backend_name == "nccl":
            from .nccl import NcclCommunicator
            comm.backend, comm._nccl = "nccl", NcclCommunicator(1, 0, comm.device)
        _current = comm
        return comm
    if backend_name == "single":
        raise RuntimeError("backend 'single' asked for, but this process was started by an MPI launcher "
                           f"({launch[2]}={launch[0]}); use minigen.distributed.single_process() to act "
                           "alone on one rank")
    comm = MPICommunicator(_import_mpi(launch), timeout=timeout)
    _share_cores(comm.local_size)
    if kind == "cuda" or backend_name == "nccl":
        from .nccl import NcclCommunicator
        comm.device = comm.together(_gpu, device or "cuda", comm.local_rank, comm.world_size, comm.host,
                                    comm.rank)
        unique_id = comm.on_root(NcclCommunicator.new_unique_id)
        with comm._waiting("starting NCCL"):          # ncclCommInitRank waits for every rank
            comm._nccl = NcclCommunicator(comm.world_size, comm.rank, comm.device, unique_id)
        comm.backend = "nccl"
    elif device is not None:
        comm.device = backend.device(device)
    _current = comm
    return comm


def _share_cores(local_size):
    """Give each of the ``local_size`` ranks on this machine its share of the cores for minigen's CPU
    thread pool, instead of a pool as large as the machine in every rank (MINIGEN_NUM_THREADS wins;
    a launcher that pins each rank to its own cores has already shared them)."""
    if "MINIGEN_NUM_THREADS" in os.environ:
        return
    from ..backend import parallel
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    pinned = usable < (os.cpu_count() or usable)
    parallel.set_num_threads(max(1, usable if pinned else usable // local_size))


def _device_kind(device):
    if device is None:
        return None
    if isinstance(device, backend.Device):
        return device.type
    if isinstance(device, str):
        text = device.strip().lower()
        if text == "cpu":
            return "cpu"
        if text == "cuda" or text.startswith("cuda:"):
            return "cuda"
    raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def _gpu(device, local_rank, world_size, host="this machine", rank=0):
    """The GPU of a rank: ``cuda:local_rank``, so that each rank on a machine has its own."""
    device = "cuda" if device is None else device
    if world_size > 1 and str(device).strip().lower() != "cuda":
        raise ValueError(f"with {world_size} ranks each rank uses GPU cuda:<local rank>, so pass "
                         f"device 'cuda' (got {str(device)!r}); choose which GPUs with CUDA_VISIBLE_DEVICES")
    if world_size == 1:
        return backend.device(device)           # says whether CuPy or the GPU is missing
    count = backend.cuda_device_count()
    if count == 0:
        backend.device("cuda")                  # raises, saying whether CuPy or the GPU is missing
    if local_rank >= count:
        raise RuntimeError(f"rank {rank} is local rank {local_rank} on {host}, which has {count} GPU(s): "
                           f"start at most {count} rank(s) per machine with --device cuda (NCCL cannot "
                           "share one GPU between two ranks)")
    return backend.Device("cuda", local_rank)


def current() -> Communicator:
    """The communicator ``init`` made, or a world of one if ``init`` was not called (never starts MPI)."""
    if _alone or _current is None:
        return Communicator()
    return _current


@contextlib.contextmanager
def single_process():
    """Inside the block this process acts as a world of one, whatever the launcher said: ``init`` and
    ``current`` return a one-rank communicator, so the trainer writes its own run folder (a reference
    run inside a test, or work that rank 0 does alone)."""
    global _alone
    _alone += 1
    try:
        yield
    finally:
        _alone -= 1
