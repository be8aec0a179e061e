"""2-D convolution and transposed convolution, built from im2col, matmul and col2im.

Shapes: input x (N, C_in, H, W); conv2d weight w (C_out, C_in/G, kh, kw) for G groups; stride s,
padding p and dilation d per axis. The output of a convolution is OH x OW with

    OH = floor((H + 2 p_h - d_h (kh - 1) - 1) / s_h) + 1        (and likewise OW)

and, with x_pad the input padded by p zeros on each side, its entries are

    y[n, o, oh, ow] = b[o] + sum_{c,i,j} w[o, c, i, j] x_pad[n, g(o) C_in/G + c, oh s_h + i d_h, ow s_w + j d_w]

where g(o) is the group of output channel o.

im2col gathers every window into a column (one row per (c, i, j), one column per (n, oh, ow)):

    cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh s_h + i d_h, ow s_w + j d_w]

so that the convolution is one matrix product per group, W = w.reshape(C_out, C_in/G kh kw):

    Y = W @ cols,  then  y = Y.reshape(C_out, N, OH, OW) with the first two axes swapped, + b.

im2col is linear; its adjoint col2im adds every column entry back onto the pixel it was read from
(overlapping windows add up, padding is cropped), so <im2col(x), c> = <x, col2im(c)>.

The transposed convolution is the adjoint of conv2d in its input, y = col2im(W^T @ x) + b, with
weight (C_in, C_out/G, kh, kw) as in PyTorch and output size

    H_out = (H - 1) s_h - 2 p_h + d_h (kh - 1) + output_padding_h + 1.

Three Functions carry every convolution, each written as im2col/col2im around one GEMM, and the
backward of each is written with the others, so a derivative of any order (the WGAN-GP penalty
differentiates a critic's input gradient) is again made of these three:

    Conv2d           y = conv(x, W) + b       = W @ im2col(x)
    ConvTranspose2d  y = conv^T(x, W) + b     = col2im(W^T @ x)
    Conv2dWeight     dW = wgrad(x, g)         = g @ im2col(x)^T     the weight gradient of conv(x, W)

    conv:    dx = conv^T(g, W)    dW = wgrad(x, g)    db = sum of g over (n, oh, ow)
    conv^T:  dx = conv(g, W)      dW = wgrad(g, x)    db = sum of g
    wgrad:   dx = conv^T(g, H)    dg = conv(x, H)     (H: the gradient arriving at dW)

(the last line because <H, wgrad(x, g)> = <conv(x, H), g>: the weight gradient is bilinear). Only x
and W are kept for backward; the columns, nine times the size of x for a 3x3 kernel, are recomputed
there instead of being held from forward to backward.

How the arrays are worked (the fast path; the equations above do not change): each forward runs a
few images at a time (``_images_per_chunk``: about 1 MB of columns, still in the core's cache when the
product reads them), the chunks on minigen's threads. Column rows are (c, i, j) and columns
(n, oh, ow), so groups are a free reshape (G, C_in/G kh kw, n OH OW) and each is one 2-D product.
With stride 1 the columns are taken on the padded grid (``_Windows``: one contiguous copy per row), a
1x1 convolution needs no columns at all, and the transposed convolution is a correlation with the
flipped kernel (a gather), so col2im's scatter is left to strided transposed convolutions.
"""
import operator
from typing import NamedTuple

import numpy as np

from ..autograd import Function
from ..backend import get_array_module, as_strided, scratch
from ..backend.parallel import chunks, run_chunks


# ------------------------------------------------------------------------------- geometry
def _pair(value, name, op, minimum):
    """An int or a pair of ints, each >= minimum, as a pair."""
    try:
        if isinstance(value, (tuple, list)):
            pair = tuple(operator.index(v) for v in value)
        else:
            pair = (operator.index(value),) * 2
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2 or min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints >= {minimum}, got {value!r}")
    return pair


