"""Multi-head self-attention over the positions of a feature map, as at the lowest resolutions of a
diffusion U-Net (Ho et al. 2020, following Wang et al. 2018's non-local block):

    h        = GroupNorm(x)                                   x: (N, C, H, W), P = H W positions
    q, k, v  = h W_q, h W_k, h W_v                             per position, split into heads of size d = C / heads
    A        = softmax(q k^T / sqrt(d))                        (P x P) per head: how much each position reads from each other
    out      = x + (A v) W_o                                  heads concatenated back to C channels

The projections are 1x1 convolutions; a 1x1 convolution is a Linear layer applied at every position,
so we write them as Linear layers on the (N, P, C) sequence of position vectors. The block is
equivariant to permutations of the positions: it has no notion of where a position is.
(DDPM initialises W_o to zero so that the block starts as the identity; call
``init.zeros_(block.proj.weight)`` for that.)
"""
import math

from .. import ops
from .linear import Linear
from .module import Module
from .norm import GroupNorm


def _default_groups(channels, at_most=32):
    """The largest number of groups <= 32 that divides ``channels``."""
    return max(g for g in range(1, min(at_most, channels) + 1) if channels % g == 0)


class SelfAttention2d(Module):
    def __init__(self, channels, num_heads=1, num_groups=None):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"SelfAttention2d: channels={channels} must be divisible by num_heads={num_heads}")
        self.channels, self.num_heads = channels, num_heads
        self.norm = GroupNorm(num_groups or _default_groups(channels), channels)
        self.qkv = Linear(channels, 3 * channels)
        self.proj = Linear(channels, channels)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SelfAttention2d: expected input of shape (N, {self.channels}, H, W), "
                             f"got {tuple(x.shape)}")
        N, C, H, W = x.shape
        P, heads, d = H * W, self.num_heads, C // self.num_heads

        h = self.norm(x).reshape(N, C, P).transpose(0, 2, 1)                  # (N, P, C)
        qkv = self.qkv(h).reshape(N, P, 3, heads, d).transpose(2, 0, 3, 1, 4)  # (3, N, heads, P, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attention = ops.softmax(q @ k.swapaxes(-1, -2) * (1 / math.sqrt(d)), axis=-1)   # (N, heads, P, P)
        out = (attention @ v).transpose(0, 2, 1, 3).reshape(N, P, C)          # heads side by side
        out = self.proj(out).transpose(0, 2, 1).reshape(N, C, H, W)
        return x + out

    def extra_repr(self):
        return f"{self.channels}, num_heads={self.num_heads}"
