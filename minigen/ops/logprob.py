"""The two log-likelihood terms every family's loss is made of, each as one elementwise Function.

Bernoulli with logits x (binary cross-entropy; t in [0, 1]):

    -log p(t | x) = max(x, 0) - x t + log(1 + e^{-|x|})        (= -[t log s(x) + (1 - t) log(1 - s(x))])
    d/dx = s(x) - t,        d/dt = -x                            (s: the sigmoid)

Normal with mean mu and standard deviation sigma:

    log N(x; mu, sigma^2) = -z^2 / 2 - log sigma - log(2 pi) / 2,      z = (x - mu) / sigma
    d/dx = -z / sigma,      d/dmu = z / sigma,      d/dsigma = (z^2 - 1) / sigma

Composed from single operations, each of these took five to seven passes over its inputs and kept
most intermediate arrays for backward; here forward keeps only the inputs. The backward passes are
written with Tensor operations, so the terms have derivatives of every order.
"""
import math

from ..autograd import Function
from ..backend import get_array_module
from .math import sigmoid

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class BCEWithLogits(Function):
    @staticmethod
    def forward(ctx, x, t):
        xp = get_array_module(x)
        ctx.save_for_backward(x, t)
        loss = -xp.abs(x)
        xp.exp(loss, out=loss)
        xp.log1p(loss, out=loss)                 # log(1 + e^{-|x|})
        loss += xp.maximum(x, 0)
        loss -= x * t
        return loss

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        gx = grad * (sigmoid(x) - t) if ctx.needs_input_grad[0] else None
        gt = -grad * x if ctx.needs_input_grad[1] else None
        return gx, gt


class NormalLogProb(Function):
    @staticmethod
    def forward(ctx, x, mu, sigma):
        xp = get_array_module(x)
        ctx.save_for_backward(x, mu, sigma)
        z = x - mu
        z /= sigma
        out = z * z
        out *= -0.5
        out -= xp.log(sigma)
        out -= _HALF_LOG_2PI
        return out

    @staticmethod
    def backward(ctx, grad):
        x, mu, sigma = ctx.saved_tensors
        z = (x - mu) / sigma
        g_z = grad * z / sigma
        gx = -g_z if ctx.needs_input_grad[0] else None
        gmu = g_z if ctx.needs_input_grad[1] else None
        gsigma = grad * (z * z - 1) / sigma if ctx.needs_input_grad[2] else None
        return gx, gmu, gsigma


def binary_cross_entropy_with_logits(x, t):
    """-log Bernoulli(t; sigmoid(x)) elementwise, from the logits, without overflow."""
    return BCEWithLogits.apply(x, t)


def normal_log_prob(x, mu, sigma):
    """log N(x; mu, sigma^2) elementwise."""
    return NormalLogProb.apply(x, mu, sigma)
