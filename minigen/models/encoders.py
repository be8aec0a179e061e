"""Encoder and decoder networks shared by the latent-variable models (AE, VAE, CVAE, VQ-VAE, VQ-VAE-2).

Two shapes of network, both for 8x8 (digits) and 28x28 (MNIST) images:

    ImageEncoder  x (N, C, H, W) [, condition (N, K)]  ->  (N, out_features)
        "mlp":  flatten -> [concat condition] -> Linear-ReLU -> Linear-ReLU -> Linear
        "conv": two 4x4 stride-2 convolutions (H -> H/4, or H/2 for images under 16 pixels)
                -> flatten -> [concat condition] -> Linear-ReLU -> Linear
    ImageDecoder  z (N, in_features)  ->  (N, C, H, W)   (unbounded outputs: logits or means)
        the mirror image: Linear-ReLU layers, then "conv": reshape to (hidden, H/4, W/4) and two
        4x4 stride-2 transposed convolutions back to H x W

and the fully convolutional stacks of the VQ-VAEs, which keep a spatial grid of latents:

    conv_down(in, hidden, out, factor)   (N, in, H, W)  -> (N, out, H/factor, W/factor)
    conv_up(in, hidden, out, factor)     (N, in, h, w)  -> (N, out, h*factor, w*factor)

``factor`` is 1, 2 or 4: each halving is a 4x4 convolution with stride 2 and padding 1
(H_out = (H + 2 - 4) / 2 + 1 = H / 2), each doubling its transpose.

``reconstruction_grid`` draws test images above their reconstructions, the figure every
autoencoder in the family writes next to its samples.
"""
import minigen as mg
from minigen import nn, ops

from .checks import check_batch, check_image_shape

ARCHS = ("mlp", "conv")


def spatial_factor(height):
    """How much the conv stacks shrink an image: 4 for 28x28 (to 7x7), 2 for 8x8 (to 4x4)."""
    return 4 if height >= 16 and height % 4 == 0 else 2


def mlp(in_features, hidden, out_features, depth=2):
    """``depth`` Linear-ReLU layers of width ``hidden``, then a Linear layer to ``out_features``."""
    layers, width = [], in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, out_features))


def conv_down(in_channels, hidden, out_channels, factor):
    """Halve the resolution log2(factor) times (4x4 stride-2 convs), then a 3x3 conv to out_channels."""
    if factor not in (1, 2, 4):
        raise ValueError(f"conv_down: factor must be 1, 2 or 4, got {factor}")
    layers, width = [], in_channels
    for _ in range({1: 0, 2: 1, 4: 2}[factor]):
        layers += [nn.Conv2d(width, hidden, 4, stride=2, padding=1), nn.ReLU()]
        width = hidden
    layers += [nn.Conv2d(width, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, out_channels, 1)]
    return nn.Sequential(*layers)


def conv_up(in_channels, hidden, out_channels, factor):
    """A 3x3 conv to ``hidden`` channels, then double the resolution log2(factor) times."""
    if factor not in (1, 2, 4):
        raise ValueError(f"conv_up: factor must be 1, 2 or 4, got {factor}")
    layers = [nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU()]
    for _ in range({1: 0, 2: 1, 4: 2}[factor]):
        layers += [nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
    layers += [nn.Conv2d(hidden, out_channels, 3, padding=1)]
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """x (N, C, H, W), optionally with a condition vector (N, condition_features) -> (N, out_features)."""

    def __init__(self, image_shape, out_features, arch="mlp", hidden=256, condition_features=0):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"ImageEncoder: arch must be one of {ARCHS}, got {arch!r}")
        self.image_shape = check_image_shape("ImageEncoder", image_shape)
        c, h, w = self.image_shape
        if arch == "mlp":
            self.features = nn.Flatten()
            width = c * h * w
            self.head = mlp(width + condition_features, hidden, out_features, depth=2)
        else:
            factor = spatial_factor(h)
            channels = max(hidden // 8, 16)
            self.features = nn.Sequential(conv_down(c, channels, channels, factor), nn.ReLU(), nn.Flatten())
            width = channels * (h // factor) * (w // factor)
            self.head = mlp(width + condition_features, hidden, out_features, depth=1)
        self.condition_features = condition_features

    def forward(self, x, condition=None):
        check_batch("ImageEncoder", x, self.image_shape, "images")
        h = self.features(x)
        if condition is not None:
            h = ops.concatenate([h, condition.astype(h.dtype)], axis=1)
        return self.head(h)


class ImageDecoder(nn.Module):
    """z (N, in_features) -> (N, C, H, W) unbounded outputs (Bernoulli logits or Gaussian means)."""

    def __init__(self, in_features, image_shape, arch="mlp", hidden=256):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"ImageDecoder: arch must be one of {ARCHS}, got {arch!r}")
        self.image_shape = check_image_shape("ImageDecoder", image_shape)
        c, h, w = self.image_shape
        if arch == "mlp":
            self.net = nn.Sequential(mlp(in_features, hidden, c * h * w, depth=2), nn.Unflatten(self.image_shape))
        else:
            factor = spatial_factor(h)
            channels = max(hidden // 8, 16)
            grid = (channels, h // factor, w // factor)
            self.net = nn.Sequential(mlp(in_features, hidden, channels * grid[1] * grid[2], depth=1),
                                     nn.ReLU(), nn.Unflatten(grid), conv_up(channels, channels, c, factor))

    def forward(self, z):
        return self.net(z)


def reconstruction_grid(path, x, x_hat, name):
    """Draw images x (odd rows) above their reconstructions x_hat (even rows), 8 to a row."""
    from minigen import viz
    x, x_hat = mg.tensor(x), mg.tensor(x_hat.numpy() if isinstance(x_hat, mg.Tensor) else x_hat)
    rows = [r for i in range(0, len(x), 8) for r in (x[i:i + 8], x_hat[i:i + 8])]
    viz.image_grid(mg.concatenate(rows).numpy(), path, nrow=8,
                   title=f"{name}: test images (odd rows) and their reconstructions")
