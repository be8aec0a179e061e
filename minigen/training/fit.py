"""``fit``: a family trained by name on arrays in memory, by the same loop as ``train`` (no run folder,
no checkpoints, no log). See minigen.recipe.loop."""
from __future__ import annotations

from .. import recipe as _recipe
from .registry import get


def fit(model, dataset, x, y=None, steps=None, seed=0, options=None, device="cpu", batch_size=None, *,
        epochs=None):
    """A Recipe of ``model`` (a registered name or a Recipe class) trained for ``steps`` steps (or
    ``epochs`` passes) on (x, y) as data of ``dataset``; returned in eval mode."""
    return _recipe.fit(get(model), dataset, x, y, steps, epochs=epochs, seed=seed, options=options,
                       device=device, batch_size=batch_size)
