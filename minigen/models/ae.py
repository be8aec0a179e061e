"""Autoencoder: a deterministic latent code, trained to reconstruct its input.

    z     = f(x)                        encoder, an MLP or a small CNN (encoders.py)
    x_hat = sigmoid(g(z))               decoder
    L     = -sum_pixels [x log x_hat + (1 - x) log(1 - x_hat)]     (Autoencoder.loss)

the same per-pixel cross-entropy as the Bernoulli decoder of the VAE, but with no noise on z and no
KL term pulling the codes towards N(0, I). Nothing then asks the codes to fill a region: the encoder
scatters the classes wherever it likes, with empty gaps between them, and a point in a gap decodes to
something that is no digit. examples/ae_vs_vae.py draws the two latent spaces side by side.

``sample`` makes that visible: it decodes z ~ N(m, diag s^2), the Gaussian with the mean m and
variance s^2 of the training codes (running averages kept during training), which is the best an AE
offers as a generative model and lands in the gaps often.

    minigen train ae --dataset digits --latent-dim 2
"""
import minigen as mg
from minigen import nn, optim
from minigen.nn import functional as F
from minigen.recipe import Recipe, register

from .checks import check_batch, check_image_shape
from .encoders import ImageDecoder, ImageEncoder, reconstruction_grid


class Autoencoder(nn.Module):
    """x -> z = f(x) (N, latent_dim) -> logits g(z) (N, C, H, W)."""

    def __init__(self, image_shape, latent_dim=16, arch="mlp", hidden=256):
        super().__init__()
        self.image_shape = check_image_shape("Autoencoder", image_shape)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"Autoencoder: latent_dim must be a positive integer, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self.encoder = ImageEncoder(image_shape, latent_dim, arch, hidden)
        self.decoder = ImageDecoder(latent_dim, image_shape, arch, hidden)
        # running mean and variance of the training codes: the Gaussian that ``sample`` decodes from
        self.register_buffer("code_mean", mg.zeros(latent_dim))
        self.register_buffer("code_var", mg.ones(latent_dim))

    def encode(self, x):
        check_batch("Autoencoder", x, self.image_shape, "images")
        return self.encoder(x)

    def decode(self, z):
        """Reconstructions in [0, 1]."""
        return mg.sigmoid(self.decoder(z))

    def loss(self, x, momentum=0.01):
        """Per-pixel cross-entropy summed over the image, mean over the batch."""
        z = self.encode(x)
        if self.training:
            with mg.no_grad():
                self.code_mean.data = ((1 - momentum) * self.code_mean + momentum * z.mean(axis=0)).data
                self.code_var.data = ((1 - momentum) * self.code_var + momentum * z.var(axis=0)).data
        logits = self.decoder(z)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]

    def sample(self, n):
        z = self.code_mean + mg.sqrt(self.code_var) * mg.randn(n, self.latent_dim, device=self.code_mean.device)
        return self.decode(z)


@register("ae")
class AutoencoderRecipe(Recipe):
    """Trains an Autoencoder with Adam; evaluates the reconstruction error."""

    default_config = {"latent_dim": 16, "arch": "mlp", "hidden": 256, "lr": 1e-3, "batch_size": 64, "epochs": 100}
    option_help = {"latent_dim": "size of the code z", "arch": "mlp or conv encoder/decoder",
                   "hidden": "width of the hidden layers"}

    data_kinds = ("image",)

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.model = Autoencoder(info.shape, config["latent_dim"], config["arch"], config["hidden"]).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def train_step(self, batch, step):
        x, _ = batch
        self.model.train()
        loss = self.model.loss(x)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def sample(self, n, label=None, steps=None):
        self.sample_labels(n, label)                 # refuses a label: the autoencoder is unconditional
        self.model.eval()
        with mg.no_grad():
            return self.model.sample(n).numpy()

    def reconstruct(self, x):
        self.model.eval()
        with mg.no_grad():
            return self.model.decode(self.model.encode(mg.tensor(x, device=self.device))).numpy()

    def evaluate(self, x, y=None, batch_size=500):
        """Reconstruction: mean squared error per pixel and cross-entropy per image (nats)."""
        self.model.eval()
        squared = cross_entropy = 0.0
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                xb = mg.tensor(x[i:i + batch_size], device=self.device)
                cross_entropy += self.model.loss(xb).item() * len(xb)
                squared += F.mse_loss(self.model.decode(self.model.encode(xb)), xb).item() * len(xb)
        return {"recon_mse": squared / len(x), "recon_bce_nats": cross_entropy / len(x)}

    def save_figure(self, path, x, y=None):
        """samples.png (decoded from the Gaussian of the codes) and samples-reconstructions.png."""
        drawn = super().save_figure(path, x, y)
        stem = path[:-4] if path.endswith(".png") else path
        reconstruction_grid(stem + "-reconstructions.png", x[:32], self.reconstruct(x[:32]), self.name)
        return drawn

    # ----------------------------------------------------------------------------- for the harnesses
    @classmethod
    def anomaly_score_names(cls):
        return (cls.name,)

    def anomaly_scores(self, x, seed=0, batch_size=500):
        """The squared reconstruction error ||x - g(f(x))||^2 per image."""
        parts = []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            parts.append(mg.tensor(((self.reconstruct(xb) - xb) ** 2).reshape(len(xb), -1).sum(1)))
        return {self.name: mg.concatenate(parts).numpy().astype("float64")}
