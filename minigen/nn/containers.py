"""ModuleDict: sub-modules by name, registered so that ``parameters()``, ``state_dict()`` and ``to()``
find them (``Sequential`` and ``ModuleList`` are in module.py).

    heads = nn.ModuleDict({"mean": nn.Linear(8, 2), "log_var": nn.Linear(8, 2)})
    heads["mean"](h);  "mean" in heads;  heads.keys();  heads.items()
    state_dict keys: "heads.mean.weight", ...

Names are strings without a dot (the dot separates the levels of a state_dict key); the order is the
order of insertion. It has no forward of its own.
"""
from collections.abc import Mapping

from .module import Module


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    @staticmethod
    def _check(name, module):
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"ModuleDict: names must be non-empty strings without '.', got {name!r}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict[{name!r}]: expected a Module, got {type(module).__name__}")

    def __setitem__(self, name, module):
        self._check(name, module)
        self._forget(name)
        self._modules[name] = module

    def __getitem__(self, name):
        if name not in self._modules:
            raise KeyError(f"ModuleDict has no module {name!r}; it has {list(self._modules)}")
        return self._modules[name]

    def __delitem__(self, name):
        self[name]          # the KeyError with the names there are
        del self._modules[name]

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        """Add (or replace) modules from a mapping or from (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for pair in pairs:
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise TypeError(f"ModuleDict.update: expected a mapping or (name, module) pairs, got {pair!r}")
            self[pair[0]] = pair[1]
        return self

    def pop(self, name):
        module = self[name]
        del self[name]
        return module
