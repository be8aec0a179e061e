"""Linear (fully connected) layer:  y = x W^T + b.

W has shape (out_features, in_features) and b shape (out_features,); x may have any number of leading
axes, (..., in_features) -> (..., out_features). Default initialisation (PyTorch's): W and b drawn
from U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform with a = sqrt(5)).
"""
from .. import ops
from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(ops.zeros(self.out_features, self.in_features))
        self.bias = Parameter(ops.zeros(self.out_features)) if bias else None
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
