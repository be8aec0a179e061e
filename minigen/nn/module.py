"""Module and Parameter: how a network keeps track of its weights.

A ``Module`` is a function with state. Assigning a ``Parameter`` or another ``Module`` to one of its
attributes registers it, so that ``model.parameters()`` can walk the whole tree of sub-modules and
hand every trainable tensor to an optimizer. Buffers (``register_buffer``) are state that is saved
with the model but not trained, such as BatchNorm's running statistics.

Names are dotted paths through that tree (``"encoder.0.weight"``); ``state_dict()`` maps each name
to its tensor and ``load_state_dict`` puts such a mapping back, checking every name and shape.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable: ``requires_grad`` is True by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model: subclasses set attributes in ``__init__`` and define
    ``forward``; ``module(x)`` calls ``forward(x)``."""

    def __init__(self):
        # object.__setattr__ because our own __setattr__ needs these dictionaries to exist
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration by assignment
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() in __init__ before "
                                 f"assigning attributes (while setting {name!r})")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r}: "
                                "wrap it in nn.Parameter (or assign None)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(value).__name__}")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to sub-module {name!r}")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # only called when normal lookup fails: the registered names live in the three dictionaries
        for registry in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(registry)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """State saved in ``state_dict`` and moved by ``to()``, but not returned by ``parameters()``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(tensor).__name__}")
        if "." in name or not name:
            raise ValueError(f"register_buffer: bad buffer name {name!r}")
        self._forget(name)
        self._buffers[name] = tensor

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ walking the tree
    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every module below it, each once."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))   # reversed so that children come out in order

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_tensors(self, registry):
        seen = set()   # a tensor shared by two modules (tied weights) is listed once
        for prefix, module in self.named_modules():
            for name, t in getattr(module, registry).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self):
        return self._named_tensors("_parameters")

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self):
        return self._named_tensors("_buffers")

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self):
        """Number of trainable scalars (each shared tensor counted once)."""
        return sum(int(p.size) for p in self.parameters())

    def apply(self, fn):
        """Call ``fn(module)`` on every module in the tree (e.g. a custom weight initialisation)."""
        for m in self.modules():
            fn(m)
        return self

    # ------------------------------------------------------------------ modes, devices, gradients
    def train(self, mode=True):
        """Training mode (dropout active, BatchNorm uses batch statistics) or, with False, eval mode."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(mode=False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer to ``device`` and/or cast floating ones to ``dtype``.

        The arrays are replaced inside the same Parameter objects, so an optimizer that was handed
        ``model.parameters()`` before the move keeps updating the right tensors.
        """
        dev = None if device is None else backend.device(device)
        dtype = None if dtype is None else np.dtype(dtype)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to: dtype must be a floating type, got {dtype}")

        def convert(array):
            if dev is not None:
                array = backend.to_device(array, dev)
            if dtype is not None and array.dtype.kind == "f" and array.dtype != dtype:
                array = array.astype(dtype)
            return array

        for t in list(self.parameters()) + list(self.buffers()):
            t.data = convert(t.data)
            if t.grad is not None:
                t.grad = Tensor._make(convert(t.grad.data), requires_grad=False)
        return self

    # ------------------------------------------------------------------ saving and loading
    def state_dict(self):
        """OrderedDict dotted name -> Tensor for every parameter and buffer.

        The tensors are detached but share memory with the module (as in PyTorch); copy them
        (``{k: v.numpy().copy() ...}``) to keep a snapshot while training goes on.
        """
        state = OrderedDict()
        for prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for name, t in registry.items():
                    if t is not None:
                        state[f"{prefix}.{name}" if prefix else name] = t.detach()
        return state

    def _state_targets(self):
        targets = OrderedDict()
        for prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for name, t in registry.items():
                    if t is not None:
                        targets[f"{prefix}.{name}" if prefix else name] = t
        return targets

    def load_state_dict(self, state, strict=True):
        """Copy values from ``state`` (name -> Tensor, NumPy or CuPy array) into this module.

        Each value is copied onto its parameter's device and dtype. Mis-shaped values are always an
        error; missing and unexpected names are errors when ``strict`` (otherwise they are returned
        as ``(missing_keys, unexpected_keys)``). Nothing is changed unless every check passes.
        """
        targets = self._state_targets()
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        misshaped = []
        for name, t in targets.items():
            if name in state:
                got = tuple(getattr(state[name], "shape", np.shape(state[name])))
                if got != tuple(t.shape):
                    misshaped.append(f"{name}: expected shape {tuple(t.shape)}, got {got}")
        problems = []
        if misshaped:
            problems.append("mis-shaped keys: " + "; ".join(misshaped))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"load_state_dict into {type(self).__name__} failed:\n  " + "\n  ".join(problems))

        for name, t in targets.items():
            if name in state:
                value = state[name]
                array = value.data if isinstance(value, Tensor) else value
                if not hasattr(array, "dtype"):
                    array = np.asarray(array)
                xp = t.device.xp
                with backend.on_device(t.device):
                    t.data = xp.array(backend.to_device(array, t.device), dtype=t.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The arguments shown between the parentheses of ``repr`` (layers override this)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a Module")
            self._modules[str(i)] = m

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*items[index])
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    """A list of sub-modules, registered so that their parameters are found (no forward of its own)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        self._modules[str(len(self._modules))] = module
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
