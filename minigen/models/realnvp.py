r"""RealNVP (Dinh, Sohl-Dickstein & Bengio 2017): a density by maximum likelihood through affine couplings.

    log p(x) = log N(z; 0, I) + sum_k log|det dz_k/dz_{k-1}|           (change of variables)
    coupling k (mask b):  z_k = b z_{k-1} + (1 - b)(z_{k-1} exp(s) + t),   (s, t) = NN_k(b z_{k-1})
                          log|det dz_k/dz_{k-1}| = sum (1 - b) s,          s = scale tanh(s_raw)
    loss = -1/N sum_i log p(x_i)                                        (nats per example)

Two shapes of the same idea:

- 2-D data: ``couplings`` affine couplings with alternating masks (x_1 | x_2), MLP conditioners.
- images (multi-scale, sec. 3.6): dequantise and logit-transform the pixels, then per level
  3 checkerboard couplings -> squeeze -> 3 channel couplings -> factor out half of the channels;
  the last level is 4 checkerboard couplings. Reported as bits/dim of the discrete pixels.

Where each line is computed (one file away):

    log p(x) = log N(z; 0, I) + log|det|     flows.Flow.log_prob (core.py), eq. (1)
    sum_k log|det dz_k/dz_{k-1}|             flows.FlowSequence.forward (core.py): log_det + log_det_k
    log|det| of coupling k = sum (1 - b) s   flows.AffineCoupling.forward (coupling.py)
    loss = -log p(y) + D log L (images)      FlowRecipe.train_step (flow_recipe.py), the dequantised
                                             pixels' NLL of minigen.data.pixels

The layers live in minigen.flows; this file only arranges them. ``FlowRecipe`` (maximum likelihood
for any Flow, with its evaluation in nats and bits/dim) is shared by realnvp, glow and planar.

    minigen train realnvp --dataset moons
    minigen train realnvp --dataset digits
    minigen eval runs/realnvp-moons
"""
import math

from minigen import flows
from minigen.recipe import register

from .flow_recipe import LR_SCHEDULE_HELP, FlowRecipe

# ------------------------------------------------------------------------------------ the flows


def realnvp_2d(dim=2, couplings=8, hidden=128, cond_features=0):
    """x (N, dim) -> z (N, dim): affine couplings alternating which half of x passes through."""
    layers = [flows.AffineCoupling(flows.checkerboard_mask((dim,), parity=k % 2),
                                   flows.MLPConditioner(dim, 2 * dim, hidden, cond_features))
              for k in range(couplings)]
    return flows.Flow(flows.FlowSequence(*layers), (dim,))


def realnvp_image(image_shape, levels=2, hidden=64, cond_features=0):
    """The multi-scale RealNVP for images (C, H, W) in [0, 1): z is flat, of size C*H*W."""
    flows.check_squeezable(image_shape, levels - 1, "realnvp")

    def couplings(shape, masks):
        return [flows.AffineCoupling(mask(shape, parity=k % 2),
                                     flows.ConvConditioner(shape[0], 2 * shape[0], hidden, cond_features))
                for k, mask in enumerate(masks)]

    def level(shape, remaining):
        channels, height, width = shape
        if remaining == 1:
            return flows.FlowSequence(*couplings(shape, [flows.checkerboard_mask] * 4),
                                      flows.Flatten(shape))
        squeezed = (4 * channels, height // 2, width // 2)
        kept = (2 * channels, height // 2, width // 2)
        return flows.FlowSequence(*couplings(shape, [flows.checkerboard_mask] * 3),
                                  flows.Squeeze(),
                                  *couplings(squeezed, [flows.channel_mask] * 3),
                                  flows.Split(squeezed, level(kept, remaining - 1)))

    transform = flows.FlowSequence(flows.LogitTransform(), level(tuple(image_shape), levels))
    return flows.Flow(transform, (math.prod(image_shape),))


# ------------------------------------------------------------------------------------ the recipe
@register("realnvp")
class RealNVPRecipe(FlowRecipe):
    """RealNVP on 2-D data (MLP couplings) or images (multi-scale convolutional couplings)."""

    default_config = {"couplings": 8, "hidden": 128, "levels": 2, "conv_channels": 64,
                      "temperature": 1.0, "lr": 1e-3, "lr_schedule": "constant", "clip_grad": 100.0,
                      "batch_size": 256, "epochs": 40}
    # 2-D: a cosine decay of lr (flow_recipe.py says why); images: batches of 64 (1,437 digits make only
    # 5 batches of 256), and on mnist-5k fewer epochs: each step there costs 8x a digits step (0.95 s on
    # 2 cores), so 8 epochs of 62 batches take about 8 minutes
    dataset_defaults = {"2d": {"lr_schedule": "cosine"}, "image": {"batch_size": 64, "epochs": 30},
                        "mnist-5k": {"batch_size": 64, "epochs": 8}}
    option_help = {"couplings": "affine couplings (2-D data)",
                   "hidden": "width of the coupling MLPs (2-D data)", "levels": "multi-scale levels (images)",
                   "conv_channels": "channels of the coupling networks (images)",
                   "temperature": "T of the base N(0, T^2 I) when sampling",
                   "lr_schedule": LR_SCHEDULE_HELP, "clip_grad": "gradient-norm clipping threshold"}

    def build_flow(self, config, info):
        if info.kind == "image":
            return realnvp_image(info.shape, config["levels"], config["conv_channels"])
        return realnvp_2d(info.shape[0], config["couplings"], config["hidden"])
