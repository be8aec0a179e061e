r"""Glow (Kingma & Dhariwal 2018): multi-scale flow of steps ActNorm -> invertible 1x1 conv -> coupling.

One step of flow on h (N, C, H, W), with its log-determinant (docs/flows.md):

    ActNorm       h = (h + bias) * exp(log_s)             log|det| = H W sum log_s
    1x1 conv      h = W h  (every pixel),  W = P L (U + diag(s))    log|det| = H W sum log|s|
    coupling      h_b = h_b * exp(s(h_a)) + t(h_a)         log|det| = sum s    (additive: 0)

Multi-scale: per level, squeeze (C, H, W) -> (4C, H/2, W/2), ``depth`` steps of flow (K in the
paper), then factor out half of the channels (the last level keeps them all). In front: uniform
dequantisation and the logit transform, so

    log p(x) = log N(z; 0, I) + log|det dlogit| + sum_steps log|det|,
    bits/dim = (-log p(y) + D log L) / (D log 2).

Sampling runs everything backwards from z ~ N(0, T^2 I); ``temperature`` T = 0.7 (the paper's choice)
gives cleaner samples than T = 1, which is the model itself.

    minigen train glow --dataset digits
    minigen eval runs/glow-digits            # exact test NLL in nats and bits/dim
"""
import math

from minigen import flows
from minigen.recipe import register

from .flow_recipe import LR_SCHEDULE_HELP, FlowRecipe

COUPLINGS = ("affine", "additive")


def glow_step(shape, hidden=64, coupling="affine", lu=True, parity=0):
    """ActNorm, 1x1 convolution, coupling on feature maps of ``shape`` (C, H, W)."""
    channels = shape[0]
    mask = flows.channel_mask(shape, parity)
    if coupling == "affine":
        couple = flows.AffineCoupling(mask, flows.ConvConditioner(channels, 2 * channels, hidden))
    else:
        couple = flows.AdditiveCoupling(mask, flows.ConvConditioner(channels, channels, hidden))
    return [flows.ActNorm(channels), flows.InvConv1x1(channels, lu=lu), couple]


def glow(image_shape, levels=2, depth=4, hidden=64, coupling="affine", lu=True):
    """The Glow density for images (C, H, W) in [0, 1): z is flat, of size C*H*W."""
    if coupling not in COUPLINGS:
        raise ValueError(f"glow: coupling must be one of {COUPLINGS}, got {coupling!r}")
    flows.check_squeezable(image_shape, levels, "glow")

    def level(shape, remaining):
        channels, height, width = shape
        squeezed = (4 * channels, height // 2, width // 2)
        body = [flows.Squeeze()]
        for k in range(depth):
            body += glow_step(squeezed, hidden, coupling, lu, parity=k % 2)
        if remaining == 1:
            return flows.FlowSequence(*body, flows.Flatten(squeezed))
        kept = (2 * channels, height // 2, width // 2)
        return flows.FlowSequence(*body, flows.Split(squeezed, level(kept, remaining - 1)))

    transform = flows.FlowSequence(flows.LogitTransform(), level(tuple(image_shape), levels))
    return flows.Flow(transform, (math.prod(image_shape),))


@register("glow")
class GlowRecipe(FlowRecipe):
    """Glow on images, trained by maximum likelihood on dequantised pixels."""

    default_config = {"levels": 2, "depth": 4, "hidden": 64, "coupling": "affine", "lu": True,
                      "temperature": 0.7, "lr": 1e-3, "lr_schedule": "constant", "clip_grad": 50.0,
                      "batch_size": 64, "epochs": 30}
    option_help = {"levels": "multi-scale levels", "depth": "steps of flow per level (K)",
                   "hidden": "channels of the coupling networks", "coupling": "affine or additive",
                   "lu": "LU-decomposed 1x1 convolutions",
                   "temperature": "T of the base N(0, T^2 I) when sampling (0.7: the paper's)",
                   "lr_schedule": LR_SCHEDULE_HELP, "clip_grad": "gradient-norm clipping threshold"}

    data_kinds = ("image",)

    def build_flow(self, config, info):
        return glow(info.shape, config["levels"], config["depth"], config["hidden"], config["coupling"],
                    config["lu"])
