r"""ActNorm (Glow, Kingma & Dhariwal 2018, sec. 3.1): a per-channel affine map

    z = (x + bias) * exp(log_s)              per channel c, at every pixel
    log|det dz/dx| = H * W * sum_c log_s_c   (diagonal Jacobian; H = W = 1 for vectors)

initialised from data: on the first batch it sees, bias = -mean_c and log_s = -log std_c, so that the
activations start with zero mean and unit variance per channel. After that both are ordinary
parameters (unlike batch norm, the map does not depend on the batch, so it stays a bijection).
"""
import minigen as mg
from minigen import nn

from .core import FlowLayer


class ActNorm(FlowLayer):
    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.num_channels = num_channels
        self.eps = eps
        self.bias = nn.Parameter(mg.zeros(num_channels))
        self.log_s = nn.Parameter(mg.zeros(num_channels))
        self.register_buffer("initialized", mg.zeros(()))   # saved with the model, so a reload skips init

    def _per_channel(self, v, ndim):
        return v.reshape(1, self.num_channels, *([1] * (ndim - 2)))

    def _check(self, x):
        if x.ndim not in (2, 4) or x.shape[1] != self.num_channels:
            raise ValueError(f"ActNorm: expected input of shape (N, {self.num_channels}) or "
                             f"(N, {self.num_channels}, H, W), got {tuple(x.shape)}")

    def initialize(self, x):
        """Data-dependent init from the batch x: zero mean, unit variance per channel."""
        with mg.no_grad():
            axes = (0,) + tuple(range(2, x.ndim))
            mean = x.mean(axis=axes)
            std = (x.var(axis=axes) + self.eps).sqrt()
            self.bias.data[...] = (-mean).data
            self.log_s.data[...] = (-std.log()).data
            self.initialized.data[...] = 1

    def forward(self, x, cond=None):
        self._check(x)
        if not bool(self.initialized.data):
            self.initialize(x)
        z = (x + self._per_channel(self.bias, x.ndim)) * self._per_channel(self.log_s.exp(), x.ndim)
        pixels = 1 if x.ndim == 2 else x.shape[2] * x.shape[3]
        log_det = pixels * self.log_s.sum()
        return z, mg.broadcast_to(log_det, (x.shape[0],))

    def inverse(self, z, cond=None):
        self._check(z)
        return z * self._per_channel((-self.log_s).exp(), z.ndim) - self._per_channel(self.bias, z.ndim)

    def extra_repr(self):
        return f"{self.num_channels}"
