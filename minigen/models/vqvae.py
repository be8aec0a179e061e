"""VQ-VAE (van den Oord et al., 2017): an autoencoder whose latents are entries of a learned codebook.

    z_e = E(x)                       (N, D, h, w): one D-vector per position of a coarse grid
    k   = argmin_j ||z_e - e_j||^2   nearest of the K codebook vectors e_1..e_K, at every position
    z_q = e_k                        the quantized latent, decoded to x_hat = sigmoid(G(z_q))

argmin has no gradient; the straight-through estimator copies the decoder's gradient onto z_e:

    z_q_st = z_e + sg[z_q - z_e]     forward: z_q;  backward: d z_q_st / d z_e = I       (straight_through)

and the codebook is pulled towards the encoder outputs, the encoder held close to its codes:

    L = -log p(x | z_q)  +  ||sg[z_e] - e_k||^2  +  beta ||z_e - sg[e_k]||^2            (VQVAE.loss)
        reconstruction       codebook loss           commitment loss, beta = 0.25

each term a mean over elements. The reconstruction term is the cross-entropy of a Bernoulli decoder,
x log x_hat + (1 - x) log(1 - x_hat) from the logits, rather than the squared error ||x - x_hat||^2 of a
Gaussian one: on MNIST the mostly black images drive the logits into the flat tail of the sigmoid,
where the squared error's gradient vanishes and training stalls at the blank image. The squared
error is still what ``eval`` reports (``recon_mse``). With ``ema=True`` the codebook is not trained by its
loss but set to running averages of the vectors assigned to each code (decay gamma = 0.99):

    N_k <- gamma N_k + (1 - gamma) n_k,   m_k <- gamma m_k + (1 - gamma) sum_{i: k_i = k} z_e,i,
    e_k  = m_k / N_k                                                              (VectorQuantizer._ema_update)

A code that is almost never chosen (its running usage below ``dead_usage`` vectors per batch) is
restarted at a random encoder output of the batch, so the whole codebook stays in use.
``minigen eval`` reports the reconstruction error and the codebook perplexity exp(H(p_k)) on the
test split. ``sample`` draws each position's code independently from its usage frequency during
training (a factorised prior, enough to show why VQ-VAE-2 learns an autoregressive one).

    minigen train vqvae --dataset digits
    minigen train vqvae --dataset mnist-5k --ema true
"""
import minigen as mg
from minigen import nn, optim
from minigen.distributions import Categorical
from minigen.metrics.codes import codebook_perplexity
from minigen.nn import functional as F
from minigen.recipe import Recipe, register

from .checks import check_batch, check_image_shape
from .encoders import conv_down, conv_up, reconstruction_grid, spatial_factor


def code_usage(codes, num_codes):
    """How many times each of the num_codes codes occurs in the integer tensor ``codes``: (K,)."""
    return F.one_hot(codes.reshape(-1), num_codes).sum(axis=0)


def straight_through(z_e, z_q):
    """z_e + sg[z_q - z_e]: the value of z_q, the gradient of z_e."""
    return z_e + (z_q - z_e).detach()


