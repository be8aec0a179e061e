"""Gated PixelCNN (van den Oord et al., 2016): an autoregressive model of a grid of discrete values.

    p(x) = prod_{i, j} p(x_ij | x_<ij [, y, c])            raster order: row by row, left to right

Every factor is one output of a single convolutional network whose convolutions are *masked* so that
the output at (i, j) only sees earlier positions. Two stacks of masked convolutions avoid the blind
spot of the original PixelCNN (a 3x3 mask, stacked, never sees the pixels up and to the right):

    vertical stack   v_l(i, j) sees every row above i, over the whole receptive field's width
                     k x k kernel masked to rows < c (type A, first layer) or rows <= c (type B),
                     where c = k // 2 is the kernel's centre row
    horizontal stack h_l(i, j) sees row i left of j, and v_l(i, j)
                     1 x k kernel masked to columns < c (type A) or <= c (type B)

(MaskedConv2d computes a masked kernel as the block of taps it opens, without the zeros.)

Type A (first layer) excludes the centre pixel, so nothing depends on x_ij itself; type B layers
include the centre because their inputs already exclude it. Each layer is a gated unit

    v_l = tanh(W_f * v_{l-1} + V_f s) . sigmoid(W_g * v_{l-1} + V_g s)
    h_l = h_{l-1} + W_1x1 [tanh(. + W_vh v_pre) . sigmoid(. + W_vh v_pre)]     (no residual at l = 1)

where s is the conditioning: a class embedding (broadcast over the grid) and/or a spatial map (the
top-level codes for the bottom prior of VQ-VAE-2), added to both stacks through 1x1 convolutions.
The loss is the cross-entropy of the logits at every position, -log p(x) / D in nats per dimension.

    minigen train pixelcnn --dataset digits                     # binarized digits, 2 values per pixel
    minigen train pixelcnn --dataset digits --conditional true   # p(x | y); sample --label K
"""
import math

import minigen as mg
from minigen import nn, optim
from minigen.distributions import Categorical
from minigen.data import pixels
from minigen.metrics.likelihood import bits_per_dim
from minigen.nn import functional as F
from minigen.recipe import Recipe, register

from .checks import check_labels


def open_taps(kernel_size, mask_type):
    """How many taps along the masked axis a causal kernel reads: those before its centre c = k // 2
    (type A) or up to and including it (type B)."""
    c = kernel_size // 2
    return c if mask_type == "A" else c + 1


def causal_mask(kernel_size, stack, mask_type):
    """The 0/1 mask (kh, kw) of a masked convolution: which kernel taps may be read."""
    if stack not in ("vertical", "horizontal") or mask_type not in ("A", "B"):
        raise ValueError(f"causal_mask: stack must be 'vertical' or 'horizontal' and mask_type 'A' or "
                         f"'B', got {stack!r}, {mask_type!r}")
    open_to = open_taps(kernel_size, mask_type)
    if stack == "vertical":
        rows = mg.arange(kernel_size).reshape(kernel_size, 1) < open_to
        return mg.broadcast_to(rows, (kernel_size, kernel_size)).astype("float32")
    return (mg.arange(kernel_size) < open_to).astype("float32").reshape(1, kernel_size)


