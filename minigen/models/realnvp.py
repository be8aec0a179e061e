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

The layers live in minigen.flows; this file only arranges them. ``FlowRecipe`` (maximum likelihood
for any Flow, with its evaluation in nats and bits/dim) is shared by realnvp, glow and planar.

    minigen train realnvp --dataset moons
    minigen train realnvp --dataset digits
    minigen eval runs/realnvp-moons
"""
import math
import os

import minigen as mg
from minigen import flows, optim
from minigen.training import Recipe, register

# ------------------------------------------------------------------------------------ the flows


def realnvp_2d(dim=2, couplings=8, hidden=128, cond_features=0):
    """x (N, dim) -> z (N, dim): affine couplings alternating which half of x passes through."""
    layers = [flows.AffineCoupling(flows.checkerboard_mask((dim,), parity=k % 2),
                                   flows.MLPConditioner(dim, 2 * dim, hidden, cond_features))
              for k in range(couplings)]
    return flows.Flow(flows.FlowSequence(*layers), (dim,))


def check_squeezable(image_shape, squeezes, model):
    """A clear error when H or W cannot be halved ``squeezes`` times."""
    _, height, width = image_shape
    factor = 2 ** squeezes
    if height % factor or width % factor:
        raise ValueError(f"{model}: an image of size {height}x{width} cannot be squeezed {squeezes} "
                         f"time(s) (height and width must be divisible by {factor}); use fewer levels")


def realnvp_image(image_shape, levels=2, hidden=64, cond_features=0):
    """The multi-scale RealNVP for images (C, H, W) in [0, 1): z is flat, of size C*H*W."""
    check_squeezable(image_shape, levels - 1, "realnvp")

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


# ------------------------------------------------------------------------------------ training
class FlowRecipe(Recipe):
    """Maximum likelihood for a Flow built by ``build_flow``: images are dequantised first."""

    def build_flow(self, config, info):
        raise NotImplementedError(f"{type(self).__name__} must define build_flow(config, info)")

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.images = info.kind == "image"
        self.levels = flows.levels_of(info.name) if self.images else None
        self.num_dims = math.prod(info.shape)
        self.flow = self.build_flow(config, info).to(device)
        self.optimizer = optim.Adam(self.flow.parameters(), lr=config["lr"])

    def to_flow_space(self, x, seed=None):
        """Images x = k / (L - 1) -> y = (k + u) / L; 2-D points as they are."""
        return flows.dequantize(x, self.levels, seed) if self.images else x

    def nll_nats(self, log_p):
        """NLL per example in nats: of the discrete pixels (+ D log L) for images."""
        return flows.nll_nats(log_p, self.num_dims, self.levels) if self.images else -log_p

    def _metrics(self, nll):
        metrics = {"loss": nll}
        if self.images:
            metrics["bits_per_dim"] = flows.bits_per_dim(nll, self.num_dims)
        return metrics

    def train_step(self, batch, step):
        x, _ = batch
        self.flow.train()
        nll = self.nll_nats(self.flow.log_prob(self.to_flow_space(x))).mean()
        self.optimizer.zero_grad()
        nll.backward()
        optim.clip_grad_norm_(self.flow.parameters(), self.config["clip_grad"])
        self.optimizer.step()
        return self._metrics(nll.item())

    def log_prob(self, x, batch_size=1000):
        """log p(x) of the flow, batch by batch without a graph: x a NumPy array in flow space."""
        self.flow.eval()
        with mg.no_grad():
            parts = [self.flow.log_prob(mg.tensor(x[i:i + batch_size], device=self.device))
                     for i in range(0, len(x), batch_size)]
        return mg.concatenate(parts)

    def features(self, x):
        """z = f(y) of NumPy data x, (N, D): images dequantised with the fixed draw of ``evaluate``."""
        self.flow.eval()
        with mg.no_grad():
            z, _ = self.flow(mg.tensor(self.to_flow_space(mg.tensor(x), seed=0).numpy(), device=self.device))
        return z.reshape(len(x), -1).numpy()

    def evaluate(self, x, y=None):
        """Exact test NLL in nats per example and bits/dim (for images: of the discrete pixels, with
        one fixed uniform dequantisation, seed 0)."""
        x = mg.tensor(x)
        log_p = self.log_prob(self.to_flow_space(x, seed=0).numpy())
        nll = self.nll_nats(log_p).mean().item()
        metrics = {"nll_nats": nll, "nll_bits_per_dim": flows.bits_per_dim(nll, self.num_dims)}
        if not self.images:
            from minigen.eval.likelihood import true_entropy
            entropy, _ = true_entropy(self.info.name, x.numpy())
            metrics["true_entropy_nats"] = entropy
        return metrics

    def sample(self, n, label=None, steps=None):
        self.flow.eval()
        with mg.no_grad():
            x = self.flow.sample(n, temperature=self.config["temperature"])
            if self.images:
                x = flows.quantize(x, self.levels)
        return x.astype("float32").numpy()

    def save_figure(self, path, x, y=None):
        """samples.png, and for 2-D data also density.png: the learned density beside the data."""
        super().save_figure(path, x, y)
        if not self.images:
            from minigen import viz
            viz.density_heatmap(lambda grid: self.log_prob(grid), os.path.join(os.path.dirname(path),
                                "density.png"), data=x[:2000], title=f"{self.name} on {self.info.name}")
        return True


@register("realnvp")
class RealNVPRecipe(FlowRecipe):
    """RealNVP on 2-D data (MLP couplings) or images (multi-scale convolutional couplings)."""

    default_config = {"couplings": 8, "hidden": 128, "levels": 2, "conv_channels": 64,
                      "temperature": 1.0, "lr": 1e-3, "clip_grad": 100.0, "batch_size": 256,
                      "epochs": 40}

    def build_flow(self, config, info):
        if info.kind == "image":
            return realnvp_image(info.shape, config["levels"], config["conv_channels"])
        return realnvp_2d(info.shape[0], config["couplings"], config["hidden"])
