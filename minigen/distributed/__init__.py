r"""Data-parallel training over the engines HPC already uses: MPI (mpi4py) between processes, on one
machine or many, and NCCL (through CuPy) between GPUs.

N processes (ranks) each hold a copy of the model. Every global batch of B examples is cut into N
contiguous shards of b = B / N; rank r computes the gradient g_r of its shard's mean loss, and

    grad_theta (1/B) sum_{i=1..B} loss_i  =  (1/N) sum_{r=1..N} g_r          (data_parallel.py, (*))

so once the ranks have averaged their gradients (an all-reduce), each takes the step one process
would take at batch B. Batch norm sums its statistics over the ranks (batch_norm.py) and the random
draws made per example are each rank's rows of the draws for the whole batch (random.py), so N ranks
give the parameters of one process, up to the order of float32 sums.

    import minigen as mg
    dist = mg.distributed.init()                                  # rank, world_size, local_rank, backend
    loader = mg.data.DataLoader(x, batch_size=256, shard=dist)    # B = 256 over all ranks
    opt = mg.distributed.DataParallel(mg.optim.Adam(model.parameters()), dist)
    for xb, _ in loader:
        with mg.distributed.shard_draws(dist, len(xb)):           # per-example noise as one process
            loss = model.loss(xb)
        opt.zero_grad(); loss.backward(); opt.step()              # step() averages the gradients

Run it with ``mpiexec -n 4 python train.py`` (``pip install "minigen[mpi]"``), or as a plain process,
where everything above is a world of one and needs no MPI. ``mpiexec -n 4 minigen train ...`` does all
of this for any model family. docs/distributed.md explains the rest: several machines, GPUs, faults.
"""
from .batch_norm import sync_batch_norm
from .comm import (Communicator, MPICommunicator, RemoteError, current, init, launched_by_mpi,
                   single_process)
from .data_parallel import DataParallel, synchronize_before_reading
from .random import shard_draws
from .replicas import ReplicasDiverged, broadcast_module, check_replicas

from ..optim import clip as _clip

if synchronize_before_reading not in _clip.before_reading_grads:
    _clip.before_reading_grads.append(synchronize_before_reading)

__all__ = ["init", "current", "single_process", "launched_by_mpi", "Communicator", "MPICommunicator",
           "DataParallel", "sync_batch_norm", "shard_draws", "broadcast_module", "check_replicas",
           "ReplicasDiverged", "RemoteError"]
