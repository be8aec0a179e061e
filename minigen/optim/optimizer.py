"""Optimizer: the bookkeeping every update rule shares.

An optimizer holds *parameter groups*, lists of parameters that share options (``lr``, ``betas``,
...), and a *state* per parameter (momentum buffers, Adam's moments). A subclass writes two methods,

    _init_state(theta, group) -> dict    the state before the first step (zeros, step 0)
    _update(theta, grad, state, group)   one step: change the array theta in place from grad

Updates work on arrays, so they build no autograd graph, and they never write into ``grad``: a
gradient can be a read-only broadcast view, or one array shared by two parameters.

One update for all parameters. When every parameter of a group has a gradient (the usual case),
``step()`` runs ``_update`` once on the whole group laid end to end: the parameters' arrays are views
into one flat buffer (``p.data`` is re-pointed the first time, and again whenever something replaces
it), and so are their states; the gradients are gathered into one flat array. That flat update is
cut into chunks of 64K numbers, which run on minigen's threads and stay in the core's cache across
the update's ten passes. Elementwise rules give the same numbers either way, so a group where some
parameter has no gradient this step simply updates the others one at a time.

Serialisation. A parameter is named by its position in the list of all groups' parameters, one
group after the other; ``state`` is keyed by that position. ``state_dict()`` holds only numbers,
strings, lists and NumPy arrays, so it can be written to .npz without pickle (state entries whose
name starts with "_" are scratch space and are not saved):

    {"state": {"0": {"m": array, "v": array, "step": 3}, ...},
     "param_groups": [{"lr": 0.001, "betas": [0.9, 0.999], ..., "params": [0, 1, 2]}, ...]}
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..backend.parallel import chunks, run_chunks


def tensor_list(params, who: str) -> list:
    """``params`` as a non-empty list of Tensors: from one Tensor, an iterable of them, or a model."""
    if isinstance(params, Tensor):
        return [params]
    if hasattr(params, "parameters"):
        params = params.parameters()
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{who}: expected a Tensor, an iterable of Tensors or a model with "
                        f".parameters(), got {type(params).__name__}") from None
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{who}: parameter {i} is a {type(p).__name__}, expected a Tensor")
    if not params:
        raise ValueError(f"{who}: got an empty parameter list")
    return params


def check_nonnegative(who: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:   # >= rejects NaN
        raise ValueError(f"{who}: {name} must be a number >= 0, got {value!r}")


class Optimizer:
    """Base class: ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}``
    whose options override ``defaults`` for that group."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}         # parameter position -> dict of arrays and numbers
        seen = set()
        for group in self._groups(params):
            self.param_groups.append(self._make_group(group, seen))

    def _groups(self, params) -> list:
        name = type(self).__name__
        if isinstance(params, dict):
            return [params]
        if isinstance(params, Tensor) or hasattr(params, "parameters"):
            return [{"params": params}]
        try:
            items = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts "
                            f"{{'params': [...], ...}}, got {type(params).__name__}") from None
        if not items:
            raise ValueError(f"{name}: got an empty parameter list")
        n_dicts = sum(isinstance(item, dict) for item in items)
        if n_dicts == 0:
            return [{"params": items}]
        if n_dicts < len(items):
            raise TypeError(f"{name}: params mixes Tensors and dicts; pass either Tensors or "
                            "parameter groups {'params': [...], ...}")
        return items

    def _make_group(self, group: dict, seen: set) -> dict:
        name = type(self).__name__
        if "params" not in group:
            raise ValueError(f"{name}: a parameter group needs a 'params' key, got keys {sorted(group)}")
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(f"{name}: unknown option(s) {unknown} in a parameter group; "
                             f"the options are {sorted(self.defaults)}")
        params = tensor_list(group["params"], name)
        for p in params:
            if not p.is_leaf:
                raise ValueError(f"{name}: can only optimize leaf tensors (parameters), got one made by "
                                 f"{p._ctx.fn.__name__}; use .detach() to make a leaf")
            if id(p) in seen:
                raise ValueError(f"{name}: a parameter of shape {p.shape} appears more than once "
                                 "in the parameter list")
            seen.add(id(p))
        options = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_options(options)
        return {"params": params, **options}

    def _check_options(self, options: dict) -> None:
        """Raise ValueError for an option out of range (subclasses extend this)."""
        check_nonnegative(type(self).__name__, "lr", options["lr"])

    def _indexed_params(self):
        """(position, parameter, group) for every parameter, in the order state_dict numbers them."""
        position = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield position, p, group
                position += 1

    # ------------------------------------------------------------------------ one step
    def _init_state(self, theta, group: dict) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not define _init_state")

    def _update(self, theta, grad, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    def step(self) -> None:
        """Update every parameter that has a gradient (those with ``grad is None`` are left alone)."""
        position = 0
        for index, group in enumerate(self.param_groups):
            params = group["params"]
            stepped = [(position + i, p) for i, p in enumerate(params) if p.grad is not None]
            position += len(params)
            for _, p in stepped:
                p.mark_changed()        # a graph still holding the old values must not backward through them
            flat = self._flat(index, stepped) if len(stepped) == len(params) else None
            if flat is not None:
                flat.update(self, group)
                continue
            for pos, p in stepped:
                state = self.state.get(pos) or self.state.setdefault(pos, self._init_state(p.data, group))
                self._update(p.data, p.grad.data, state, group)

    def _flat(self, index, stepped):
        """The group's _FlatGroup, (re)built as needed; None when its parameters cannot share one
        (mixed dtypes or devices, or states at different steps)."""
        arrays = [p.data for _, p in stepped]
        if len({(type(a), a.dtype, str(backend.device_of(a))) for a in arrays}) != 1:
            return None
        states = [self.state.get(pos) for pos, _ in stepped]
        if any(s is None for s in states) and any(s is not None for s in states):
            return None
        if states[0] is not None and len({_scalars(s) for s in states}) != 1:
            return None
        flats = self.__dict__.setdefault("_flat_groups", {})
        flat = flats.get(index)
        if flat is None or flat.params != [p for _, p in stepped]:
            flat = flats[index] = _FlatGroup(stepped)
        flat.adopt(self)
        return flat

    def zero_grad(self) -> None:
        """Forget the gradients (``p.grad = None``); the next backward writes them afresh."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    # ------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The state and the options, as numbers, strings, lists and NumPy arrays (copies)."""
        state = {str(position): {k: _export(v) for k, v in s.items() if not k.startswith("_")}
                 for position, s in self.state.items() if s}
        groups, position = [], 0
        for group in self.param_groups:
            saved = {k: _export(v) for k, v in group.items() if k != "params"}
            saved["params"] = list(range(position, position + len(group["params"])))
            position += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` returned; arrays go to each parameter's device and dtype.

        Everything is checked before anything changes, so a failed load leaves the optimizer as it was.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has {len(saved_groups)} parameter "
                             f"group(s), this optimizer has {len(self.param_groups)}")
        new_groups, position_of = [], {}    # saved position -> position here
        params = [p for _, p, _ in self._indexed_params()]
        start = 0
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            saved_positions = [int(k) for k in saved["params"]]
            if len(saved_positions) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(saved_positions)} "
                                 f"parameters in the saved state and {len(group['params'])} here")
            position_of.update(zip(saved_positions, range(start, start + len(saved_positions))))
            start += len(saved_positions)
            options = {k: v for k, v in saved.items() if k != "params"}
            if set(options) != set(self.defaults):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has options "
                                 f"{sorted(options)}, {name} expects {sorted(self.defaults)}")
            options = {k: _import_option(v) for k, v in options.items()}
            self._check_options(options)
            new_groups.append({"params": group["params"], **options})

        new_state = {}
        for key, saved in state_dict["state"].items():
            if int(key) not in position_of:
                raise ValueError(f"{name}.load_state_dict: the saved state has an entry for parameter "
                                 f"{key}, which no saved parameter group lists")
            position = position_of[int(key)]
            new_state[position] = {k: _import_value(v, params[position], f"{name}: state '{k}' of "
                                                    f"parameter {position}") for k, v in saved.items()}
        self.param_groups = new_groups
        self.state = new_state


class _FlatGroup:
    """A group's parameters and their state laid end to end, so one update runs over all of them.

    ``theta`` holds the parameters (each ``p.data`` is a view into it), ``grad`` receives the
    gradients, and ``state`` holds each state array of the group flat, with every parameter's own
    state entries as views into it (what ``opt.state[i]`` and ``state_dict()`` show).
    """
    CHUNK = 1 << 16

    def __init__(self, stepped):
        self.positions = [pos for pos, _ in stepped]
        self.params = [p for _, p in stepped]
        self.shapes = [p.shape for p in self.params]
        sizes = [p.data.size for p in self.params]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        like = self.params[0].data
        xp = backend.get_array_module(like)
        self.theta = xp.empty(self.offsets[-1], dtype=like.dtype)
        self.grad = xp.empty_like(self.theta)
        self.views = [None] * len(self.params)
        self.state = None              # the flat state dict, once the first step creates it
        self.state_views = {}          # position -> {key: view}, to notice a replaced state array

    def _slice(self, flat, i):
        return flat[self.offsets[i]:self.offsets[i + 1]].reshape(self.shapes[i])

    def adopt(self, opt):
        """Point every parameter (and its state) at the flat buffers again where something replaced
        its array: a load_state_dict, .to(device), an initialiser."""
        for i, p in enumerate(self.params):
            if p.data is not self.views[i]:
                view = self._slice(self.theta, i)
                view[...] = p.data
                p.data = self.views[i] = view
        states = [opt.state.get(pos) for pos in self.positions]
        if states[0] is None:
            return
        keys = [k for k, v in states[0].items() if hasattr(v, "shape") and not k.startswith("_")]
        if self.state is not None and all(
                self.state_views.get(pos, {}).get(k) is s[k] for pos, s in zip(self.positions, states) for k in keys):
            return
        xp = backend.get_array_module(self.theta)
        self.state = {k: v for k, v in states[0].items() if not hasattr(v, "shape")}
        for k in keys:
            self.state[k] = xp.concatenate([s[k].reshape(-1) for s in states])
        self._point_states_at_flat(opt)

    def _point_states_at_flat(self, opt):
        for i, pos in enumerate(self.positions):
            views = {k: self._slice(v, i) for k, v in self.state.items() if hasattr(v, "shape")}
            opt.state[pos] = {**{k: v for k, v in self.state.items() if not hasattr(v, "shape")}, **views}
            self.state_views[pos] = views

    def update(self, opt, group):
        xp = backend.get_array_module(self.theta)
        for i, p in enumerate(self.params):
            self._slice(self.grad, i)[...] = p.grad.data
        if self.state is None or opt.state.get(self.positions[0]) is None:
            self.state = opt._init_state(self.theta, group)
            self._point_states_at_flat(opt)
        scalars = {k: v for k, v in self.state.items() if not hasattr(v, "shape")}
        size = self.CHUNK if xp is np else self.theta.size

        def chunk(lo, hi):
            state = {**scalars, **{k: v[lo:hi] for k, v in self.state.items() if hasattr(v, "shape")}}
            opt._update(self.theta[lo:hi], self.grad[lo:hi], state, group)
            return {k: v for k, v in state.items() if not hasattr(v, "shape")}

        after = run_chunks(chunk, chunks(self.theta.size, size))[0]
        self.state.update(after)
        for pos in self.positions:
            opt.state[pos].update(after)


def _scalars(state):
    """The non-array entries of a state (the step count), which a flat update shares."""
    return tuple(sorted((k, v) for k, v in state.items() if not hasattr(v, "shape")))


def _export(value):
    """A value for state_dict: arrays copied to the CPU, tuples as lists."""
    if hasattr(value, "shape"):
        return backend.to_numpy(value).copy()
    if isinstance(value, tuple):
        return list(value)
    return value


def _scalar(value):
    """A Python number from a number or a 0-d array (what .npz gives back for a saved number)."""
    return value.item() if hasattr(value, "ndim") else value


def _import_option(value):
    if hasattr(value, "ndim") and value.ndim > 0 or isinstance(value, (list, tuple)):
        return tuple(_scalar(v) for v in value)
    return _scalar(value)


def import_array(value, like: Tensor, what: str):
    """A copy of ``value`` with the shape checked against ``like`` and moved to its device and dtype."""
    if tuple(value.shape) != like.shape:
        raise ValueError(f"{what} has shape {tuple(value.shape)}, the parameter has shape {like.shape}")
    return backend.to_device(value, like.device).astype(like.dtype, copy=True)


def _import_value(value, like: Tensor, what: str):
    if hasattr(value, "ndim") and value.ndim > 0:
        return import_array(value, like, what)
    return _scalar(value)
