r"""Peak signal-to-noise ratio, the standard score of a restored image against the truth.

    PSNR(x, x_hat) = 10 log10(R^2 / MSE),   MSE = mean (x - x_hat)^2,   R = the data range (1 for [0, 1])

in decibels, per image; higher is better, +3 dB is half the squared error. Identical images have
MSE = 0 and PSNR = +inf, returned as such (no division warning). ``region`` restricts the mean to
some pixels (the missing ones of an inpainting mask), where a restoration is actually tested.
"""
import numpy as np


def psnr(truth, estimate, data_range=1.0, region=None):
    """PSNR in dB of each image of ``estimate`` against ``truth`` (both (N, ...)): an array (N,).

    ``region``: optional 0/1 array broadcastable to one image (or to the batch); the MSE is taken over
    the pixels where it is 1."""
    truth, estimate = np.asarray(truth, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    if truth.shape != estimate.shape:
        raise ValueError(f"psnr: the images must have the same shape, got {truth.shape} and {estimate.shape}")
    if truth.ndim < 2:
        raise ValueError(f"psnr: expected a batch of images (N, ...), got shape {truth.shape}")
    if not data_range > 0:
        raise ValueError(f"psnr: data_range must be positive, got {data_range!r}")
    squared = (truth - estimate) ** 2
    axes = tuple(range(1, truth.ndim))
    if region is None:
        mse = squared.mean(axis=axes)
    else:
        weight = np.broadcast_to(np.asarray(region, dtype=np.float64), truth.shape)
        if not weight.any():
            raise ValueError("psnr: the region holds no pixel")
        mse = (squared * weight).sum(axis=axes) / weight.sum(axis=axes)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)      # mse = 0 -> +inf, as it should


def summary(values):
    """"mean ± std" of PSNRs for a table; "inf" when an image is restored exactly."""
    values = np.asarray(values, dtype=np.float64)
    if np.isinf(values).any():
        return "inf"
    return f"{values.mean():.2f} ± {values.std():.2f}"
