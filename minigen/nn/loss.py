"""Losses as modules, for code that builds a model from layers (``criterion = nn.MSELoss()``). Each
holds its ``reduction`` (and any fixed option) and calls the one implementation in ``nn.functional``:

    MSELoss                (input - target)^2
    BCELoss                -[t log p + (1 - t) log(1 - p)]          on probabilities p
    BCEWithLogitsLoss      the same from logits, without overflow  (prefer it to BCELoss)
    CrossEntropyLoss       -log softmax(logits)[target]             integer classes or class probabilities
    GaussianNLLLoss        1/2 [log sigma^2 + (target - mu)^2 / sigma^2]   from (mu, target, log sigma^2)

``reduction`` is "mean" (default), "sum" or "none" (one value per element, or per example for
cross-entropy).
"""
from . import functional as F
from .module import Module

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    def forward(self, probs, target):
        return F.binary_cross_entropy(probs, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    def forward(self, logits, target):
        return F.cross_entropy(logits, target, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """``full=True`` adds the constant 1/2 log(2 pi) per element."""

    def __init__(self, full=False, reduction="mean"):
        super().__init__(reduction)
        self.full = bool(full)

    def forward(self, mu, target, log_var):
        return F.gaussian_nll(mu, target, log_var, full=self.full, reduction=self.reduction)

    def extra_repr(self):
        return f"full={self.full}, reduction={self.reduction!r}"
