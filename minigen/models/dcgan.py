r"""DCGAN (Radford, Metz and Chintala, 2016): the GAN game of gan.py with convolutional networks.

The losses are those of gan.py (non-saturating generator loss by default); what DCGAN adds is an
architecture that trains stably. The paper's guidelines, and where each is followed here:

    - no pooling: the discriminator downsamples with strided convolutions (stride 2), the
      generator upsamples with transposed convolutions (fractionally strided, stride 2);
    - batch normalisation in both networks, except the generator's output layer and the
      discriminator's input layer;
    - no fully connected hidden layers: z is "projected and reshaped" by a transposed convolution
      from 1x1 to s x s, and the discriminator's last layer is one s x s convolution to a logit;
    - ReLU in the generator, tanh at its output (images scaled to [-1, 1]);
    - LeakyReLU (slope 0.2) in the discriminator;
    - Adam with lr = 2e-4 and beta1 = 0.5.

The shapes, for an image of side H = 4 s (s = 2 for 8x8 digits, 7 for 28x28 MNIST, 8 for 32x32) and
base width w:

    generator      z (latent_dim, 1, 1) -> (4w, s, s) -> (2w, 2s, 2s) -> (C, 4s, 4s) = (C, H, H)
    discriminator  x (C, H, H) -> (w, 2s, 2s) -> (2w, s, s) -> logit (1, 1, 1)

Two stride-2 stages fit both the 8x8 and the 28x28 sets; the side must be a multiple of 4.

    minigen train dcgan --dataset digits
    minigen train dcgan --dataset mnist-5k
"""
from minigen import nn
from minigen.recipe import register

from .adversarial import LogisticGameRecipe
from .checks import check_batch, check_latent


def image_shape_problem(shape):
    """None if the networks below take images of ``shape`` (C, H, H) with H a multiple of 4 (>= 8),
    else the reason why not."""
    if len(shape) != 3:
        return f"expected images of shape (C, H, W), got data of shape {tuple(shape)}"
    _, height, width = shape
    if height != width or height % 4 or height < 8:
        return f"expected square images whose side is a multiple of 4 and at least 8, got {height}x{width}"
    return None


def _require_image_shape(network, shape):
    reason = image_shape_problem(shape)
    if reason:
        raise ValueError(f"{network}: {reason}")


class DCGANGenerator(nn.Module):
    """x = G(z): project z to (4w, s, s), then two stride-2 transposed convolutions to (C, 4s, 4s)."""

    def __init__(self, latent_dim, image_shape, width=32):
        super().__init__()
        _require_image_shape("DCGANGenerator", image_shape)
        self.latent_dim, self.image_shape = int(latent_dim), tuple(image_shape)
        channels, side = image_shape[0], image_shape[1] // 4
        self.net = nn.Sequential(
            nn.ConvTranspose2d(self.latent_dim, 4 * width, side), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, channels, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, z):
        check_latent("DCGANGenerator", z, self.latent_dim)
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class ConvCritic(nn.Module):
    """l(x): two stride-2 convolutions to features (2w, s, s), then one s x s convolution to a score.

    ``batch_norm=True`` is DCGAN's discriminator; WGAN-GP's critic leaves it out (its penalty is per
    sample). ``features`` is the (N, 2w s s) vector the conditional GAN's projection uses.
    """

    def __init__(self, image_shape, width=32, batch_norm=True):
        super().__init__()
        _require_image_shape("ConvCritic", image_shape)
        self.image_shape = tuple(image_shape)
        channels, side = image_shape[0], image_shape[1] // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2))
        self.head = nn.Conv2d(2 * width, 1, side)

    def features(self, x):
        check_batch("ConvCritic", x, self.image_shape)
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x)).reshape(x.shape[0])


@register("dcgan")
class DCGANRecipe(LogisticGameRecipe):
    default_config = {"latent_dim": 64, "width": 32, "generator_loss": "nonsaturating",
                      "lr": 2e-4, "betas": [0.5, 0.999], "n_critic": 1, "batch_size": 64, "epochs": 20}
    # mnist-5k: 620 steps (10 epochs of 62 batches) give samples that a digit classifier is 0.875 sure
    # of, every digit present (seed 0, 600 steps); each step costs several digits steps
    dataset_defaults = {"mnist-5k": {"batch_size": 64, "epochs": 10}}
    option_help = {"latent_dim": "size of z", "width": "base channel count w of both networks",
                   "generator_loss": "nonsaturating or minimax", "betas": "Adam's (beta1, beta2)",
                   "n_critic": "discriminator steps per generator step"}

    @classmethod
    def supports(cls, info):
        return info.kind == "image" and image_shape_problem(info.shape) is None

    @classmethod
    def requirement(cls):
        return "square images whose side is a multiple of 4 (8x8 digits, 28x28 MNIST)"

    def build(self, config, info):
        return (DCGANGenerator(config["latent_dim"], info.shape, config["width"]),
                ConvCritic(info.shape, config["width"], batch_norm=True))
