"""Pooling layers over the functional pooling of ``minigen.ops`` (N, C, H, W) -> (N, C, H', W'):

    MaxPool2d    the maximum of each kernel_size window (padding counts as -inf)
    AvgPool2d    the mean of each window (padding zeros count in the mean)

``stride`` defaults to ``kernel_size`` (windows side by side, no overlap).
"""
from . import functional as F
from .module import Module


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
