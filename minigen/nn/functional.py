"""Stateless forms of the layers, and the losses (``import minigen.nn.functional as F``).

Normalisations, with mean and (biased) variance taken over the axes named for each:

    y = (x - mean) / sqrt(var + eps) * weight + bias
    batch_norm: over the batch and spatial axes, per channel     (N, C, *)
    group_norm: over each group of C/G channels and space, per sample
    layer_norm: over the trailing ``normalized_shape`` axes, per sample

Losses (per element, before the reduction):

    mse_loss                          (x - t)^2
    binary_cross_entropy              -[t log p + (1 - t) log(1 - p)],  p clipped to [eps, 1 - eps]
    binary_cross_entropy_with_logits  max(x, 0) - x t + log(1 + e^{-|x|})   (= -[t log s(x) + (1-t) log(1 - s(x))])
    cross_entropy                     -sum_k t_k log softmax(x)_k,  t one-hot (integer labels) or probabilities
    gaussian_nll                      0.5 [log var + (t - mu)^2 / var] (+ 0.5 log 2 pi when full)

``reduction`` is "mean" (over every element of the unreduced loss; for cross_entropy that is every
sample and position), "sum" or "none".
"""
import math

from .. import ops
from ..autograd import Tensor, no_grad
from ..ops import (relu, leaky_relu, elu, silu, gelu, sigmoid, tanh, softplus, softmax,  # noqa: F401
                   log_softmax, logsumexp, dropout, conv2d, conv_transpose2d, max_pool2d, avg_pool2d,
                   upsample, embedding, one_hot, where, linear)


# ------------------------------------------------------------------------------------ layers
def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, reduce=None):
    """Normalise each channel of (N, C, *) by its batch statistics (training, or when no running
    statistics are kept) or by the running statistics (evaluation).

    In training the running statistics are updated in place:
        running_mean <- (1 - momentum) running_mean + momentum mean
        running_var  <- (1 - momentum) running_var  + momentum var * n / (n - 1)   (unbiased, as PyTorch)

    ``reduce`` sums per-channel statistics over processes (synchronised batch norm; see
    ``minigen.ops.norm``), so that n and the statistics are those of the global batch.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected (N, C, *) input, got shape {x.shape}")
    C = x.shape[1]
    param_shape = (1, C) + (1,) * (x.ndim - 2)
    if training or running_mean is None:
        n = x.size // C
        if training and n < 2 and reduce is None:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input "
                             f"of shape {x.shape}")
        stats = []
        y = ops.normalize(x, weight, bias, x.shape, (0,) + tuple(range(2, x.ndim)), param_shape, eps,
                          reduce=reduce, stats=stats)
        if training and running_mean is not None:
            mean, var, n = stats
            m = momentum
            running_mean.data = ((1 - m) * running_mean.data + m * mean.reshape(-1)).astype(running_mean.dtype)
            running_var.data = ((1 - m) * running_var.data
                                + m * var.reshape(-1) * (n / max(n - 1, 1))).astype(running_var.dtype)
        return y
    # evaluation: a fixed affine map per channel, y = x * scale + shift
    scale = 1 / ops.sqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return x * scale.reshape(param_shape) + shift.reshape(param_shape)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels of (N, C, *) into ``num_groups`` groups and normalise each group of each
    sample over its channels and positions; then scale and shift per channel."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: expected (N, C, *) input with C divisible by num_groups={num_groups}, "
                         f"got shape {x.shape}")
    view = (x.shape[0], num_groups, x.size // (x.shape[0] * num_groups))
    param_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return ops.normalize(x, weight, bias, view, (2,), param_shape, eps)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing axes ``normalized_shape``; weight and bias have that shape."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != normalized_shape or x.ndim < k:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape "
                         f"{normalized_shape}")
    param_shape = (1,) * (x.ndim - k) + normalized_shape
    return ops.normalize(x, weight, bias, x.shape, tuple(range(x.ndim - k, x.ndim)), param_shape, eps)


# ------------------------------------------------------------------------------------ losses
def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_reduction(reduction, name):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(name, input, target, input_name="input"):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: {input_name} shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ")


def _as_tensor_like(target, like):
    """Targets may come as arrays or numbers; put them on the input's device and dtype."""
    if isinstance(target, Tensor):
        return target
    return ops.tensor(target, dtype=like.dtype, device=like.device)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2."""
    _check_reduction(reduction, "mse_loss")
    target = _as_tensor_like(target, input)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def binary_cross_entropy(probs, target, reduction="mean", eps=1e-7):
    """-[t log p + (1 - t) log(1 - p)] for probabilities p; p is clipped to [eps, 1 - eps] so that
    p = 0 or 1 gives a large finite loss instead of inf. Prefer the ``_with_logits`` form when the
    probabilities come out of a sigmoid: it is exact where this one has to clip."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = _as_tensor_like(target, probs)
    _same_shape("binary_cross_entropy", probs, target, "probs")
    p = ops.clip(probs, eps, 1 - eps)
    loss = -(target * ops.log(p) + (1 - target) * ops.log(1 - p))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Binary cross-entropy of sigmoid(logits), computed from the logits without overflow:

        max(x, 0) - x t + log(1 + e^{-|x|})

    One fused Function (``minigen.ops.logprob``) whose gradient is sigmoid(x) - t everywhere,
    x = 0 included, where the kinks of max(x, 0) and |x| cancel.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _as_tensor_like(target, logits)
    _same_shape("binary_cross_entropy_with_logits", logits, target, "logits")
    return _reduce(ops.binary_cross_entropy_with_logits(logits, target), reduction)


