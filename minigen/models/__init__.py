"""The model families, one file each. Importing this package registers every family
(``@register("name")``, minigen.recipe), which is how ``minigen train NAME`` finds them.

A new family adds its file here and one import line below; docs/training.md shows how. Files shared by
several families: adversarial.py (the GAN game and its logistic losses), flow_recipe.py (maximum
likelihood for any flow), encoders.py (the autoencoders' networks), checks.py (input checks),
denoisers.py and unet.py (the diffusion networks), translation.py (what the image -> image
families share).
"""
from . import classifier
from . import gaussian_classifier
from .classifier import Classifier
from .gaussian_classifier import GaussianClassifier
from . import gan
from . import dcgan
from . import wgan_gp
from . import realnvp
from . import cgan
from . import glow
from . import ddpm
from . import planar
from . import ae, vae, cvae, vqvae, vqvae2, pixelcnn   # the latent-variable family
from . import pix2pix, conditional_ddpm   # image -> image, text -> image
