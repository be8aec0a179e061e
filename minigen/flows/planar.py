r"""The planar flow (Rezende & Mohamed 2015, sec. 4.1): push the space along one direction u by an
amount that depends on the position along another direction w,

    f(z) = z + u_hat h(w^T z + b),          h = tanh
    psi(z) = h'(w^T z + b) w
    log|det df/dz| = log|1 + u_hat^T psi(z)|            (matrix determinant lemma: det(I + u psi^T))

f is invertible when w^T u_hat >= -1 (appendix A): the free parameter u is mapped to

    u_hat = u + (m(w^T u) - w^T u) w / ||w||^2,     m(a) = -1 + softplus(a) > -1,

which makes w^T u_hat = m(w^T u). The inverse has no closed form, but it reduces to one scalar
equation: with alpha = w^T z and y = f(z),

    w^T y = alpha + (w^T u_hat) h(alpha + b),

strictly increasing in alpha, and |alpha - w^T y| <= |w^T u_hat|; ``inverse`` solves it by bisection
on that bracket, then z = y - u_hat h(alpha + b).
"""
import minigen as mg
from minigen import nn
from minigen.backend import get_array_module

from .core import FlowLayer

_BISECTION_STEPS = 80   # halves a bracket of width <= 2 |w^T u_hat| down to float64 resolution


class Planar(FlowLayer):
    def __init__(self, dim, init_scale=0.1):
        super().__init__()
        self.dim = dim
        self.w = nn.Parameter(mg.randn(dim) * init_scale)
        self.u = nn.Parameter(mg.randn(dim) * init_scale)
        self.b = nn.Parameter(mg.zeros(()))

    def u_hat(self):
        """u constrained so that w^T u_hat = -1 + softplus(w^T u) > -1 (f invertible)."""
        w_dot_u = (self.w * self.u).sum()
        m = -1 + mg.softplus(w_dot_u)
        return self.u + (m - w_dot_u) * self.w / (self.w * self.w).sum()

    def _check(self, z, caller):
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise ValueError(f"{caller}: expected input of shape (N, {self.dim}), got {tuple(z.shape)}")

    def forward(self, z, cond=None):
        self._check(z, "Planar")
        u_hat = self.u_hat()
        h = mg.tanh(z @ self.w + self.b)                       # (N,)
        f_z = z + h.reshape(-1, 1) * u_hat
        psi = (1 - h * h).reshape(-1, 1) * self.w              # h'(w^T z + b) w
        log_det = mg.log(mg.abs(1 + psi @ u_hat))              # log|1 + u_hat^T psi(z)|
        return f_z, log_det

    def inverse(self, y, cond=None):
        self._check(y, "Planar.inverse")
        with mg.no_grad():
            u_hat = self.u_hat().data
            w, b = self.w.data.astype(y.dtype), self.b.data.astype(y.dtype)
            xp = get_array_module(y.data)
            w_dot_u = xp.dot(w, u_hat.astype(y.dtype))
            target = y.data @ w
            lo, hi = target - abs(w_dot_u), target + abs(w_dot_u)
            for _ in range(_BISECTION_STEPS):
                alpha = (lo + hi) / 2
                too_big = alpha + w_dot_u * xp.tanh(alpha + b) > target
                lo, hi = xp.where(too_big, lo, alpha), xp.where(too_big, alpha, hi)
            alpha = (lo + hi) / 2
        return y - mg.tensor(xp.tanh(alpha + b)[:, None] * u_hat, device=y.device).astype(y.dtype)

    def extra_repr(self):
        return f"{self.dim}"
