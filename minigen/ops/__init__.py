"""Differentiable operations. Each is a ``Function`` (forward on arrays, backward beside it) with a
plain function in front of it; the Tensor operators are bound to them in ``tensor_methods``."""
from .arithmetic import add, sub, mul, div, neg, pow
from .math import (exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, leaky_relu, elu, softplus,
                   silu, gelu, erf, clip, where, maximum, minimum)
from .reduce import sum, mean, max, min, var, logsumexp, softmax, log_softmax
from .shape import (reshape, transpose, swapaxes, broadcast_to, sum_to, flatten, squeeze, expand_dims,
                    concatenate, stack, split, pad, getitem, take_along_axis, gather)
from .linalg import matmul, linear
from .misc import astype, to_device, dropout, one_hot, embedding
from .creation import (tensor, zeros, ones, full, arange, linspace, randn, rand, randint, zeros_like,
                       ones_like, full_like, randn_like, rand_like)
from . import tensor_methods  # noqa: F401  (binds Tensor's operators)
from .conv import conv2d, conv_transpose2d, im2col, col2im
from .pool import max_pool2d, avg_pool2d, upsample
from .norm import normalize
from .logprob import binary_cross_entropy_with_logits, normal_log_prob
