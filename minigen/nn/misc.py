"""Layers without much mathematics: Dropout, Embedding, Flatten, Upsample, Identity.

    Dropout    training: zero each element with probability p, scale the rest by 1/(1-p); eval: identity
    Embedding  row lookup W[indices] in a (num_embeddings, embedding_dim) table, W ~ N(0, 1) initially
    Flatten    (N, d1, d2, ...) -> (N, d1 d2 ...), merging the axes from ``start_axis`` on
    Upsample   nearest-neighbour: every pixel repeated in a scale_factor x scale_factor block
"""
from .. import ops
from ..autograd import Tensor
from . import init
from .module import Module, Parameter


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return ops.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Embedding(Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.weight = init.normal_(Parameter(ops.zeros(self.num_embeddings, self.embedding_dim)))

    def forward(self, indices):
        if not isinstance(indices, Tensor):
            indices = ops.tensor(indices, device=self.weight.device)
        idx = indices.data
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= self.num_embeddings):
            raise IndexError(f"Embedding: indices must lie in [0, {self.num_embeddings}), got "
                             f"[{int(idx.min())}, {int(idx.max())}]")
        return ops.embedding(indices, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Flatten(Module):
    def __init__(self, start_axis=1):
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x):
        return ops.flatten(x, self.start_axis)

    def extra_repr(self):
        return f"start_axis={self.start_axis}"


class Unflatten(Module):
    """(N, prod(shape)) -> (N, *shape): the inverse of Flatten, e.g. a dense layer feeding a conv decoder."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)

    def extra_repr(self):
        return f"shape={self.shape}"


class Upsample(Module):
    def __init__(self, scale_factor=2):
        super().__init__()
        self.scale_factor = scale_factor

    def forward(self, x):
        return ops.upsample(x, self.scale_factor)

    def extra_repr(self):
        return f"scale_factor={self.scale_factor}"


class Identity(Module):
    def forward(self, x):
        return x
