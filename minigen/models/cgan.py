r"""Conditional GAN (Mirza and Osindero, 2014) with a projection discriminator (Miyato and Koyama, 2018).

Both players see the class label y. The game of gan.py becomes

    min_G max_D  E_{(x, y) ~ p_data}[log D(x, y)] + E_{z ~ p(z), y ~ p(y)}[log(1 - D(G(z, y), y))]

Generator: the label's learned embedding e_y is concatenated to the noise, G(z, y) = G([z, e_y]),
with the DCGAN generator of dcgan.py on top.

Projection discriminator: with phi(x) the DCGAN discriminator's features and psi its last layer,

    l(x, y) = psi(phi(x)) + <v_y, phi(x)>                    v_y: a learned vector per class

The inner product is what ties the score to the label: it is the log-ratio term of the optimal
discriminator, log p_data(y | x) / p_G(y | x), for a log-linear class model (Miyato and Koyama).

Matching-aware term (Reed et al., 2016): a real image paired with a wrong label y' != y is also
shown to D as fake, so D learns to reject mismatched pairs and not only unrealistic images:

    L_D = E[softplus(-l(x, y))] + 1/2 E[softplus(l(G(z, y), y))] + 1/2 E[softplus(l(x, y'))]

The generator loss is the non-saturating one of gan.py, -E[log D(G(z, y), y)].

    minigen train cgan --dataset digits
    minigen sample runs/cgan-digits --n 16 --label 3
"""
import minigen as mg
from minigen import nn
from minigen.nn import functional as F
from minigen.recipe import register

from .adversarial import LogisticGameRecipe
from .checks import check_labels
from .classifier import reference_classifier
from .dcgan import ConvCritic, DCGANGenerator, image_shape_problem


class ConditionalGenerator(nn.Module):
    """x = G(z, y) = DCGANGenerator([z, e_y]), e_y a learned ``embed_dim``-vector per class."""

    def __init__(self, latent_dim, num_classes, image_shape, width=32, embed_dim=16):
        super().__init__()
        self.latent_dim, self.num_classes = int(latent_dim), int(num_classes)
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = DCGANGenerator(self.latent_dim + embed_dim, image_shape, width)

    def forward(self, z, y):
        check_labels("ConditionalGenerator", y, self.num_classes, z.shape[0])
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"ConditionalGenerator: expected a latent z of shape (N, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        return self.net(mg.concatenate([z, self.embed(y)], axis=1))


class ProjectionDiscriminator(nn.Module):
    """l(x, y) = psi(phi(x)) + <v_y, phi(x)>, phi and psi from the DCGAN discriminator."""

    def __init__(self, num_classes, image_shape, width=32):
        super().__init__()
        self.num_classes = int(num_classes)
        self.critic = ConvCritic(image_shape, width, batch_norm=True)
        channels, side = 2 * width, image_shape[1] // 4
        self.embed = nn.Embedding(num_classes, channels * side * side)
        nn.init.normal_(self.embed.weight, std=0.02)       # start near the unconditional critic

    def features(self, x):
        """phi(x): the DCGAN discriminator's features, without the label."""
        return self.critic.features(x)

    def forward(self, x, y):
        check_labels("ProjectionDiscriminator", y, self.num_classes, x.shape[0])
        phi = self.critic.features(x)
        unconditional = self.critic.head(phi).reshape(x.shape[0])
        projection = (self.embed(y) * phi.flatten(1)).sum(axis=1)
        return unconditional + projection


@register("cgan")
class CGANRecipe(LogisticGameRecipe):
    default_config = {"latent_dim": 64, "width": 32, "embed_dim": 16, "generator_loss": "nonsaturating",
                      "lr": 2e-4, "betas": [0.5, 0.999], "n_critic": 1, "batch_size": 64, "epochs": 30}
    option_help = {"latent_dim": "size of z", "width": "base channel count w of both networks",
                   "embed_dim": "size of the generator's label embedding",
                   "generator_loss": "nonsaturating or minimax", "betas": "Adam's (beta1, beta2)",
                   "n_critic": "discriminator steps per generator step"}
    conditional = True

    @classmethod
    def supports(cls, info):
        return info.kind == "image" and bool(info.num_classes) and image_shape_problem(info.shape) is None

    @classmethod
    def requirement(cls):
        return "labelled square images whose side is a multiple of 4 (digits, mnist-5k, mnist)"

    def build(self, config, info):
        return (ConditionalGenerator(config["latent_dim"], info.num_classes, info.shape, config["width"],
                                     config["embed_dim"]),
                ProjectionDiscriminator(info.num_classes, info.shape, config["width"]))

    def discriminator_loss(self, real_logits, fake_logits, x_real, x_fake, y):
        # y' = y + k mod K with k uniform in 1..K-1: a label that is surely wrong
        k = self.info.num_classes
        shift = mg.randint(1, k, size=y.shape, device=self.device)
        wrong = mg.tensor((y.data + shift.data) % k)          # labels are constants: raw array arithmetic
        mismatched_logits = self.D(x_real, wrong)
        loss = (F.softplus(-real_logits).mean() + 0.5 * F.softplus(fake_logits).mean()
                + 0.5 * F.softplus(mismatched_logits).mean())
        return loss, {"d_wrong_label": F.sigmoid(mismatched_logits).mean().item()}

    def evaluate(self, x, y=None):
        metrics = super().evaluate(x, y)
        metrics["label_accuracy"] = label_accuracy(self, reference_classifier(self.info.name, self.device))
        return metrics


# ------------------------------------------------------------------------------------ label accuracy
def label_accuracy(recipe, classify, per_class=100, seed=0):
    """The share of samples drawn with ``label=k`` that ``classify`` puts in class k (chance: 1/K)."""
    correct = 0
    for k in range(recipe.info.num_classes):
        mg.manual_seed(seed + k)
        correct += int((classify(recipe.sample(per_class, label=k)) == k).sum())
    return correct / (per_class * recipe.info.num_classes)
