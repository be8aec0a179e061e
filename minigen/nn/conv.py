"""2-D convolution and transposed convolution layers over (N, C, H, W) feature maps.

Conv2d:           y[n, o] = b[o] + sum_{c in group(o)} (W[o, c] * x[n, c])      (* is cross-correlation)
                  H_out = floor((H + 2 padding - dilation (k - 1) - 1) / stride) + 1
ConvTranspose2d:  the adjoint (gradient) of Conv2d with respect to its input, used to upsample:
                  H_out = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1

Weights are laid out as in PyTorch: Conv2d (C_out, C_in/groups, kh, kw), ConvTranspose2d
(C_in, C_out/groups, kh, kw). Default initialisation (PyTorch's): kaiming_uniform with a = sqrt(5) for
the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same range for the bias, where
fan_in = weight.shape[1] * kh * kw.
"""
from .. import ops
from . import init
from .module import Module, Parameter


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def _check_channels(layer, in_channels, out_channels, groups):
    if in_channels <= 0 or out_channels <= 0 or groups <= 0:
        raise ValueError(f"{layer}: channels and groups must be positive, got in_channels={in_channels}, "
                         f"out_channels={out_channels}, groups={groups}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: in_channels={in_channels} and out_channels={out_channels} must both be "
                         f"divisible by groups={groups}")


def _check_input(layer, x, in_channels):
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{layer}: expected input of shape (N, {in_channels}, H, W), got {tuple(x.shape)}")


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True):
        super().__init__()
        _check_channels("Conv2d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = (_pair(stride, "stride"), _pair(padding, "padding"),
                                                    _pair(dilation, "dilation"))
        self.weight = Parameter(ops.zeros(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = Parameter(ops.zeros(out_channels)) if bias else None
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, x):
        _check_input("Conv2d", x, self.in_channels)
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class ConvTranspose2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, groups=1, bias=True):
        super().__init__()
        _check_channels("ConvTranspose2d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = (_pair(stride, "stride"), _pair(padding, "padding"),
                                                    _pair(dilation, "dilation"))
        self.output_padding = _pair(output_padding, "output_padding")
        self.weight = Parameter(ops.zeros(in_channels, out_channels // groups, *self.kernel_size))
        self.bias = Parameter(ops.zeros(out_channels)) if bias else None
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, x):
        _check_input("ConvTranspose2d", x, self.in_channels)
        return ops.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                    self.output_padding, self.dilation, self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")
