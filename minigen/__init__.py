"""minigen: generative models on a from-scratch autograd engine over NumPy (CPU) or CuPy (CUDA)."""
__version__ = "0.1.0"

from . import backend
from .backend import Device, manual_seed
from .backend import device as device
from . import autograd
from .autograd import Tensor, no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import ops
from .ops import *  # noqa: F401,F403  (mg.exp, mg.matmul, mg.tensor, mg.randn, ...)
from . import cuda

float32 = "float32"
float64 = "float64"
