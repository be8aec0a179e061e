"""Optimizer: the bookkeeping every update rule shares.

An optimizer holds *parameter groups*, lists of parameters that share options (``lr``, ``betas``,
...), and a *state* per parameter (momentum buffers, Adam's moments). A subclass writes one method,

    _update(theta, grad, state, group)

which changes the raw array ``theta`` in place from the raw gradient array ``grad``; ``step()`` calls
it for every parameter whose ``.grad`` is set. Updates work on arrays, so they build no autograd
graph, and they never write into ``grad``: a gradient can be a read-only broadcast view, or one
array shared by two parameters (the two inputs of an addition get the same gradient).

Serialisation. A parameter is named by its position in the list of all groups' parameters, one
group after the other; ``state`` is keyed by that position. ``state_dict()`` holds only numbers,
strings, lists and NumPy arrays, so it can be written to .npz without pickle (state entries whose
name starts with "_" are scratch space and are not saved):

    {"state": {"0": {"m": array, "v": array, "step": 3}, ...},
     "param_groups": [{"lr": 0.001, "betas": [0.9, 0.999], ..., "params": [0, 1, 2]}, ...]}
"""
from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import backend
from ..autograd import Tensor


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
    def _update(self, theta, grad, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    def step(self) -> None:
        """Update every parameter that has a gradient (those with ``grad is None`` are left alone)."""
        updated = [(position, p, group) for position, p, group in self._indexed_params() if p.grad is not None]
        for _, p, _ in updated:
            p.mark_changed()        # a graph still holding the old values must not backward through them
        jobs = [(p.data, p.grad.data, self.state.setdefault(position, {}), group)
                for position, p, group in updated]
        pool = _cpu_pool(jobs)
        if pool is None:
            for job in jobs:
                self._update(*job)
        else:
            # NumPy's elementwise loops release the GIL, so on the CPU the parameters' updates run
            # in threads on every core (PyTorch's optimizers are multi-threaded too). Each update
            # touches only its own parameter's arrays and state.
            for done in [pool.submit(self._update, *job) for job in jobs]:
                done.result()

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


_POOL = None
_PARALLEL_MIN_ELEMENTS = 1 << 16   # below this a step is too short for threads to pay off


def _cpu_pool(jobs):
    """A thread pool for the CPU updates of a step big enough to split, else None."""
    global _POOL
    if len(jobs) < 2 or backend.get_array_module(jobs[0][0]) is not np:
        return None
    if sum(job[0].size for job in jobs) < _PARALLEL_MIN_ELEMENTS:
        return None
    if _POOL is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if (cores or 1) < 2:
            return None
        _POOL = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="minigen-optim")
    return _POOL


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
