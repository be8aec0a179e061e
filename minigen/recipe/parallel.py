"""What training does differently on N ranks (minigen.distributed): the hooks of the training loop
(loop.py) and of the run around it (minigen/training/trainer.py).

    dist = connect(device)                          who this process is (a world of one without MPI)
    prepare(recipe, dist)                           rank 0's state on every rank; optimizers average
                                                    gradients (DataParallel); batch norm over all ranks
    with step_draws(dist, batch): train_step(...)   per-example noise drawn as one process would
    metrics, stop = agree(dist, metrics, stop)      metrics averaged over the ranks; a Ctrl-C seen by
                                                    any rank stops every rank after the same step
    check(recipe, dist, when)                       the ranks' models are still equal
    with on_root_only(dist, make_context): ...      the run folder and its lock: rank 0's alone
    release(recipe)                                 plain optimizers and local batch norm again
    @stop_every_rank_on_failure(...)                an error raised on one rank only stops the job

Only rank 0 writes the run folder and prints progress; the others write into ``DISCARD``. Every
decision that ends training (a NaN, Ctrl-C, a bad option) is taken from values that are the same on
every rank, so all ranks stop together and cleanly; anything else that escapes on one rank aborts the
whole job at once (MPI_Abort) instead of leaving the others waiting, keeping the last checkpoint.
"""
from __future__ import annotations

import contextlib
import functools
import traceback

import numpy as np

from .. import distributed
from .base import UsageError


def connect(device):
    """``minigen.distributed.init(device)``, with what is missing (mpi4py, a GPU per rank) as a
    UsageError."""
    try:
        return distributed.init(device)
    except (RuntimeError, ValueError, TypeError) as e:
        raise UsageError(str(e)) from None


def _modules(recipe):
    from ..nn import Module
    return {name: value for name, value in vars(recipe).items() if isinstance(value, Module)}


def prepare(recipe, dist) -> None:
    """Make the ranks' copies of ``recipe`` one: rank 0's modules, optimizer states, averages of
    weights and schedules everywhere; each optimizer wrapped in DataParallel; batch norm synchronised."""
    if dist.world_size == 1:
        return
    from ..nn import Module
    from ..optim.optimizer import Optimizer
    for name, value in list(vars(recipe).items()):
        if isinstance(value, Module):
            distributed.broadcast_module(value, dist)
            distributed.sync_batch_norm(value, dist)
        elif isinstance(value, Optimizer):
            setattr(recipe, name, distributed.DataParallel(value, dist))
        elif hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
            state = dist.broadcast_object(value.state_dict() if dist.is_root else None)
            if not dist.is_root:
                value.load_state_dict(state)


def release(recipe) -> None:
    """Undo ``prepare``: the recipe's own optimizers, batch norm on this rank's batch alone."""
    for name, value in list(vars(recipe).items()):
        if isinstance(value, distributed.DataParallel):
            setattr(recipe, name, value.optimizer)
    for module in _modules(recipe).values():
        distributed.sync_batch_norm(module, None)


def step_draws(dist, batch):
    """Context around one training step: this rank's rows of the per-example draws of the global batch."""
    return distributed.shard_draws(dist, int(batch[0].shape[0]))


def agree(dist, metrics: dict, stop: bool):
    """(metrics averaged over the ranks, whether any rank asked to stop): one small all-reduce."""
    if dist is None or dist.world_size == 1:
        return metrics, stop
    values = np.array(list(metrics.values()) + [float(stop)], dtype=np.float64)
    dist.allreduce_sum_(values)
    mean = (values[:-1] / dist.world_size).tolist()
    return dict(zip(metrics, mean)), bool(values[-1])


def check(recipe, dist, when: str) -> None:
    """Stop every rank (UsageError) if their copies of the recipe's modules have drifted apart."""
    try:
        distributed.check_replicas(_modules(recipe), dist, when)
    except distributed.ReplicasDiverged as e:
        raise UsageError(f"model '{recipe.name}' on {dist.world_size} ranks: {e}") from None


@contextlib.contextmanager
def on_root_only(dist, make_context):
    """``with make_context():`` on rank 0 alone (the run folder and its lock), the block on every rank;
    an error on entering it (a locked or unwritable folder) is raised on every rank."""
    with contextlib.ExitStack() as stack:
        def enter():
            stack.enter_context(make_context())
        dist.on_root(enter)
        yield


class _Discard:
    """Stands in for the metrics log and the progress stream on ranks other than 0."""

    def write(self, *args):
        pass

    def flush(self):
        pass

    def close(self):
        pass

    def isatty(self):
        return False


DISCARD = _Discard()


def stop_every_rank_on_failure(*agreed):
    """Decorator for the training function: an exception of a type in ``agreed`` is raised by every
    rank at the same point, so it propagates as usual; any other exception on a rank of several (a
    bug, a full disk on rank 0, a second Ctrl-C) prints its traceback and aborts the whole job."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BaseException as e:
                dist = distributed.current()
                if dist.world_size > 1 and not isinstance(e, agreed + (SystemExit,)):
                    what = "interrupted (Ctrl-C)" if isinstance(e, KeyboardInterrupt) else \
                        f"failed: {type(e).__name__}: {e}"
                    dist.abort(f"{traceback.format_exc()}\nminigen: rank {dist.rank} of {dist.world_size} "
                               f"({dist.host}) {what}; stopping every rank (the last checkpoint written "
                               "is kept)")
                raise
        return run
    return decorate
