"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

The update rules are PyTorch's. For a parameter theta with gradient g_t at step t = 1, 2, ...,
weight decay lambda, momentum mu and dampening tau:

    g_t     <- g_t + lambda * theta_{t-1}                  (L2 penalty lambda/2 ||theta||^2)
    b_1      = g_1                                         (the buffer starts at the first gradient)
    b_t      = mu * b_{t-1} + (1 - tau) * g_t
    d_t      = g_t + mu * b_t     with Nesterov momentum (look ahead along the velocity)
             = b_t                with plain momentum
             = g_t                without momentum (mu = 0)
    theta_t  = theta_{t-1} - lr * d_t

Per-parameter state: ``step`` (t - 1 before the update) and ``momentum_buffer`` (b_t) when mu > 0.
"""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonnegative


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay, dampening=dampening))

    def _check_options(self, options):
        super()._check_options(options)
        for name in ("momentum", "weight_decay", "dampening"):
            check_nonnegative("SGD", name, options[name])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got "
                             f"momentum={options['momentum']!r}, dampening={options['dampening']!r}")

    def _init_state(self, theta, group):
        state = {"step": 0}
        if group["momentum"]:
            state["momentum_buffer"] = get_array_module(theta).zeros_like(theta)
        return state

    def _update(self, theta, grad, state, group):
        lr, mu, tau, lam = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
        if lam:
            grad = grad + lam * theta           # a new array: p.grad keeps the loss gradient
        if mu:
            b = state["momentum_buffer"]
            if state["step"] == 0:
                b[...] = grad                   # b_1 = g_1
            else:
                b *= mu
                b += grad if tau == 0 else (1 - tau) * grad    # skip a pass when there is no dampening
            d = grad + mu * b if group["nesterov"] else b
        else:
            d = grad
        theta -= lr * d
        state["step"] += 1
