"""Convolution, pooling and upsampling against direct loop definitions, their gradients, and errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
from minigen.autograd import gradcheck, gradgradcheck
from minigen.ops import (conv2d, conv_transpose2d, im2col, col2im, max_pool2d, avg_pool2d, upsample,
                         leaky_relu)


# ------------------------------------------------------------- references: the definitions as loops
def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d_reference(x, w, b, stride, padding, dilation, groups):
    """y[n, o, oh, ow] = b[o] + sum_{c,i,j} w[o, c, i, j] x_pad[n, g(o) C_g + c, oh s + i d, ow s + j d]."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    N, C_in, H, W = x.shape
    C_out, C_g, kh, kw = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((N, C_out, OH, OW))
    out_per_group = C_out // groups
    for n, o, oh, ow in itertools.product(range(N), range(C_out), range(OH), range(OW)):
        g = o // out_per_group
        for c, i, j in itertools.product(range(C_g), range(kh), range(kw)):
            y[n, o, oh, ow] += w[o, c, i, j] * x_pad[n, g * C_g + c, oh * sh + i * dh, ow * sw + j * dw]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_transpose2d_reference(x, w, b, stride, padding, output_padding, dilation, groups):
    """Each input pixel adds x[n, c, h, w] * w[c, o, i, j] onto y[n, o, h s + i d - p, w s + j d - p]."""
    (sh, sw), (ph, pw), (dh, dw), (oph, opw) = map(pair, (stride, padding, dilation, output_padding))
    N, C_in, H, W = x.shape
    _, C_og, kh, kw = w.shape
    in_per_group = C_in // groups
    H_full = (H - 1) * sh + dh * (kh - 1) + 1 + oph
    W_full = (W - 1) * sw + dw * (kw - 1) + 1 + opw
    y = np.zeros((N, C_og * groups, H_full, W_full))
    for n, c, h, v in itertools.product(range(N), range(C_in), range(H), range(W)):
        g = c // in_per_group
        for o, i, j in itertools.product(range(C_og), range(kh), range(kw)):
            y[n, g * C_og + o, h * sh + i * dh, v * sw + j * dw] += x[n, c, h, v] * w[c, o, i, j]
    y = y[:, :, ph:H_full - ph, pw:W_full - pw]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pool_reference(x, kernel, stride, padding, reduce, fill):
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    N, C, H, W = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    y = np.zeros((N, C, OH, OW))
    for oh, ow in itertools.product(range(OH), range(OW)):
        y[:, :, oh, ow] = reduce(x_pad[:, :, oh * sh:oh * sh + kh, ow * sw:ow * sw + kw], axis=(2, 3))
    return y


def t64(a, device="cpu", requires_grad=False):
    return mg.tensor(a, dtype="float64", device=device, requires_grad=requires_grad)


rng = np.random.default_rng(0)

# (x shape, weight shape, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 3, 6, 7), (4, 3, 3, 2), 2, 1, 1, 1),          # non-square input and kernel
    ((1, 4, 7, 6), (6, 2, 3, 3), 1, 2, 2, 2),          # groups and dilation
    ((2, 2, 8, 5), (3, 2, 2, 3), (2, 1), (1, 0), (1, 2), 1),
    ((1, 4, 9, 9), (4, 2, 4, 4), 2, 1, 1, 2),          # the DCGAN shape: k4 s2 p1
    ((3, 1, 4, 4), (2, 1, 1, 1), 1, 0, 1, 1),          # 1x1 kernel
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_matches_loops(device, x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    y = conv2d(t64(x, device), t64(w, device), t64(b, device), stride, padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x, w, b, stride, padding, dilation, groups),
                               rtol=1e-10, atol=1e-12)
    y = conv2d(t64(x, device), t64(w, device), None, stride, padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x, w, None, stride, padding, dilation, groups),
                               rtol=1e-10, atol=1e-12)


