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

``SelfAttention`` is the same over a sequence (N, L, C) of word vectors, with a padding mask: a key
that is padding gets the score -1e9, so no position reads from it (text encoders, nn/text.py). Both
compute the attention itself with ``attention``.
"""
import math

from .. import ops
from .linear import Linear
from .module import Module
from .norm import GroupNorm


def attention(q, k, v, key_mask=None):
    """softmax(q k^T / sqrt(d) + mask) v for q, k, v (..., P, d); ``key_mask`` (..., P) of 1 (read) and
    0 (padding, never read), broadcast over the query axis: its keys get the score -1e9."""
    scores = q @ k.swapaxes(-1, -2) * (1 / math.sqrt(q.shape[-1]))
    if key_mask is not None:
        scores = scores + (ops.expand_dims(key_mask, -2) - 1) * 1e9
    return ops.softmax(scores, axis=-1) @ v


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
        out = attention(qkv[0], qkv[1], qkv[2])                               # (N, heads, P, d)
        out = out.transpose(0, 2, 1, 3).reshape(N, P, C)                      # heads side by side
        out = self.proj(out).transpose(0, 2, 1).reshape(N, C, H, W)
        return x + out

    def extra_repr(self):
        return f"{self.channels}, num_heads={self.num_heads}"


class SelfAttention(Module):
    """Multi-head self-attention over a sequence x (N, L, C), padding masked out:

        q, k, v = x W_q, x W_k, x W_v        split into heads of size d = C / heads
        out     = concat_heads(attention(q, k, v, mask)) W_o

    ``mask`` (N, L): 1 for a word, 0 for padding (None: every position is a word)."""

    def __init__(self, channels, num_heads=1):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"SelfAttention: channels={channels} must be divisible by num_heads={num_heads}")
        self.channels, self.num_heads = channels, num_heads
        self.qkv = Linear(channels, 3 * channels)
        self.proj = Linear(channels, channels)

    def forward(self, x, mask=None):
        if x.ndim != 3 or x.shape[2] != self.channels:
            raise ValueError(f"SelfAttention: expected input of shape (N, L, {self.channels}), got {tuple(x.shape)}")
        N, L, C = x.shape
        heads, d = self.num_heads, C // self.num_heads
        qkv = self.qkv(x).reshape(N, L, 3, heads, d).transpose(2, 0, 3, 1, 4)   # (3, N, heads, L, d)
        key_mask = None if mask is None else mask.astype(x.dtype).reshape(N, 1, L)
        out = attention(qkv[0], qkv[1], qkv[2], key_mask)                     # (N, heads, L, d)
        return self.proj(out.transpose(0, 2, 1, 3).reshape(N, L, C))

    def extra_repr(self):
        return f"{self.channels}, num_heads={self.num_heads}"
