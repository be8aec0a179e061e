"""Normalisation layers: y = (x - mean) / sqrt(var + eps) * weight + bias.

They differ in which axes the mean and the (biased) variance are taken over:

    BatchNorm1d/2d  over the batch (and positions), per channel: (N, C), (N, C, L) or (N, C, H, W).
                    Training uses the batch's statistics and keeps running averages of them;
                    evaluation uses the running averages, so an output does not depend on its batch.
    GroupNorm       over groups of C/G channels and all positions, per sample (batch-independent).
    LayerNorm       over the trailing ``normalized_shape`` axes, per sample.

weight starts at 1 and bias at 0, so each layer starts as a pure normalisation.
"""
from .. import ops
from . import functional as F
from .module import Module, Parameter


class _BatchNorm(Module):
    allowed_ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.weight = Parameter(ops.ones(self.num_features)) if affine else None
        self.bias = Parameter(ops.zeros(self.num_features)) if affine else None
        self.register_buffer("running_mean", ops.zeros(self.num_features))
        self.register_buffer("running_var", ops.ones(self.num_features))
        self.reduce = None       # sums statistics over processes: synchronised batch norm (distributed)

    def forward(self, x):
        if x.ndim not in self.allowed_ndims or x.shape[1] != self.num_features:
            shapes = " or ".join(str(s) for s in self.expected_shapes())
            raise ValueError(f"{type(self).__name__}: expected input of shape {shapes}, got {tuple(x.shape)}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=self.momentum, eps=self.eps, reduce=self.reduce)

    def expected_shapes(self):
        tails = {2: "", 3: ", L", 4: ", H, W"}
        return [f"(N, {self.num_features}{tails[n]})" for n in self.allowed_ndims]

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.weight is not None}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C."""
    allowed_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) feature maps, per channel C."""
    allowed_ndims = (4,)


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by "
                             f"num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = Parameter(ops.ones(num_channels)) if affine else None
        self.bias = Parameter(ops.zeros(num_channels)) if affine else None

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input of shape (N, {self.num_channels}, *), got {tuple(x.shape)}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.weight is not None}"


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(ops.ones(shape)) if elementwise_affine else None
        self.bias = Parameter(ops.zeros(shape)) if elementwise_affine else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
