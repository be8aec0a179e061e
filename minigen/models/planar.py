r"""Planar flows (Rezende & Mohamed 2015, "Variational inference with normalizing flows").

One layer (minigen.flows.Planar):

    f(z) = z + u_hat tanh(w^T z + b),      log|det df/dz| = log|1 + u_hat^T psi(z)|,
    psi(z) = (1 - tanh^2(w^T z + b)) w,    u_hat constrained so that w^T u_hat > -1 (invertible).

Two uses of the same K layers f_K o ... o f_1:

1. Variational inference (the paper's sec. 6.1): fit q_K to an unnormalised target p(z) ~ exp(-U(z))
   by the reverse KL. Samples z_0 ~ q_0 = N(0, I) are pushed forward, z_K = f_K(... f_1(z_0)), and

       log q_K(z_K) = log q_0(z_0) - sum_k log|1 + u_hat_k^T psi_k(z_{k-1})|
       KL(q_K || p) = E_{z_0}[ log q_K(z_K) + U(z_K) ] + log Z           (``reverse_kl``)

   ``ENERGIES`` holds the paper's four 2-D targets U1..U4 (its table 1); examples/planar_energy.py
   reproduces its figure 3.
2. Density estimation on 2-D data (``minigen train planar --dataset moons``): the layers map data to
   the base, x -> z, and log p(x) = log N(z; 0, I) + sum_k log|det|. Sampling then needs f^{-1}, which
   has no closed form; flows.Planar.inverse solves it by bisection. A planar layer bends space along
   one hyperplane only, so it takes many of them (32 by default); docs/flows.md compares the fits
   with RealNVP's.
"""
import math

import minigen as mg
from minigen import flows
from minigen.recipe import register

from .flow_recipe import LR_SCHEDULE_HELP, FlowRecipe


def planar_flow(dim=2, layers=32):
    """K planar layers, x -> z, under a N(0, I) base."""
    return flows.Flow(flows.FlowSequence(*[flows.Planar(dim) for _ in range(layers)]), (dim,))


# ---------------------------------------------------------------------- the paper's energy functions
def _w1(z):
    return mg.sin(2 * math.pi * z[:, 0] / 4)


def _w2(z):
    return 3 * mg.exp(-0.5 * ((z[:, 0] - 1) / 0.6) ** 2)


def _w3(z):
    return 3 * mg.sigmoid((z[:, 0] - 1) / 0.3)


def _neg_logsumexp(*terms):
    """-log sum_i exp(term_i) for (N,) terms."""
    return -mg.logsumexp(mg.stack(terms, axis=1), axis=1)


def u1(z):
    """A ring cut in two lobes:
    1/2 ((||z|| - 2) / 0.4)^2 - log(e^{-1/2 ((z1-2)/0.6)^2} + e^{-1/2 ((z1+2)/0.6)^2})."""
    radius = ((z * z).sum(axis=1)).sqrt()
    return 0.5 * ((radius - 2) / 0.4) ** 2 + _neg_logsumexp(-0.5 * ((z[:, 0] - 2) / 0.6) ** 2,
                                                            -0.5 * ((z[:, 0] + 2) / 0.6) ** 2)


def u2(z):
    """A sine wave: 1/2 ((z2 - w1(z)) / 0.4)^2."""
    return 0.5 * ((z[:, 1] - _w1(z)) / 0.4) ** 2


def u3(z):
    """Two waves joined by a bump: -log(e^{-1/2 ((z2-w1)/0.35)^2} + e^{-1/2 ((z2-w1+w2)/0.35)^2})."""
    return _neg_logsumexp(-0.5 * ((z[:, 1] - _w1(z)) / 0.35) ** 2,
                          -0.5 * ((z[:, 1] - _w1(z) + _w2(z)) / 0.35) ** 2)


def u4(z):
    """Two waves joined by a step: -log(e^{-1/2 ((z2-w1)/0.4)^2} + e^{-1/2 ((z2-w1+w3)/0.35)^2})."""
    return _neg_logsumexp(-0.5 * ((z[:, 1] - _w1(z)) / 0.4) ** 2,
                          -0.5 * ((z[:, 1] - _w1(z) + _w3(z)) / 0.35) ** 2)


ENERGIES = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}


def reverse_kl(transform, energy, n=256, beta=1.0):
    """Monte-Carlo E_{z_0 ~ N(0, I)}[log q_K(z_K) + beta U(z_K)] for a FlowSequence z_0 -> z_K
    (KL(q_K || p) - log Z at beta = 1; beta < 1 anneals the target as in the paper)."""
    dim = transform.layers[0].dim
    like = next(iter(transform.parameters()))
    z_0 = mg.randn(n, dim, dtype=like.dtype, device=like.device)
    log_q_0 = flows.sum_per_example(-0.5 * z_0 * z_0 - 0.5 * math.log(2 * math.pi))
    z_K, sum_log_det = transform(z_0)
    log_q_K = log_q_0 - sum_log_det                      # change of variables, generative direction
    return (log_q_K + beta * energy(z_K)).mean()


# ---------------------------------------------------------------------- density estimation recipe
@register("planar")
class PlanarRecipe(FlowRecipe):
    """K planar layers trained by maximum likelihood on a 2-D dataset."""

    default_config = {"layers": 32, "temperature": 1.0, "lr": 3e-3, "lr_schedule": "constant",
                      "clip_grad": 100.0, "batch_size": 256, "epochs": 40}
    option_help = {"layers": "planar layers K", "temperature": "T of the base N(0, T^2 I) when sampling",
                   "lr_schedule": LR_SCHEDULE_HELP, "clip_grad": "gradient-norm clipping threshold"}

    data_kinds = ("2d",)

    def build_flow(self, config, info):
        return planar_flow(info.shape[0], config["layers"])
