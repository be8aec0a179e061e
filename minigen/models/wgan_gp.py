r"""Wasserstein GAN with gradient penalty (Gulrajani et al., 2017).

The critic D (no sigmoid: a real-valued score) estimates the Wasserstein-1 distance by the
Kantorovich-Rubinstein duality,

    W(p_data, p_G) = sup_{||D||_L <= 1}  E_{x ~ p_data}[D(x)] - E_{z ~ p(z)}[D(G(z))],

and the generator minimises it. Instead of clipping weights to keep D 1-Lipschitz (WGAN), the
penalty pushes the gradient norm of D towards 1 on random interpolates between real and fake
samples, where the optimal critic has gradient norm 1 (paper, eq. 3 and Algorithm 1):

    x_hat = eps x + (1 - eps) x~,   eps ~ U[0, 1] per sample,  x~ = G(z)
    L_D   = E[D(x~)] - E[D(x)] + lambda E[(||grad_x_hat D(x_hat)||_2 - 1)^2]       critic_loss
    L_G   = -E[D(G(z))]                                                            generator_loss

The penalty is a function of a gradient, so minimising it needs a second derivative: the gradient
grad_x_hat D(x_hat) is computed with ``mg.autograd.grad(..., create_graph=True)``, which records
the backward pass itself as a graph that ``loss.backward()`` then differentiates.

The paper's defaults: lambda = 10, n_critic = 5 critic steps per generator step, Adam with
lr = 1e-4 and betas (0, 0.9). No batch normalisation in the critic: the penalty is per sample, and
batch norm would make D(x_hat) depend on the whole batch.

Those defaults need tens of thousands of generator updates (on 8gaussians, 50,000 steps = 10,000
updates reach 8/8 modes; 3,000 or 5,000 steps leave one blob or a few modes). On 2-D data the
defaults are therefore the paper's own toy-data code's betas (0.5, 0.9) with lr 1e-3, for 128 epochs
(9,984 steps, about a minute on a CPU): 8/8 modes on seeds 0, 1 and 2, high-quality share 0.89,
0.82, 0.89 (docs/gan.md). Images keep the paper's settings.

    minigen train wgan-gp --dataset 8gaussians
    minigen eval runs/wgan-gp-8gaussians
"""
import minigen as mg
from minigen.recipe import register

from .adversarial import AdversarialRecipe
from .dcgan import ConvCritic, DCGANGenerator, image_shape_problem
from .gan import MLPDiscriminator, MLPGenerator


def gradient_penalty(critic, x_real, x_fake, eps=None):
    """E[(||grad_x_hat D(x_hat)||_2 - 1)^2] on x_hat = eps x_real + (1 - eps) x_fake (without lambda).

    ``eps`` (N,) defaults to a fresh U[0, 1] draw per sample. The norm is over every axis but the
    batch axis; a 1e-12 under the square root keeps its derivative finite at a zero gradient.
    """
    n = x_real.shape[0]
    if eps is None:
        eps = mg.rand(n, device=x_real.device, dtype=x_real.dtype)
    eps = eps.reshape(n, *([1] * (x_real.ndim - 1)))
    x_hat = eps * x_real + (1 - eps) * x_fake
    if not x_hat.requires_grad:          # real and fake are constants: make x_hat a leaf to differentiate at
        x_hat = x_hat.detach().requires_grad_(True)
    scores = critic(x_hat)
    grad_x_hat, = mg.autograd.grad(scores.sum(), x_hat, create_graph=True)   # row i: dD(x_hat_i)/dx_hat_i
    norm = ((grad_x_hat ** 2).reshape(n, -1).sum(axis=1) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()


def critic_loss(real_scores, fake_scores, penalty, gp_weight=10.0):
    """L_D = E[D(x~)] - E[D(x)] + lambda * penalty."""
    return fake_scores.mean() - real_scores.mean() + gp_weight * penalty


def generator_loss(fake_scores):
    """L_G = -E[D(G(z))]."""
    return -fake_scores.mean()


@register("wgan-gp")
class WGANGPRecipe(AdversarialRecipe):
    """MLP generator and critic on 2-D points; DCGAN-shaped ones (critic without batch norm) on images."""

    default_config = {"latent_dim": 16, "hidden": 128, "depth": 3, "width": 32, "gp_weight": 10.0,
                      "lr": 1e-4, "betas": [0.0, 0.9], "n_critic": 5, "batch_size": 256, "epochs": 40}
    dataset_defaults = {"2d": {"lr": 1e-3, "betas": [0.5, 0.9], "epochs": 128}}     # the docstring says why
    option_help = {"latent_dim": "size of z", "hidden": "width of the MLPs (2-D data)",
                   "depth": "hidden layers of each MLP (2-D data)",
                   "width": "base channel count of the conv networks (images)",
                   "gp_weight": "lambda, the weight of the gradient penalty",
                   "betas": "Adam's (beta1, beta2)", "n_critic": "critic steps per generator step"}
    score_name = "critic"

    @classmethod
    def supports(cls, info):
        return info.kind == "2d" or (info.kind == "image" and image_shape_problem(info.shape) is None)

    @classmethod
    def requirement(cls):
        return "2-D points or square images whose side is a multiple of 4"

    def build(self, config, info):
        if info.kind == "image":
            return (DCGANGenerator(config["latent_dim"], info.shape, config["width"]),
                    ConvCritic(info.shape, config["width"], batch_norm=False))
        return (MLPGenerator(config["latent_dim"], info.shape, config["hidden"], config["depth"]),
                MLPDiscriminator(info.shape, config["hidden"], config["depth"]))

    def discriminator_loss(self, real_scores, fake_scores, x_real, x_fake, y):
        penalty = gradient_penalty(self.discriminator, x_real, x_fake)
        loss = critic_loss(real_scores, fake_scores, penalty, self.config["gp_weight"])
        # W estimate: the negative critic loss without its penalty (what the critic maximises)
        w_estimate = (real_scores.mean() - fake_scores.mean()).item()
        return loss, {"gp": penalty.item(), "wasserstein": w_estimate}

    def generator_loss(self, fake_scores):
        return generator_loss(fake_scores)

    def score_mean(self, scores):
        return scores.mean().item()
