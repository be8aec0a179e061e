r"""pix2pix: image-to-image translation with a conditional GAN (Isola, Zhu, Zhou and Efros 2017).

From pairs (x, y) of a condition x (an edge map, a low-resolution digit, a digit with a hidden square)
and its target y, a generator G learns y ~ G(x), and a discriminator D(x, y) judges whether y is a
real target *for this x* -- it sees the condition beside the image:

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_x[log(1 - D(x, G(x)))]                      (eq. 1)
    L_L1(G)      = E_{x,y}[ ||y - G(x)||_1 ]                                             (eq. 3)
    G*           = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G)                        (eq. 4)

With D = sigmoid(l) and the generator's adversarial term non-saturating (as in the paper), each
player minimises, per batch (means over the batch, the patches and the pixels):

    L_D = 1/2 (E[softplus(-l(x, y))] + E[softplus(l(x, G(x)))])      halved, "to slow D down" (sec. 3.3)
    L_G = E[softplus(-l(x, G(x)))] + lambda E[|y - G(x)|]            lambda = 100

The L1 term alone would learn the pixelwise median of y given x, blurry where x leaves the digit
uncertain; the adversarial term asks for outputs that D cannot tell from real targets of x: sharp
strokes. The logistic losses are those of every GAN here (adversarial.py).

Generator: a U-Net, an encoder-decoder whose skip connections hand the decoder the encoder's
features at the same resolution, so the fine detail of x (where an edge is) need not squeeze through
the bottleneck. For a target of side H and base width w:

    x (Cc, H, H) -> e1 (w, H) -> e2 (2w, H/2) -> e3 (4w, H/4)
                 -> d2 (2w, H/2), [d2, e2] -> d1 (w, H), [d1, e1] -> tanh(conv) = G(x) (1, H, H)

There is no noise input z: the paper found that G learns to ignore it, and keeps dropout as the only
randomness. Here dropout acts in training only, so G is a deterministic map: one output per condition
(the conditional diffusion model, conditional_ddpm.py, draws many).

PatchGAN discriminator: D gets [x, y] stacked as channels and returns a grid of logits, one per
overlapping patch (each sees about 18x18 pixels: 2x2 patches that cover an 8x8 digit, 7x7 on a
28x28 one), and the loss averages them: D asks "is each patch a plausible piece of a target of x?",
a judge of local sharpness, while the L1 term keeps the global structure.

    [x, y] (Cc + 1, H, H) -> (w, H/2) -> (2w, H/4) -> logits (1, H/4, H/4)

A low-resolution condition is first brought to the target's grid (data.paired.lift: nearest
neighbour); images are in [-1, 1] for the networks (x_model = 2 x - 1, conditions too). Group
normalisation rather than the paper's batch norm (which it used with a batch of one, i.e. instance
norm): the same computation in training and at test time.

    minigen train pix2pix --dataset edges2digits
    minigen sample runs/pix2pix-edges2digits --condition cond.npy --out out.npy
    minigen eval runs/pix2pix-edges2digits             # PSNR, SSIM, and a classifier's digit agreement
"""
import minigen as mg
from minigen import nn, optim
from minigen.data import paired
from minigen.nn import functional as F
from minigen.recipe import Recipe, register

from .adversarial import discriminator_loss, nonsaturating_generator_loss
from .checks import check_batch
from .translation import conditions_for, save_translation_figure, translation_metrics


def _norm(channels):
    return nn.GroupNorm(min(8, channels), channels)


def _check_side(who, target_shape):
    if target_shape[1] % 4 or target_shape[2] % 4:
        raise ValueError(f"{who}: the image's height and width must be multiples of 4, got "
                         f"{target_shape[1]}x{target_shape[2]}")


class UNetGenerator(nn.Module):
    """G(x): the U-Net of the module docstring, (N, Cc, H, W) -> (N, C, H, W) in [-1, 1]."""

    def __init__(self, condition_channels, image_shape, width=32, dropout=0.5):
        super().__init__()
        _check_side("UNetGenerator", image_shape)
        self.condition_channels, self.image_shape = int(condition_channels), tuple(image_shape)
        w = width
        self.e1 = nn.Sequential(nn.Conv2d(condition_channels, w, 3, padding=1), nn.LeakyReLU(0.2))
        self.e2 = nn.Sequential(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), _norm(2 * w), nn.LeakyReLU(0.2))
        self.e3 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), _norm(4 * w), nn.LeakyReLU(0.2))
        self.d2 = nn.Sequential(nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), _norm(2 * w),
                                nn.Dropout(dropout), nn.ReLU())
        self.d1 = nn.Sequential(nn.ConvTranspose2d(4 * w, w, 4, stride=2, padding=1), _norm(w), nn.ReLU())
        self.out = nn.Conv2d(2 * w, image_shape[0], 3, padding=1)

    def forward(self, x):
        check_batch("UNetGenerator", x, (self.condition_channels,) + self.image_shape[1:], "conditions")
        e1 = self.e1(x)
        e2 = self.e2(e1)
        d2 = self.d2(self.e3(e2))
        d1 = self.d1(mg.concatenate([d2, e2], axis=1))                 # skip: the encoder's features
        return mg.tanh(self.out(mg.concatenate([d1, e1], axis=1)))


