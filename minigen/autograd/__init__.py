"""The autograd engine: Tensor, Function, backward, grad, grad modes, gradcheck, anomaly mode."""
from .tensor import Tensor, DEFAULT_DTYPE
from .function import Function, Context
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .engine import backward, grad
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .anomaly import detect_anomaly

__all__ = ["Tensor", "Function", "Context", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "backward", "grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "detect_anomaly"]
