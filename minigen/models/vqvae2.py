"""VQ-VAE-2 (Razavi et al., 2019): a two-level VQ-VAE and autoregressive priors over its codes.

Two grids of discrete codes, the top one coarser, each quantized as in vqvae.py:

    h_b   = E_b(x)                                    features at H/2 x W/2
    k_top = VQ_top(E_t(h_b))                          codes at H/4 x W/4: global shape
    k_bot = VQ_bot(W [h_b, D_t(e_top)])               codes at H/2 x W/2, given what the top says
    x_hat = sigmoid(G([e_bot, U(e_top)]))             U: a transposed conv up to H/2 x W/2

    L = -log p(x | z_q) + sum over both levels of (codebook + beta commitment)     (VQVAE2.loss)

A second stage fits a prior to the codes of the (then frozen) autoencoder, with gated PixelCNNs:

    p(k_top, k_bot) = p(k_top) p(k_bot | k_top)
    p(k_top)         = prod_ij p(k_top,ij | k_top,<ij)                  top prior, optionally given y
    p(k_bot | k_top) = prod_ij p(k_bot,ij | k_bot,<ij, e_top)          bottom prior, conditioned on
                                                                        the top code vectors upsampled

Sampling runs the chain: k_top from its prior, k_bot from its prior given k_top, then decode.
Training runs the two stages in one ``minigen train``: the first ``vq_fraction`` of the steps train
the autoencoder, the rest the priors.

    minigen train vqvae2 --dataset digits
    minigen sample runs/vqvae2-digits --n 64
"""
import math

import minigen as mg
from minigen import nn, optim
from minigen.metrics.codes import codebook_perplexity
from minigen.nn import functional as F
from minigen.recipe import Recipe, register

from .checks import check_batch, check_image_shape
from .encoders import conv_down, conv_up, reconstruction_grid
from .pixelcnn import GatedPixelCNN
from .vqvae import VectorQuantizer, code_usage


