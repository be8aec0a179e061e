"""Every op: forward against NumPy, first and second derivatives against finite differences (float64),
over hypothesis-drawn shapes with broadcasting and negative axes. Runs on MINIGEN_TEST_DEVICE."""
import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from hypothesis.extra import numpy as hnp

import minigen as mg
from minigen.autograd import gradcheck, gradgradcheck
from conftest import current_device

DEV = current_device()
SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.skipif(DEV.startswith("cuda") and not mg.cuda.is_available(),
                                reason="MINIGEN_TEST_DEVICE=cuda but no CUDA GPU with CuPy")


def T(a, grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), device=DEV, requires_grad=grad)


def arrays(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, width=64))


small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together, one possibly with fewer or stretched axes."""
    shape = draw(small_shapes)
    other = list(shape[draw(st.integers(0, len(shape) - 1)):])
    other = [1 if draw(st.booleans()) else n for n in other]
    pair = [shape, tuple(other)]
    if draw(st.booleans()):
        pair.reverse()
    return pair


def away_from(a, points, gap=0.05):
    """Move values off kinks (0 for relu/abs, the clip bounds) where finite differences break."""
    for p in points:
        near = np.abs(a - p) < gap
        a = np.where(near, p + np.sign(a - p + 1e-12) * gap, a)
    return a


# ------------------------------------------------------------------------------ binary ops
BINARY = {
    "add": (lambda a, b: a + b, np.add, None),
    "sub": (lambda a, b: a - b, np.subtract, None),
    "mul": (lambda a, b: a * b, np.multiply, None),
    "div": (lambda a, b: a / b, np.divide, "positive_b"),
    "pow": (lambda a, b: a ** b, np.power, "positive_a"),
    "maximum": (mg.maximum, np.maximum, "distinct"),
    "minimum": (mg.minimum, np.minimum, "distinct"),
}


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_ops(name, data):
    fn, ref, domain = BINARY[name]
    sa, sb = data.draw(broadcast_pair())
    a = data.draw(arrays(sa))
    b = data.draw(arrays(sb))
    if domain == "positive_b":
        b = np.abs(b) + 0.5
    if domain == "positive_a":
        a = np.abs(a) + 0.5
    if domain == "distinct":
        # ties make max/min non-differentiable: put a on a grid of 0.25 and b half-way between
        a = np.round(a * 4) / 4
        b = np.round(b * 4) / 4 + 0.125
    x, y = T(a), T(b)
    np.testing.assert_allclose(fn(x, y).numpy(), ref(a, b), rtol=1e-12)
    assert gradcheck(fn, [x, y])
    if name not in ("add", "sub", "maximum", "minimum"):
        assert gradgradcheck(fn, [x, y])


def test_scalar_operands_keep_dtype_and_differentiate():
    x = mg.tensor([1.0, 2.0], device=DEV, requires_grad=True)
    y = 3 - 2.0 * x / 4 + x ** 2 + 2 ** x
    assert y.dtype == np.float32
    y.sum().backward()
    expected = -0.5 + 2 * np.array([1.0, 2.0]) + np.log(2) * 2 ** np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)


# ------------------------------------------------------------------------------ unary ops
UNARY = {
    "exp": (mg.exp, np.exp, None),
    "log": (mg.log, np.log, "positive"),
    "sqrt": (mg.sqrt, np.sqrt, "positive"),
    "abs": (mg.abs, np.abs, "kink0"),
    "sin": (mg.sin, np.sin, None),
    "cos": (mg.cos, np.cos, None),
    "tanh": (mg.tanh, np.tanh, None),
    "sigmoid": (mg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), None),
    "relu": (mg.relu, lambda a: np.maximum(a, 0), "kink0"),
    "leaky_relu": (lambda x: mg.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a), "kink0"),
    "elu": (mg.elu, lambda a: np.where(a > 0, a, np.expm1(a)), "kink0"),
    "softplus": (mg.softplus, lambda a: np.log1p(np.exp(a)), None),
    "silu": (mg.silu, lambda a: a / (1 + np.exp(-a)), None),
    "gelu": (mg.gelu, None, None),
    "erf": (mg.erf, None, None),
    "clip": (lambda x: mg.clip(x, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), "kinkclip"),
    "neg": (lambda x: -x, np.negative, None),
}
LINEAR_OR_PIECEWISE = {"relu", "leaky_relu", "abs", "clip", "neg"}


@pytest.mark.parametrize("name", list(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary_ops(name, data):
    fn, ref, domain = UNARY[name]
    a = data.draw(arrays(data.draw(small_shapes)))
    if domain == "positive":
        a = np.abs(a) + 0.2
    elif domain == "kink0":
        a = away_from(a, [0.0])
    elif domain == "kinkclip":
        a = away_from(a, [-0.5, 0.7])
    x = T(a)
    if ref is not None:
        np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-10, atol=1e-12)
    assert gradcheck(fn, [x])
    if name not in LINEAR_OR_PIECEWISE:
        assert gradgradcheck(fn, [x])


def test_gelu_and_erf_values():
    from scipy.special import erf
    a = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(mg.erf(T(a)).numpy(), erf(a), rtol=1e-12)
    np.testing.assert_allclose(mg.gelu(T(a)).numpy(), 0.5 * a * (1 + erf(a / np.sqrt(2))), rtol=1e-12)


def test_stable_forms_for_large_inputs():
    big = T([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    for fn in (mg.sigmoid, mg.softplus, lambda x: mg.log_softmax(x, axis=0),
               lambda x: mg.logsumexp(x, axis=0), lambda x: mg.softmax(x, axis=0)):
        y = fn(big)
        y.sum().backward()
        assert np.isfinite(y.numpy()).all() and np.isfinite(big.grad.numpy()).all()
        big.grad = None
    np.testing.assert_allclose(mg.softplus(big).numpy(), [0, np.log1p(np.exp(-50.0)), np.log(2), 50, 1000],
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(mg.logsumexp(big, axis=0).item(), 1000.0)


# ------------------------------------------------------------------------------ reductions
@st.composite
def shape_and_axis(draw):
    shape = draw(small_shapes)
    nd = len(shape)
    choice = draw(st.sampled_from(["none", "one", "tuple"]))
    if choice == "none":
        axis = None
    elif choice == "one":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axis = tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))
    return shape, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": (mg.sum, np.sum),
    "mean": (mg.mean, np.mean),
    "max": (mg.max, np.max),
    "min": (mg.min, np.min),
    "var": (mg.var, np.var),
    "logsumexp": (mg.logsumexp, None),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SETTINGS
@given(data=st.data())
def test_reductions(name, data):
    fn, ref = REDUCTIONS[name]
    shape, axis, keepdims = data.draw(shape_and_axis())
    a = data.draw(arrays(shape))
    if name in ("max", "min"):
        a = a + np.arange(a.size).reshape(shape) * 1e-1   # distinct values: no ties
    x = T(a)
    if ref is None:
        from scipy.special import logsumexp
        ref = logsumexp
    f = lambda t: fn(t, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(f(x).numpy(), ref(a, axis=axis, keepdims=keepdims), rtol=1e-10, atol=1e-12)
    assert gradcheck(f, [x])
    if name in ("var", "logsumexp"):
        assert gradgradcheck(f, [x])


def test_max_splits_gradient_between_ties():
    x = T([1.0, 3.0, 3.0])
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax(axis):
    a = np.random.default_rng(1).normal(size=(3, 4))
    x = T(a)
    p = np.exp(a - a.max(axis=axis, keepdims=True))
    p /= p.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(mg.softmax(x, axis).numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(mg.log_softmax(x, axis).numpy(), np.log(p), rtol=1e-12)
    assert gradcheck(lambda t: mg.softmax(t, axis), [x])
    assert gradgradcheck(lambda t: mg.log_softmax(t, axis), [x])


# ------------------------------------------------------------------------------ matmul
@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    ba = tuple(1 if draw(st.booleans()) else b for b in batch)
    kind = draw(st.sampled_from(["mm", "batched", "vec_left", "vec_right"]))
    if kind == "mm":
        return (m, k), (k, n)
    if kind == "vec_left":
        return (k,), batch + (k, n)
    if kind == "vec_right":
        return batch + (m, k), (k,)
    return ba + (m, k), batch[len(batch) - draw(st.integers(0, len(batch))):] + (k, n)


@SETTINGS
@given(data=st.data())
def test_matmul(data):
    sa, sb = data.draw(matmul_shapes())
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    x, y = T(a), T(b)
    np.testing.assert_allclose((x @ y).numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda p, q: p @ q, [x, y])
    assert gradgradcheck(lambda p, q: (p @ q) ** 2, [x, y])


# ------------------------------------------------------------------------------ shape ops
def test_shape_ops_values_and_gradients():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2, 3, 4))
    x = T(a)
    cases = [
        (lambda t: t.reshape(4, 6), a.reshape(4, 6)),
        (lambda t: t.reshape(-1), a.reshape(-1)),
        (lambda t: t.transpose(2, 0, 1), a.transpose(2, 0, 1)),
        (lambda t: t.T, a.T),
        (lambda t: t.swapaxes(0, -1), a.swapaxes(0, -1)),
        (lambda t: mg.flatten(t, 1), a.reshape(2, 12)),
        (lambda t: mg.expand_dims(t, -1), a[..., None]),
        (lambda t: mg.squeeze(mg.expand_dims(t, 1), 1), a),
        (lambda t: mg.broadcast_to(t[:, :1], (2, 3, 4)), np.broadcast_to(a[:, :1], (2, 3, 4))),
        (lambda t: t[1], a[1]),
        (lambda t: t[:, ::2, -1], a[:, ::2, -1]),
        (lambda t: t[..., None, 1:3], a[..., None, 1:3]),
        (lambda t: t[[0, 0, 1]], a[[0, 0, 1]]),                       # repeated rows: grads add
        (lambda t: t[:, [2, 0, 2], 1], a[:, [2, 0, 2], 1]),
        (lambda t: t[t.data > 0], a[a > 0]),                          # boolean mask
        (lambda t: mg.concatenate([t, 2 * t[:, :1]], axis=1), np.concatenate([a, 2 * a[:, :1]], axis=1)),
        (lambda t: mg.stack([t, t * t], axis=-1), np.stack([a, a * a], axis=-1)),
        (lambda t: mg.split(t, 2, axis=2)[1], np.split(a, 2, axis=2)[1]),
        (lambda t: mg.split(t, [1], axis=1)[0], np.split(a, [1], axis=1)[0]),
        (lambda t: mg.pad(t, ((0, 0), (1, 2), (2, 0)), value=0.5),
         np.pad(a, ((0, 0), (1, 2), (2, 0)), constant_values=0.5)),
        (lambda t: mg.where(t.data > 0, t, t * t), np.where(a > 0, a, a * a)),
    ]
    for f, expected in cases:
        np.testing.assert_allclose(f(x).numpy(), expected, rtol=1e-12)
        assert gradcheck(f, [x])


@pytest.mark.parametrize("shape, to", [((3, 1), (2, 2)), ((1, 3), (3,)), ((3,), (3, 1)), ((2, 3), (3, 3))])
def test_broadcast_to_refuses_what_broadcasting_refuses(shape, to):
    """NumPy's broadcasting rules exactly: the written-out copy must not accept what an assignment
    would (dropping leading 1s, as (1, 3) -> (3,))."""
    with pytest.raises(ValueError, match="cannot broadcast shape"):
        mg.broadcast_to(mg.ones(*shape), to)


def test_broadcast_to_writes_out_a_contiguous_copy():
    x = mg.tensor(np.arange(3.0))
    y = mg.broadcast_to(x, (2, 3))
    assert y.data.flags.c_contiguous and y.data.flags.writeable and not np.shares_memory(y.data, x.data)
    np.testing.assert_array_equal(y.numpy(), np.broadcast_to(np.arange(3.0), (2, 3)))


def test_take_along_axis_and_gather():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 4))
    idx = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]])
    x = T(a)
    idx_dev = mg.tensor(idx, device=DEV)
    for axis in (1, -1):
        out = mg.take_along_axis(x, idx_dev, axis)
        np.testing.assert_allclose(out.numpy(), np.take_along_axis(a, idx, axis))
        assert gradcheck(lambda t: mg.gather(t, axis, idx_dev) ** 2, [x])
    col = np.array([[2, 0, 1, 1]])
    np.testing.assert_allclose(mg.take_along_axis(x, mg.tensor(col, device=DEV), 0).numpy(),
                               np.take_along_axis(a, col, 0))


def test_embedding_one_hot_and_dropout():
    w = T(np.arange(12.0).reshape(4, 3))
    idx = mg.tensor(np.array([[3, 0], [3, 3]]), device=DEV)
    e = mg.embedding(idx, w)
    assert e.shape == (2, 2, 3)
    e.sum().backward()
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [1, 0, 0, 3])
    oh = mg.one_hot(idx, 4)
    assert oh.shape == (2, 2, 4) and not oh.requires_grad and oh.numpy().sum() == 4
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        mg.one_hot(mg.tensor(np.array([4]), device=DEV), 4)
    x = mg.ones(10000, device=DEV, requires_grad=True)
    y = mg.dropout(x, 0.25)
    kept = y.numpy() > 0
    assert abs(kept.mean() - 0.75) < 0.03
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    assert mg.dropout(x, 0.25, training=False) is x


def test_astype_and_device_moves_are_differentiable():
    x = T([1.0, 2.0])
    y = x.astype("float32")
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])
    z = T([1.0, 2.0])
    (z.to("cpu") * 3).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [3, 3])


def test_comparisons_are_not_differentiable():
    x = T([1.0, -1.0])
    m = x > 0
    assert not m.requires_grad and m.dtype == bool
    np.testing.assert_array_equal(m.numpy(), [True, False])


@pytest.mark.parametrize("lead", [(4,), (2, 3), ()])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(lead, bias):
    rng = np.random.default_rng(5)
    x, W, b = T(rng.normal(size=lead + (3,))), T(rng.normal(size=(2, 3))), T(rng.normal(size=(2,)))
    args = [x, W, b] if bias else [x, W]
    expected = x.numpy() @ W.numpy().T + (b.numpy() if bias else 0)
    np.testing.assert_allclose(mg.linear(*args).numpy(), expected, rtol=1e-12)
    assert gradcheck(mg.linear, args)
    assert gradgradcheck(lambda *a: mg.tanh(mg.linear(*a)), args)
    with pytest.raises(ValueError, match=r"linear: input has 3 features .* expects 4"):
        mg.linear(x, T(np.ones((2, 4))))
