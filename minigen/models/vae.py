"""Variational autoencoder (Kingma & Welling, 2014).

A latent-variable model p(x) = integral p(x|z) p(z) dz with prior p(z) = N(0, I) and a decoder
p(x|z) (Bernoulli or Gaussian per pixel). An encoder q(z|x) = N(mu(x), diag sigma^2(x)), which outputs
(mu, log sigma^2), makes log p(x) tractable to bound (Jensen's inequality, since log is concave):

    log p(x) = log E_q[p(x|z) p(z) / q(z|x)] >= E_q[log p(x|z)] - KL(q(z|x) || p(z)) = ELBO(x)   (VAE.elbo)

The gap is KL(q(z|x) || p(z|x)), so raising the ELBO both fits the data and makes q close to the true
posterior. The two terms:

    E_q[log p(x|z)]   one sample z = mu + sigma * eps, eps ~ N(0, I) (the reparameterization trick,
                      Normal.rsample), so the gradient flows into mu and sigma
    KL(q || N(0, I))  in closed form (kl_divergence):  -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)

Training minimises -(E_q[log p(x|z)] - beta KL) (beta = 1 is the VAE; beta > 1 the beta-VAE).
Evaluation tightens the bound with k importance samples (IWAE, Burda et al., 2016):

    log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x)                 (VAE.iwae)

which is the ELBO at k = 1 and tends to log p(x) as k grows. Likelihood conventions, so that the
numbers are proper probabilities of discrete data (minigen.data.pixels):

    likelihood="bernoulli"  x_b ~ Bernoulli(x): dynamically binarised images, a fixed binarisation
                            of the test split; -log p(x_b) in nats and bits per dimension
    likelihood="gaussian"   N(x; mu(z), diag exp(log_var_x)) with a learned per-pixel variance, on
                            uniformly dequantised images y = (k + u) / L; -log P(k) is bounded by
                            -log p(y) + D log L (L grey levels: 17 for digits, 256 for MNIST)

    minigen train vae --dataset digits                      # eval: neg. ELBO and IWAE NLL on test
    minigen train vae --dataset mnist-5k --arch conv --latent-dim 32
"""
import math

import minigen as mg
from minigen import nn, optim
from minigen.data import pixels
from minigen.distributions import Bernoulli, Normal, kl_divergence
from minigen.metrics.likelihood import bits_per_dim, log_mean_exp
from minigen.recipe import Recipe, register
from minigen.restore import LatentGenerator

from .checks import check_batch, check_image_shape, check_labels
from .encoders import ImageDecoder, ImageEncoder, reconstruction_grid

LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(nn.Module):
    """q(z|x) = N(mu, diag exp(log_var)), p(z) = N(0, I), p(x|z) Bernoulli(logits) or Gaussian.

    ``num_classes > 0`` conditions encoder and decoder on a label (ConditionalVAE, in cvae.py).
    """

    def __init__(self, image_shape, latent_dim=16, arch="mlp", hidden=256, likelihood="bernoulli",
                 num_classes=0):
        super().__init__()
        self.image_shape = check_image_shape(type(self).__name__, image_shape)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"{type(self).__name__}: latent_dim must be a positive integer, got {latent_dim!r}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"{type(self).__name__}: likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.latent_dim, self.likelihood, self.num_classes = latent_dim, likelihood, num_classes
        self.encoder = ImageEncoder(image_shape, 2 * latent_dim, arch, hidden, condition_features=num_classes)
        self.decoder = ImageDecoder(latent_dim + num_classes, image_shape, arch, hidden)
        if likelihood == "gaussian":
            self.log_var_x = nn.Parameter(mg.full(self.image_shape, -4.0).data)   # decoder log sigma^2

    # ------------------------------------------------------------------------ the three distributions
    def condition(self, y):
        """The one-hot label fed to encoder and decoder (None for an unconditional VAE)."""
        name = type(self).__name__
        if not self.num_classes:
            if y is not None:
                raise ValueError(f"{name}: labels given to an unconditional model (use ConditionalVAE)")
            return None
        check_labels(name, y, self.num_classes)
        return mg.one_hot(y, self.num_classes)

    def encode(self, x, y=None):
        """q(z|x [, y]) = N(mu, diag exp(log_var))."""
        check_batch(type(self).__name__, x, self.image_shape, "images")
        h = self.encoder(x, self.condition(y))
        mu, log_var = h[:, :self.latent_dim], h[:, self.latent_dim:]
        return Normal.from_log_var(mu, log_var)

    def decode(self, z, y=None):
        """p(x|z [, y]) per pixel: Bernoulli(logits) or N(mu, exp(log_var_x))."""
        c = self.condition(y)
        out = self.decoder(z if c is None else mg.concatenate([z, c.astype(z.dtype)], axis=1))
        if self.likelihood == "bernoulli":
            return Bernoulli(logits=out)
        return Normal.from_log_var(out, mg.broadcast_to(self.log_var_x, out.shape))

    def prior(self, like):
        """p(z) = N(0, I), shaped like the tensor ``like``."""
        return Normal(mg.zeros_like(like), mg.ones_like(like))

    # ------------------------------------------------------------------------ bounds on log p(x)
    def elbo(self, x, y=None, beta=1.0):
        """Per example (N,): ELBO = E_q[log p(x|z)] - beta KL(q(z|x) || p(z)), and its two terms."""
        q = self.encode(x, y)
        z = q.rsample()                                        # z = mu + sigma * eps
        log_px_z = self.decode(z, y).log_prob(x).sum(axis=(1, 2, 3))
        kl = kl_divergence(q, self.prior(z)).sum(axis=1)      # closed form
        return {"elbo": log_px_z - beta * kl, "log_px_z": log_px_z, "kl": kl}

    def log_weights(self, x, y=None, k=1):
        """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) for k samples z_i ~ q(z|x): (k, N)."""
        n = x.shape[0]
        q = self.encode(x, y)
        z = q.sample((k,))                                     # (k, N, latent_dim)
        flat_z = z.reshape(k * n, self.latent_dim)
        repeat = lambda t: mg.broadcast_to(t, (k,) + tuple(t.shape)).reshape((k * n,) + tuple(t.shape[1:]))
        log_px_z = self.decode(flat_z, None if y is None else repeat(y)).log_prob(repeat(x))
        log_px_z = log_px_z.sum(axis=(1, 2, 3)).reshape(k, n)
        log_pz = self.prior(z).log_prob(z).sum(axis=2)
        log_qz = q.log_prob(z).sum(axis=2)
        return log_px_z + log_pz - log_qz

    def iwae(self, x, y=None, k=100, chunk=100):
        """The importance-weighted bound L_k = log mean_i w_i (N,), k samples drawn ``chunk`` at a time."""
        with mg.no_grad():
            weights = [self.log_weights(x, y, min(chunk, k - i)) for i in range(0, k, chunk)]
            return log_mean_exp(mg.concatenate(weights, axis=0), axis=0)

    def device(self):
        return next(iter(self.parameters())).device

    def sample(self, n, y=None):
        """The decoder's mean E[x|z] for n draws z ~ p(z)."""
        z = mg.randn(n, self.latent_dim, device=self.device())
        return self.decode(z, y).mean