def _check_4d(op, name, t):
    if t.ndim != 4:
        layout = "(C_out, C_in/groups, kh, kw)" if name == "weight" else "(N, C, H, W)"
        raise ValueError(f"{op}: {name} must be 4-D {layout}, got shape {tuple(t.shape)}")


def _output_size(op, size, kernel, stride, padding, dilation):
    """(OH, OW) of sliding a kernel over an H x W input; an error when either is not positive."""
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if min(out) <= 0:
        raise ValueError(f"{op}: output would be {out[0]}x{out[1]}: the input {size[0]}x{size[1]} "
                         f"padded by {padding} is smaller than the kernel {kernel} at dilation {dilation}")
    return out


# ---------------------------------------------------------------------------- im2col / col2im
def _im2col(x, kernel_size, stride, padding, dilation, scratch_columns=False):
    """cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh s + i d, ow s + j d], as an array (C kh kw, N OH OW).

    ``scratch_columns``: write them into reused scratch memory (for a caller that is done with them
    before it returns)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    OH, OW = _output_size("im2col", (H, W), kernel_size, stride, padding, dilation)
    x_pad = x
    if ph or pw:
        x_pad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        x_pad[:, :, ph:ph + H, pw:pw + W] = x
    # A view with one axis per index of cols: stepping i moves d rows, stepping oh moves s rows.
    bn, bc, bh, bw = x_pad.strides
    windows = as_strided(x_pad, (C, kh, kw, N, OH, OW), (bc, dh * bh, dw * bw, bn, sh * bh, sw * bw))
    if not scratch_columns:
        return xp.ascontiguousarray(windows).reshape(C * kh * kw, N * OH * OW)
    cols = scratch(windows.shape, x.dtype, like=x)
    cols[...] = windows
    return cols.reshape(C * kh * kw, N * OH * OW)


def _col2im(cols, input_shape, kernel_size, stride, padding, dilation, out=None):
    """The adjoint of _im2col: each column entry added onto the pixel it came from, (N, C, H, W)
    (written into ``out`` when given)."""
    xp = get_array_module(cols)
    N, C, H, W = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    OH, OW = _output_size("col2im", (H, W), kernel_size, stride, padding, dilation)
    cols = cols.reshape(C, kh, kw, N, OH, OW)
    # Accumulate in (C, N, H, W) order, the order of cols, so that the kh*kw additions read and
    # write without transposing; a single transposed copy at the end gives (N, C, H, W).
    x_pad = xp.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (OH - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (OW - 1) + 1, sw)
            x_pad[:, :, rows, columns] += cols[:, i, j]
    image = x_pad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3)
    if out is None:
        return xp.ascontiguousarray(image)
    out[...] = image
    return out


class Im2Col(Function):
    """cols = im2col(x); backward is col2im."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation):
        ctx.geometry = (x.shape, kernel_size, stride, padding, dilation)
        return _im2col(x, kernel_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad):
        return Col2Im.apply(grad, *ctx.geometry), None, None, None, None


