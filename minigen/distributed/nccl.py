"""Sums and broadcasts of CuPy arrays between GPUs with NCCL, one GPU per rank.

NCCL needs every rank to hold the same 128-byte unique id before it can connect them: rank 0 asks NCCL
for one and hands it to the others over MPI (comm.py), then each rank joins on its own GPU,
``cuda:local_rank``. The collectives run on the current CUDA stream of that GPU, in place on device
buffers; the host waits for the stream only so that the watchdog can see a rank that never answers.

CuPy's bindings are reached through ``minigen.backend.nccl()``, which says how to install NCCL when it is
missing (this module never imports cupy itself).
"""
from __future__ import annotations

from .. import backend


def _nccl_dtype(nccl, dtype):
    names = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
             "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8"}
    if str(dtype) not in names:
        raise TypeError(f"NCCL sums arrays of {sorted(names)}, got {dtype}")
    return getattr(nccl, names[str(dtype)])


class NcclCommunicator:
    """Rank ``rank`` of ``world_size`` on GPU ``device``, joined through the shared ``unique_id``
    (None for a world of one, which makes its own)."""

    def __init__(self, world_size: int, rank: int, device, unique_id=None):
        self.nccl = backend.nccl()
        self.device = backend.device(device)
        if unique_id is None:
            if world_size != 1:
                raise ValueError("NcclCommunicator: several ranks need the unique id of rank 0")
            unique_id = self.nccl.get_unique_id()
        with backend.on_device(self.device):            # NCCL binds the communicator to this GPU
            self.comm = self.nccl.NcclCommunicator(world_size, unique_id, rank)

    @staticmethod
    def new_unique_id():
        """A fresh id (on rank 0), to hand to every rank."""
        return backend.nccl().get_unique_id()

    def _check(self, a, who):
        if backend.device_of(a) != self.device:
            raise ValueError(f"{who}: the array is on {backend.device_of(a)}, this rank's NCCL "
                             f"communicator on {self.device}")

    def allreduce_sum_(self, a, waiting):
        """``a`` <- sum of ``a`` over the ranks, in place on this rank's GPU."""
        self._check(a, "allreduce_sum_")
        xp = backend.get_array_module(a)
        with backend.on_device(self.device), waiting("an NCCL all-reduce"):
            stream = xp.cuda.get_current_stream()
            self.comm.allReduce(a.data.ptr, a.data.ptr, a.size, _nccl_dtype(self.nccl, a.dtype),
                                self.nccl.NCCL_SUM, stream.ptr)
            stream.synchronize()
        return a

    def broadcast_(self, a, root, waiting):
        """``a`` <- rank ``root``'s ``a``, in place on this rank's GPU."""
        self._check(a, "broadcast_")
        xp = backend.get_array_module(a)
        with backend.on_device(self.device), waiting("an NCCL broadcast"):
            stream = xp.cuda.get_current_stream()
            self.comm.bcast(a.data.ptr, a.size, _nccl_dtype(self.nccl, a.dtype), root, stream.ptr)
            stream.synchronize()
        return a

    def abort(self):
        """Drop the connections at once (a rank failed: pending collectives must not wait for it)."""
        if self.comm is not None:
            self.comm.abort()
            self.comm = None

    def close(self):
        if self.comm is not None:
            self.comm.destroy()
            self.comm = None
