r"""A small text encoder: the token ids of a caption -> one vector, for text-conditional models.

    e_i  = E[w_i] + P_i                              token embedding plus a learned position embedding, i = 1..L
    for each of ``layers`` pre-norm transformer blocks (Vaswani et al. 2017):
        e <- e + SelfAttention(LayerNorm(e), m)      every word reads every other word, never the padding
        e <- e + W_2 GELU(W_1 LayerNorm(e))          a two-layer MLP on each word
    c    = W_out LayerNorm( sum_i m_i e_i / max(sum_i m_i, 1) )     the mean over the words

m_i = 1 for a word and 0 for padding (token id 0). With ``layers=0`` the encoder is a bag of words: the
mean of the words' embeddings (plus a term that depends only on the caption's length). The empty
caption (only padding) has mean 0, so its vector is W_out b_LN + b_out, a learned "no text" vector:
the null condition of classifier-free guidance.

Why attention and not only the mean: a bag of words cannot tell "slanted to the left, thin strokes"
from "thin, slanted to the ... left strokes", nor attach a word to the phrase it belongs to. The
captions of minigen.data.captions never need that (each property has its own words), so the mean
would do for them; one attention layer costs little beside the denoiser, and lets the same encoder
serve captions where the order of the words matters. docs/conditional.md measures both.
"""
from .. import ops
from .activation import GELU
from .attention import SelfAttention
from .linear import Linear
from .misc import Embedding
from .module import Module, ModuleList, Parameter, Sequential
from .norm import LayerNorm
from . import init


class TransformerBlock(Module):
    """x <- x + SelfAttention(LN(x), mask);  x <- x + MLP(LN(x))   (pre-norm)."""

    def __init__(self, dim, num_heads=2, mlp_ratio=4):
        super().__init__()
        self.norm1 = LayerNorm(dim)
        self.attention = SelfAttention(dim, num_heads)
        self.norm2 = LayerNorm(dim)
        self.mlp = Sequential(Linear(dim, mlp_ratio * dim), GELU(), Linear(mlp_ratio * dim, dim))

    def forward(self, x, mask=None):
        x = x + self.attention(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class TextEncoder(Module):
    """Token ids (N, L) int, 0 = padding, L <= max_words -> (N, out_dim): the module docstring."""

    def __init__(self, vocab_size, dim, out_dim, max_words, layers=1, num_heads=2):
        super().__init__()
        if layers < 0:
            raise ValueError(f"TextEncoder: layers must be >= 0, got {layers}")
        self.vocab_size, self.max_words = int(vocab_size), int(max_words)
        self.token_embedding = Embedding(vocab_size, dim)
        self.position_embedding = Parameter(ops.zeros(max_words, dim))
        init.normal_(self.position_embedding, std=0.02)
        self.blocks = ModuleList([TransformerBlock(dim, num_heads) for _ in range(layers)])
        self.norm = LayerNorm(dim)
        self.out = Linear(dim, out_dim)

    def null(self, n, device=None):
        """The empty caption, n times: (n, max_words) zeros."""
        return ops.zeros(n, self.max_words, dtype="int64", device=device)

    def forward(self, tokens):
        if tokens.ndim != 2 or tokens.shape[1] > self.max_words or tokens.dtype.kind not in "iu":
            raise ValueError(f"TextEncoder: expected integer token ids of shape (N, L) with L <= "
                             f"{self.max_words}, got {tokens.dtype} {tuple(tokens.shape)}")
        L = tokens.shape[1]
        mask = (tokens != 0).astype("float32")                                   # m_i
        e = self.token_embedding(tokens) + self.position_embedding[:L]
        for block in self.blocks:
            e = block(e, mask)
        count = ops.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        mean = (e * ops.expand_dims(mask, -1)).sum(axis=1) / count               # the mean over the words
        return self.out(self.norm(mean))