class Col2Im(Function):
    """x = col2im(cols), the adjoint of im2col; backward is im2col."""

    @staticmethod
    def forward(ctx, cols, input_shape, kernel_size, stride, padding, dilation):
        ctx.geometry = (kernel_size, stride, padding, dilation)
        return _col2im(cols, input_shape, kernel_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad):
        return Im2Col.apply(grad, *ctx.geometry), None, None, None, None, None


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """The windows of x (N, C, H, W) as columns: (C kh kw, N OH OW), rows (c, i, j), columns (n, oh, ow)."""
    _check_4d("im2col", "input", x)
    kernel_size = _pair(kernel_size, "kernel_size", "im2col", 1)
    stride = _pair(stride, "stride", "im2col", 1)
    padding = _pair(padding, "padding", "im2col", 0)
    dilation = _pair(dilation, "dilation", "im2col", 1)
    return Im2Col.apply(x, kernel_size, stride, padding, dilation)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: columns (C kh kw, N OH OW) summed back into an input of ``input_shape``."""
    kernel_size = _pair(kernel_size, "kernel_size", "col2im", 1)
    stride = _pair(stride, "stride", "col2im", 1)
    padding = _pair(padding, "padding", "col2im", 0)
    dilation = _pair(dilation, "dilation", "col2im", 1)
    if len(input_shape) != 4:
        raise ValueError(f"col2im: input_shape must be (N, C, H, W), got {tuple(input_shape)}")
    N, C, H, W = input_shape = tuple(int(n) for n in input_shape)
    OH, OW = _output_size("col2im", (H, W), kernel_size, stride, padding, dilation)
    expected = (C * kernel_size[0] * kernel_size[1], N * OH * OW)
    if tuple(cols.shape) != expected:
        raise ValueError(f"col2im: columns of shape {tuple(cols.shape)} do not fit input {input_shape} "
                         f"with kernel {kernel_size}: expected {expected} (C kh kw, N OH OW)")
    return Col2Im.apply(cols, input_shape, kernel_size, stride, padding, dilation)


# ------------------------------------------------------------------------------ convolutions
def _check_groups(op, groups, c_in, c_out):
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    for name, c in (("input", c_in), ("output", c_out)):
        if c % groups:
            raise ValueError(f"{op}: groups={groups} does not divide the {c} {name} channels")


def _check_bias(op, bias, c_out):
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},) for {c_out} output channels, "
                         f"got {tuple(bias.shape)}")


class Geometry(NamedTuple):
    """How a kernel slides: each a pair (rows, columns), and the number of groups."""
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int

    def windows(self):
        return self.kernel_size, self.stride, self.padding, self.dilation


def _channels_first(a, groups):
    """(N, C, H, W) -> (G, C/G, N H W): the rows of a GEMM that runs over every pixel of the batch."""
    N, C = a.shape[:2]
    return get_array_module(a).ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(groups, C // groups, -1)


def _matmul_per_group(a, b, out=None):
    """a[g] @ b[g] for every group g, each as a 2-D product: NumPy's stacked matmul does not hand
    transposed operands to BLAS, and a 2-D product reads them in place."""
    xp = get_array_module(a)
    if out is None:
        out = xp.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=xp.result_type(a, b))
    for g in range(a.shape[0]):
        xp.matmul(a[g], b[g], out=out[g])
    return out


def _grouped(w, groups):
    """(C_out, C_in/G, kh, kw) -> (G, C_out/G, C_in/G kh kw): one matrix per group."""
    return w.reshape(groups, w.shape[0] // groups, -1)


class _Windows:
    """The columns of im2col(x) for a convolution, a few images at a time, with x padded once.

    With stride 1 the columns are taken on the padded grid: image n's row (c, i, j) is then a single
    contiguous run of the padded image, x_pad[n, c].flat[i d W_pad + j d :][:OH W_pad], so copying it
    streams through memory instead of stepping through W-long pieces (about twice as fast). The
    W_pad - OW extra columns per output row are windows that run off the right edge: the forward pass
    drops them, and the weight gradient meets them with zeros. ``width`` is OW, or W_pad for stride 1.
    """

    def __init__(self, x, geometry):
        xp = get_array_module(x)
        self.geometry = geometry
        N, C, H, W = x.shape
        (kh, kw), stride, (ph, pw), (dh, dw) = geometry.windows()
        self.OH, self.OW = _output_size("conv2d", (H, W), *geometry.windows())
        # 1x1, stride 1, no padding: the columns are x itself, channel first
        self.pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and (ph, pw) == (0, 0)
        self.wide = stride == (1, 1) and not self.pointwise
        if not self.wide:
            self.x, self.width = x, self.OW
            return
        Hp, Wp = H + 2 * ph, W + 2 * pw
        slack = (kw - 1) * dw                 # the last row's windows reach this far past the image
        flat = xp.zeros(N * C * Hp * Wp + slack, dtype=x.dtype)
        flat[:N * C * Hp * Wp].reshape(N, C, Hp, Wp)[:, :, ph:ph + H, pw:pw + W] = x
        self.flat, self.shape_pad, self.width = flat, (N, C, Hp, Wp), Wp

    def columns(self, lo, hi):
        """cols (C kh kw, n OH width) of images lo..hi, in reused scratch memory."""
        if self.pointwise:
            n, C = hi - lo, self.x.shape[1]
            cols = scratch((C, n, self.OH * self.OW), self.x.dtype, like=self.x)
            cols[...] = self.x[lo:hi].reshape(n, C, -1).transpose(1, 0, 2)
            return cols.reshape(C, -1)
        if not self.wide:
            return _im2col(self.x[lo:hi], *self.geometry.windows(), scratch_columns=True)
        N, C, Hp, Wp = self.shape_pad
        (kh, kw), _, _, (dh, dw) = self.geometry.windows()
        e = self.flat.itemsize
        start = self.flat[lo * C * Hp * Wp:]
        windows = as_strided(start, (C, kh, kw, hi - lo, self.OH * Wp),
                             (Hp * Wp * e, dh * Wp * e, dw * e, C * Hp * Wp * e, e))
        cols = scratch(windows.shape, self.flat.dtype, like=self.flat)
        cols[...] = windows
        return cols.reshape(C * kh * kw, -1)

    def output(self, Y, n):
        """The GEMM result Y (C_out, n OH width) as (n, C_out, OH, OW): the extra columns dropped."""
        return Y.reshape(Y.shape[0], n, self.OH, self.width)[..., :self.OW].transpose(1, 0, 2, 3)

    def widen(self, g):
        """g (n, C_out, OH, OW) channel first on the columns' grid, (C_out, n OH width), zeros in the
        extra columns."""
        xp = get_array_module(g)
        n, C_out = g.shape[:2]
        if not self.wide:
            return xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(C_out, -1)
        out = xp.zeros((C_out, n, self.OH, self.width), dtype=g.dtype)
        out[..., :self.OW] = g.transpose(1, 0, 2, 3)
        return out.reshape(C_out, -1)


def _images_per_chunk(x, kernel_size, out_pixels):
    """How many images to process at once: enough that a chunk's columns (C kh kw x n OH OW) fill
    about 1 MB, which stays in the core's cache between im2col writing it and the GEMM reading it."""
    if get_array_module(x) is not np:
        return x.shape[0]                  # a GPU wants the whole batch in one product
    per_image = x.shape[1] * kernel_size[0] * kernel_size[1] * out_pixels * x.dtype.itemsize
    return max(1, (1 << 20) // max(per_image, 1))


def _convolve(x, weight, bias, geometry):
    """y = W @ im2col(x) + b as arrays, reshaped to (N, C_out, OH, OW), a few images at a time."""
    xp = get_array_module(x)
    G = geometry.groups
    N, C_out = x.shape[0], weight.shape[0]
    windows = _Windows(x, geometry)
    W = _grouped(weight, G)
    b = 0 if bias is None else bias.reshape(1, C_out, 1, 1)
    y = xp.empty((N, C_out, windows.OH, windows.OW), dtype=x.dtype)

    def images(lo, hi):
        cols = windows.columns(lo, hi)
        Y = _matmul_per_group(W, cols.reshape(G, -1, cols.shape[1]))
        xp.add(windows.output(Y.reshape(C_out, -1), hi - lo), b, out=y[lo:hi])

    def pointwise(lo, hi):          # a 1x1 convolution is one product per image, y[n] = W x[n] + b
        n = hi - lo
        out = y[lo:hi].reshape(n, C_out, -1)
        xp.matmul(W[0], x[lo:hi].reshape(n, x.shape[1], -1), out=out)
        out += b if bias is None else bias.reshape(C_out, 1)

    per_chunk = _images_per_chunk(x, geometry.kernel_size, windows.OH * windows.width)
    run_chunks(pointwise if windows.pointwise and G == 1 else images, chunks(N, per_chunk))
    return y


def _convolve_transposed(x, weight, bias, geometry, out_size):
    """y = col2im(W^T @ x) + b as arrays, (N, C_out) + out_size.

    With stride 1 the adjoint of a correlation is itself a correlation: with the kernel flipped, its
    two channel axes swapped, over the input padded by d (k - 1) - p. That reads each output pixel's
    window (a gather, im2col) instead of adding every input pixel into a window (a scatter, col2im),
    which is about twice as fast; strided convolutions have no such form and take the col2im way.
    """
    xp = get_array_module(x)
    G = geometry.groups
    N, _, H, W = x.shape
    C_in, C_out_per_group, kh, kw = weight.shape
    C_out = G * C_out_per_group
    gather_padding = tuple(d * (k - 1) - p for d, k, p in zip(geometry.dilation, (kh, kw), geometry.padding))
    if geometry.stride == (1, 1) and min(gather_padding) >= 0:
        flipped = (weight.reshape(G, C_in // G, C_out_per_group, kh, kw).swapaxes(1, 2)
                   .reshape(C_out, C_in // G, kh, kw)[:, :, ::-1, ::-1])
        return _convolve(x, xp.ascontiguousarray(flipped), bias,
                         geometry._replace(padding=gather_padding))
    W_t = weight.reshape(G, C_in // G, C_out_per_group * kh * kw).swapaxes(1, 2)
    y = xp.empty((N, C_out) + tuple(out_size), dtype=x.dtype)

    def images(lo, hi):
        x_rows = _channels_first(x[lo:hi], G)
        cols = scratch((G, W_t.shape[1], x_rows.shape[2]), x.dtype, like=x)
        _matmul_per_group(W_t, x_rows, out=cols)
        _col2im(cols.reshape(C_out * kh * kw, -1), (hi - lo, C_out) + tuple(out_size),
                *geometry.windows(), out=y[lo:hi])

    run_chunks(images, chunks(N, _images_per_chunk(y, geometry.kernel_size, H * W)))
    if bias is not None:
        y += bias.reshape(1, C_out, 1, 1)
    return y


class Conv2d(Function):
    """y = W @ im2col(x) + b, reshaped to (N, C_out, OH, OW); backward in the module docstring."""

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        ctx.geometry = geometry
        ctx.save_for_backward(x, weight)
        return _convolve(x, weight, bias, geometry)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = ConvTranspose2d.apply(g, weight, None, ctx.geometry, x.shape[2:]) if need_x else None
        gw = Conv2dWeight.apply(x, g, ctx.geometry, weight.shape[2:]) if need_w else None
        gb = g.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb, None


class ConvTranspose2d(Function):
    """y = col2im(W^T @ x) + b with output size ``out_size`` (H_out, W_out): the adjoint of Conv2d in x."""

    @staticmethod
    def forward(ctx, x, weight, bias, geometry, out_size):
        ctx.geometry = geometry
        ctx.save_for_backward(x, weight)
        return _convolve_transposed(x, weight, bias, geometry, out_size)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = Conv2d.apply(g, weight, None, ctx.geometry) if need_x else None
        gw = Conv2dWeight.apply(g, x, ctx.geometry, weight.shape[2:]) if need_w else None
        gb = g.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb, None, None


class Conv2dWeight(Function):
    """dW = g @ im2col(x)^T: the gradient of conv(x, W) with respect to W, for output gradient g,
    shaped (C_out, C_in/G, kh, kw) with C_out = g's channels."""

    @staticmethod
    def forward(ctx, x, g, geometry, kernel_size):
        G = geometry.groups
        N = g.shape[0]
        windows = _Windows(x, geometry)

        def images(lo, hi):                                   # this chunk's share of the sum over images
            cols = windows.columns(lo, hi)
            cols = cols.reshape(G, -1, cols.shape[1])
            g_rows = windows.widen(g[lo:hi])
            # dW^T = cols @ g^T: with both operands' rows contiguous, BLAS runs this orientation
            # about 1.5 times faster than g @ cols^T
            return _matmul_per_group(cols, g_rows.reshape(G, -1, g_rows.shape[1]).swapaxes(1, 2))

        parts = run_chunks(images, chunks(N, _images_per_chunk(x, geometry.kernel_size,
                                                               windows.OH * windows.width)))
        dw_t = parts[0]
        for part in parts[1:]:                                # in chunk order: the same sum on any thread count
            dw_t += part
        ctx.geometry = geometry
        ctx.save_for_backward(x, g)
        dw = get_array_module(x).ascontiguousarray(dw_t.swapaxes(1, 2))    # (G, C_out/G, C_in/G kh kw)
        return dw.reshape((g.shape[1], x.shape[1] // G) + tuple(kernel_size))

    @staticmethod
    def backward(ctx, h):
        x, g = ctx.saved_tensors
        need_x, need_g = ctx.needs_input_grad[:2]
        gx = ConvTranspose2d.apply(g, h, None, ctx.geometry, x.shape[2:]) if need_x else None
        gg = Conv2d.apply(x, h, None, ctx.geometry) if need_g else None
        return gx, gg, None, None


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's conv2d): x (N, C_in, H, W), weight (C_out, C_in/groups, kh, kw)."""
    op = "conv2d"
    _check_4d(op, "input", x)
    _check_4d(op, "weight", weight)
    N, C_in, H, W = x.shape
    C_out, C_in_per_group, kh, kw = weight.shape
    if C_in_per_group * groups != C_in:
        raise ValueError(f"{op}: input {tuple(x.shape)} has {C_in} channels but weight "
                         f"{tuple(weight.shape)} expects {C_in_per_group * groups} "
                         f"(C_in/groups = {C_in_per_group}, groups={groups})")
    _check_groups(op, groups, C_in, C_out)
    _check_bias(op, bias, C_out)
    stride = _pair(stride, "stride", op, 1)
    padding = _pair(padding, "padding", op, 0)
    dilation = _pair(dilation, "dilation", op, 1)
    _output_size(op, (H, W), (kh, kw), stride, padding, dilation)
    return Conv2d.apply(x, weight, bias, Geometry((kh, kw), stride, padding, dilation, groups))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """The adjoint of conv2d in its input: x (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw).

    ``output_padding`` (< stride) adds rows and columns at the bottom and right, to reach the sizes
    that a strided conv2d maps onto the same H x W.
    """
    op = "conv_transpose2d"
    _check_4d(op, "input", x)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (C_in, C_out/groups, kh, kw), "
                         f"got shape {tuple(weight.shape)}")
    N, C_in, H, W = x.shape
    if weight.shape[0] != C_in:
        raise ValueError(f"{op}: input {tuple(x.shape)} has {C_in} channels but weight "
                         f"{tuple(weight.shape)} expects {weight.shape[0]} (it is (C_in, C_out/groups, kh, kw))")
    _, C_out_per_group, kh, kw = weight.shape
    C_out = C_out_per_group * groups
    _check_groups(op, groups, C_in, C_out)
    _check_bias(op, bias, C_out)
    stride = _pair(stride, "stride", op, 1)
    padding = _pair(padding, "padding", op, 0)
    dilation = _pair(dilation, "dilation", op, 1)
    output_padding = _pair(output_padding, "output_padding", op, 0)
    if any(extra >= s for extra, s in zip(output_padding, stride)):
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than the stride {stride}")
    H_out, W_out = ((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o
                    in zip((H, W), stride, padding, dilation, (kh, kw), output_padding))
    if H_out <= 0 or W_out <= 0:
        raise ValueError(f"{op}: output would be {H_out}x{W_out} for input {H}x{W}, kernel {(kh, kw)}, "
                         f"stride {stride}, padding {padding}, dilation {dilation}")

    return ConvTranspose2d.apply(x, weight, bias, Geometry((kh, kw), stride, padding, dilation, groups),
                                 (H_out, W_out))
