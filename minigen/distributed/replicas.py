"""The replicas of a model on the ranks: start them equal, and check that they stay equal.

Data parallelism keeps one copy of the model per rank and relies on every copy staying identical: they
start from rank 0's values (``broadcast_module``) and take the same averaged steps. State that a model
changes by itself, outside the gradients, from the data its rank sees (a codebook's usage counts,
statistics gathered batch by batch, an initialisation from the first batch) would drift apart
silently. ``check_replicas`` compares a fingerprint of every parameter and buffer across the ranks and
names the first entry that differs; the trainer runs it after the first step and at every checkpoint.
"""
from __future__ import annotations

import hashlib

from .. import backend


class ReplicasDiverged(RuntimeError):
    """The ranks' copies of a model are no longer equal (raised on every rank at once)."""


def _tensors(modules):
    for prefix, module in modules.items():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            yield f"{prefix}.{name}", t


def broadcast_module(module, dist, root: int = 0):
    """Copy rank ``root``'s parameters and buffers of ``module`` into every rank's, in place."""
    if dist.world_size == 1:
        return module
    for _, t in _tensors({"": module}):
        xp = backend.get_array_module(t.data)
        if t.data.flags.c_contiguous:
            dist.broadcast_(t.data, root)
        else:
            t.data[...] = dist.broadcast_(xp.ascontiguousarray(t.data), root)
        t.mark_changed()                     # written in place (on the ranks other than root)
    return module


def fingerprints(modules):
    """name -> digest of the bytes of every parameter and buffer of ``modules`` ({prefix: module})."""
    return {name: hashlib.blake2b(backend.to_numpy(t.data).tobytes(), digest_size=16).hexdigest()
            for name, t in _tensors(modules)}


def check_replicas(modules, dist, when: str = ""):
    """Raise ReplicasDiverged on every rank if the ranks' copies of ``modules`` ({prefix: module})
    differ in any parameter or buffer, naming the first such entry."""
    if dist.world_size == 1:
        return
    mine = fingerprints(modules)
    everyone = dist.allgather_object(hashlib.blake2b("".join(mine.values()).encode()).hexdigest())
    if len(set(everyone)) == 1:
        return
    tables = dist.allgather_object(mine)
    name = next((k for k in mine if len({t.get(k) for t in tables}) > 1), "(the list of entries)")
    differs = sorted({r for r, t in enumerate(tables) if t.get(name) != tables[0].get(name)})
    raise ReplicasDiverged(
        f"the ranks' copies of the model differ{' ' + when if when else ''}: '{name}' on rank(s) "
        f"{', '.join(map(str, differs))} is not rank 0's. Something changed it outside the averaged "
        "gradients, from the data of one rank only (statistics gathered per batch, an initialisation "
        "from the first batch, a codebook's usage counts): such a model cannot be trained data-parallel "
        "as it is")
