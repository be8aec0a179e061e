"""The backward engine: reverse-mode differentiation over the recorded graph.

For an output L and every tensor t on a path to it, the chain rule gives

    dL/dt = sum over the operations f that used t of  (dL/df) * (df/dt),

so each node must have received the gradients of all its users before it passes gradients on.
``run_backward`` therefore visits the graph newest operation first (each Context is numbered when it
is applied, after the operations that made its inputs), from the output back to the leaves;
at each node the Function's ``backward`` turns dL/d(output) into dL/d(input) for every input, and
those add up in ``grads`` until the input's own turn comes. The rest of this file is the bookkeeping
around that loop: seeding it, delivering what reaches a leaf (``.grad``) or a wanted input (``grad()``),
and checking what a backward returned.
"""
from __future__ import annotations

from ..backend import get_array_module
from . import anomaly
from .broadcast import sum_to
from .grad_mode import set_grad_enabled
from .tensor import Tensor


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None):
    """Propagate gradients from ``roots``. With ``inputs`` given, return {id(input): gradient} for
    them; otherwise accumulate into ``.grad`` of every leaf that requires grad."""
    grads = _seed(roots, root_grads)              # id(t) -> dL/dt so far
    order = _topological_order(roots)
    wanted = None if inputs is None else {id(t) for t in inputs}
    through = None if inputs is None else _leading_to(order, wanted)
    captured = {}
    with set_grad_enabled(create_graph):          # record the backward itself only for create_graph
        for t in order:                           # every tensor after all of its users
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if wanted is None:
                if t._ctx is None:
                    _accumulate_into_leaf(t, g, create_graph)
                    continue
            else:
                if id(t) in wanted:
                    captured[id(t)] = g
                if t._ctx is None or id(t) not in through:
                    continue
            ctx = t._ctx
            for inp, g_inp in _backward_of(ctx, g, create_graph):    # the chain rule, one node
                if through is None or id(inp) in through:
                    _add(grads, inp, g_inp, create_graph)
            if not retain_graph:
                ctx.free()
    return captured


# ------------------------------------------------------------------------------ the graph
def _topological_order(roots):
    """Every tensor that needs a gradient and leads to ``roots``, each one before the tensors it was
    made from: the outputs of recorded operations newest first (an operation is always applied after
    the operations that made its inputs, so it is numbered later), then the leaves."""
    made, leaves, seen = [], [], set()
    stack = list(roots)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        ctx = t._ctx
        if ctx is None:
            leaves.append(t)
            continue
        if ctx.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time (at {ctx.fn.__name__}): its "
                "saved tensors were freed by the first backward; pass retain_graph=True to keep them")
        made.append(t)
        for inp, need in zip(ctx.inputs, ctx.needs_input_grad):
            if need:
                stack.append(inp)
    made.sort(key=_newest_first)
    return made + leaves


def _newest_first(t):
    return -t._ctx.seq


def _leading_to(order, wanted):
    """ids of the tensors on a path from a wanted input to the roots: only they need gradients."""
    through = set()
    for t in reversed(order):     # inputs before their users
        if id(t) in wanted or (t._ctx is not None and any(
                isinstance(i, Tensor) and id(i) in through for i in t._ctx.inputs)):
            through.add(id(t))
    return through


# ------------------------------------------------------------------------------ one node
def _backward_of(ctx, g, create_graph):
    """(input, dL/d input) for each input of the node ``ctx`` that needs a gradient."""
    if anomaly._enabled:
        with anomaly.paused():
            in_grads = ctx.fn.backward(ctx, g)
    else:
        in_grads = ctx.fn.backward(ctx, g)
    if not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    n = len(ctx.inputs)
    if len(in_grads) < n and not any(isinstance(i, Tensor) for i in ctx.inputs[len(in_grads):]):
        in_grads = in_grads + (None,) * (n - len(in_grads))      # trailing options get no gradient
    if len(in_grads) != n:
        raise RuntimeError(f"{ctx.fn.__name__}.backward returned {len(in_grads)} gradients for "
                           f"{n} forward arguments")
    if anomaly._enabled:
        anomaly.check_backward(ctx.fn, in_grads)
    out = []
    for inp, need, gi in zip(ctx.inputs, ctx.needs_input_grad, in_grads):
        if need and gi is not None:
            out.append((inp, _as_input_grad(gi, inp, ctx, create_graph)))
    return out


def _as_input_grad(g, inp, ctx, create_graph):
    """What a backward returned, as the gradient of ``inp``: a Tensor of its shape and dtype."""
    if not isinstance(g, Tensor):
        if create_graph:
            raise RuntimeError(
                f"{ctx.fn.__name__} has no second derivative in minigen: its backward works on plain "
                "arrays, which create_graph=True cannot differentiate. Use composed operations for "
                "this part of the model, or ask only for first derivatives.")
        g = Tensor._make(g)
    if g.data.shape != inp.data.shape:
        try:
            g = sum_to(g, inp.shape)              # broadcasting in the forward: sum it back
        except ValueError:
            raise ValueError(f"{ctx.fn.__name__}.backward returned a gradient of shape {g.shape} for an "
                             f"input of shape {inp.shape}") from None
    if g.data.dtype != inp.data.dtype:
        g = g.astype(inp.dtype)
    return g


# ------------------------------------------------------------------------------ bookkeeping
def _seed(roots, root_grads):
    grads = {}
    for r, g in zip(roots, root_grads):
        g = _root_grad(r, g)
        grads[id(r)] = g if id(r) not in grads else grads[id(r)] + g
    return grads


def _root_grad(root, grad):
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and was not made from one "
                           "that does (set requires_grad=True on the leaves, and call outside no_grad)")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}, not a scalar; pass a gradient of that "
                "shape (backward(grad)) or reduce it first, e.g. loss.sum().backward()")
        return Tensor._make(get_array_module(root.data).ones_like(root.data))
    if not isinstance(grad, Tensor):
        grad = Tensor(grad, dtype=root.dtype, device=root.device)
    if grad.shape != root.shape:
        raise ValueError(f"backward: gradient shape {grad.shape} does not match output shape {root.shape}")
    return grad


def _add(grads, t, g, create_graph):
    """grads[t] += g: a recorded addition when the gradients are themselves differentiated."""
    prev = grads.get(id(t))
    if prev is None:
        grads[id(t)] = g
    elif create_graph:
        grads[id(t)] = prev + g
    else:
        grads[id(t)] = Tensor._make(prev.data + g.data)


def _accumulate_into_leaf(t, g, create_graph):
    if t.grad is None:
        if not create_graph and not g.data.flags.c_contiguous:
            # e.g. a gradient that arrives as a broadcast view; optimizers run several elementwise
            # passes over .grad, each ~5x slower on a strided layout
            g = Tensor._make(get_array_module(g.data).ascontiguousarray(g.data))
        t.grad = g
    elif create_graph:
        t.grad = t.grad + g
    else:
        t.grad = Tensor._make(t.grad.data + g.data)


# ------------------------------------------------------------------------------ public entry points
def backward(roots, root_grads=None, retain_graph=None, create_graph=False):
    if retain_graph is None:
        retain_graph = create_graph
    if root_grads is None:
        root_grads = [None] * len(roots)
    run_backward(roots, root_grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad`` is untouched.

    With ``create_graph=True`` the returned gradients are themselves differentiable (this is how a
    gradient penalty, ||d D(x)/dx||, is trained).
    """
    single = isinstance(inputs, Tensor)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise ValueError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(outputs, list(grad_outputs), retain_graph, create_graph, inputs)
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) is not used to compute the outputs; "
                               "pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)
