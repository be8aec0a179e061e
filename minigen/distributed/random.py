"""Random draws per example, as one process would make them for the whole global batch.

A training step draws random numbers for each example of its batch: the VAE's eps ~ N(0, I), a GAN's
z ~ p(z), the diffusion step t and noise, a dropout mask, a dynamic binarisation. One process at global
batch B draws a (B, ...) array; rank r of N, which holds examples r b .. (r + 1) b - 1 (b = B / N),
must use rows r b .. (r + 1) b - 1 of that same array, or N ranks would not give the parameters of one
process. So every rank keeps the same random state (rank 0's, broadcast at the start), and inside

    with shard_draws(dist, b):
        loss = model.loss(x_local)

a draw whose first axis is the local batch b is made for the global batch B = N b, and each rank keeps
its own rows. Every rank's generator then advances exactly as the one process's would, so the next
draw, and a resumed run, agree too. Draws of any other shape (one per step, per parameter) are made as
they are, identically on every rank.

The rule goes by shape: a draw that is not per example but happens to have b rows is also widened (it
stays a valid draw, only no longer the one process's). Costs: each rank draws N times the numbers it
uses, which is small beside the step.
"""
from __future__ import annotations

import contextlib

from .. import backend

# methods of numpy's and cupy's Generators that take a ``size``, and its position among the arguments
_SIZE_ARGUMENT = {"standard_normal": 0, "random": 0, "standard_exponential": 0, "integers": 2,
                  "normal": 2, "uniform": 2, "exponential": 1, "binomial": 2, "poisson": 1}


class ShardedGenerator:
    """A view of a random generator for rank ``rank`` of ``world_size`` with ``local`` examples each."""

    def __init__(self, generator, rank: int, world_size: int, local: int):
        self.generator, self.rank, self.world_size, self.local = generator, rank, world_size, local

    def __getattr__(self, name):
        method = getattr(self.generator, name)
        if name not in _SIZE_ARGUMENT:
            return method
        position = _SIZE_ARGUMENT[name]

        def draw(*args, **kwargs):
            args = list(args)
            if "size" in kwargs:
                size = kwargs["size"]
            elif len(args) > position:
                size = args[position]
            else:
                return method(*args, **kwargs)
            shape = (size,) if isinstance(size, int) else tuple(size) if size is not None else ()
            if not shape or shape[0] != self.local:
                return method(*args, **kwargs)
            wide = (self.local * self.world_size,) + shape[1:]
            if "size" in kwargs:
                kwargs["size"] = wide
            else:
                args[position] = wide
            rows = method(*args, **kwargs)
            return rows[self.rank * self.local:(self.rank + 1) * self.local]

        return draw


def shard_draws(dist, local: int):
    """Context: per-example draws for ``local`` examples on this rank are this rank's rows of the draws
    for the global batch (``local * dist.world_size``). A no-op in a world of one."""
    if dist is None or dist.world_size == 1:
        return contextlib.nullcontext()
    if isinstance(local, bool) or not isinstance(local, int) or local < 1:
        raise ValueError(f"shard_draws: the local batch size must be a positive integer, got {local!r}")
    return backend.generator_view(lambda gen: ShardedGenerator(gen, dist.rank, dist.world_size, local))
