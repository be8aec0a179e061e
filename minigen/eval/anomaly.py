"""Anomaly scores of trained generative models, and the area under the ROC curve that grades them.

Each family scores an image x by its own natural measure of "unusual" (higher = more anomalous):

    ae                  squared reconstruction error     ||x - g(f(x))||^2
    vae                 -IWAE_k (nats)                   -log (1/k) sum_i p(x_b|z_i) p(z_i) / q(z_i|x_b),
                                                         z_i ~ q(z|x_b), on the binarised image x_b; a bound
                                                         on -log p(x_b), tighter than -ELBO (= -IWAE_1)
    realnvp, glow       exact NLL (nats)                 -log p(y) + D log L, y the dequantised image
    gan, dcgan,         -l(x)                            minus the discriminator's logit (critic score):
    wgan-gp                                              "how fake does x look to D"
    ddpm                denoising error                  (1/K) sum_k ||eps_k - eps_theta(x_{t_k}, t_k)||^2
    ddpm-bound          the bound on -log p(x) (nats)    L_T + L_0 + sum_k n_k L_{t_k - 1}

The diffusion bound (minigen.diffusion.likelihood) is a sum of T = 1000 terms, each a network call:

    -log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0,
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),   x_t ~ q(x_t | x_0).

Both DDPM scores evaluate the network at the same K (default 10) fixed steps t_1 < ... < t_K, spread
geometrically over 2..T because the terms L_{t-1} are large and change fast at small t and are tiny and
flat at large t. ``ddpm-bound`` replaces the sum over t by a quadrature: L_{t_k - 1} stands for the
n_k integer steps nearest to t_k (in log t), sum_k n_k = T - 1; L_T and L_0 are computed exactly.
``ddpm`` drops the bound's per-step weights, like the training loss L_simple, and averages the plain
noise-prediction error. Every image sees the same steps; the noise eps_k is drawn from ``seed``.
The
bound itself is computed in one place, ``minigen.diffusion.variational_bound``, given this quadrature.

AUROC (``auroc``), with scores s of normal examples n_1..n_N and of anomalies a_1..a_M:

    AUROC = P(s(a) > s(n)) + 1/2 P(s(a) = s(n))
          = (1 / (N M)) sum_i sum_j [ 1[a_j > n_i] + 1/2 1[a_j = n_i] ]        (Mann-Whitney U / (N M))

1 for a score that ranks every anomaly above every normal example, 1/2 for a score that ignores which
is which, 0 for one that ranks them exactly backwards.
"""
import numpy as np
from scipy.stats import rankdata

import minigen as mg

from .latent import binarize, intensity_levels

SCORES = ("ae", "vae", "realnvp", "glow", "gan", "dcgan", "wgan-gp", "ddpm", "ddpm-bound")
FLOWS = ("realnvp", "glow")


def auroc(normal_scores, anomaly_scores):
    """AUROC of separating ``anomaly_scores`` (should be high) from ``normal_scores``."""
    normal = np.asarray(normal_scores, dtype=np.float64).ravel()
    anomalous = np.asarray(anomaly_scores, dtype=np.float64).ravel()
    if len(normal) == 0 or len(anomalous) == 0:
        raise ValueError(f"auroc: both sets need scores, got {len(normal)} normal and "
                         f"{len(anomalous)} anomalous")
    if not (np.isfinite(normal).all() and np.isfinite(anomalous).all()):
        raise ValueError("auroc: the scores hold NaN or infinite values")
    ranks = rankdata(np.concatenate([normal, anomalous]))        # average ranks for ties
    u = ranks[len(normal):].sum() - len(anomalous) * (len(anomalous) + 1) / 2
    return float(u / (len(normal) * len(anomalous)))


