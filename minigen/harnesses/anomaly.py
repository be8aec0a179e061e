"""Anomaly scores of trained generative models, by name, for the experiments that compare them.

Each family scores an image x by its own natural measure of "unusual" (higher = more anomalous),
defined on its Recipe (``anomaly_scores``; the names below are what ``anomaly_score_names`` lists):

    ae                  squared reconstruction error     ||x - g(f(x))||^2
    vae                 -IWAE_k (nats)                   a bound on -log p(x_b), x_b the binarised image
    realnvp, glow       exact NLL (nats)                 -log p(y) + D log L, y the dequantised image
    gan, dcgan,         -l(x)                            minus the discriminator's logit (critic score):
    wgan-gp                                              "how fake does x look to D"
    ddpm                denoising error                  (1/K) sum_k ||eps_k - eps_theta(x_{t_k}, t_k)||^2
    ddpm-bound          the bound on -log p(x) (nats)    L_T + L_0 + sum_k n_k L_{t_k - 1}

A new family plugs in by defining those two methods; nothing here names a family. AUROC, which grades
a score, is minigen.metrics.auroc.
"""
import inspect

import numpy as np

import minigen as mg
from minigen import training


def score_families() -> dict:
    """{score name: the family that defines it} over every registered family."""
    return {score: name for name in training.names()
            for score in training.get(name).anomaly_score_names()}


def family_of(score) -> str:
    """The registered family whose recipe defines the anomaly score ``score``."""
    families = score_families()
    if score not in families:
        raise ValueError(f"anomaly_scores: no score named {score!r}; expected one of {tuple(families)}")
    return families[score]


def all_scores(recipe, x, seed=0, batch_size=500, **options) -> dict:
    """Every anomaly score ``recipe`` defines, {name: (N,) float64}, from one pass over NumPy images
    ``x`` (N, C, H, W) in [0, 1] (the DDPM's two scores share their network calls).

    ``seed`` fixes everything random in a score (binarisation and z for the VAE, dequantisation for
    flows, eps for DDPM), so that the same image always gets the same score; it reseeds minigen's
    generator (``mg.manual_seed``). ``options`` go to the family's method (``iwae_k`` for the VAE's
    importance samples, ``timesteps`` for the number of diffusion steps the DDPM scores evaluate)."""
    accepted = [p for p in inspect.signature(recipe.anomaly_scores).parameters if p not in ("x", "seed",
                                                                                        "batch_size")]
    stray = sorted(set(options) - set(accepted))
    if stray:
        raise ValueError(f"anomaly_scores: option(s) {stray} do not apply to '{recipe.name}' (its options: "
                         f"{', '.join(accepted) or 'none'})")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(recipe.info.shape):
        expected = ", ".join(str(s) for s in recipe.info.shape)
        raise ValueError(f"anomaly_scores: expected images of shape (N, {expected}), got {x.shape}")
    recipe.eval()
    mg.manual_seed(seed)
    return recipe.anomaly_scores(x, seed=seed, batch_size=batch_size, **options)


def anomaly_scores(score, recipe, x, seed=0, batch_size=500, **options):
    """Per-image anomaly score (N,) NumPy float64 named ``score`` of images ``x`` by the trained
    ``recipe``, whose family must define it (see ``all_scores`` for the arguments)."""
    family = family_of(score)
    if score not in recipe.anomaly_score_names():
        raise ValueError(f"anomaly_scores: score {score!r} needs a trained {family!r} recipe, got "
                         f"{recipe.name!r}")
    return all_scores(recipe, x, seed, batch_size, **options)[score]
