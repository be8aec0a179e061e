"""Bernoulli and Categorical distributions, parameterized by logits for numerical stability.

Bernoulli(p = sigmoid(l)):
    log p(x) = x log sigmoid(l) + (1 - x) log sigmoid(-l) = x l - softplus(l)
which never takes the log of a probability that rounded to 0 or 1.

Categorical(p = softmax(l)):
    log p(k) = l_k - logsumexp(l)
"""
import minigen as mg
from minigen.autograd import Tensor


class Bernoulli:
    """Independent binary variables with P(x = 1) = sigmoid(logits)."""

    def __init__(self, logits):
        if not isinstance(logits, Tensor):
            logits = mg.tensor(logits)
        self.logits = logits

    @property
    def probs(self):
        return mg.sigmoid(self.logits)

    @property
    def mean(self):
        return self.probs

    @property
    def shape(self):
        return self.logits.shape

    def log_prob(self, x):
        """Elementwise x l - softplus(l); x may be fractional (a 'continuous Bernoulli' target)."""
        return x * self.logits - mg.softplus(self.logits)

    def sample(self, shape=()):
        with mg.no_grad():
            u = mg.rand(tuple(shape) + self.shape, dtype=self.logits.dtype, device=self.logits.device)
            return (u < self.probs).astype(self.logits.dtype)

    def entropy(self):
        p = self.probs
        return mg.softplus(self.logits) - p * self.logits   # -[p log p + (1-p) log(1-p)]


class Categorical:
    """A distribution over K classes along the last axis of ``logits``."""

    def __init__(self, logits):
        if not isinstance(logits, Tensor):
            logits = mg.tensor(logits)
        if logits.ndim == 0:
            raise ValueError("Categorical: logits need a class axis (the last one)")
        self.logits = logits
        self.log_probs = mg.log_softmax(logits, axis=-1)

    @property
    def probs(self):
        return self.log_probs.exp()

    @property
    def num_classes(self):
        return self.logits.shape[-1]

    def log_prob(self, k):
        """log p(k) for integer classes ``k`` of shape logits.shape[:-1]."""
        idx = k.data if isinstance(k, Tensor) else mg.tensor(k, device=self.logits.device).data
        if tuple(idx.shape) != tuple(self.logits.shape[:-1]):
            raise ValueError(f"Categorical.log_prob: classes of shape {tuple(idx.shape)} for logits "
                             f"{self.logits.shape} (expected {self.logits.shape[:-1]})")
        return mg.take_along_axis(self.log_probs, idx[..., None], axis=-1).squeeze(-1)

    def sample(self, shape=()):
        """Gumbel-max: argmax(l + g) with g ~ Gumbel(0, 1) is a draw from softmax(l)."""
        with mg.no_grad():
            full = tuple(shape) + self.logits.shape
            u = mg.rand(full, dtype=self.logits.dtype, device=self.logits.device)
            gumbel = -(-(u * (1 - 1e-7) + 1e-7 * 0.5).log()).log()
            return (mg.broadcast_to(self.log_probs, full) + gumbel).argmax(axis=-1)

    def entropy(self):
        return -(self.probs * self.log_probs).sum(axis=-1)
