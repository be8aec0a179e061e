"""Each family's generator x = g(z), z ~ N(0, I), read off its trained Recipe for the latent solver.

    vae        g(z) = E[x | z], the decoder's mean (in data space)    start: the encoder's mean of A^+ y
    gan/dcgan  g(z) = G(z), mapped from [-1, 1] to [0, 1]              start: prior draws only
    realnvp    g(z) = f^{-1}(z), the flow run backwards, mapped from   start: z = f(A^+ y), the flow's
    /glow      dequantised y = (k + u)/L to k/(L-1) with u = 1/2        own code of the lifted observation

Nothing is re-derived: these are the recipes' own decode / G / inverse, called with gradients on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from minigen.training import UsageError


@dataclass
class LatentModel:
    g: Callable                      # z (B, *latent_shape) -> images (B, C, H, W) in data space, differentiable
    latent_shape: tuple
    encode: Optional[Callable]       # images in data space -> a starting z, or None


def latent_model(recipe):
    """The LatentModel of a trained, unconditional image Recipe (vae, gan, dcgan, wgan-gp, realnvp, glow)."""
    from minigen.models.adversarial import AdversarialRecipe
    from minigen.models.realnvp import FlowRecipe
    from minigen.models.vae import VAERecipe

    if isinstance(recipe, VAERecipe):
        model = recipe.model
        model.eval()
        return LatentModel(g=lambda z: recipe.to_data_space(model.decode(z).mean),
                           latent_shape=(model.latent_dim,),
                           encode=lambda x: model.encode(x).mean)
    if isinstance(recipe, AdversarialRecipe):
        recipe.generator.eval()          # batch norm: running statistics, not the batch of latents
        return LatentModel(g=lambda z: recipe.to_data(recipe.G(z)),
                           latent_shape=(recipe.config["latent_dim"],), encode=None)
    if isinstance(recipe, FlowRecipe):
        flow, levels = recipe.flow, recipe.levels
        flow.eval()
        return LatentModel(g=lambda z: (levels * flow.transform.inverse(z) - 0.5) / (levels - 1),
                           latent_shape=flow.z_shape,
                           encode=lambda x: flow.transform((x * (levels - 1) + 0.5) / levels)[0])
    raise UsageError(f"'{recipe.name}' cannot restore images: restoration needs a generator x = g(z) "
                     "(vae, gan, dcgan, wgan-gp, realnvp, glow) or a diffusion model (ddpm)")
