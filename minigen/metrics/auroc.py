r"""The area under the ROC curve: how well a score separates anomalies from normal examples.

With scores s of normal examples n_1..n_N and of anomalies a_1..a_M,

    AUROC = P(s(a) > s(n)) + 1/2 P(s(a) = s(n))
          = (1 / (N M)) sum_i sum_j [ 1[a_j > n_i] + 1/2 1[a_j = n_i] ]        (Mann-Whitney U / (N M))

1 for a score that ranks every anomaly above every normal example, 1/2 for a score that ignores which
is which, 0 for one that ranks them exactly backwards.
"""
import numpy as np
from scipy.stats import rankdata


def auroc(normal_scores, anomaly_scores):
    """AUROC of separating ``anomaly_scores`` (should be high) from ``normal_scores``."""
    normal = np.asarray(normal_scores, dtype=np.float64).ravel()
    anomalous = np.asarray(anomaly_scores, dtype=np.float64).ravel()
    if len(normal) == 0 or len(anomalous) == 0:
        raise ValueError(f"auroc: both sets need scores, got {len(normal)} normal and "
                         f"{len(anomalous)} anomalous")
    if not (np.isfinite(normal).all() and np.isfinite(anomalous).all()):
        raise ValueError("auroc: the scores hold NaN or infinite values")
    ranks = rankdata(np.concatenate([normal, anomalous]))        # average ranks for ties
    u = ranks[len(normal):].sum() - len(anomalous) * (len(anomalous) + 1) / 2
    return float(u / (len(normal) * len(anomalous)))