class VQVAE2(nn.Module):
    """Bottom codes at (H/2, W/2) and top codes at (H/4, W/4); H and W must be multiples of 4."""

    def __init__(self, image_shape, num_codes=32, code_dim=16, hidden=64, beta=0.25, ema=True,
                 decay=0.99, restart_dead=True):
        super().__init__()
        self.image_shape = check_image_shape("VQVAE2", image_shape)
        c, h, w = self.image_shape
        if h % 4 or w % 4:
            raise ValueError(f"VQVAE2: image height and width must be multiples of 4, got {h}x{w}")
        self.bottom_shape, self.top_shape = (h // 2, w // 2), (h // 4, w // 4)
        self.encoder_bottom = conv_down(c, hidden, hidden, 2)
        self.encoder_top = conv_down(hidden, hidden, code_dim, 2)
        self.quantizer_top = VectorQuantizer(num_codes, code_dim, beta, ema, decay, restart_dead)
        self.decoder_top = conv_up(code_dim, hidden, code_dim, 2)
        self.pre_quantize_bottom = nn.Conv2d(hidden + code_dim, code_dim, 1)
        self.quantizer_bottom = VectorQuantizer(num_codes, code_dim, beta, ema, decay, restart_dead)
        self.upsample_top = nn.ConvTranspose2d(code_dim, code_dim, 4, stride=2, padding=1)
        self.decoder = conv_up(2 * code_dim, hidden, c, 2)

    def quantize(self, x):
        """Both levels: (z_q_top, z_q_bottom, codes_top, codes_bottom, vq losses summed)."""
        check_batch("VQVAE2", x, self.image_shape, "images")
        h_b = self.encoder_bottom(x)
        z_top, k_top, cb_top, commit_top = self.quantizer_top(self.encoder_top(h_b))
        z_e_bottom = self.pre_quantize_bottom(mg.concatenate([h_b, self.decoder_top(z_top)], axis=1))
        z_bottom, k_bottom, cb_bottom, commit_bottom = self.quantizer_bottom(z_e_bottom)
        vq = self.quantizer_top.vq_loss(cb_top, commit_top) + self.quantizer_bottom.vq_loss(cb_bottom, commit_bottom)
        return z_top, z_bottom, k_top, k_bottom, vq, commit_top + commit_bottom

    def decoder_logits(self, z_top, z_bottom):
        return self.decoder(mg.concatenate([z_bottom, self.upsample_top(z_top)], axis=1))

    def decode_latents(self, z_top, z_bottom):
        return mg.sigmoid(self.decoder_logits(z_top, z_bottom))

    def encode(self, x):
        """Integer codes (k_top (N, H/4, W/4), k_bottom (N, H/2, W/2))."""
        _, _, k_top, k_bottom, _, _ = self.quantize(x)
        return k_top, k_bottom

    def decode(self, k_top, k_bottom):
        """Images in [0, 1] from the two grids of codes."""
        return self.decode_latents(self.quantizer_top.lookup(k_top), self.quantizer_bottom.lookup(k_bottom))

    def loss(self, x):
        z_top, z_bottom, k_top, k_bottom, vq, commitment = self.quantize(x)
        logits = self.decoder_logits(z_top, z_bottom)
        # cross-entropy, not squared error, for the reason in vqvae.py's docstring
        total = F.binary_cross_entropy_with_logits(logits, x) + vq
        with mg.no_grad():
            recon = F.mse_loss(mg.sigmoid(logits), x)
        return {"loss": total, "recon": recon, "commitment": commitment, "codes_top": k_top,
                "codes_bottom": k_bottom}

    def top_condition(self, k_top):
        """The bottom prior's conditioning map: top code vectors, upsampled to the bottom grid."""
        return mg.upsample(self.quantizer_top.lookup(k_top).detach(), 2)


@register("vqvae2")
class VQVAE2Recipe(Recipe):
    """Stage 1 trains the two-level VQ-VAE, stage 2 the PixelCNN priors over its codes."""

    preview_images, preview_per_class = 16, 2   # a pixel-by-pixel prior: a small preview grid

    # small codebooks and priors: on 1,437 training digits a 32-code, 32-channel prior overfits (its
    # test NLL was worse than uniform); with these it is 39 nats against 55 for uniform codes
    default_config = {"num_codes": 16, "code_dim": 16, "hidden": 64, "beta": 0.25, "ema": True,
                      "decay": 0.99, "restart_dead": True, "vq_fraction": 0.5, "prior_channels": 16,
                      "prior_layers": 3, "conditional": False, "lr": 1e-3, "batch_size": 64, "epochs": 60}
    # mnist-5k: 1,550 steps (25 epochs of 62 batches; half for the autoencoder, half for the priors)
    # give samples that a digit classifier is 0.87 sure of, every digit present, no copies (seed 0)
    dataset_defaults = {"mnist-5k": {"batch_size": 64, "epochs": 25}}
    option_help = {"num_codes": "codebook size of each level", "code_dim": "size of a code vector",
                   "hidden": "channels of the conv stacks", "beta": "weight of the commitment loss",
                   "ema": "codebooks by moving averages instead of their loss",
                   "decay": "EMA decay of the codebooks",
                   "restart_dead": "restart codes that are (almost) never used",
                   "vq_fraction": "share of the steps that train the autoencoder (the rest: the priors)",
                   "prior_channels": "channels of the PixelCNN priors",
                   "prior_layers": "gated layers of each prior",
                   "conditional": "priors conditioned on the class label"}

    @classmethod
    def supports(cls, info):
        return info.kind == "image" and info.shape[1] % 4 == 0 and info.shape[2] % 4 == 0

    @classmethod
    def requirement(cls):
        return "images whose height and width are multiples of 4"

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        if not 0 < config["vq_fraction"] < 1:
            raise ValueError(f"vq_fraction must lie in (0, 1), got {config['vq_fraction']}")
        classes = info.num_classes if self.conditional else 0
        self.num_codes = k = config["num_codes"]
        d = config["code_dim"]
        self.model = VQVAE2(info.shape, k, d, config["hidden"], config["beta"], config["ema"], config["decay"],
                            config["restart_dead"]).to(device)
        # a 5x5 kernel widens the receptive field by 2 rows per layer: 3 layers see 6 rows above
        self.top_prior = GatedPixelCNN(k, config["prior_channels"], config["prior_layers"], 5,
                                       num_classes=classes).to(device)
        self.bottom_prior = GatedPixelCNN(k, config["prior_channels"], config["prior_layers"], 5,
                                          num_classes=classes, condition_channels=d).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])
        self.prior_optimizer = optim.Adam(list(self.top_prior.parameters()) + list(self.bottom_prior.parameters()),
                                          lr=config["lr"])
        if "steps" not in config:
            raise ValueError("vqvae2 splits its training steps between two stages, so its config needs "
                             "'steps' (the training loop sets it: minigen.recipe.prepare)")
        self.vq_steps = int(config["steps"] * config["vq_fraction"])

    def prior_nll(self, k_top, k_bottom, y=None):
        """-log p(k_top) and -log p(k_bottom | k_top) per example, in nats."""
        nll_top = -self.top_prior.log_prob(k_top, y)
        nll_bottom = -self.bottom_prior.log_prob(k_bottom, y, self.model.top_condition(k_top))
        return nll_top, nll_bottom

    def train_step(self, batch, step):
        x, y = batch
        if step < self.vq_steps:                       # stage 1: the autoencoder
            self.model.train()
            out = self.model.loss(x)
            self.optimizer.zero_grad()
            out["loss"].backward()
            self.optimizer.step()
            return {"loss": out["loss"].item(), "recon": out["recon"].item(),
                    "perplexity_top": codebook_perplexity(code_usage(out["codes_top"], self.num_codes)),
                    "perplexity_bottom": codebook_perplexity(code_usage(out["codes_bottom"], self.num_codes))}
        self.model.eval()                              # stage 2: the priors, on frozen codes
        with mg.no_grad():
            k_top, k_bottom = self.model.encode(x)
        nll_top, nll_bottom = self.prior_nll(k_top, k_bottom, y if self.conditional else None)
        loss = (nll_top + nll_bottom).mean()
        self.prior_optimizer.zero_grad()
        loss.backward()
        self.prior_optimizer.step()
        return {"loss": loss.item(), "prior_nll_top": nll_top.mean().item(),
                "prior_nll_bottom": nll_bottom.mean().item()}

    def sample(self, n, label=None, steps=None):
        y = self.sample_labels(n, label)
        for module in (self.model, self.top_prior, self.bottom_prior):
            module.eval()
        with mg.no_grad():
            k_top = self.top_prior.sample(n, self.model.top_shape, y)
            k_bottom = self.bottom_prior.sample(n, self.model.bottom_shape, y, self.model.top_condition(k_top))
            return self.model.decode(k_top, k_bottom).numpy()

    def evaluate(self, x, y=None, batch_size=500):
        """Reconstruction MSE, perplexity of each codebook, and the priors' NLL of the test codes."""
        self.model.eval()
        squared = nll_top = nll_bottom = 0.0
        counts_top = counts_bottom = 0.0
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                xb = mg.tensor(x[i:i + batch_size], device=self.device)
                yb = mg.tensor(y[i:i + batch_size], device=self.device) if self.conditional else None
                out = self.model.loss(xb)
                squared += out["recon"].item() * len(xb)
                counts_top = counts_top + code_usage(out["codes_top"], self.num_codes)
                counts_bottom = counts_bottom + code_usage(out["codes_bottom"], self.num_codes)
                top, bottom = self.prior_nll(out["codes_top"], out["codes_bottom"], yb)
                nll_top += top.sum().item()
                nll_bottom += bottom.sum().item()
        n = len(x)
        codes = math.prod(self.model.top_shape) + math.prod(self.model.bottom_shape)
        return {"recon_mse": squared / n,
                "codebook_perplexity_top": codebook_perplexity(counts_top),
                "codebook_perplexity_bottom": codebook_perplexity(counts_bottom),
                "prior_nll_nats": (nll_top + nll_bottom) / n,
                "uniform_prior_nll_nats": codes * math.log(self.num_codes),
                "prior_bits_per_code": (nll_top + nll_bottom) / n / (codes * math.log(2))}

    def save_figure(self, path, x, y=None):
        """samples.png (drawn through both priors) and samples-reconstructions.png."""
        drawn = super().save_figure(path, x, y)
        self.model.eval()
        with mg.no_grad():
            x_hat = self.model.decode(*self.model.encode(mg.tensor(x[:32], device=self.device)))
        reconstruction_grid((path[:-4] if path.endswith(".png") else path) + "-reconstructions.png",
                            x[:32], x_hat, self.name)
        return drawn
