"""A small U-Net that guesses the noise in an image: eps_theta(x_t, t [, c]) (Ho et al. 2020, App. B).

    emb        = TimeEmbedding(t [, c])                           one vector per image
    ResBlock:  h = Conv3x3(SiLU(GroupNorm(x))) + Linear(SiLU(emb))    the step, added in every block
               h = Conv3x3(Dropout(SiLU(GroupNorm(h))))
               out = skip(x) + h                                    skip: 1x1 conv when channels change

    input conv -> [ResBlock, Downsample] per level      (keeping each level's output for the way up)
    middle     -> ResBlock, SelfAttention2d, ResBlock    at the lowest resolution, where attention is cheap
    up         -> [concat(skip), ResBlock, Upsample] per level
    output     -> GroupNorm, SiLU, Conv3x3 (zero-initialised: the network starts by predicting eps = 0)

Each Downsample halves the height and width (3x3 conv, stride 2), so an image passes through
len(channel_mults) resolutions: 28 -> 14 -> 7 for MNIST, 8 -> 4 -> 2 for ``digits`` with the default
(1, 2, 2). Its height and width must therefore be divisible by 2^(len(channel_mults) - 1).

A condition c enters in one of two ways (models/conditional_ddpm.py):
    a vector   a class label or a caption, embedded and added to the step's embedding (TimeEmbedding:
               ``num_classes`` or ``encoder``), so every ResBlock sees it
    an image   ``condition_channels`` > 0: c (N, Cc, H, W) on the image's grid is concatenated to x_t
               before the input conv, eps_theta([x_t, c], t) (SR3, Saharia et al. 2021; Palette 2022),
               so every pixel of the condition is in view where the noise is guessed
"""
import minigen as mg
from minigen import nn
from minigen.nn import functional as F

from .denoisers import TimeEmbedding


def _groups(channels):
    """GroupNorm groups: 8 (as DDPM's 32, scaled down with the width), or fewer if 8 does not divide."""
    return max(g for g in (8, 4, 2, 1) if channels % g == 0)


class ResBlock(nn.Module):
    def __init__(self, in_channels, out_channels, emb_dim, dropout=0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(in_channels), in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_projection = nn.Linear(emb_dim, out_channels)
        self.norm2 = nn.GroupNorm(_groups(out_channels), out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_projection(F.silu(emb)).reshape(h.shape[0], h.shape[1], 1, 1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Halve the resolution with a learned 3x3 convolution of stride 2."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour copy, then a 3x3 convolution to smooth it."""

    def __init__(self, channels):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(self.upsample(x))


class UNet(nn.Module):
    def __init__(self, image_shape, channels=32, channel_mults=(1, 2, 2), dropout=0.0, num_classes=None,
                 attention_heads=1, condition_channels=0, encoder=None):
        super().__init__()
        in_channels, height, width = image_shape
        factor = 2 ** (len(channel_mults) - 1)
        if height % factor or width % factor:
            raise ValueError(
                f"UNet: with channel_mults={tuple(channel_mults)} ({len(channel_mults)} resolutions) the "
                f"image height and width must be divisible by {factor}; got {height}x{width}. Use fewer "
                f"levels or pad the images (e.g. 28x28 works with up to 3 levels, 8x8 with up to 4)")
        self.image_shape = tuple(image_shape)
        emb_dim = 4 * channels
        self.time_embedding = TimeEmbedding(channels, emb_dim, num_classes, encoder)
        self.condition_channels = int(condition_channels)
        self.input_conv = nn.Conv2d(in_channels + self.condition_channels, channels, 3, padding=1)

        widths = [channels * m for m in channel_mults]
        self.down_blocks, self.downsamples = nn.ModuleList(), nn.ModuleList()
        previous = channels
        for level, width_out in enumerate(widths):
            self.down_blocks.append(ResBlock(previous, width_out, emb_dim, dropout))
            if level < len(widths) - 1:
                self.downsamples.append(Downsample(width_out))
            previous = width_out

        self.middle_block1 = ResBlock(previous, previous, emb_dim, dropout)
        self.middle_attention = nn.SelfAttention2d(previous, attention_heads, _groups(previous))
        self.middle_block2 = ResBlock(previous, previous, emb_dim, dropout)

        self.up_blocks, self.upsamples = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            self.up_blocks.append(ResBlock(previous + widths[level], widths[level], emb_dim, dropout))
            previous = widths[level]
            if level > 0:
                self.upsamples.append(Upsample(previous))

        self.output_norm = nn.GroupNorm(_groups(previous), previous)
        self.output_conv = nn.Conv2d(previous, in_channels, 3, padding=1)
        nn.init.zeros_(self.output_conv.weight)
        nn.init.zeros_(self.output_conv.bias)
        nn.init.zeros_(self.middle_attention.proj.weight)   # attention starts as the identity

    @property
    def conditional(self):
        """Whether it takes a condition c (a label, a caption's tokens, or an image)."""
        return self.condition_channels > 0 or self.time_embedding.conditional

    def forward(self, x_t, t, c=None):
        if x_t.ndim != 4 or tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(f"UNet: expected images of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x_t.shape)}")
        # excerpt: condition
        if self.condition_channels:                       # eps_theta([x_t, c], t)
            expected = (x_t.shape[0], self.condition_channels) + self.image_shape[1:]
            if c is None or tuple(c.shape) != expected:
                got = "none" if c is None else str(tuple(c.shape))
                raise ValueError(f"UNet: this denoiser is conditioned on an image c of shape {expected}, "
                                 f"got {got}")
            emb = self.time_embedding(t)
            h = self.input_conv(mg.concatenate([x_t, c.astype(x_t.dtype)], axis=1))
        else:
            emb = self.time_embedding(t, c)
            h = self.input_conv(x_t)
        # end excerpt: condition
        skips = []
        for level, block in enumerate(self.down_blocks):
            h = block(h, emb)
            skips.append(h)
            if level < len(self.downsamples):
                h = self.downsamples[level](h)

        h = self.middle_block2(self.middle_attention(self.middle_block1(h, emb)), emb)

        for i, block in enumerate(self.up_blocks):
            h = block(mg.concatenate([h, skips.pop()], axis=1), emb)     # the skip connection
            if i < len(self.upsamples):
                h = self.upsamples[i](h)
        return self.output_conv(F.silu(self.output_norm(h)))