class VectorQuantizer(nn.Module):
    """Nearest-neighbour lookup of (N, D, h, w) vectors in a codebook of K vectors of size D."""

    def __init__(self, num_codes, code_dim, beta=0.25, ema=False, decay=0.99, restart_dead=True,
                 dead_usage=0.1, eps=1e-5):
        super().__init__()
        if num_codes < 1 or code_dim < 1:
            raise ValueError(f"VectorQuantizer: num_codes and code_dim must be >= 1, got {num_codes}, {code_dim}")
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.ema, self.decay, self.restart_dead, self.dead_usage, self.eps = ema, decay, restart_dead, dead_usage, eps
        codebook = mg.rand(num_codes, code_dim) * (2.0 / num_codes) - 1.0 / num_codes   # U(-1/K, 1/K)
        if ema:
            self.register_buffer("codebook", codebook)
            self.register_buffer("cluster_size", mg.ones(num_codes))           # N_k
            self.register_buffer("code_sum", codebook.detach() * 1.0)          # m_k = e_k N_k
        else:
            self.codebook = nn.Parameter(codebook.data)
        # running count of vectors per batch, for dead codes; starting at 0 makes the first batch restart
        # (that is, initialise from encoder outputs) every code it does not use much
        self.register_buffer("usage", mg.zeros(num_codes))

    def nearest(self, z_flat):
        """argmin_k ||z - e_k||^2 for every row of z_flat (M, D), as ||z||^2 - 2 z.e_k + ||e_k||^2."""
        with mg.no_grad():
            e = self.codebook
            distances = (z_flat * z_flat).sum(axis=1, keepdims=True) - 2 * (z_flat @ e.T) \
                + (e * e).sum(axis=1)
            return distances.argmin(axis=1)

    def lookup(self, codes):
        """The code vectors of integer codes (N, h, w) as a (N, D, h, w) map."""
        return F.embedding(codes, self.codebook).transpose(0, 3, 1, 2)

    def forward(self, z_e):
        """(z_q with the straight-through gradient, codes (N, h, w), codebook loss, commitment loss)."""
        if z_e.ndim != 4 or z_e.shape[1] != self.code_dim:
            raise ValueError(f"VectorQuantizer: expected (N, {self.code_dim}, h, w), got {tuple(z_e.shape)}")
        n, d, h, w = z_e.shape
        z_flat = z_e.transpose(0, 2, 3, 1).reshape(-1, d)
        codes = self.nearest(z_flat)
        if self.training:
            self._update(z_flat.detach(), codes)
            codes = self.nearest(z_flat)          # the codebook may have moved
        codes = codes.reshape(n, h, w)
        z_q = self.lookup(codes)
        codebook_loss = F.mse_loss(z_q, z_e.detach())          # ||sg[z_e] - e||^2
        commitment_loss = F.mse_loss(z_e, z_q.detach())        # ||z_e - sg[e]||^2
        return straight_through(z_e, z_q), codes, codebook_loss, commitment_loss

    def vq_loss(self, codebook_loss, commitment_loss):
        """codebook + beta commitment; with EMA the codebook has no loss (it is not a parameter)."""
        return (0.0 if self.ema else codebook_loss) + self.beta * commitment_loss

    def _update(self, z_flat, codes):
        with mg.no_grad():
            one_hot = F.one_hot(codes, self.num_codes, dtype=z_flat.dtype)      # (M, K)
            counts = one_hot.sum(axis=0)
            self.usage.data = (self.decay * self.usage + (1 - self.decay) * counts).data
            if self.ema:
                self._ema_update(one_hot, counts, z_flat)
            if self.restart_dead:
                self._restart(z_flat)

    def _ema_update(self, one_hot, counts, z_flat):
        gamma = self.decay
        self.cluster_size.data = (gamma * self.cluster_size + (1 - gamma) * counts).data
        self.code_sum.data = (gamma * self.code_sum + (1 - gamma) * (one_hot.T @ z_flat)).data
        # Laplace smoothing keeps N_k > 0 for codes not chosen lately
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.data = (self.code_sum / smoothed.reshape(-1, 1)).data

    def _restart(self, z_flat):
        dead = self.usage.data < self.dead_usage
        if not dead.any():
            return
        picks = mg.randint(0, z_flat.shape[0], size=(self.num_codes,), device=z_flat.device)
        fresh = z_flat[picks.data]
        self.codebook.data = mg.where(dead[:, None], fresh, self.codebook.detach()).data
        self.usage.data = mg.where(dead, mg.ones_like(self.usage), self.usage).data
        if self.ema:
            self.cluster_size.data = mg.where(dead, mg.ones_like(self.cluster_size), self.cluster_size).data
            self.code_sum.data = mg.where(dead[:, None], fresh, self.code_sum).data


class VQVAE(nn.Module):
    """Conv encoder -> VectorQuantizer -> conv decoder, latents on an (H/f, W/f) grid (f = 2 or 4)."""

    def __init__(self, image_shape, num_codes=64, code_dim=16, hidden=64, beta=0.25, ema=False,
                 decay=0.99, restart_dead=True):
        super().__init__()
        self.image_shape = check_image_shape("VQVAE", image_shape)
        c, h, w = self.image_shape
        factor = spatial_factor(h)
        self.latent_shape = (h // factor, w // factor)
        self.encoder = conv_down(c, hidden, code_dim, factor)
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta, ema, decay, restart_dead)
        self.decoder = conv_up(code_dim, hidden, c, factor)
        # how often each code was used at each position: the factorised prior of ``sample``
        self.register_buffer("position_usage", mg.ones(*self.latent_shape, num_codes))

    def encode(self, x):
        """Integer codes (N, h, w) of images x."""
        check_batch("VQVAE", x, self.image_shape, "images")
        return self.quantizer(self.encoder(x))[1]

    def decode(self, codes):
        """Images in [0, 1] from integer codes (N, h, w)."""
        return mg.sigmoid(self.decoder(self.quantizer.lookup(codes)))

    def loss(self, x):
        """L = cross-entropy + codebook + beta commitment; its parts (``recon``: the squared error); the codes."""
        check_batch("VQVAE", x, self.image_shape, "images")
        z_q, codes, codebook_loss, commitment_loss = self.quantizer(self.encoder(x))
        logits = self.decoder(z_q)
        total = (F.binary_cross_entropy_with_logits(logits, x)
                 + self.quantizer.vq_loss(codebook_loss, commitment_loss))
        with mg.no_grad():
            recon = F.mse_loss(mg.sigmoid(logits), x)    # the squared error that eval reports
        if self.training:
            with mg.no_grad():
                counts = F.one_hot(codes, self.quantizer.num_codes).sum(axis=0)
                self.position_usage.data = (0.99 * self.position_usage + 0.01 * counts).data
        return {"loss": total, "recon": recon, "codebook": codebook_loss, "commitment": commitment_loss,
                "codes": codes}

    def sample(self, n):
        """Each position's code drawn independently from its usage frequency, then decoded."""
        logits = mg.log(self.position_usage + 1e-6)
        codes = Categorical(logits=mg.broadcast_to(logits, (n,) + tuple(logits.shape))).sample()
        return self.decode(codes)


