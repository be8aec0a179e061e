r"""Structural similarity (SSIM, Wang, Bovik, Sheikh and Simoncelli 2004) of an image to the truth.

In every w x w window of the two images x and y (here uniform, w = 7 as scikit-image's default, or the
image's side if smaller), with the windows' means mu, variances sigma^2 and covariance sigma_xy,

    SSIM_window = (2 mu_x mu_y + C_1) (2 sigma_xy + C_2) / ((mu_x^2 + mu_y^2 + C_1) (sigma_x^2 + sigma_y^2 + C_2))
    C_1 = (K_1 R)^2,  C_2 = (K_2 R)^2,  K_1 = 0.01,  K_2 = 0.03,  R = the data range (1 for [0, 1])

the product of a luminance, a contrast and a structure comparison; an image's SSIM is the mean over
all windows that fit inside it (and over its channels). 1 for identical images; near 0 for unrelated
ones. Unlike PSNR it rewards getting the local pattern (the strokes) right more than the exact grey
levels. Variances are the windows' plain (population) ones.
"""
import numpy as np


def ssim(truth, estimate, data_range=1.0, window=7):
    """SSIM of each image of ``estimate`` against ``truth`` (both (N, C, H, W)): an array (N,)."""
    x, y = np.asarray(truth, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"ssim: the images must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim != 4:
        raise ValueError(f"ssim: expected images of shape (N, C, H, W), got shape {x.shape}")
    if not data_range > 0:
        raise ValueError(f"ssim: data_range must be positive, got {data_range!r}")
    w = min(int(window), x.shape[2], x.shape[3])
    if w < 2:
        raise ValueError(f"ssim: the window must be at least 2 pixels wide, got {window!r} on "
                         f"{x.shape[2]}x{x.shape[3]} images")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def local_mean(image):          # the mean of every w x w window: (N, C, H - w + 1, W - w + 1)
        return np.lib.stride_tricks.sliding_window_view(image, (w, w), axis=(2, 3)).mean(axis=(-2, -1))

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x ** 2
    var_y = local_mean(y * y) - mu_y ** 2
    cov_xy = local_mean(x * y) - mu_x * mu_y
    per_window = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return per_window.mean(axis=(1, 2, 3))