class PatchDiscriminator(nn.Module):
    """l(x, y): one logit per patch, (N, 1, H/4, W/4), from the condition and the image side by side."""

    def __init__(self, condition_channels, image_shape, width=32):
        super().__init__()
        _check_side("PatchDiscriminator", image_shape)
        self.condition_channels, self.image_shape = int(condition_channels), tuple(image_shape)
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(condition_channels + image_shape[0], w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), _norm(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, 3, padding=1))

    def forward(self, x, y):
        check_batch("PatchDiscriminator", x, (self.condition_channels,) + self.image_shape[1:], "conditions")
        check_batch("PatchDiscriminator", y, self.image_shape, "images")
        return self.net(mg.concatenate([x, y], axis=1))


# ------------------------------------------------------------------------------------ the objective
def pix2pix_discriminator_loss(real_logits, fake_logits):
    """L_D = 1/2 (E[softplus(-l(x, y))] + E[softplus(l(x, G(x)))]), means over batch and patches."""
    return 0.5 * discriminator_loss(real_logits, fake_logits)


def pix2pix_generator_loss(fake_logits, y, y_hat, lambda_l1):
    """L_G = E[softplus(-l(x, G(x)))] + lambda E[|y - G(x)|]; returns (L_G, the L1 term alone)."""
    l1 = mg.abs(y - y_hat).mean()
    return nonsaturating_generator_loss(fake_logits) + lambda_l1 * l1, l1


@register("pix2pix")
class Pix2PixRecipe(Recipe):
    """Alternating Adam steps on L_D and L_G (one each per batch), lr 2e-4, betas (0.5, 0.999)."""

    default_config = {"width": 32, "lambda_l1": 100.0, "dropout": 0.5, "lr": 2e-4, "betas": [0.5, 0.999],
                      "batch_size": 64, "epochs": 15, "eval_examples": 1000}
    option_help = {"width": "base channel count w of both networks",
                   "lambda_l1": "weight lambda of the L1 term", "dropout": "generator dropout (training only)",
                   "betas": "Adam's (beta1, beta2)", "eval_examples": "test pairs that eval translates"}
    data_kinds = ("paired",)
    condition_kind = "image"
    image_space = "symmetric"

    @classmethod
    def supports(cls, info):
        return super().supports(info) and info.shape[1] % 4 == 0 and info.shape[2] % 4 == 0

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        if config["width"] < 1 or config["eval_examples"] < 1:
            raise ValueError("width and eval_examples must be positive integers")
        if not 0 <= config["dropout"] < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {config['dropout']}")
        channels = info.condition_shape[0]
        self.generator = UNetGenerator(channels, info.shape, config["width"], config["dropout"]).to(device)
        self.discriminator = PatchDiscriminator(channels, info.shape, config["width"]).to(device)
        betas = tuple(config["betas"])
        self.optimizer_g = optim.Adam(self.generator.parameters(), lr=config["lr"], betas=betas)
        self.optimizer_d = optim.Adam(self.discriminator.parameters(), lr=config["lr"], betas=betas)

    def condition(self, x):
        """A condition batch (Tensor, data space) as the networks see it: in [-1, 1], on the target's grid."""
        return paired.lift(self.to_model_space(x), self.info.shape)

    def train_step(self, batch, step):
        x_data, y_data = batch
        x, y = self.condition(x_data), self.to_model_space(y_data)

        # D step, G fixed: its output is a constant here
        with mg.no_grad():
            y_fake = self.generator(x)
        real_logits, fake_logits = self.discriminator(x, y), self.discriminator(x, y_fake)
        loss_d = pix2pix_discriminator_loss(real_logits, fake_logits)
        self.optimizer_d.zero_grad()
        loss_d.backward()
        self.optimizer_d.step()

        # G step, through the updated D (whose gradients the next zero_grad discards)
        y_hat = self.generator(x)
        loss_g, l1 = pix2pix_generator_loss(self.discriminator(x, y_hat), y, y_hat, self.config["lambda_l1"])
        self.optimizer_g.zero_grad()
        loss_g.backward()
        self.optimizer_g.step()
        return {"g_loss": loss_g.item(), "d_loss": loss_d.item(), "l1": l1.item(),
                "d_real": F.sigmoid(real_logits).mean().item(), "d_fake": F.sigmoid(fake_logits).mean().item()}

    def sample(self, n, label=None, steps=None, condition=None):
        """G(x) in data space for the conditions x (one, repeated n times, or n of them)."""
        if label is not None:
            self.sample_labels(n, label)           # refuses: pix2pix is not class-conditional
        x = mg.tensor(conditions_for(self, n, condition), device=self.device)
        was_training = self.generator.training
        self.generator.eval()                  # no dropout: one output per condition
        with mg.no_grad():
            y = self.to_data_space(self.generator(self.condition(x)))
        self.generator.train(was_training)
        return mg.clip(y, 0.0, 1.0).numpy().astype("float32")

    def evaluate(self, x, y=None):
        n = self.config["eval_examples"]
        return translation_metrics(self, x[:n], y[:n])

    def save_figure(self, path, x, y=None):
        return save_translation_figure(self, path, x, y)
