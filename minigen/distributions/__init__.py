"""Probability distributions: Normal (rsample = the reparameterization trick), Bernoulli and
Categorical from logits, and closed-form KL divergences."""
from .normal import Normal
from .bernoulli import Bernoulli, Categorical
from .kl import kl_divergence

__all__ = ["Normal", "Bernoulli", "Categorical", "kl_divergence"]
