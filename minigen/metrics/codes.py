"""Codebook perplexity of a vector-quantised model whose codes were used with frequencies p_k:

    perplexity = exp(-sum_k p_k log p_k)                                         (codebook_perplexity)

1 when one code does all the work, K when all K codes are used equally.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor


def codebook_perplexity(counts):
    """exp(entropy) of the code-usage frequencies ``counts`` (K,) (any array-like of counts)."""
    counts = np.asarray(backend.to_numpy(counts.data if isinstance(counts, Tensor) else counts),
                        dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("codebook_perplexity: no code was used (all counts are zero)")
    p = counts[counts > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))
