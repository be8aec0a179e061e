"""The model families, one file each. Importing this package registers every family with
``minigen.training`` (``@register("name")``), which is how ``minigen train NAME`` finds them.

A new family adds its file here and one import line below; docs/training.md shows how.
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
