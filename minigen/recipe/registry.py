"""The registry where model families plug in: ``@register("name")`` on a Recipe subclass.

Registering only records the class; the families are imported (and so registered) by
``minigen.models``, and looked up by name in ``minigen.training`` (``get``, ``names``), which sits above
them.
"""
from __future__ import annotations

from .base import Recipe
from .config import check_dataset_defaults

RECIPES: dict[str, type] = {}
RESERVED_KEYS = {"model", "dataset", "seed", "steps", "device", "world_size"}   # written into config by the trainer


def register(name: str):
    """Class decorator: make a Recipe subclass available as ``minigen train NAME``."""
    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Recipe)):
            raise TypeError(f"register({name!r}) decorates a Recipe subclass, got {cls!r}")
        if name in RECIPES and RECIPES[name] is not cls:
            raise ValueError(f"a model named {name!r} is already registered ({RECIPES[name].__name__})")
        taken = RESERVED_KEYS & set(cls.default_config)
        if taken:
            raise ValueError(f"register({name!r}): default_config may not use {sorted(taken)}: the trainer "
                             "sets those itself (rename the option, e.g. 'depth' for a number of layers)")
        check_dataset_defaults(cls)
        cls.name = name
        RECIPES[name] = cls
        return cls
    return decorate
