"""KL divergences in closed form.

For Gaussians q = N(mu_1, sigma_1^2), p = N(mu_2, sigma_2^2) (elementwise):

    KL(q || p) = log(sigma_2 / sigma_1) + (sigma_1^2 + (mu_1 - mu_2)^2) / (2 sigma_2^2) - 1/2

With p = N(0, 1) and sigma_1^2 = exp(log_var) this is the VAE's
    KL = -1/2 (1 + log_var - mu^2 - exp(log_var)).
"""
from .normal import Normal
from .bernoulli import Bernoulli, Categorical


def kl_divergence(q, p):
    """KL(q || p), elementwise (sum over event axes yourself)."""
    if isinstance(q, Normal) and isinstance(p, Normal):
        var_ratio = (q.scale / p.scale) ** 2
        mean_term = ((q.loc - p.loc) / p.scale) ** 2
        return 0.5 * (var_ratio + mean_term - 1) - 0.5 * var_ratio.log()
    if isinstance(q, Bernoulli) and isinstance(p, Bernoulli):
        pq = q.probs
        return pq * (q.logits - p.logits) + (p.logits.softplus() - q.logits.softplus())
    if isinstance(q, Categorical) and isinstance(p, Categorical):
        return (q.probs * (q.log_probs - p.log_probs)).sum(axis=-1)
    raise NotImplementedError(f"kl_divergence: no closed form for {type(q).__name__} || {type(p).__name__}")