# (x shape, weight shape, stride, padding, output_padding, dilation, groups)
CONV_T_CASES = [
    ((2, 3, 4, 4), (3, 2, 3, 3), 1, 0, 0, 1, 1),
    ((2, 3, 4, 5), (3, 2, 4, 4), 2, 1, 0, 1, 1),       # the DCGAN shape: doubles the size
    ((1, 4, 3, 4), (4, 3, 3, 2), 2, 1, 1, 1, 2),       # groups, output_padding, non-square
    ((1, 2, 3, 3), (2, 2, 3, 3), (3, 2), (2, 0), (2, 1), (2, 1), 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, dilation, groups",
                         CONV_T_CASES)
def test_conv_transpose2d_matches_loops(device, x_shape, w_shape, stride, padding, output_padding,
                                        dilation, groups):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * groups)
    y = conv_transpose2d(t64(x, device), t64(w, device), t64(b, device), stride, padding, output_padding,
                         dilation, groups)
    expected = conv_transpose2d_reference(x, w, b, stride, padding, output_padding, dilation, groups)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(x, w), y> = <x, conv_transpose2d(y, w)>: the same weight read the other way."""
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3))
    y = rng.standard_normal((2, 6, 5, 4))
    lhs = (conv2d(t64(x), t64(w), stride=2, padding=1, groups=2).numpy() * y).sum()
    rhs = (x * conv_transpose2d(t64(y), t64(w), stride=2, padding=1, output_padding=(0, 1),
                                groups=2).numpy()).sum()
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)


POOL_CASES = [(2, None, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 0)), (2, 1, 1)]


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_pools_match_loops(device, kernel, stride, padding):
    x = rng.standard_normal((2, 3, 7, 6))
    s = kernel if stride is None else stride
    y = max_pool2d(t64(x, device), kernel, stride, padding)
    np.testing.assert_array_equal(y.numpy(), pool_reference(x, kernel, s, padding, np.max, -np.inf))
    y = avg_pool2d(t64(x, device), kernel, stride, padding)
    np.testing.assert_allclose(y.numpy(), pool_reference(x, kernel, s, padding, np.mean, 0.0), rtol=1e-12)


def test_max_pool_of_negative_inputs_ignores_padding():
    y = max_pool2d(t64(-np.ones((1, 1, 2, 2))), 2, 1, 1)
    assert (y.numpy() == -1).all()


def test_avg_pool_counts_padding_zeros():
    y = avg_pool2d(t64(np.ones((1, 1, 2, 2))), 2, 2, 1)
    np.testing.assert_allclose(y.numpy(), np.full((1, 1, 2, 2), 0.25))


def test_upsample_repeats_pixels(device):
    x = rng.standard_normal((2, 3, 2, 4))
    y = upsample(t64(x, device), 3).numpy()
    assert y.shape == (2, 3, 6, 12)
    for h, w in itertools.product(range(6), range(12)):
        np.testing.assert_array_equal(y[:, :, h, w], x[:, :, h // 3, w // 3])


# ------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups",
                         [CONV_CASES[1], CONV_CASES[2], CONV_CASES[3]])
def test_conv2d_gradients(x_shape, w_shape, stride, padding, dilation, groups):
    x = t64(rng.standard_normal(x_shape), requires_grad=True)
    w = t64(rng.standard_normal(w_shape), requires_grad=True)
    b = t64(rng.standard_normal(w_shape[0]), requires_grad=True)
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b],
                     eps=1e-6, atol=1e-5, rtol=1e-3)
    # products of x and w: the second derivatives are the cross terms, through im2col/col2im/matmul
    assert gradgradcheck(lambda x, w: conv2d(x, w, None, stride, padding, dilation, groups), [x, w],
                         eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, dilation, groups",
                         CONV_T_CASES[1:3])
def test_conv_transpose2d_gradients(x_shape, w_shape, stride, padding, output_padding, dilation, groups):
    x = t64(rng.standard_normal(x_shape), requires_grad=True)
    w = t64(rng.standard_normal(w_shape), requires_grad=True)
    b = t64(rng.standard_normal(w_shape[1] * groups), requires_grad=True)

    def f(x, w, b=None):
        return conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups)

    assert gradcheck(f, [x, w, b], eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(f, [x, w], eps=1e-6, atol=1e-5, rtol=1e-3)


def test_critic_gradient_penalty_second_derivative():
    """conv -> leaky_relu -> conv, as in a WGAN-GP critic: d/dtheta of a function of dD/dx."""
    x = t64(rng.standard_normal((2, 2, 6, 6)), requires_grad=True)
    w1 = t64(rng.standard_normal((3, 2, 4, 4)) * 0.5, requires_grad=True)
    w2 = t64(rng.standard_normal((1, 3, 3, 3)) * 0.5, requires_grad=True)

    def critic(x, w1, w2):
        return conv2d(leaky_relu(conv2d(x, w1, stride=2, padding=1), 0.2), w2)

    assert gradgradcheck(critic, [x, w1, w2], eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d])
@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES[1:3])
def test_pool_gradients(pool, kernel, stride, padding):
    x = t64(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    assert gradcheck(lambda x: pool(x, kernel, stride, padding), [x], eps=1e-6, atol=1e-5, rtol=1e-3)
    # the gradient of a pool is linear in the upstream gradient; check it through a square
    assert gradgradcheck(lambda x: pool(x, kernel, stride, padding) ** 2, [x],
                         eps=1e-6, atol=1e-5, rtol=1e-3)


def test_upsample_gradients():
    x = t64(rng.standard_normal((2, 2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda x: upsample(x, 2), [x], eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(lambda x: upsample(x, 3) ** 2, [x], eps=1e-6, atol=1e-5, rtol=1e-3)


def test_im2col_and_col2im_gradients():
    """Each one's backward is the other, and differentiable: squaring makes the gradient depend on
    the input, so the second derivative goes through the backward's own backward."""
    x = t64(rng.standard_normal((2, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda x: im2col(x, (2, 3), 2, 1, 1), [x], eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(lambda x: im2col(x, (2, 3), 2, 1, 1) ** 2, [x], eps=1e-6, atol=1e-5, rtol=1e-3)
    cols = t64(rng.standard_normal((12, 2 * 3 * 3)), requires_grad=True)
    assert gradcheck(lambda c: col2im(c, (2, 2, 4, 5), (2, 3), 2, 1, 1), [cols],
                     eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(lambda c: col2im(c, (2, 2, 4, 5), (2, 3), 2, 1, 1) ** 2, [cols],
                         eps=1e-6, atol=1e-5, rtol=1e-3)


# -------------------------------------------------------------------------- im2col <-> col2im
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       kh=st.integers(1, 3), kw=st.integers(1, 3), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       p=st.tuples(st.integers(0, 2), st.integers(0, 2)), d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       seed=st.integers(0, 2 ** 16))
def test_col2im_is_the_adjoint_of_im2col(n, c, h, w, kh, kw, s, p, d, seed):
    """<im2col(x), cols> = <x, col2im(cols)> for every geometry whose output is not empty."""
    oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    if oh <= 0 or ow <= 0:
        with pytest.raises(ValueError, match="im2col: output would be"):
            im2col(t64(np.zeros((n, c, h, w))), (kh, kw), s, p, d)
        return
    r = np.random.default_rng(seed)
    x, cols = r.standard_normal((n, c, h, w)), r.standard_normal((c * kh * kw, n * oh * ow))
    lhs = (im2col(t64(x), (kh, kw), s, p, d).numpy() * cols).sum()
    rhs = (x * col2im(t64(cols), (n, c, h, w), (kh, kw), s, p, d).numpy()).sum()
    assert abs(lhs - rhs) <= 1e-10 * (1 + abs(lhs))


def test_im2col_layout():
    """Rows (c, i, j), columns (n, oh, ow): conv2d's weight.reshape(C_out, -1) @ cols."""
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)
    cols = im2col(t64(x), 2, 1, 0, 1).numpy()
    assert cols.shape == (2 * 2 * 2, 2 * 2 * 2)
    c, i, j, n, oh, ow = 1, 0, 1, 1, 1, 0
    assert cols[c * 4 + i * 2 + j, n * 4 + oh * 2 + ow] == x[n, c, oh + i, ow + j]
    # the strided view follows the input's own strides: a transposed, reversed view reads the same
    view = np.random.default_rng(1).standard_normal((3, 2, 5, 6)).transpose(1, 0, 3, 2)[:, :, ::-1]
    np.testing.assert_array_equal(im2col(t64(view), (2, 3), (1, 2), 0, (2, 1)).numpy(),
                                  im2col(t64(np.ascontiguousarray(view)), (2, 3), (1, 2), 0, (2, 1)).numpy())


# ---------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, message", [
    (lambda: conv2d(mg.zeros((2, 3, 5, 5)), mg.zeros((8, 4, 3, 3))),
     r"conv2d: input \(2, 3, 5, 5\) has 3 channels but weight \(8, 4, 3, 3\) expects 4"),
    (lambda: conv2d(mg.zeros((3, 5, 5)), mg.zeros((8, 3, 3, 3))),
     r"conv2d: input must be 4-D .* \(3, 5, 5\)"),
    (lambda: conv2d(mg.zeros((1, 3, 5, 5)), mg.zeros((8, 3, 3))), r"conv2d: weight must be 4-D"),
    (lambda: conv2d(mg.zeros((1, 4, 5, 5)), mg.zeros((5, 2, 3, 3)), groups=2),
     r"conv2d: groups=2 does not divide the 5 output channels"),
    (lambda: conv2d(mg.zeros((1, 3, 5, 5)), mg.zeros((6, 1, 3, 3)), groups=3.0), r"conv2d: groups must be"),
    (lambda: conv2d(mg.zeros((1, 3, 2, 5)), mg.zeros((8, 3, 3, 3))), r"conv2d: output would be 0x3"),
    (lambda: conv2d(mg.zeros((1, 3, 5, 5)), mg.zeros((8, 3, 3, 3)), mg.zeros(3)),
     r"conv2d: bias must have shape \(8,\)"),
    (lambda: conv2d(mg.zeros((1, 3, 5, 5)), mg.zeros((8, 3, 3, 3)), stride=0), r"conv2d: stride must be"),
    (lambda: conv2d(mg.zeros((1, 3, 5, 5)), mg.zeros((8, 3, 3, 3)), padding=(1, 2, 3)),
     r"conv2d: padding must be"),
    (lambda: conv_transpose2d(mg.zeros((1, 3, 5, 5)), mg.zeros((4, 2, 3, 3))),
     r"conv_transpose2d: input \(1, 3, 5, 5\) has 3 channels but weight \(4, 2, 3, 3\) expects 4"),
    (lambda: conv_transpose2d(mg.zeros((1, 3, 5, 5)), mg.zeros((3, 2, 3, 3)), groups=2),
     r"conv_transpose2d: groups=2 does not divide the 3 input channels"),
    (lambda: conv_transpose2d(mg.zeros((1, 3, 5, 5)), mg.zeros((3, 2, 3, 3)), stride=2, output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be smaller than the stride \(2, 2\)"),
    (lambda: conv_transpose2d(mg.zeros((1, 3, 1, 1)), mg.zeros((3, 2, 1, 1)), padding=1),
     r"conv_transpose2d: output would be -1x-1"),
    (lambda: max_pool2d(mg.zeros((3, 5, 5)), 2), r"max_pool2d: input must be 4-D"),
    (lambda: max_pool2d(mg.zeros((1, 1, 5, 5)), 2, padding=2),
     r"max_pool2d: padding \(2, 2\) must be at most half"),
    (lambda: avg_pool2d(mg.zeros((1, 1, 2, 2)), 3), r"avg_pool2d: output would be 0x0"),
    (lambda: upsample(mg.zeros((1, 1, 2, 2)), 1.5), r"upsample: scale_factor must be a positive int"),
    (lambda: col2im(mg.zeros((8, 5)), (1, 2, 3, 3), 2), r"col2im: columns of shape \(8, 5\) do not fit"),
])
def test_errors_name_the_op_and_shapes(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# ------------------------------------------------------------------------ more strided geometries
STRIDED = [  # (x shape, weight shape, stride, padding, output_padding): kernels that the stride does
    ((2, 3, 9, 8), (4, 3, 3, 3), 2, 0, 0),     # not divide, paddings that leave rows unused, ...
    ((2, 3, 9, 8), (4, 3, 3, 3), 2, 2, 1),
    ((1, 2, 11, 7), (3, 2, 5, 4), (3, 2), (1, 2), (2, 1)),
    ((2, 4, 8, 8), (6, 2, 4, 4), 2, 1, 1),      # groups 2
    ((1, 1, 5, 5), (2, 1, 2, 2), 3, 0, 2),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding", STRIDED)
def test_strided_convolutions_and_their_transposes_match_the_loops(x_shape, w_shape, stride, padding,
                                                                   output_padding):
    groups = x_shape[1] // w_shape[1]
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    got = conv2d(t64(x), t64(w), t64(b), stride, padding, 1, groups).numpy()
    np.testing.assert_allclose(got, conv2d_reference(x, w, b, stride, padding, 1, groups), atol=1e-10)
    # the transposed convolution with the same weight, read as (C_in, C_out/G, kh, kw)
    xt = rng.standard_normal((x_shape[0], w_shape[0]) + got.shape[2:])
    bt = rng.standard_normal(w_shape[1] * groups)
    got_t = conv_transpose2d(t64(xt), t64(w), t64(bt), stride, padding, output_padding, 1, groups).numpy()
    want_t = conv_transpose2d_reference(xt, w, bt, stride, padding, output_padding, 1, groups)
    np.testing.assert_allclose(got_t, want_t, atol=1e-10)
    assert gradcheck(lambda x, w: conv2d(x, w, None, stride, padding, 1, groups),
                     [t64(x[:1], requires_grad=True), t64(w, requires_grad=True)])
