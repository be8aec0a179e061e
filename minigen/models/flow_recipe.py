r"""Maximum likelihood for any normalizing flow: the recipe that realnvp, glow and planar share.

    y        = x                           2-D points
             = (k + u) / L, u ~ U[0, 1)^D  images (dequantised, minigen.data.pixels)
    log p(y) = log N(f(y); 0, I) + sum_k log|det dz_k/dz_{k-1}|       flows.Flow.log_prob, eq. (1)
    loss     = -log p(y)                   nats per example (2-D)
             = -log p(y) + D log L         images: a bound on -log P of the discrete pixels
    bits/dim = loss / (D log 2)

A family says which flow (``build_flow``); sampling runs it backwards from z ~ N(0, T^2 I) and reads
images back on the pixel grid (``pixels.quantize``).

Adam's step size is ``lr``, or with ``lr_schedule`` "cosine" half a cosine from ``lr`` down to 0 over
the run's steps (minigen.optim.lr_scheduler.CosineAnnealingLR): the last steps then move the density
by less than the noise of one batch's gradient, which on moons took the test NLL from 0.026-0.038
nats above the data's entropy to 0.013-0.015 at the same 3,120 steps (seeds 0, 1, 2; docs/flows.md).
A run extended on ``--resume`` stretches its cosine over the new length.
"""
import math
import os

import minigen as mg
from minigen import optim
from minigen.data import pixels
from minigen.metrics.likelihood import bits_per_dim, true_entropy
from minigen.recipe import Recipe
from minigen.restore import LatentGenerator

LR_SCHEDULES = ("constant", "cosine")
LR_SCHEDULE_HELP = "constant, or cosine: from lr down to 0 over the run"


class FlowRecipe(Recipe):
    """Maximum likelihood for a Flow built by ``build_flow``: images are dequantised first."""

    def build_flow(self, config, info):
        raise NotImplementedError(f"{type(self).__name__} must define build_flow(config, info)")

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.images = info.kind == "image"
        self.levels = info.levels
        self.num_dims = math.prod(info.shape)
        self.flow = self.build_flow(config, info).to(device)
        self.optimizer = optim.Adam(self.flow.parameters(), lr=config["lr"])
        schedule = config.get("lr_schedule", "constant")
        if schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
        if schedule == "cosine":
            if "steps" not in config:
                raise ValueError("lr_schedule 'cosine' runs over the training steps, so the config needs 'steps' "
                                 "(the training loop sets it: minigen.recipe.prepare)")
            self.scheduler = optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, config["steps"]))

    # ----------------------------------------------------------------------------- the likelihood
    def to_model_space(self, x, seed=None):
        """Images x = k / (L - 1) -> y = (k + u) / L (``seed``: a fixed draw); 2-D points as they are."""
        return pixels.dequantize(x, self.levels, seed) if self.images else x

    def nll_nats(self, log_p_y):
        """NLL per example in nats: -log p(y), and for images that of the discrete pixels, + D log L."""
        return pixels.dequantized_nll(log_p_y, self.num_dims, self.levels) if self.images else -log_p_y

    def train_step(self, batch, step):
        x, _ = batch
        self.flow.train()
        y = self.to_model_space(x)
        nll = self.nll_nats(self.flow.log_prob(y)).mean()
        self.optimizer.zero_grad()
        nll.backward()
        optim.clip_grad_norm_(self.flow.parameters(), self.config["clip_grad"])
        self.optimizer.step()
        if hasattr(self, "scheduler"):
            self.scheduler.step()
        metrics = {"loss": nll.item()}
        if self.images:
            metrics["bits_per_dim"] = bits_per_dim(nll.item(), self.num_dims)
        return metrics

    def log_prob(self, y, batch_size=1000):
        """log p(y) of the flow, batch by batch without a graph: y a NumPy array in model space."""
        self.flow.eval()
        with mg.no_grad():
            parts = [self.flow.log_prob(mg.tensor(y[i:i + batch_size], device=self.device))
                     for i in range(0, len(y), batch_size)]
        return mg.concatenate(parts)

    def evaluate(self, x, y=None):
        """Exact test NLL in nats per example and bits/dim (for images: of the discrete pixels, with
        one fixed uniform dequantisation, seed 0)."""
        x = mg.tensor(x)
        log_p = self.log_prob(self.to_model_space(x, seed=0).numpy())
        nll = self.nll_nats(log_p).mean().item()
        metrics = {"nll_nats": nll, "nll_bits_per_dim": bits_per_dim(nll, self.num_dims)}
        if not self.images:
            entropy, _ = true_entropy(self.info.name, x.numpy())
            metrics["true_entropy_nats"] = entropy
        return metrics

    # ----------------------------------------------------------------------------- sampling
    def sample(self, n, label=None, steps=None):
        self.sample_labels(n, label)                 # refuses a label: flows here are unconditional
        self.flow.eval()
        with mg.no_grad():
            x = self.flow.sample(n, temperature=self.config["temperature"])
            if self.images:
                x = pixels.quantize(x, self.levels)
        return x.astype("float32").numpy()

    def save_figure(self, path, x, y=None):
        """samples.png, and for 2-D data also density.png: the learned density beside the data."""
        super().save_figure(path, x, y)
        if not self.images:
            from minigen import viz
            viz.density_heatmap(lambda grid: self.log_prob(grid), os.path.join(os.path.dirname(path),
                                "density.png"), data=x[:2000], title=f"{self.name} on {self.info.name}")
        return True

    # ----------------------------------------------------------------------------- for the harnesses
    def features(self, x):
        """z = f(y) of NumPy data x, (N, D): images dequantised with the fixed draw of ``evaluate``."""
        self.flow.eval()
        with mg.no_grad():
            z, _ = self.flow(mg.tensor(self.to_model_space(mg.tensor(x), seed=0).numpy(), device=self.device))
        return z.reshape(len(x), -1).numpy()

    @classmethod
    def anomaly_score_names(cls):
        return (cls.name,)

    def anomaly_scores(self, x, seed=0, batch_size=500):
        """The exact NLL in nats, -log p(y) + D log L for images, y the dequantised image (each batch's
        dequantisation drawn from ``seed``, so an image always gets the same score)."""
        parts = []
        for i in range(0, len(x), batch_size):
            y = self.to_model_space(mg.tensor(x[i:i + batch_size]), seed=seed + i).numpy()
            parts.append(self.nll_nats(self.log_prob(y)))
        return {self.name: mg.concatenate(parts).numpy().astype("float64")}

    def restoration_prior(self):
        """g(z) = f^{-1}(z), the flow run backwards, read back as data at the centre of each pixel's bin,
        (L y - 1/2) / (L - 1); the solver starts at z = f(A^+ y), the flow's own code of the lifted
        observation."""
        flow, levels = self.flow, self.levels
        flow.eval()
        return LatentGenerator(g=lambda z: pixels.from_bin_centre(flow.transform.inverse(z), levels),
                               latent_shape=flow.z_shape,
                               encode=lambda x: flow.transform(pixels.to_bin_centre(x, levels))[0])
