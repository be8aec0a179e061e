"""Pure measures that the model families and the harnesses share. Nothing here trains a family or
knows one by name: a metric takes arrays (or Tensors) and returns numbers.

    likelihood      bits_per_dim, log_mean_exp (the IWAE bound), the true entropy of a 2-D set, a
                    full-covariance Gaussian baseline for dequantised images
    codes           codebook_perplexity of a vector-quantised model
    distances       energy distance and MMD between two sets of samples
    modes           modes captured and high-quality share on the Gaussian mixtures
    sample_quality  Frechet distance (classifier FID), precision/recall, class entropy, memorisation
    psnr            peak signal-to-noise ratio of restored images
    ssim            structural similarity of restored or translated images
    conditional     how well conditional models follow an image or a prompt (agreement, property gaps)
    auroc           area under the ROC curve of an anomaly score
    probe           linear_probe: how linearly separable the classes are in a representation

Pixel conventions (levels, binarisation, dequantisation) are minigen.data.pixels; the harnesses that
train and compare families are minigen.harnesses.
"""
from . import auroc, codes, conditional, distances, likelihood, modes, probe, psnr, sample_quality, ssim
from .codes import codebook_perplexity
from .likelihood import bits_per_dim, log_mean_exp
from .probe import linear_probe

__all__ = ["auroc", "codes", "conditional", "distances", "likelihood", "modes", "probe", "psnr", "sample_quality",
           "ssim", "codebook_perplexity", "bits_per_dim", "log_mean_exp", "linear_probe"]
