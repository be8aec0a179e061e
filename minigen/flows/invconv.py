r"""The invertible 1x1 convolution (Glow, sec. 3.2): a learned C x C mixing of the channels, the same at
every pixel, generalising the fixed permutations between couplings.

    z[:, :, i, j] = W x[:, :, i, j]            log|det dz/dx| = H * W * log|det W|

Plain form: W is a free matrix and log|det W| costs O(C^3) (an LU factorisation inside slogdet).

LU form: W is kept factored as

    W = P L (U + diag(sign_s * exp(log_abs_s)))

with P a fixed permutation, L lower-triangular with ones on its diagonal, U strictly upper-triangular:
the determinant of a triangular matrix is the product of its diagonal, det P = +-1, so

    log|det W| = sum_c log_abs_s_c                                            (O(C))

Both start from a random rotation (det = +-1, log-det 0). On vectors (N, D) the layer is an invertible
linear map (H = W = 1).
"""
import numpy as np
import scipy.linalg

import minigen as mg
from minigen import nn

from .core import FlowLayer
from .linalg import inverse, log_abs_det


def random_rotation(channels):
    """A random orthogonal matrix (QR of a Gaussian matrix), drawn from minigen's generator."""
    gaussian = mg.randn(channels, channels, dtype="float64").numpy()
    q, _ = np.linalg.qr(gaussian)
    return q


class InvConv1x1(FlowLayer):
    def __init__(self, num_channels, lu=True):
        super().__init__()
        self.num_channels, self.lu = num_channels, lu
        w0 = random_rotation(num_channels)
        if not lu:
            self.weight = nn.Parameter(mg.tensor(w0.astype(np.float32)))
            return
        p, lower, upper = scipy.linalg.lu(w0)            # w0 = p @ lower @ upper
        s = np.diag(upper)
        as_tensor = lambda a: mg.tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
        self.register_buffer("p", as_tensor(p))
        self.register_buffer("sign_s", as_tensor(np.sign(s)))
        self.register_buffer("lower_mask", as_tensor(np.tril(np.ones_like(w0), -1)))
        self.register_buffer("eye", as_tensor(np.eye(num_channels)))
        self.lower = nn.Parameter(as_tensor(lower))
        self.upper = nn.Parameter(as_tensor(np.triu(upper, 1)))
        self.log_abs_s = nn.Parameter(as_tensor(np.log(np.abs(s))))

    def weight_and_log_det(self):
        """(W, log|det W|) from the parameters."""
        if not self.lu:
            return self.weight, log_abs_det(self.weight)
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + self.eye * (self.sign_s * self.log_abs_s.exp())
        return self.p @ lower @ upper, self.log_abs_s.sum()     # log|det W| = sum log|s|

    def _as_columns(self, x):
        """(N, C, H, W) or (N, C) -> (N, C, pixels): W then multiplies every pixel's column at once."""
        if x.ndim not in (2, 4) or x.shape[1] != self.num_channels:
            raise ValueError(f"InvConv1x1: expected input of shape (N, {self.num_channels}) or "
                             f"(N, {self.num_channels}, H, W), got {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.num_channels, -1)

    def forward(self, x, cond=None):
        weight, log_det_w = self.weight_and_log_det()
        columns = self._as_columns(x)
        z = (weight.astype(x.dtype) @ columns).reshape(*x.shape)
        log_det = columns.shape[2] * log_det_w                  # H * W * log|det W|
        return z, mg.broadcast_to(log_det.astype(x.dtype), (x.shape[0],))

    def inverse(self, z, cond=None):
        weight, _ = self.weight_and_log_det()
        columns = self._as_columns(z)
        return (inverse(weight).astype(z.dtype) @ columns).reshape(*z.shape)

    def extra_repr(self):
        return f"{self.num_channels}, lu={self.lu}"
