r"""How well a conditional model follows its condition: image -> image and text -> image.

Image -> image, translations y_hat of conditions x against the truth y (``translation_scores``):

    psnr             mean over images of 10 log10(1 / MSE(y, y_hat)), dB (psnr.py)
    ssim             mean structural similarity (ssim.py)
    l1               mean |y - y_hat| over all pixels, [0, 1] units
    digit_agreement  share of y_hat that a digit classifier puts in the class of y (chance 0.1)
    truth_agreement  the same classifier on y itself: the ceiling

Text -> image, samples drawn from prompts that name a digit k and perhaps a property
(``prompt_scores``):

    agreement        share of samples the classifier puts in the named digit's class (chance 0.1)
    ink_gap          mean ink of "thick" samples minus that of "thin" ones, computed per digit and
                     averaged over digits; > 0 when the words move the ink the right way
    ink_order        share of digits whose thick samples have more ink than their thin ones (chance 0.5)
    slant_gap, slant_order   the same for the slant of "slanted to the right" minus "to the left"

``property_gap`` is the per-digit difference behind both; applied to real images grouped by their
captions' words it gives the gap of the data, the scale a model's gap is read against.
"""
from __future__ import annotations

import numpy as np

from ..data.captions import measure
from .psnr import psnr
from .ssim import ssim


def _stack(images):
    """One array from an array or a list of chunks (N_i, ...)."""
    return np.concatenate(images) if isinstance(images, (list, tuple)) else np.asarray(images)


def agreement(predicted, digits):
    """Share of ``predicted`` labels equal to ``digits`` (entries < 0 of ``digits`` are left out)."""
    predicted, digits = np.asarray(predicted), np.asarray(digits)
    known = digits >= 0
    if not known.any():
        raise ValueError("agreement: no image has a known digit")
    return float((predicted[known] == digits[known]).mean())


def translation_scores(truth, outputs, digits=None, classify=None):
    """The image -> image scores of ``outputs`` (an array or a list of chunks) against ``truth``; the
    agreements only when ``digits`` (the true digit of each, -1 unknown) and ``classify`` are given."""
    y, y_hat = np.asarray(truth, dtype=np.float32), _stack(outputs).astype(np.float32)
    scores = {"examples": len(y), "psnr": float(np.mean(psnr(y, y_hat))), "ssim": float(np.mean(ssim(y, y_hat))),
              "l1": float(np.abs(y - y_hat).mean())}
    if digits is not None and classify is not None and (np.asarray(digits) >= 0).any():
        known = np.asarray(digits) >= 0
        scores["digit_agreement"] = agreement(classify(y_hat[known]), np.asarray(digits)[known])
        scores["truth_agreement"] = agreement(classify(y[known]), np.asarray(digits)[known])
    return scores


def property_gap(values, digits, high, low):
    """(mean over digits of [mean of values where high] - [mean where low], share of those digits whose
    difference is > 0), over the digits that have images in both groups; (nan, nan) if none has."""
    values, digits = np.asarray(values, dtype=np.float64), np.asarray(digits)
    high, low = np.asarray(high, dtype=bool), np.asarray(low, dtype=bool)
    gaps = [values[(digits == k) & high].mean() - values[(digits == k) & low].mean()
            for k in np.unique(digits) if ((digits == k) & high).any() and ((digits == k) & low).any()]
    if not gaps:
        return float("nan"), float("nan")
    return float(np.mean(gaps)), float(np.mean(np.asarray(gaps) > 0))


def prompt_scores(images, digits, kinds, classify, suffix=""):
    """The text -> image scores of samples ``images`` (an array or chunks), drawn from prompts naming
    ``digits`` with property ``kinds`` ("thick", "thin", "left", "right" or "" for none), each key
    ending in ``suffix``."""
    x = _stack(images)
    digits, kinds = np.asarray(digits), np.asarray(kinds)
    measured = measure(x)
    ink_gap, ink_order = property_gap(measured["ink"], digits, kinds == "thick", kinds == "thin")
    slant_gap, slant_order = property_gap(measured["slant"], digits, kinds == "right", kinds == "left")
    return {f"agreement{suffix}": agreement(classify(x), digits), f"ink_gap{suffix}": ink_gap,
            f"ink_order{suffix}": ink_order, f"slant_gap{suffix}": slant_gap, f"slant_order{suffix}": slant_order}


def caption_reference(images, labels, words):
    """The gaps of real ``images`` grouped by their captions' ``words`` (data.captions.describe):
    {"data_ink_gap", "data_slant_gap"}, the scale a model's gaps are read against."""
    measured = measure(images)
    thickness = np.array([w["thickness"] for w in words])
    slant = np.array([w["slant"] for w in words])
    return {"data_ink_gap": property_gap(measured["ink"], labels, thickness == "thick", thickness == "thin")[0],
            "data_slant_gap": property_gap(measured["slant"], labels, slant == "right", slant == "left")[0]}
