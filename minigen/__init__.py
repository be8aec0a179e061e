"""minigen: generative models on a from-scratch autograd engine over NumPy (CPU) or CuPy (CUDA).

    import minigen as mg
    x = mg.randn(4, 3, requires_grad=True)
    (x * x).sum().backward()        # x.grad == 2 x

Layers, lowest first: backend (NumPy/CuPy, devices, random state), autograd (Tensor, Function,
backward), ops, nn, optim, distributions, flows, diffusion, data, eval, viz, distributed, models, training,
cli. See docs/ and ../shared/DESIGN.md.
"""
__version__ = "0.1.0"

from . import backend
from .backend import Device, manual_seed
from .backend import device as device
from . import autograd
from .autograd import Tensor, no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import ops
from .ops import *  # noqa: F401,F403  (mg.exp, mg.matmul, mg.tensor, mg.randn, ...)
from . import cuda
from . import nn
from . import optim
from . import data
from . import distributions
from . import flows
from . import diffusion
from . import distributed
from .io import save, load

float32 = "float32"
float64 = "float64"


def __getattr__(name):
    # matplotlib takes most of a second to import: load the plotting layer only when asked for
    if name == "viz":
        import importlib
        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'minigen' has no attribute {name!r}")
