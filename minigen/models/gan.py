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

    L_D = E[softplus(-l(x))] + E[softplus(l(G(z)))]                      adversarial.discriminator_loss

Generator loss. The paper's minimax form minimises E[log(1 - D(G(z)))] = -E[softplus(l(G(z)))]:

    L_G^minimax = -E[softplus(l(G(z)))]                                   adversarial.minimax_generator_loss

Its gradient with respect to the logit is -sigmoid(l), which vanishes when D confidently rejects
the fakes (l -> -inf), exactly the situation at the start of training. The paper's remedy, the
non-saturating loss, maximises log D(G(z)) instead; same fixed point, but the gradient
1 - sigmoid(l) is largest when the generator is doing worst:

    L_G^non-saturating = -E[log D(G(z))] = E[softplus(-l(G(z)))]          adversarial.nonsaturating_generator_loss

For a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and then
V(D*, G) = -log 4 + 2 JS(p_data || p_G): the minimax game minimises the Jensen-Shannon divergence.
docs/gan.md derives both lines.

    minigen train gan --dataset 8gaussians
    minigen eval runs/gan-8gaussians            # modes captured, high-quality share
"""
import math

from minigen import nn
from minigen.recipe import register

from .adversarial import LogisticGameRecipe
from .checks import check_batch, check_latent


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
        check_batch("MLPDiscriminator", x, self.data_shape)
        return self.net[:-1](x)

    def forward(self, x):
        check_batch("MLPDiscriminator", x, self.data_shape)
        return self.net(x).reshape(x.shape[0])


# ------------------------------------------------------------------------------------ the recipe
@register("gan")
class GANRecipe(LogisticGameRecipe):
    """MLP generator and discriminator, for 2-D points or (flattened) images."""

    # lr 1e-3 with betas (0.5, 0.9): measured on 8gaussians/25gaussians (docs/gan.md); DCGAN's 2e-4
    # learns the 2-D sets several times more slowly
    default_config = {"latent_dim": 16, "hidden": 128, "depth": 3, "generator_loss": "nonsaturating",
                      "lr": 1e-3, "betas": [0.5, 0.9], "n_critic": 1, "batch_size": 256, "epochs": 40}
    option_help = {"latent_dim": "size of z", "hidden": "width of the MLPs",
                   "depth": "hidden layers of each MLP", "generator_loss": "nonsaturating or minimax",
                   "betas": "Adam's (beta1, beta2)", "n_critic": "discriminator steps per generator step"}

    def build(self, config, info):
        image = info.kind == "image"
        return (MLPGenerator(config["latent_dim"], info.shape, config["hidden"], config["depth"], image),
                MLPDiscriminator(info.shape, config["hidden"], config["depth"]))
