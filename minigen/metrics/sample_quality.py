"""Sample quality and diversity of a generative model, measured on features of one shared network.

Let r_1..r_N be features of real images and g_1..g_M features of generated ones (minigen.harnesses.features:
the penultimate layer of the toolkit's classifier, trained on the same dataset).

Frechet distance of the two Gaussians fitted to the features (FID, Heusel et al. 2017)::

    FD = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))

0 for identical Gaussians. Computed on *classifier* features rather than Inception ones, so its
values only compare models on one dataset; the **floor** is FD(real train, real test): what a perfect
model with a finite sample would score.

Improved precision and recall (Kynkaenniemi et al. 2019), k = 3. Each point x of a set S gets the
ball B(x, d_k(x, S)) whose radius is the distance to its k-th nearest neighbour in S; the manifold is
the union of the balls::

    precision = (1/M) sum_j 1[g_j in manifold(real)]      are the samples realistic?
    recall    = (1/N) sum_i 1[r_i in manifold(fake)]      is all of the data covered?

Class-histogram entropy: the classifier labels each sample; H = -sum_k p_k log2 p_k over the label
frequencies p_k. log2(10) = 3.32 bits when all ten digits come out equally often, 0 when one does.

Recognisability: the classifier's probabilities p(k | g_j) for each sample; the confidence is the
mean of max_k p(k | g_j) (1: every sample is an unmistakable member of some class; 1/K: the
classifier sees noise), the weakest class's confidence the lowest of the same mean taken over the
samples labelled k, for each class k the classifier assigns; a class is present when it holds at least
a fifth of its fair share n/K of the labels (the rule minigen.metrics.modes counts modes by)::

    confidence = (1/M) sum_j max_k p(k | g_j)
    present    = #{k : #{j : argmax p(. | g_j) = k} >= 0.2 M / K}

Memorisation: for each sample, the distance (in pixels) to its nearest training image, divided by the
same for held-out test images::

    ratio = median_j min_i ||g_j - x_i|| / median_t min_i ||t_t - x_i||     (x_i: training images)

about 1 for a model that generalises like fresh data, well below 1 for one that copies its training set.
"""
from __future__ import annotations

import numpy as np

from .modes import MIN_SHARE as MIN_CLASS_SHARE    # of the fair share n/K: a class is "present" as a
                                                   # mode is "captured"

def _as_matrix(a, name, min_rows=2):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or len(a) < min_rows:
        raise ValueError(f"{name}: expected an (N, D) array with N >= {min_rows}, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: the array holds NaN or infinite values")
    return a


def _same_width(a, b, caller):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{caller}: the two sets have {a.shape[1]} and {b.shape[1]} features")


def _psd_sqrt(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix (round-off clipped)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance_gaussians(mu1, cov1, mu2, cov2):
    """FD between N(mu1, cov1) and N(mu2, cov2), the closed form above.

    Tr (S1 S2)^(1/2) is computed as the sum of sqrt(eigenvalues) of the symmetric PSD matrix
    S1^(1/2) S2 S1^(1/2), which has the same eigenvalues as S1 S2; this stays exact when the covariances
    are singular (dead ReLU features, fewer samples than features), where a general matrix sqrt fails."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    if not (mu1.shape == mu2.shape and cov1.shape == cov2.shape == (len(mu1), len(mu1))):
        raise ValueError(f"frechet_distance_gaussians: means {mu1.shape}, {mu2.shape} and covariances "
                         f"{cov1.shape}, {cov2.shape} do not describe two Gaussians of one dimension")
    root1 = _psd_sqrt(cov1)
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ cov2 @ root1), 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt, 0.0))


def frechet_distance(features_a, features_b):
    """FD between the Gaussians fitted (mean, covariance) to two sets of features (N, D) and (M, D)."""
    a, b = _as_matrix(features_a, "frechet_distance: a"), _as_matrix(features_b, "frechet_distance: b")
    _same_width(a, b, "frechet_distance")
    return frechet_distance_gaussians(a.mean(0), np.cov(a, rowvar=False),
                                      b.mean(0), np.cov(b, rowvar=False))


def _pairwise_distances(a, b):
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def _kth_neighbour_radii(points, k):
    """Distance of each point to its k-th nearest neighbour in its own set (itself excluded)."""
    distances = _pairwise_distances(points, points)
    return np.sort(distances, axis=1)[:, k]          # column 0 is the point itself


def _share_inside(queries, centres, radii):
    return float((_pairwise_distances(queries, centres) <= radii[None, :]).any(axis=1).mean())


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall of ``fake_features`` against ``real_features``, k-NN balls."""
    real = _as_matrix(real_features, "precision_recall: real", min_rows=k + 1)
    fake = _as_matrix(fake_features, "precision_recall: fake", min_rows=k + 1)
    _same_width(real, fake, "precision_recall")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"precision_recall: k must be a positive integer, got {k!r}")
    return {"precision": _share_inside(fake, real, _kth_neighbour_radii(real, k)),
            "recall": _share_inside(real, fake, _kth_neighbour_radii(fake, k))}


def class_entropy(labels, num_classes):
    """Entropy in bits of the histogram of predicted class ``labels`` (ints in [0, num_classes))."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0 or labels.dtype.kind not in "iu":
        raise ValueError(f"class_entropy: expected a non-empty 1-D integer array, got {labels.dtype} "
                         f"of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"class_entropy: labels must lie in [0, {num_classes}), got "
                         f"[{labels.min()}, {labels.max()}]")
    p = np.bincount(labels, minlength=num_classes) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def classifier_confidence(probabilities, num_classes, min_share=MIN_CLASS_SHARE):
    """{"classifier_confidence", "weakest_class_confidence", "classes_present"} of the (M, K) class
    probabilities a classifier gives M samples (rows sum to 1); see the module docstring."""
    p = _as_matrix(probabilities, "classifier_confidence: probabilities", min_rows=1)
    if p.shape[1] != num_classes:
        raise ValueError(f"classifier_confidence: expected {num_classes} class probabilities per sample, "
                         f"got {p.shape[1]}")
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("classifier_confidence: each row must be probabilities (>= 0, summing to 1)")
    top, labels = p.max(axis=1), p.argmax(axis=1)
    counts = np.bincount(labels, minlength=num_classes)
    per_class = [top[labels == k].mean() for k in range(num_classes) if counts[k]]
    return {"classifier_confidence": float(top.mean()), "weakest_class_confidence": float(min(per_class)),
            "classes_present": int((counts >= min_share * len(p) / num_classes).sum())}


def _nearest_distance(queries, reference, chunk=500):
    return np.concatenate([_pairwise_distances(queries[i:i + chunk], reference).min(axis=1)
                           for i in range(0, len(queries), chunk)])


def memorisation_ratio(samples, train, test):
    """Median nearest-training-image distance of ``samples`` over that of held-out ``test`` images.

    All three are arrays of images (or points), flattened; distances are Euclidean in data space.
    """
    flat = [np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in (samples, train, test)]
    samples, train, test = (_as_matrix(a, f"memorisation_ratio: {n}", min_rows=1)
                            for a, n in zip(flat, ("samples", "train", "test")))
    _same_width(samples, train, "memorisation_ratio")
    _same_width(test, train, "memorisation_ratio")
    reference = np.median(_nearest_distance(test, train))
    if reference == 0:
        raise ValueError("memorisation_ratio: the test images all appear in the training set")
    return float(np.median(_nearest_distance(samples, train)) / reference)
