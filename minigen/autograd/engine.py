"""The backward engine: reverse-mode differentiation over the recorded graph.

For an output L and every tensor t on a path to it, the chain rule gives
    dL/dt = sum over the operations f that used t of  (dL/df) * (df/dt),
so each node must have received the gradients of all its users before it passes gradients on.
We therefore sort the graph topologically (iteratively, so a chain of 100,000 operations does not
touch Python's recursion limit), walk it from the output back to the leaves, and let each
Function's ``backward`` turn the gradient of its output into gradients of its inputs.
"""
from __future__ import annotations

from . import anomaly
from .grad_mode import set_grad_enabled
from .tensor import Tensor


def _topological_order(roots):
    """Every tensor that needs a gradient and leads to ``roots``, inputs before the tensors made from them."""
    order, visited = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is None:
            continue
        if ctx.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time (at {ctx.fn.__name__}): its "
                "saved tensors were freed by the first backward; pass retain_graph=True to keep them")
        for inp in ctx.inputs:
            if isinstance(inp, Tensor) and inp.requires_grad and id(inp) not in visited:
                stack.append((inp, False))
    return order


def _root_grad(root, grad):
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and was not made from one "
                           "that does (set requires_grad=True on the leaves, and call outside no_grad)")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}, not a scalar; pass a gradient of that "
                "shape (backward(grad)) or reduce it first, e.g. loss.sum().backward()")
        return Tensor._make(root.device.xp.ones_like(root.data), False)
    if not isinstance(grad, Tensor):
        grad = Tensor(grad, dtype=root.dtype, device=root.device)
    if grad.shape != root.shape:
        raise ValueError(f"backward: gradient shape {grad.shape} does not match output shape {root.shape}")
    return grad


def _input_grad(g, inp, ctx):
    """Turn what a backward returned into the gradient of ``inp``: a Tensor of its shape and dtype."""
    if not isinstance(g, Tensor):
        g = Tensor._make(g, False)
    if g.shape != inp.shape:
        from .. import ops
        try:
            g = ops.sum_to(g, inp.shape)
        except ValueError:
            raise ValueError(f"{ctx.fn.__name__}.backward returned a gradient of shape {g.shape} for an "
                             f"input of shape {inp.shape}") from None
    if g.dtype != inp.dtype:
        g = g.astype(inp.dtype)
    return g


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None):
    """Propagate gradients from ``roots``. With ``inputs`` given, return their gradients (a list);
    otherwise accumulate into ``.grad`` of every leaf that requires grad."""
    grads = {}
    for r, g in zip(roots, root_grads):
        g = _root_grad(r, g)
        grads[id(r)] = g if id(r) not in grads else grads[id(r)] + g
    order = _topological_order(roots)

    wanted = None if inputs is None else {id(t) for t in inputs}
    captured = {}
    if wanted is not None:
        # propagate only into tensors that lie on a path to one of the wanted inputs
        needed = set()
        for t in order:     # inputs come before their users
            if id(t) in wanted or (t._ctx is not None and any(
                    isinstance(i, Tensor) and id(i) in needed for i in t._ctx.inputs)):
                needed.add(id(t))

    with set_grad_enabled(create_graph):
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            ctx = t._ctx
            if wanted is not None:
                if id(t) in wanted:
                    captured[id(t)] = g
                if ctx is None or id(t) not in needed:
                    continue
            elif ctx is None:
                if not create_graph and not g.data.flags.c_contiguous:
                    # e.g. the weight gradient of x @ W.T arrives transposed; optimizers run several
                    # elementwise passes over .grad, each ~5x slower on a strided layout
                    g = Tensor._make(t.device.xp.ascontiguousarray(g.data), False)
                t.grad = g if t.grad is None else t.grad + g
                continue

            if anomaly._enabled:
                with anomaly.paused():
                    in_grads = ctx.fn.backward(ctx, g)
            else:
                in_grads = ctx.fn.backward(ctx, g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) < len(ctx.inputs) and not any(
                    isinstance(i, Tensor) for i in ctx.inputs[len(in_grads):]):
                in_grads = in_grads + (None,) * (len(ctx.inputs) - len(in_grads))   # trailing options
            if len(in_grads) != len(ctx.inputs):
                raise RuntimeError(f"{ctx.fn.__name__}.backward returned {len(in_grads)} gradients for "
                                   f"{len(ctx.inputs)} forward arguments")
            if anomaly._enabled:
                anomaly.check_backward(ctx.fn, in_grads)
            for inp, need, gi in zip(ctx.inputs, ctx.needs_input_grad, in_grads):
                if not need or gi is None:
                    continue
                if wanted is not None and id(inp) not in needed:
                    continue
                gi = _input_grad(gi, inp, ctx)
                prev = grads.get(id(inp))
                grads[id(inp)] = gi if prev is None else prev + gi
            if not retain_graph:
                ctx.free()
    return captured


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