def anomaly_scores(score, recipe, x, seed=0, batch_size=500, iwae_k=16, timesteps=10):
    """Per-image anomaly score (N,) NumPy float64 of images ``x`` (N, C, H, W) in [0, 1], by the trained
    ``recipe``; ``score`` names the measure (one of SCORES; its family must match the recipe's).

    ``seed`` fixes everything random in a score (binarisation and z for the VAE, dequantisation for
    flows, eps for DDPM), so that the same image always gets the same score; it reseeds minigen's
    generator (``mg.manual_seed``). ``iwae_k``: importance samples of the VAE's bound; ``timesteps``:
    K, the number of diffusion steps the DDPM scores evaluate.
    """
    if score not in SCORES:
        raise ValueError(f"anomaly_scores: no score named {score!r}; expected one of {SCORES}")
    family = "ddpm" if score == "ddpm-bound" else score
    if recipe.name != family:
        raise ValueError(f"anomaly_scores: score {score!r} needs a trained {family!r} recipe, got "
                         f"{recipe.name!r}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(recipe.info.shape):
        expected = ", ".join(str(s) for s in recipe.info.shape)
        raise ValueError(f"anomaly_scores: expected images of shape (N, {expected}), got {x.shape}")
    recipe.eval()
    mg.manual_seed(seed)
    if family == "ddpm":
        return ddpm_scores(recipe, x, seed, batch_size, timesteps)[score]
    parts = []
    with mg.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            if family == "ae":
                parts.append(((recipe.reconstruct(xb) - xb) ** 2).reshape(len(xb), -1).sum(1))
            elif family == "vae":
                x_b = mg.tensor(binarize(xb, seed + i), device=recipe.device)
                parts.append(-recipe.model.iwae(x_b, k=iwae_k).numpy())
            elif family in FLOWS:
                y = recipe.to_flow_space(mg.tensor(xb), seed=seed + i).numpy()
                parts.append(recipe.nll_nats(recipe.log_prob(y)).numpy())
            else:
                logits = recipe.D(recipe.to_model(mg.tensor(xb, device=recipe.device)))
                parts.append(-logits.numpy())
    return np.concatenate(parts).astype(np.float64)


def score_timesteps(T, k=10):
    """K steps t_1 < ... < t_K spread geometrically over 2..T, and n_k, the number of integer steps in
    2..T nearer (in log t) to t_k than to any other (sum n_k = T - 1)."""
    grid = np.unique(np.round(np.geomspace(2, T, k)).astype(np.int64))
    every = np.arange(2, T + 1)
    nearest = np.abs(np.log(every)[:, None] - np.log(grid)[None, :]).argmin(axis=1)
    return grid, np.bincount(nearest, minlength=len(grid))


def ddpm_scores(recipe, x, seed=0, batch_size=500, timesteps=10):
    """Both DDPM scores of NumPy images ``x`` (see the module docstring): a dict with ``ddpm`` (mean
    squared noise-prediction error) and ``ddpm-bound`` (nats), each (N,), from the same network calls
    of ``minigen.diffusion.variational_bound`` with the fixed quadrature ``score_timesteps`` and the EMA
    weights. ``timesteps`` is K; the noise is drawn after ``mg.manual_seed(seed)``."""
    from ..diffusion import variational_bound

    levels = intensity_levels(recipe.info.name)
    on_grid = (np.round(x * (levels - 1)) / (levels - 1)).astype(np.float32)
    quadrature = score_timesteps(recipe.model.schedule.T, timesteps)
    recipe.model.eval()
    mg.manual_seed(seed)
    with mg.no_grad(), recipe.ema.average_parameters():
        x0 = recipe.to_model_space(mg.tensor(on_grid, device=recipe.device))
        bound = variational_bound(recipe.eps_model(), recipe.model.schedule, x0, recipe.config["variance"],
                                  clip_x0=True, levels=levels, batch_size=batch_size, timesteps=quadrature)
    return {"ddpm": bound["eps_error"].mean(axis=0), "ddpm-bound": bound["total"]}
