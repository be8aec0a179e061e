"""What every adversarial model shares: the alternating game loop, sampling and evaluation.

A generator G maps noise z ~ p(z) = N(0, I) to data, a discriminator (or critic) D scores data. The
two are trained in turn, each against the other held fixed:

    for each training step (one batch of real data x):
        z ~ N(0, I),  x_fake = G(z)                        G is fixed: no gradient flows into it
        D  <- D - lr * grad_D  L_D(D(x), D(x_fake))        the discriminator (critic) step
        every n_critic steps:
            z ~ N(0, I)
            G  <- G - lr * grad_G  L_G(D(G(z)))           the generator step, through the fixed D

The families differ only in the two losses L_D and L_G (``discriminator_loss`` and
``generator_loss``) and in the networks (MLPs in gan.py, convolutions in dcgan.py, label-aware ones in
cgan.py). The original game's losses (gan.py derives them) are shared by gan, dcgan and cgan, so they
live here with ``LogisticGameRecipe``; wgan_gp.py has the Wasserstein ones:

    L_D = E[softplus(-l(x))] + E[softplus(l(G(z)))]        (discriminator_loss; D(x) = sigmoid(l(x)))
    L_G = E[softplus(-l(G(z)))]                            (nonsaturating_generator_loss, the default)
    L_G = -E[softplus(l(G(z)))]                            (minimax_generator_loss, the paper's eq. 1)

Images live in [0, 1] in data space and in [-1, 1] for the networks (a tanh generator output, as the
DCGAN paper does): x_model = 2 x - 1 (``image_space``, minigen.data.pixels); 2-D points as they are.

Evaluation (``minigen eval``): the mean discriminator score of held-out real data and of generated
data (d_real, d_fake; critic_real, critic_fake for a critic); on 2-D data the energy distance between
2,000 samples and 2,000 held-out points (minigen.metrics.distances; 0 for a perfect model), and on the
Gaussian mixtures (8gaussians, 25gaussians) the mode-collapse metrics of minigen.metrics.modes (modes
captured out of num_modes, share of high-quality samples).
"""
import minigen as mg
from minigen import optim
from minigen.data import toy2d
from minigen.metrics import modes
from minigen.metrics.distances import energy_distance
from minigen.nn import functional as F
from minigen.recipe import Recipe
from minigen.restore import LatentGenerator

EVAL_SAMPLES = 10_000       # generated points behind the mode metrics (see minigen.metrics.modes)
GENERATOR_LOSSES = ("nonsaturating", "minimax")


