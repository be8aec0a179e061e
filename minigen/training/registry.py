"""The families by name: ``get("vae")`` and ``names()``. Importing ``minigen.models`` runs every
family's ``@register`` (minigen.recipe.registry), so the look-up sits here, above the models."""
from __future__ import annotations

from ..recipe import RECIPES, Recipe, UsageError

_RECIPES = RECIPES       # the one registry dict (tests add a family to it for a while)


def _load_models():
    from .. import models  # noqa: F401  (importing the model files runs their @register)


def names() -> list:
    _load_models()
    return sorted(RECIPES)


def get(name) -> type:
    """The Recipe class registered as ``name`` (a Recipe class is returned as it is)."""
    if isinstance(name, type) and issubclass(name, Recipe):
        return name
    _load_models()
    if name not in RECIPES:
        raise UsageError(f"unknown model {name!r}; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]
