r"""Normalizing flows: invertible layers x -> (z, log|det dz/dx|), composed so that

    log p(x) = log p(z) + sum_k log|det dz_k/dz_{k-1}|          (change of variables)

    core        FlowLayer, FlowSequence (sums the log-dets), Flow (log_prob, sample with temperature)
    coupling    AffineCoupling (RealNVP), AdditiveCoupling (NICE), checkerboard/channel masks, conditioners
    actnorm     ActNorm with data-dependent initialisation (Glow)
    invconv     InvConv1x1, plain or LU-decomposed (Glow)
    reshape     Squeeze, Split (multi-scale), Flatten, Permute, Reverse, check_squeezable
    planar      Planar (Rezende & Mohamed 2015)
    logit       LogitTransform: dequantised pixels in [0, 1) to the real line (dequantisation itself,
                and the D log L of discrete pixels, are minigen.data.pixels)
    linalg      differentiable inverse and log|det| of a matrix

docs/flows.md walks through the equations and points at the code.
"""
from .core import Flow, FlowLayer, FlowSequence, check_finite, sum_per_example
from .coupling import (AffineCoupling, AdditiveCoupling, ConvConditioner, MLPConditioner, channel_mask,
                       checkerboard_mask)
from .actnorm import ActNorm
from .invconv import InvConv1x1
from .reshape import Flatten, Permute, Reverse, Split, Squeeze, check_squeezable
from .planar import Planar
from .logit import LogitTransform
from .linalg import inverse, log_abs_det

__all__ = ["Flow", "FlowLayer", "FlowSequence", "check_finite", "sum_per_example", "AffineCoupling",
           "AdditiveCoupling", "ConvConditioner", "MLPConditioner", "channel_mask", "checkerboard_mask",
           "ActNorm", "InvConv1x1", "Flatten", "Permute", "Reverse", "Split", "Squeeze", "Planar",
           "check_squeezable", "LogitTransform", "inverse", "log_abs_det"]