class MaskedConv2d(nn.Module):
    """A convolution that reads only the taps its causal mask opens.

    The open taps are a block: the top rows of a k x k kernel (vertical stack) or the left columns of a
    1 x k one (horizontal). So the kernel is that block alone, (open rows, k) or (1, open columns), not
    a full kernel multiplied by zeros, which would spend products on every closed tap (40 % of a 5x5
    type-B kernel). Padded by c = k // 2 as the full kernel would be, output (i, j) of the block reads
    rows i - c .. i - c + open - 1 (columns j - c .. j - c + open - 1): exactly the open taps of the
    masked kernel centred on (i, j). The block's extra outputs past the bottom (right) edge are cropped.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stack, mask_type):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"MaskedConv2d: kernel_size must be odd and positive, got {kernel_size}")
        causal_mask(kernel_size, stack, mask_type)            # checks stack and mask_type
        n_open, c = open_taps(kernel_size, mask_type), kernel_size // 2
        if n_open == 0:
            raise ValueError(f"MaskedConv2d: a type-A kernel of size {kernel_size} reads no tap; use 3 or more")
        if stack == "vertical":
            self.conv = nn.Conv2d(in_channels, out_channels, (n_open, kernel_size), padding=(c, c))
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, (1, n_open), padding=(0, c))
        self.stack, self.mask_type = stack, mask_type

    def forward(self, x):
        H, W = x.shape[2:]
        return self.conv(x)[:, :, :H, :W]

    def extra_repr(self):
        return f"{self.stack}, type {self.mask_type}"


def _gate(pre):
    """tanh(first half of the channels) * sigmoid(second half)."""
    p = pre.shape[1] // 2
    return mg.tanh(pre[:, :p]) * mg.sigmoid(pre[:, p:])


class GatedLayer(nn.Module):
    """One gated layer of both stacks (type A for the first, B for the rest)."""

    def __init__(self, channels, kernel_size, mask_type, num_classes=0, condition_channels=0):
        super().__init__()
        self.vertical = MaskedConv2d(channels, 2 * channels, kernel_size, "vertical", mask_type)
        self.horizontal = MaskedConv2d(channels, 2 * channels, kernel_size, "horizontal", mask_type)
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal_out = nn.Conv2d(channels, channels, 1)
        self.class_bias = nn.Embedding(num_classes, 2 * channels) if num_classes else None
        self.condition = nn.Conv2d(condition_channels, 2 * channels, 1) if condition_channels else None
        self.residual = mask_type == "B"   # at layer 1, h_0 holds x_ij itself: adding it would leak it

    def forward(self, v, h, y=None, c=None):
        v_pre = self.vertical(v)
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(v_pre)   # v_pre(i, j) sees rows < i only
        s = 0.0
        if self.class_bias is not None:
            s = self.class_bias(y).reshape(y.shape[0], -1, 1, 1)
        if self.condition is not None:
            s = s + self.condition(c)
        v_out = _gate(v_pre + s)
        h_out = self.horizontal_out(_gate(h_pre + s))
        return v_out, (h + h_out if self.residual else h_out)


class GatedPixelCNN(nn.Module):
    """p(x | y, c) over (N, H, W) grids of integers in [0, num_values); forward gives logits (N, V, H, W).

    num_classes > 0: conditioned on a label y (N,); condition_channels > 0: on a map c (N, Cc, H, W).
    """

    def __init__(self, num_values, channels=32, layers=5, kernel_size=5, num_classes=0, condition_channels=0):
        super().__init__()
        if num_values < 2:
            raise ValueError(f"GatedPixelCNN: num_values must be >= 2, got {num_values}")
        if layers < 1:
            raise ValueError(f"GatedPixelCNN: layers must be >= 1, got {layers}")
        self.num_values, self.num_classes = num_values, num_classes
        self.condition_channels = condition_channels
        self.embed = nn.Embedding(num_values, channels)
        self.layers = nn.ModuleList([GatedLayer(channels, kernel_size, "A" if l == 0 else "B", num_classes,
                                                condition_channels) for l in range(layers)])
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, 4 * channels, 1), nn.ReLU(),
                                 nn.Conv2d(4 * channels, num_values, 1))

    def _check(self, x, y, c):
        if x.ndim != 3:
            raise ValueError(f"GatedPixelCNN: expected an integer grid of shape (N, H, W), got {tuple(x.shape)}")
        if self.num_classes:
            check_labels("GatedPixelCNN", y, self.num_classes, x.shape[0])
        elif y is not None:
            raise ValueError("GatedPixelCNN: labels given to an unconditional model")
        if self.condition_channels and (c is None or tuple(c.shape) != (x.shape[0], self.condition_channels)
                                        + tuple(x.shape[1:])):
            raise ValueError(f"GatedPixelCNN: needs a condition map of shape (N, {self.condition_channels}, "
                             f"H, W) matching x {tuple(x.shape)}, got {None if c is None else tuple(c.shape)}")

    def forward(self, x, y=None, c=None):
        self._check(x, y, c)
        e = self.embed(x).transpose(0, 3, 1, 2)          # (N, H, W, C) -> (N, C, H, W)
        v, h = e, e
        for layer in self.layers:
            v, h = layer(v, h, y, c)
        return self.out(h)

    def log_prob(self, x, y=None, c=None):
        """log p(x | y, c) per example (N,), in nats."""
        logits = self(x, y, c)
        return -F.cross_entropy(logits, x, reduction="none").sum(axis=(1, 2))

    def sample(self, n, shape, y=None, c=None):
        """Draw n grids of ``shape`` (H, W) one position at a time, in raster order."""
        device = self.embed.weight.device
        x = mg.zeros(n, *shape, dtype="int64", device=device)
        with mg.no_grad():
            for i in range(shape[0]):
                for j in range(shape[1]):
                    logits = self(x, y, c)[:, :, i, j]
                    x.data[:, i, j] = Categorical(logits=logits).sample().data
        return x


@register("pixelcnn")
class PixelCNNRecipe(Recipe):
    """A gated PixelCNN on binarized single-channel images (dynamic binarisation, x_b ~ Bernoulli(x))."""

    preview_images, preview_per_class = 16, 2   # a pixel-by-pixel prior: a small preview grid

    default_config = {"channels": 32, "layers": 5, "kernel_size": 5, "conditional": False,
                      "lr": 1e-3, "batch_size": 64, "epochs": 30}
    # mnist-5k: a step costs 0.87 s on 2 cores (784 pixels, not 64: benchmarks/bench_workloads.py
    # --families), so 8 epochs of 62 batches, about 7 minutes, plus 50 s for the 16-image preview
    dataset_defaults = {"mnist-5k": {"batch_size": 64, "epochs": 8}}
    option_help = {"channels": "channels of the gated layers", "layers": "gated layers",
                   "kernel_size": "size of the masked kernels (odd)",
                   "conditional": "conditioned on the class label"}

    @classmethod
    def supports(cls, info):
        return info.kind == "image" and info.shape[0] == 1

    @classmethod
    def requirement(cls):
        return "single-channel images"

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.model = GatedPixelCNN(2, config["channels"], config["layers"], config["kernel_size"],
                                   num_classes=info.num_classes if self.conditional else 0).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def _grid(self, x):
        return x[:, 0].astype("int64")

    def train_step(self, batch, step):
        x, y = batch
        x_b = self._grid(pixels.binarize(x))
        nll = -self.model.log_prob(x_b, y if self.conditional else None).mean()
        self.optimizer.zero_grad()
        nll.backward()
        self.optimizer.step()
        return {"loss": nll.item(), "bits_per_dim": bits_per_dim(nll.item(), x_b.shape[1] * x_b.shape[2])}

    def sample(self, n, label=None, steps=None):
        y = self.sample_labels(n, label)
        self.model.eval()
        grid = self.model.sample(n, self.info.shape[1:], y)
        return grid.astype("float32").numpy()[:, None]

    def evaluate(self, x, y=None):
        """-log p(x) of the test images binarized once with seed 0, in nats and bits per dimension."""
        self.model.eval()
        x_b = pixels.binarize(x, seed=0)
        total, n = 0.0, len(x)
        with mg.no_grad():
            for i in range(0, n, 500):
                xb = self._grid(mg.tensor(x_b[i:i + 500], device=self.device))
                yb = mg.tensor(y[i:i + 500], device=self.device) if self.conditional else None
                total += -self.model.log_prob(xb, yb).sum().item()
        nll = total / n
        return {"nll_nats": nll, "nll_bits_per_dim": bits_per_dim(nll, math.prod(self.info.shape))}