def reconstruction_metrics(model, x, device, batch_size=500):
    """Mean squared error of the reconstructions and the code counts over the images x (NumPy)."""
    model.eval()
    squared, counts = 0.0, 0.0
    with mg.no_grad():
        for i in range(0, len(x), batch_size):
            xb = mg.tensor(x[i:i + batch_size], device=device)
            out = model.loss(xb)
            squared += out["recon"].item() * len(xb)
            counts = counts + code_usage(out["codes"], model.quantizer.num_codes)
    return squared / len(x), counts


@register("vqvae")
class VQVAERecipe(Recipe):
    """Trains a VQ-VAE with Adam; evaluates reconstruction error and codebook perplexity."""

    default_config = {"num_codes": 64, "code_dim": 16, "hidden": 64, "beta": 0.25, "ema": False,
                      "decay": 0.99, "restart_dead": True, "lr": 1e-3, "batch_size": 64, "epochs": 40}
    option_help = {"num_codes": "codebook size K", "code_dim": "size of a code vector",
                   "hidden": "channels of the conv stacks", "beta": "weight of the commitment loss",
                   "ema": "codebook by moving averages instead of its loss",
                   "decay": "EMA decay of the codebook",
                   "restart_dead": "restart codes that are (almost) never used"}

    data_kinds = ("image",)

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.model = VQVAE(info.shape, config["num_codes"], config["code_dim"], config["hidden"],
                           config["beta"], config["ema"], config["decay"], config["restart_dead"]).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def train_step(self, batch, step):
        x, _ = batch
        self.model.train()
        out = self.model.loss(x)
        self.optimizer.zero_grad()
        out["loss"].backward()
        self.optimizer.step()
        counts = code_usage(out["codes"], self.model.quantizer.num_codes)
        return {"loss": out["loss"].item(), "recon": out["recon"].item(),
                "commitment": out["commitment"].item(), "perplexity": codebook_perplexity(counts)}

    def sample(self, n, label=None, steps=None):
        self.sample_labels(n, label)                 # refuses a label: the VQ-VAE is unconditional
        self.model.eval()
        with mg.no_grad():
            return self.model.sample(n).numpy()

    def features(self, x, summary="embeddings"):
        """A representation of NumPy images x for a linear probe: "embeddings", the quantized latents
        z_q = e_k flattened, (N, D h w), which keep where each code sits; or "histogram", how often each
        of the K codes occurs over the h w positions, (N, K), a bag of codes that forgets where."""
        if summary not in ("embeddings", "histogram"):
            raise ValueError(f"features: summary must be 'embeddings' or 'histogram', got {summary!r}")
        self.model.eval()
        with mg.no_grad():
            codes = self.model.encode(mg.tensor(x, device=self.device))
            if summary == "histogram":
                z = F.one_hot(codes.reshape(len(x), -1), self.model.quantizer.num_codes).sum(axis=1)
            else:
                z = self.model.quantizer.lookup(codes)
        return z.reshape(len(x), -1).astype("float32").numpy()

    def evaluate(self, x, y=None):
        mse, counts = reconstruction_metrics(self.model, x, self.device)
        return {"recon_mse": mse, "codebook_perplexity": codebook_perplexity(counts),
                "codes_used": int((counts.data > 0).sum()), "num_codes": self.model.quantizer.num_codes}

    def save_figure(self, path, x, y=None):
        self.model.eval()
        with mg.no_grad():
            x_hat = self.model.decode(self.model.encode(mg.tensor(x[:32], device=self.device)))
        reconstruction_grid(path, x[:32], x_hat, "vqvae")
        return True
