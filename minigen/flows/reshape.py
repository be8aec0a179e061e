r"""Layers that move variables around without changing their values: |det J| = 1, log_det = 0.

Squeeze (RealNVP, sec. 3.6): space-to-depth, each 2x2 block of pixels becomes 4 channels,

    (N, C, H, W) -> (N, 4C, H/2, W/2)

so that channel couplings can mix what were neighbouring pixels.

Split, the multi-scale architecture (RealNVP, sec. 3.6): after a level of couplings, half of the
channels are factored out, taken straight to the latent z, and only the other half is transformed
further (by ``inner``, the rest of the flow, at a coarser scale):

    x = (x_kept, x_out)  ->  z = (x_out, inner(x_kept))     log_det = log_det of inner

z is the flat vector of everything factored out along the way, so the base density is one N(0, I) over
all D = C H W dimensions and eq. (1) of core.py holds as is. ``Flatten`` ends the innermost level.

Permute / Reverse reorder the features (or channels) so the next coupling transforms the other half.
"""
import numpy as np

import minigen as mg

from .core import FlowLayer


def _zero_log_det(x):
    return mg.zeros(x.shape[0], dtype=x.dtype, device=x.device)


def check_squeezable(image_shape, squeezes, who):
    """A clear error when an image (C, H, W) cannot be squeezed ``squeezes`` times (H and W halved)."""
    _, height, width = image_shape
    factor = 2 ** squeezes
    if height % factor or width % factor:
        raise ValueError(f"{who}: an image of size {height}x{width} cannot be squeezed {squeezes} "
                         f"time(s) (height and width must be divisible by {factor}); use fewer levels")


def _check_image(x, caller):
    if x.ndim != 4:
        raise ValueError(f"{caller}: expected images of shape (N, C, H, W), got {tuple(x.shape)}")


class Squeeze(FlowLayer):
    """(N, C, H, W) -> (N, 4C, H/2, W/2); H and W must be even."""

    def forward(self, x, cond=None):
        _check_image(x, "Squeeze")
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze: the image size {h}x{w} cannot be divided into 2x2 blocks "
                             f"(height and width must be even)")
        z = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 5, 2, 4)
        return z.reshape(n, c * 4, h // 2, w // 2), _zero_log_det(x)

    def inverse(self, z, cond=None):
        _check_image(z, "Squeeze.inverse")
        n, c4, h, w = z.shape
        if c4 % 4:
            raise ValueError(f"Squeeze.inverse: expected a channel count divisible by 4, got {c4}")
        x = z.reshape(n, c4 // 4, 2, 2, h, w).transpose(0, 1, 4, 2, 5, 3)
        return x.reshape(n, c4 // 4, h * 2, w * 2)


class Flatten(FlowLayer):
    """(N, *shape) -> (N, prod(shape)); the inverse restores ``shape``."""

    def __init__(self, shape):
        super().__init__()
        self.shape_in = tuple(shape)
        self.size = int(np.prod(self.shape_in))

    def forward(self, x, cond=None):
        if tuple(x.shape[1:]) != self.shape_in:
            raise ValueError(f"Flatten: expected input of shape (N, {', '.join(map(str, self.shape_in))})"
                             f", got {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.size), _zero_log_det(x)

    def inverse(self, z, cond=None):
        if z.ndim != 2 or z.shape[1] != self.size:
            raise ValueError(f"Flatten.inverse: expected (N, {self.size}), got {tuple(z.shape)}")
        return z.reshape(z.shape[0], *self.shape_in)

    def extra_repr(self):
        return f"{self.shape_in}"


class Split(FlowLayer):
    """Factor out the second half of the channels of (N, C, H, W); ``inner`` flows the first half and
    must return a flat (N, D') tensor. z = concat(x_out.flatten(), inner(x_kept))."""

    def __init__(self, shape, inner):
        super().__init__()
        channels, height, width = shape
        if channels % 2:
            raise ValueError(f"Split: factoring out half of the channels needs an even number of "
                             f"channels, got {channels} (shape {tuple(shape)})")
        self.shape_in = tuple(shape)
        self.out_size = channels // 2 * height * width
        self.inner = inner

    def forward(self, x, cond=None):
        if tuple(x.shape[1:]) != self.shape_in:
            raise ValueError(f"Split: expected input of shape (N, {', '.join(map(str, self.shape_in))})"
                             f", got {tuple(x.shape)}")
        x_kept, x_out = mg.split(x, 2, axis=1)
        z_inner, log_det = self.inner(x_kept, cond)
        return mg.concatenate([x_out.reshape(x.shape[0], -1), z_inner], axis=1), log_det

    def inverse(self, z, cond=None):
        channels, height, width = self.shape_in
        x_out = z[:, :self.out_size].reshape(z.shape[0], channels // 2, height, width)
        x_kept = self.inner.inverse(z[:, self.out_size:], cond)
        return mg.concatenate([x_kept, x_out], axis=1)

    def extra_repr(self):
        return f"{self.shape_in}"


class Permute(FlowLayer):
    """z[:, i] = x[:, perm[i]] along axis 1 (features or channels)."""

    def __init__(self, perm):
        super().__init__()
        perm = np.asarray(perm, dtype=np.int64)
        if sorted(perm.tolist()) != list(range(len(perm))):
            raise ValueError(f"Permute: expected a permutation of 0..{len(perm) - 1}, got {perm.tolist()}")
        self.perm, self.inverse_perm = perm, np.argsort(perm)

    def _apply(self, x, order, caller):
        if x.ndim < 2 or x.shape[1] != len(order):
            raise ValueError(f"{caller}: expected {len(order)} features/channels on axis 1, "
                             f"got shape {tuple(x.shape)}")
        return x[:, mg.tensor(order, device=x.device)]

    def forward(self, x, cond=None):
        return self._apply(x, self.perm, "Permute"), _zero_log_det(x)

    def inverse(self, z, cond=None):
        return self._apply(z, self.inverse_perm, "Permute.inverse")

    def extra_repr(self):
        return f"{self.perm.tolist()}"


class Reverse(Permute):
    """The permutation that reverses the order of the features/channels."""

    def __init__(self, num_features):
        super().__init__(np.arange(num_features)[::-1])