def cross_entropy(logits, target, reduction="mean"):
    """-log softmax(logits)[target] for logits (N, K, *) and class axis 1.

    ``target`` is either integer class labels of shape (N, *) or class probabilities (one-hot or
    soft) of the logits' shape, in which case the loss is -sum_k t_k log softmax(logits)_k.
    """
    _check_reduction(reduction, "cross_entropy")
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy: expected logits of shape (N, K, *), got {tuple(logits.shape)}")
    log_p = log_softmax(logits, axis=1)
    if not isinstance(target, Tensor):
        target = ops.tensor(target, device=logits.device)
        if target.dtype.kind == "f":
            target = target.astype(logits.dtype)
    labels = target.data
    if labels.dtype.kind in "iu":
        expected = (logits.shape[0],) + tuple(logits.shape[2:])
        if tuple(labels.shape) != expected:
            raise ValueError(f"cross_entropy: logits shape {tuple(logits.shape)} needs integer targets of "
                             f"shape {expected}, got target shape {tuple(labels.shape)}")
        k = logits.shape[1]
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= k):
            raise ValueError(f"cross_entropy: class labels must lie in [0, {k}), got "
                             f"[{int(labels.min())}, {int(labels.max())}]")
        label_axis = labels.reshape(labels.shape[:1] + (1,) + labels.shape[1:])   # (N, 1, *)
        loss = -ops.take_along_axis(log_p, label_axis, axis=1).squeeze(1)
    else:
        _same_shape("cross_entropy", logits, target, "logits")
        loss = -(target * log_p).sum(axis=1)
    return _reduce(loss, reduction)


def gaussian_nll(mu, target, log_var, full=False, reduction="mean"):
    """Negative log-likelihood of ``target`` under N(mu, exp(log_var)), per element:

        0.5 [log_var + (target - mu)^2 exp(-log_var)]  (+ 0.5 log(2 pi) when ``full``)

    The variance is given by its log so that any real output of a network is a valid variance and
    exp(-log_var) never divides by zero. ``log_var`` broadcasts against ``mu`` (a scalar, a per-dimension
    vector or a full tensor).
    """
    _check_reduction(reduction, "gaussian_nll")
    target = _as_tensor_like(target, mu)
    _same_shape("gaussian_nll", mu, target, "mu")
    log_var = _as_tensor_like(log_var, mu)
    try:
        ops.broadcast_to(log_var.detach(), mu.shape)
    except ValueError:
        raise ValueError(f"gaussian_nll: log_var shape {tuple(log_var.shape)} does not broadcast to "
                         f"mu shape {tuple(mu.shape)}") from None
    loss = -ops.normal_log_prob(target, mu, ops.exp(0.5 * log_var))    # includes 0.5 log 2 pi
    if not full:
        loss = loss - 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
