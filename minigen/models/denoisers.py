"""Networks that guess the noise: eps_theta(x_t, t [, label]) for 2-D points, and the time embedding
every denoiser shares.

    e(t)_i        = sin(t * w_i),  e(t)_{half + i} = cos(t * w_i),   w_i = 10000^(-i / half)   (Vaswani et al. 2017)
    h_0           = W_in x_t
    h_{k+1}       = SiLU(W_k h_k + U_k emb),   emb = MLP(e(t)) [+ class embedding]
    eps_theta     = W_out h_K

The sinusoidal features turn the integer step into a vector that varies smoothly with t at many
frequencies, so one network can behave differently at every noise level. Adding the embedding at every
layer (rather than only at the input) keeps the noise level in view all the way through.
"""
import math

import minigen as mg
from minigen import nn
from minigen.nn import functional as F


def sinusoidal_embedding(t, dim):
    """(N,) integer steps -> (N, dim) features [sin(t w_0), ..., cos(t w_{half-1})]."""
    if dim % 2:
        raise ValueError(f"sinusoidal_embedding: dim must be even, got {dim}")
    half = dim // 2
    frequencies = mg.exp(mg.arange(half, device=t.device).astype("float32") * (-math.log(10000.0) / half))
    angles = t.astype("float32").reshape(-1, 1) * frequencies.reshape(1, half)
    return mg.concatenate([mg.sin(angles), mg.cos(angles)], axis=1)


class TimeEmbedding(nn.Module):
    """emb = W_2 SiLU(W_1 e(t)) [+ E[label] | + encoder(c)]: the step and, for a conditional model, its
    condition as one vector.

    A class label c indexes the embedding E; the label ``num_classes`` is the "null" class that
    classifier-free guidance drops to. An ``encoder`` (a module c -> (N, dim), such as
    nn.TextEncoder for a caption's token ids) embeds any other condition; its ``null(n, device)`` is
    the null condition (the empty caption). c = None means the null condition."""

    def __init__(self, base_dim, dim, num_classes=None, encoder=None):
        super().__init__()
        if num_classes and encoder is not None:
            raise ValueError("TimeEmbedding: give num_classes (a class label) or an encoder, not both")
        self.base_dim = base_dim
        self.mlp = nn.Sequential(nn.Linear(base_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.num_classes = num_classes
        self.class_embedding = nn.Embedding(num_classes + 1, dim) if num_classes else None
        self.encoder = encoder

    @property
    def conditional(self):
        return self.class_embedding is not None or self.encoder is not None

    def forward(self, t, c=None):
        emb = self.mlp(sinusoidal_embedding(t, self.base_dim))
        if self.class_embedding is not None:
            if c is None:
                c = mg.full((t.shape[0],), self.num_classes, dtype="int64", device=t.device)
            emb = emb + self.class_embedding(c)
        elif self.encoder is not None:
            emb = emb + self.encoder(self.encoder.null(t.shape[0], t.device) if c is None else c)
        elif c is not None:
            raise ValueError("this denoiser is unconditional: it takes no label")
        return emb


class MLPDenoiser(nn.Module):
    """eps_theta(x_t, t) for points x_t of shape (N, dim), the time embedding added before every layer."""

    def __init__(self, dim=2, hidden=128, depth=3, num_classes=None):
        super().__init__()
        self.dim = dim
        self.time_embedding = TimeEmbedding(hidden, hidden, num_classes)
        self.input = nn.Linear(dim, hidden)
        self.time_projections = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.layers = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.output = nn.Linear(hidden, dim)

    @property
    def conditional(self):
        return self.time_embedding.conditional

    def forward(self, x_t, t, label=None):
        if x_t.ndim != 2 or x_t.shape[1] != self.dim:
            raise ValueError(f"MLPDenoiser: expected points of shape (N, {self.dim}), got {tuple(x_t.shape)}")
        emb = F.silu(self.time_embedding(t, label))
        h = self.input(x_t)
        for layer, time_projection in zip(self.layers, self.time_projections):
            h = F.silu(layer(h) + time_projection(emb))
        return self.output(h)
