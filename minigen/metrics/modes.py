"""Mode-collapse metrics for samples of a Gaussian mixture (8gaussians, 25gaussians).

With centres c_1..c_K and common standard deviation s (minigen.data.toy2d.modes), a sample x is

    high quality     when  min_k ||x - c_k|| <= 3 s           (within 3 std of some centre)

and it belongs to its nearest centre. Mode k is **captured** when it holds at least
``min_share`` of its fair share of the samples, i.e. at least min_share * n / K high-quality samples
(default 1/5: with n = 10,000 samples that is 250 of the 1,250 a perfect 8gaussians model puts on
each mode, and 80 of 400 on 25gaussians). A fraction of the fair share, rather than "at least one
sample", keeps a few stray points from counting as a mode, and does not depend on n.

    modes_captured       number of captured modes (out of num_modes = K)
    high_quality_share   fraction of all samples that are high quality

These are the metrics of Unrolled GAN, VEEGAN and PacGAN (Metz et al. 2017; Srivastava et al. 2017;
Lin et al. 2018) on these mixtures, with the count threshold stated explicitly.
"""
import numpy as np

N_STD = 3.0
MIN_SHARE = 0.2


def mode_metrics(samples, centres, std, n_std=N_STD, min_share=MIN_SHARE):
    """modes_captured, num_modes, high_quality_share for ``samples`` (n, 2) against ``centres`` (K, 2)."""
    samples = np.asarray(samples, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != centres.shape[1] or len(samples) == 0:
        raise ValueError(f"mode_metrics: expected samples of shape (n, {centres.shape[1]}) with n >= 1, "
                         f"got {samples.shape}")
    if not std > 0:
        raise ValueError(f"mode_metrics: std must be positive, got {std}")
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)     # (n, K)
    nearest = distances.argmin(axis=1)
    high_quality = distances.min(axis=1) <= n_std * std
    counts = np.bincount(nearest[high_quality], minlength=len(centres))
    needed = min_share * len(samples) / len(centres)
    return {"modes_captured": int((counts >= needed).sum()), "num_modes": len(centres),
            "high_quality_share": float(high_quality.mean())}
