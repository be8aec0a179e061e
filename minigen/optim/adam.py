"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019).

For a parameter theta with gradient g_t at step t = 1, 2, ..., and m_0 = v_0 = 0:

    m_t     = beta1 * m_{t-1} + (1 - beta1) * g_t        running mean of the gradient
    v_t     = beta2 * v_{t-1} + (1 - beta2) * g_t^2      running mean of its square
    m_hat_t = m_t / (1 - beta1^t)                        bias correction: undo the pull towards m_0 = 0
    v_hat_t = v_t / (1 - beta2^t)
    theta_t = theta_{t-1} - lr * m_hat_t / (sqrt(v_hat_t) + eps)

The two differ only in how weight decay lambda enters:

    Adam:   g_t         <- g_t + lambda * theta_{t-1}              an L2 penalty in the loss, so it is
                                                                  divided by sqrt(v_hat_t) like g_t
    AdamW:  theta_{t-1} <- (1 - lr * lambda) * theta_{t-1}         decoupled: every weight shrinks by the
                                                                  same factor, whatever its gradients

Per-parameter state: ``step`` (t), ``m`` (m_t) and ``v`` (v_t).

The update runs on raw arrays in place with one reused scratch array, so a step costs ten passes over
the parameters (in cache-sized chunks of all of them at once, see ``optimizer.py``) and no graph.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import cuda_kernels, get_array_module, scratch
from .optimizer import Optimizer, check_nonnegative


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is an L2 penalty added to the gradient."""

    decoupled_weight_decay = False      # True in AdamW

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check_options(self, options):
        super()._check_options(options)
        name = type(self).__name__
        betas = options["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{name}: betas[{i}] must be in [0, 1), got {beta!r}")
        if not options["eps"] > 0:
            raise ValueError(f"{name}: eps must be > 0, got {options['eps']!r}")
        check_nonnegative(name, "weight_decay", options["weight_decay"])

    def _init_state(self, theta, group):
        xp = get_array_module(theta)
        return {"step": 0, "m": xp.zeros_like(theta), "v": xp.zeros_like(theta)}

    def _update(self, theta, grad, state, group):
        xp = get_array_module(theta)
        lr, eps, lam = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t, m, v = state["step"], state["m"], state["v"]

        if lam and self.decoupled_weight_decay:
            theta *= 1 - lr * lam
        elif lam:
            grad = grad + lam * theta           # a new array: p.grad keeps the loss gradient

        # theta_t = theta_{t-1} - lr * m_hat_t / (sqrt(v_hat_t) + eps). Multiplying through by
        # sqrt(1 - beta2^t) gives the same number with the bias corrections folded into two scalars
        # (Kingma & Ba, end of section 2), which saves two passes over the parameters:
        #     theta_t = theta_{t-1} - step_size * m_t / (sqrt(v_t) + eps_hat)
        bias1, bias2 = 1 - beta1 ** t, math.sqrt(1 - beta2 ** t)
        step_size, eps_hat = lr * bias2 / bias1, eps * bias2
        if xp is not np:       # the same three lines as one CUDA kernel instead of ten launches
            cuda_kernels.kernel("adam")(grad, beta1, beta2, step_size, eps_hat, theta, m, v)
            return
        work = scratch(theta.shape, theta.dtype, like=theta, slot="optimizer")
        # m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        m *= beta1
        m += xp.multiply(grad, 1 - beta1, out=work)
        # v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        v *= beta2
        g2 = xp.multiply(grad, grad, out=work)
        g2 *= 1 - beta2
        v += g2
        # theta_t = theta_{t-1} - step_size * m_t / (sqrt(v_t) + eps_hat)
        denom = xp.sqrt(v, out=work)
        denom += eps_hat
        update = xp.divide(m, denom, out=work)
        update *= step_size
        theta -= update


class AdamW(Adam):
    """Adam with decoupled weight decay: theta shrinks by (1 - lr * weight_decay) each step."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