class AdversarialRecipe(Recipe):
    """The alternating loop above. A subclass provides ``build`` (the two networks) and the losses.

    Config keys every adversarial family reads: ``latent_dim``, ``lr``, ``betas`` (Adam's, shared by
    both players), ``n_critic`` (discriminator steps per generator step), ``batch_size``, ``epochs``.
    """

    drop_last = True
    image_space = "symmetric"      # images in [-1, 1] for the networks: x_model = 2 x - 1
    score_name = "d"         # what ``evaluate`` calls the discriminator's output

    # ---------------------------------------------------------------- what a family defines
    def build(self, config, info):
        """-> (generator, discriminator) modules for data of shape ``info.shape``."""
        raise NotImplementedError

    def discriminator_loss(self, real_scores, fake_scores, x_real, x_fake, y):
        """-> (loss to minimise over D, dict of extra float metrics)."""
        raise NotImplementedError

    def generator_loss(self, fake_scores):
        """-> loss to minimise over G."""
        raise NotImplementedError

    def score_mean(self, scores):
        """The number logged as d_real / d_fake: a probability for a discriminator, a raw critic score
        for a critic."""
        raise NotImplementedError

    # ---------------------------------------------------------------- construction
    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        for key in ("latent_dim", "n_critic", "hidden", "depth", "width", "embed_dim"):
            if key in config and config[key] < 1:
                raise ValueError(f"{key} must be a positive integer, got {config[key]}")
        self.is_image = info.kind == "image"
        generator, discriminator = self.build(config, info)
        self.generator = generator.to(device)
        self.discriminator = discriminator.to(device)
        betas = tuple(config["betas"])
        self.optimizer_g = optim.Adam(self.generator.parameters(), lr=config["lr"], betas=betas)
        self.optimizer_d = optim.Adam(self.discriminator.parameters(), lr=config["lr"], betas=betas)

    # ---------------------------------------------------------------- the two networks, called
    def prior(self, n):
        """z ~ N(0, I), shape (n, latent_dim)."""
        return mg.randn(n, self.config["latent_dim"], device=self.device)

    def G(self, z, y=None):
        return self.generator(z, y) if self.conditional else self.generator(z)

    def D(self, x, y=None):
        return self.discriminator(x, y) if self.conditional else self.discriminator(x)

    # ---------------------------------------------------------------- one step of the game
    def train_step(self, batch, step):
        x_data, y = batch
        x_real = self.to_model_space(x_data)
        n = x_real.shape[0]

        # Discriminator (critic) step: G is held fixed, so its sample is a constant here.
        with mg.no_grad():
            x_fake = self.G(self.prior(n), y)
        real_scores, fake_scores = self.D(x_real, y), self.D(x_fake, y)
        loss_d, extra = self.discriminator_loss(real_scores, fake_scores, x_real, x_fake, y)
        self.optimizer_d.zero_grad()
        loss_d.backward()
        self.optimizer_d.step()

        # Generator step, every n_critic discriminator steps; its gradient flows through the fixed D
        # (D's parameters get gradients too, which the next zero_grad discards).
        if (step + 1) % self.config["n_critic"] == 0:
            loss_g = self.generator_loss(self.D(self.G(self.prior(n), y), y))
            self.optimizer_g.zero_grad()
            loss_g.backward()
            self.optimizer_g.step()

        # Logged every step, all measured on this batch against D before its update, so that each
        # log line is comparable whatever n_critic is.
        with mg.no_grad():
            loss_g_now = self.generator_loss(fake_scores)
        return {"d_loss": loss_d.item(), "g_loss": loss_g_now.item(),
                "d_real": self.score_mean(real_scores), "d_fake": self.score_mean(fake_scores), **extra}

    # ---------------------------------------------------------------- sampling and evaluation
    def sample(self, n, label=None, steps=None):
        y = self.sample_labels(n, label)
        was_training = self.generator.training
        self.generator.eval()           # batch norm: the running statistics, not this batch's
        with mg.no_grad():
            x = self.to_data_space(self.G(self.prior(n), y))
        self.generator.train(was_training)
        if self.is_image:
            x = mg.clip(x, 0.0, 1.0)
        return x.numpy().astype("float32")

    def scores(self, x, y=None, batch_size=1000):
        """Mean discriminator output (score_mean) over NumPy data ``x`` in data space, in eval mode."""
        was_training = self.discriminator.training
        self.discriminator.eval()
        total = 0.0
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                xb = self.to_model_space(mg.tensor(x[i:i + batch_size], device=self.device))
                yb = None if y is None else mg.tensor(y[i:i + batch_size], device=self.device)
                total += self.score_mean(self.D(xb, yb)) * len(xb)
        self.discriminator.train(was_training)
        return total / len(x)

    def evaluate(self, x, y=None):
        metrics = {}
        if self.conditional:
            labels = y
            fake = self.sample(len(x), label=None)
            fake_labels = mg.arange(len(x)).numpy() % self.info.num_classes
        else:
            labels, fake_labels = None, None
            fake = self.sample(len(x))
        metrics[f"{self.score_name}_real"] = self.scores(x, labels)
        metrics[f"{self.score_name}_fake"] = self.scores(fake, fake_labels)
        if not self.is_image:
            metrics["energy_distance"] = energy_distance(self.sample(2000), x[:2000])
        if self.info.name in ("8gaussians", "25gaussians"):
            centres, std = toy2d.modes(self.info.name)
            metrics.update(modes.mode_metrics(self.sample(EVAL_SAMPLES), centres, std))
        return metrics

    # ---------------------------------------------------------------- what the harnesses ask
    def features(self, x):
        """The discriminator's last hidden features of NumPy data x (eval mode, no graph), flattened to
        (N, F): a representation learnt without labels."""
        self.discriminator.eval()
        with mg.no_grad():
            h = self.discriminator.features(self.to_model_space(mg.tensor(x, device=self.device)))
        return h.reshape(len(x), -1).numpy()

    @classmethod
    def anomaly_score_names(cls):
        return () if cls.conditional else (cls.name,)

    def anomaly_scores(self, x, seed=0, batch_size=500):
        """-l(x), minus the discriminator's logit (critic score): "how fake does x look to D"."""
        if self.conditional:
            return super().anomaly_scores(x, seed, batch_size)
        self.discriminator.eval()
        parts = []
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                logits = self.D(self.to_model_space(mg.tensor(x[i:i + batch_size], device=self.device)))
                parts.append(-logits)
        return {self.name: mg.concatenate(parts).numpy().astype("float64")}

    def restoration_prior(self):
        """g(z) = G(z), mapped from [-1, 1] to [0, 1]; no encoder: the solver starts from prior draws."""
        self.generator.eval()          # batch norm: running statistics, not the batch of latents
        return LatentGenerator(g=lambda z: self.to_data_space(self.G(z)),
                               latent_shape=(self.config["latent_dim"],))


class LogisticGameRecipe(AdversarialRecipe):
    """The original game's losses (shared by gan, dcgan and cgan); ``generator_loss`` config picks
    the non-saturating (default) or the minimax generator loss."""

    def __init__(self, config, info, device):
        if config["generator_loss"] not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, "
                             f"got {config['generator_loss']!r}")
        super().__init__(config, info, device)

    def discriminator_loss(self, real_logits, fake_logits, x_real, x_fake, y):
        return discriminator_loss(real_logits, fake_logits), {}

    def generator_loss(self, fake_logits):
        if self.config["generator_loss"] == "minimax":
            return minimax_generator_loss(fake_logits)
        return nonsaturating_generator_loss(fake_logits)

    def score_mean(self, logits):
        return F.sigmoid(logits).mean().item()           # mean D(x) = mean probability of "real"


# ------------------------------------------------------------------------------------ the logistic losses
def discriminator_loss(real_logits, fake_logits):
    """L_D = -(E[log D(x)] + E[log(1 - D(G(z)))]) = E[softplus(-l_real)] + E[softplus(l_fake)]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits):
    """The paper's L_G = E[log(1 - D(G(z)))] = -E[softplus(l_fake)]; saturates when D wins."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits):
    """L_G = -E[log D(G(z))] = E[softplus(-l_fake)]; strong gradients when D wins (the default)."""
    return F.softplus(-fake_logits).mean()
