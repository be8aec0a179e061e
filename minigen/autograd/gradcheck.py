"""Check analytic gradients against finite differences.

For a function f of tensors x_1..x_n we draw a fixed random weighting v of the output and compare,
for every element j of every input,

    analytic:  d/dx_j  sum(v * f(x))                    (one backward pass)
    numeric:   [sum(v * f(x + eps e_j)) - sum(v * f(x - eps e_j))] / (2 eps)   (central difference)

A wrong Jacobian J gives a wrong v^T J for almost every v, so one weighted check is as good as
comparing whole Jacobians, at the cost of one backward. Run it in float64: in float32 the rounding
error of the difference quotient swamps the comparison.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .engine import grad as autograd_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


def _weighted_sum(outputs, weights):
    total = None
    for out, w in zip(outputs, weights):
        term = (out * w).sum()
        total = term if total is None else total + term
    return total


def _as_outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """True when ``fn``'s analytic gradients match central finite differences.

    ``inputs`` is a Tensor or a sequence of them; those with ``requires_grad=True`` are checked and
    should be float64. On a mismatch it raises ``GradcheckError`` naming the input, the element, both
    values and the difference (or returns False with ``raise_exception=False``).
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i, t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {t.dtype}; finite differences need float64 "
                            "(make it with dtype='float64')")

    outputs = _as_outputs(fn(*inputs))
    rng = np.random.default_rng(seed)
    weights = []
    for out in outputs:
        xp = backend.get_array_module(out.data)
        weights.append(Tensor._make(xp.asarray(rng.standard_normal(out.shape))))
    analytic = autograd_grad(_weighted_sum(outputs, weights), [t for _, t in checked], allow_unused=True)

    for (i, t), g in zip(checked, analytic):
        g = np.zeros(t.shape) if g is None else backend.to_numpy(g.data)
        numeric = np.zeros(t.shape)
        if not t.data.flags.c_contiguous:
            t.data = backend.get_array_module(t.data).ascontiguousarray(t.data)
        flat = t.data.reshape(-1)   # a view: perturbing it perturbs t
        for j in range(flat.size):
            orig = flat[j].item()
            flat[j] = orig + eps
            plus = _weighted_sum(_as_outputs(fn(*inputs)), weights).item()
            flat[j] = orig - eps
            minus = _weighted_sum(_as_outputs(fn(*inputs)), weights).item()
            flat[j] = orig
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        bad = np.abs(g - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            where = np.unravel_index(np.argmax(np.abs(g - numeric) * bad), t.shape)
            msg = (f"gradcheck failed for input {i} (shape {t.shape}) at index {tuple(int(k) for k in where)}: "
                   f"analytic {g[where]:.6g}, numeric {numeric[where]:.6g}, "
                   f"difference {abs(g[where] - numeric[where]):.3g} "
                   f"(atol={atol}, rtol={rtol}; {int(bad.sum())} of {bad.size} elements differ)")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check second derivatives: gradcheck of x -> d/dx sum(v * fn(x)) built with create_graph=True."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    outputs = _as_outputs(fn(*inputs))
    rng = np.random.default_rng(seed + 1)
    weights = []
    for out in outputs:
        xp = backend.get_array_module(out.data)
        weights.append(Tensor._make(xp.asarray(rng.standard_normal(out.shape))))

    def first_derivative(*xs):
        outs = _as_outputs(fn(*xs))
        grads = autograd_grad(_weighted_sum(outs, weights),
                              [x for x in xs if isinstance(x, Tensor) and x.requires_grad],
                              create_graph=True, allow_unused=True)
        return [g for g in grads if g is not None and g.requires_grad]

    if not first_derivative(*inputs):
        raise ValueError("gradgradcheck: the first derivative does not depend on the inputs "
                         "(the function is linear in them); nothing to check")
    return gradcheck(first_derivative, checked if len(checked) == len(inputs) else inputs,
                     eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception, seed=seed + 2)