@register("vae")
class VAERecipe(Recipe):
    """Trains a VAE by maximising the ELBO with Adam; evaluates -ELBO and the IWAE bound on -log p(x)."""

    default_config = {"latent_dim": 16, "arch": "mlp", "hidden": 256, "likelihood": "bernoulli",
                      "beta": 1.0, "eval_k": 500, "lr": 1e-3, "batch_size": 64, "epochs": 100}
    option_help = {"latent_dim": "size of z", "arch": "mlp or conv encoder/decoder",
                   "hidden": "width of the hidden layers",
                   "likelihood": "bernoulli (binarised pixels) or gaussian (dequantised pixels)",
                   "beta": "weight of the KL term (1: the VAE; > 1: beta-VAE)",
                   "eval_k": "importance samples of the IWAE bound in eval"}

    data_kinds = ("image",)

    def build(self, config, info):
        return VAE(info.shape, config["latent_dim"], config["arch"], config["hidden"], config["likelihood"])

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.levels = info.levels
        self.model = self.build(config, info).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def labels(self, y):
        return None

    def to_model_space(self, x, seed=None):
        """The data the likelihood is defined on: binarised, or dequantised (seeded for NumPy x)."""
        if self.config["likelihood"] == "bernoulli":
            return pixels.binarize(x, seed)
        return pixels.dequantize(x, self.levels, seed)

    def to_data_space(self, mean):
        """Decoder means as images in [0, 1]: Bernoulli means are pixel intensities already; Gaussian
        ones live in the dequantised space, read back at the centre of each pixel's bin."""
        if self.config["likelihood"] == "bernoulli":
            return mean
        return mg.clip(pixels.from_bin_centre(mean, self.levels), 0.0, 1.0)

    def train_step(self, batch, step):
        x, y = batch
        self.model.train()
        terms = self.model.elbo(self.to_model_space(x), self.labels(y), beta=self.config["beta"])
        loss = -terms["elbo"].mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "recon": -terms["log_px_z"].mean().item(), "kl": terms["kl"].mean().item()}

    def sample(self, n, label=None, steps=None):
        self.model.eval()
        with mg.no_grad():
            return self.to_data_space(self.model.sample(n, self.sample_labels(n, label))).numpy()

    def reconstruct(self, x, y=None):
        """Decoder means at z = mu(x), in data space, for NumPy images x."""
        self.model.eval()
        with mg.no_grad():
            xt = mg.tensor(x, device=self.device)
            yt = self.labels(None if y is None else mg.tensor(y, device=self.device))
            return self.to_data_space(self.model.decode(self.model.encode(xt, yt).mean, yt).mean).numpy()

    def evaluate(self, x, y=None, batch_size=100):
        """-ELBO and -IWAE_k (k = eval_k) per image on the fixed binarised/dequantised split, in nats and
        bits/dim; for Gaussians the D log L of the dequantisation is added. Also the reconstruction MSE."""
        self.model.eval()
        x_obs = self.to_model_space(x, seed=0)
        dims = math.prod(self.info.shape)
        offset = dims * math.log(self.levels) if self.config["likelihood"] == "gaussian" else 0.0
        k = self.config["eval_k"]
        neg_elbo = neg_iwae = squared = 0.0
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                xb = mg.tensor(x_obs[i:i + batch_size], device=self.device)
                yb = self.labels(None if y is None else mg.tensor(y[i:i + batch_size], device=self.device))
                neg_elbo -= self.model.elbo(xb, yb)["elbo"].sum().item()
                neg_iwae -= self.model.iwae(xb, yb, k).sum().item()
                x_hat = self.reconstruct(x[i:i + batch_size], None if y is None else y[i:i + batch_size])
                squared += float(((x_hat - x[i:i + batch_size]) ** 2).mean()) * len(xb)
        n = len(x)
        nll, elbo = neg_iwae / n + offset, neg_elbo / n + offset
        return {"nll_nats": nll, "nll_bits_per_dim": bits_per_dim(nll, dims), "iwae_k": k,
                "neg_elbo_nats": elbo, "neg_elbo_bits_per_dim": bits_per_dim(elbo, dims),
                "recon_mse": squared / n, "likelihood": self.config["likelihood"]}

    def save_figure(self, path, x, y=None):
        """samples.png as usual, and samples-reconstructions.png beside it."""
        drawn = super().save_figure(path, x, y)
        stem = path[:-4] if path.endswith(".png") else path
        recon = self.reconstruct(x[:32], None if y is None else y[:32])
        reconstruction_grid(stem + "-reconstructions.png", x[:32], recon, self.name)
        return drawn

    # ----------------------------------------------------------------------------- for the harnesses
    @classmethod
    def anomaly_score_names(cls):
        return () if cls.conditional else (cls.name,)

    def anomaly_scores(self, x, seed=0, batch_size=500, iwae_k=16):
        """-IWAE_k in nats (k = ``iwae_k``), -log (1/k) sum_i p(x_b|z_i) p(z_i) / q(z_i|x_b), with
        z_i ~ q(z|x_b), on the image as the likelihood sees it (x_b: binarised, or dequantised with the
        D log L of ``evaluate`` added; each batch's draw from ``seed``): a bound on -log p(x_b), tighter
        than -ELBO (= -IWAE_1)."""
        if self.conditional:
            return super().anomaly_scores(x, seed, batch_size)
        self.model.eval()
        offset = math.prod(self.info.shape) * math.log(self.levels) if self.config["likelihood"] == "gaussian" else 0.0
        parts = []
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                x_b = mg.tensor(self.to_model_space(x[i:i + batch_size], seed + i), device=self.device)
                parts.append(offset - self.model.iwae(x_b, k=iwae_k))
        return {self.name: mg.concatenate(parts).numpy().astype("float64")}

    def restoration_prior(self):
        """g(z) = E[x | z], the decoder's mean in data space; the solver starts at the encoder's mean
        of the lifted observation A^+ y."""
        model = self.model
        model.eval()
        return LatentGenerator(g=lambda z: self.to_data_space(model.decode(z).mean),
                               latent_shape=(model.latent_dim,), encode=lambda x: model.encode(x).mean)
