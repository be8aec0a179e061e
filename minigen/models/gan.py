r"""Generative adversarial network (Goodfellow et al., 2014), with MLP generator and discriminator.

The minimax game between a generator G(z), z ~ p(z) = N(0, I), and a discriminator D(x) in (0, 1),
the probability that x is real (paper, eq. 1):

    min_G max_D  V(D, G) = E_{x ~ p_data}[log D(x)] + E_{z ~ p(z)}[log(1 - D(G(z)))]

D is a network that outputs a logit l(x), D(x) = sigmoid(l(x)), and every log is taken from the logit
in a form that cannot overflow or take log(0):

    log D(x)     = log sigmoid(l)  = -softplus(-l)
    log(1 - D(x)) = log sigmoid(-l) = -softplus(l)          softplus(a) = log(1 + e^a)

Discriminator loss (maximising V over D is minimising its negative, a binary cross-entropy with real
labelled 1 and fake 0):

    L_D = E[softplus(-l(x))] + E[softplus(l(G(z)))]                      discriminator_loss

Generator loss. The paper's minimax form minimises E[log(1 - D(G(z)))] = -E[softplus(l(G(z)))]:

    L_G^minimax = -E[softplus(l(G(z)))]                                   minimax_generator_loss

Its gradient with respect to the logit is -sigmoid(l), which vanishes when D confidently rejects
the fakes (l -> -inf), exactly the situation at the start of training. The paper's remedy, the
non-saturating loss, maximises log D(G(z)) instead; same fixed point, but the gradient
1 - sigmoid(l) is largest when the generator is doing worst:

    L_G^non-saturating = -E[log D(G(z))] = E[softplus(-l(G(z)))]          nonsaturating_generator_loss

For a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and then
V(D*, G) = -log 4 + 2 JS(p_data || p_G): the minimax game minimises the Jensen-Shannon divergence.
docs/gan.md derives both lines.

    minigen train gan --dataset 8gaussians
    minigen eval runs/gan-8gaussians            # modes captured, high-quality share
"""
import math

import minigen as mg
from minigen import nn
from minigen.nn import functional as F
from minigen.training import register

from .adversarial import AdversarialRecipe, check_data, check_latent

GENERATOR_LOSSES = ("nonsaturating", "minimax")


# ------------------------------------------------------------------------------------ the losses
def discriminator_loss(real_logits, fake_logits):
    """L_D = -(E[log D(x)] + E[log(1 - D(G(z)))]) = E[softplus(-l_real)] + E[softplus(l_fake)]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits):
    """The paper's L_G = E[log(1 - D(G(z)))] = -E[softplus(l_fake)]; saturates when D wins."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits):
    """L_G = -E[log D(G(z))] = E[softplus(-l_fake)]; strong gradients when D wins (the default)."""
    return F.softplus(-fake_logits).mean()


# ------------------------------------------------------------------------------------ the networks
class MLPGenerator(nn.Module):
    """x = G(z): an MLP from R^latent_dim to data of shape ``data_shape``.

    ``depth`` hidden layers of ``hidden`` ReLU units; a tanh output for images (data in [-1, 1]),
    a linear one for 2-D points.
    """

    def __init__(self, latent_dim, data_shape, hidden=256, depth=3, image=False):
        super().__init__()
        self.latent_dim, self.data_shape = int(latent_dim), tuple(data_shape)
        layers, width = [], self.latent_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, math.prod(self.data_shape)))
        if image:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        check_latent("MLPGenerator", z, self.latent_dim)
        return self.net(z).reshape(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    """l(x): an MLP from data of shape ``data_shape`` to one logit (or critic score) per sample, (N,).

    Leaky ReLU (slope 0.2) keeps a gradient flowing back to the generator for every input.
    """

    def __init__(self, data_shape, hidden=256, depth=3):
        super().__init__()
        self.data_shape = tuple(data_shape)
        layers, width = [nn.Flatten()], math.prod(self.data_shape)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def features(self, x):
        """The last hidden layer's activations, (N, hidden)."""
        check_data("MLPDiscriminator", x, self.data_shape)
        return self.net[:-1](x)

    def forward(self, x):
        check_data("MLPDiscriminator", x, self.data_shape)
        return self.net(x).reshape(x.shape[0])


# ------------------------------------------------------------------------------------ the recipe
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


@register("gan")
class GANRecipe(LogisticGameRecipe):
    """MLP generator and discriminator, for 2-D points or (flattened) images."""

    # lr 1e-3 with betas (0.5, 0.9): measured on 8gaussians/25gaussians (docs/gan.md); DCGAN's 2e-4
    # learns the 2-D sets several times more slowly
    default_config = {"latent_dim": 16, "hidden": 128, "depth": 3, "generator_loss": "nonsaturating",
                      "lr": 1e-3, "betas": [0.5, 0.9], "n_critic": 1, "batch_size": 256, "epochs": 40}

    def build(self, config, info):
        image = info.kind == "image"
        return (MLPGenerator(config["latent_dim"], info.shape, config["hidden"], config["depth"], image),
                MLPDiscriminator(info.shape, config["hidden"], config["depth"]))

    def features(self, x):
        """The discriminator's penultimate features of NumPy data x, (N, hidden): learnt without labels."""
        return discriminator_features(self, x)


def discriminator_features(recipe, x):
    """recipe.discriminator.features of NumPy data x (eval mode, no graph), flattened to (N, F)."""
    recipe.discriminator.eval()
    with mg.no_grad():
        h = recipe.discriminator.features(mg.tensor(recipe.to_model(x), device=recipe.device))
    return h.reshape(len(x), -1).numpy()
