"""Conditional VAE (Sohn et al., 2015): the VAE of vae.py with the label y given to both networks.

    q(z | x, y) = N(mu(x, y), diag sigma^2(x, y))        encoder sees [features(x), one_hot(y)]
    p(x | z, y)                                         decoder sees [z, one_hot(y)]
    ELBO(x | y) = E_q[log p(x|z, y)] - KL(q(z|x, y) || N(0, I))  <=  log p(x | y)

Because the label is handed to the decoder, z only has to carry what the label does not say (slant,
thickness, style); sampling z ~ N(0, I) with a chosen y draws that class:

    minigen train cvae --dataset digits
    minigen sample runs/cvae-digits --n 16 --label 3
"""
from minigen.recipe import register

from .vae import VAE, VAERecipe


class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder are both conditioned on a class label in [0, num_classes)."""

    def __init__(self, image_shape, num_classes, latent_dim=16, arch="mlp", hidden=256, likelihood="bernoulli"):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"ConditionalVAE: num_classes must be a positive integer, got {num_classes!r}")
        super().__init__(image_shape, latent_dim, arch, hidden, likelihood, num_classes=num_classes)


@register("cvae")
class ConditionalVAERecipe(VAERecipe):
    """The VAE recipe with labels: training, evaluation and sampling all take y."""

    conditional = True
    needs_labels = True

    def build(self, config, info):
        return ConditionalVAE(info.shape, info.num_classes, config["latent_dim"], config["arch"],
                              config["hidden"], config["likelihood"])

    def labels(self, y):
        if y is None:
            raise ValueError("cvae: the conditional VAE needs the labels of the images")
        return y
