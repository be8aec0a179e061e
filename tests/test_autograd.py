"""The engine: graph walking, accumulation, freeing, higher-order gradients, grad modes, errors."""
import pathlib
import re

import numpy as np
import pytest

import minigen as mg
from minigen.autograd import Function, gradcheck, GradcheckError


def test_chain_of_100k_ops_does_not_recurse():
    a = mg.tensor(2.0, requires_grad=True)
    y = a
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert a.grad.item() == 1.0


def test_gradients_accumulate_over_uses_and_calls():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x + x).sum().backward()          # used twice in one graph: 2x + 1
    np.testing.assert_allclose(x.grad.numpy(), [3, 5])
    (3 * x).sum().backward()              # a second call adds to .grad
    np.testing.assert_allclose(x.grad.numpy(), [6, 8])


def test_broadcast_gradients_are_reduced_to_input_shapes():
    x = mg.randn(4, 1, 3, requires_grad=True)
    b = mg.randn(3, requires_grad=True)
    c = mg.randn(1, 5, 1, requires_grad=True)
    (x * b + c).sum().backward()
    assert x.grad.shape == (4, 1, 3) and b.grad.shape == (3,) and c.grad.shape == (1, 5, 1)
    np.testing.assert_allclose(c.grad.numpy(), np.full((1, 5, 1), 12.0))
    np.testing.assert_allclose(b.grad.numpy(), 5 * x.numpy().sum(axis=(0, 1)), rtol=1e-5)


def test_graph_is_freed_unless_retained():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    z = (x.exp() * x).sum()
    x.grad = None
    z.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_second_and_third_derivatives():
    x = mg.tensor([0.5, -1.5], dtype="float64", requires_grad=True)
    y = (x ** 3).sum()
    g, = mg.autograd.grad(y, x, create_graph=True)          # 3x^2
    h, = mg.autograd.grad(g.sum(), x, create_graph=True)    # 6x
    k, = mg.autograd.grad(h.sum(), x)                       # 6
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())
    np.testing.assert_allclose(k.numpy(), [6, 6])


def test_gradient_penalty_trains_the_critic_weights():
    """WGAN-GP: d/dW of (||d D(x)/dx|| - 1)^2 needs the backward pass to be differentiable."""
    mg.manual_seed(1)
    x = mg.randn(5, 3, dtype="float64", requires_grad=True)
    W1 = mg.randn(3, 4, dtype="float64", requires_grad=True)
    W2 = mg.randn(4, 1, dtype="float64", requires_grad=True)

    def penalty(W1, W2):
        d = mg.leaky_relu(x @ W1, 0.2) @ W2
        g, = mg.autograd.grad(d.sum(), x, create_graph=True)
        return ((g * g).sum(axis=1).sqrt() - 1) ** 2

    assert gradcheck(penalty, [W1, W2])


def test_grad_leaves_dot_grad_untouched_and_prunes():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    g, = mg.autograd.grad((x * w).sum(), [x])
    np.testing.assert_allclose(g.numpy(), [3, 4])
    assert x.grad is None and w.grad is None
    unused = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        mg.autograd.grad((x * 2).sum(), [unused])
    assert mg.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_grad_with_respect_to_an_intermediate_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    g, = mg.autograd.grad(y, h)
    np.testing.assert_allclose(g.numpy(), 2 * h.numpy())


def test_no_grad_records_nothing():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None

    @mg.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    with mg.no_grad():
        with mg.enable_grad():
            assert (x * 2).requires_grad
    assert mg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.detach() * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 2])


# ----------------------------------------------------------------------------- extending
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * 3 * x * x


class CubeArrayBackward(Function):
    """A backward on raw arrays: fine for first derivatives."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad.data * 3 * x.data ** 2


class WrongCube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * 2 * x * x   # wrong: should be 3x^2


def test_user_functions_first_and_second_order():
    x = mg.tensor([0.3, -1.2, 2.0], dtype="float64", requires_grad=True)
    assert gradcheck(Cube.apply, [x])
    assert mg.autograd.gradgradcheck(Cube.apply, [x])
    assert gradcheck(CubeArrayBackward.apply, [x])


def test_gradcheck_reports_input_and_element():
    x = mg.tensor([[0.3, -1.2], [2.0, 0.7]], dtype="float64", requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 2\)\) at index \(\d, \d\): analytic .* numeric"):
        gradcheck(WrongCube.apply, [x])
    assert gradcheck(WrongCube.apply, [x], raise_exception=False) is False
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Cube.apply, [mg.tensor([1.0], requires_grad=True)])


def test_saved_output_survives_while_graph_is_alive():
    x = mg.tensor([0.5], requires_grad=True)
    y = x.exp()          # Exp saves its output weakly
    z = (y * 2).sum()
    del y
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.5]), rtol=1e-6)


# ----------------------------------------------------------------------------- errors
def test_error_messages():
    a, b = mg.randn(3, 4), mg.randn(5, 2)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) do not align"):
        a @ b
    with pytest.raises(ValueError, match=r"Add: .*\(3,\).*\(4,\)"):
        mg.ones(3) + mg.ones(4)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape .* \(3, 4\) .* into \(5,\)"):
        a.reshape(5)
    y = mg.randn(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(3,\), not a scalar"):
        y.backward()
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.ones(2).sum().backward()
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        mg.ones((2, 2)).sum(axis=2)


def test_tensors_on_different_devices_are_refused(monkeypatch):
    from minigen import backend

    class GPUArray(np.ndarray):      # stands in for a cupy array: another array type, another device
        pass
    x = mg.ones(2)
    fake_gpu = mg.tensor(np.ones(2, dtype=np.float32).view(GPUArray))
    real = backend.device_of
    monkeypatch.setattr(backend, "device_of",
                        lambda a: backend.Device("cuda", 0) if isinstance(a, GPUArray) else real(a))
    with pytest.raises(RuntimeError, match=r"different devices \(cpu and cuda:0\)"):
        x + fake_gpu


def test_anomaly_mode_names_the_op():
    x = mg.tensor([-1.0, 1.0], requires_grad=True)
    with mg.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Log.forward"):
            mg.log(x)
        y = mg.sqrt(x * 0.0)
        with pytest.raises(FloatingPointError, match="Sqrt.backward"):
            y.sum().backward()
    with np.errstate(all="ignore"):
        assert np.isnan(mg.log(x).numpy()[0])   # off by default


def test_cuda_request_without_cupy_or_gpu_says_what_is_missing():
    from minigen import backend
    if backend.cuda_is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="(CuPy, which is not installed: pip install|no CUDA GPU)"):
        mg.zeros(2, device="cuda")
    assert mg.cuda.is_available() is False
    with pytest.raises(ValueError, match="unknown device"):
        mg.zeros(2, device="tpu")


def test_only_the_backend_imports_cupy():
    root = pathlib.Path(mg.__file__).parent
    pattern = re.compile(r"^\s*(import cupy|from cupy|import cupyx|from cupyx)", re.M)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if pattern.search(p.read_text()) and p.parent.name != "backend"]
    assert offenders == []


def test_models_import_neither_numpy_nor_cupy():
    models = pathlib.Path(mg.__file__).parent / "models"
    pattern = re.compile(r"^\s*(import numpy|from numpy|import cupy|from cupy)", re.M)
    offenders = [p.name for p in models.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_seeding_is_reproducible():
    mg.manual_seed(123)
    a = mg.randn(5).numpy()
    mg.manual_seed(123)
    np.testing.assert_array_equal(a, mg.randn(5).numpy())
    state = mg.backend.get_rng_state()
    b = mg.rand(3).numpy()
    mg.backend.set_rng_state(state)
    np.testing.assert_array_equal(b, mg.rand(3).numpy())


def test_default_dtype_and_float64():
    assert mg.tensor([1.0]).dtype == np.float32
    assert mg.randn(2).dtype == np.float32
    assert mg.tensor(np.zeros(2)).dtype == np.float64
    assert (mg.ones(2, dtype="float64") * 2.0).dtype == np.float64


def test_extending_guide_runs():
    """The code in docs/engine.md runs as written (a reader will paste it)."""
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "engine.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    namespace = {}
    code = "\n".join(b for b in blocks if "model(x)" not in b)
    exec(compile(code, "docs/engine.md", "exec"), namespace)
    np.testing.assert_allclose(namespace["big"].grad.numpy(), [0, 0.5, 1])
    np.testing.assert_allclose(namespace["y"].numpy(), [0, np.log(2), 1000], rtol=1e-6)


def test_leaf_gradients_are_contiguous():
    """x @ W.T hands W a transposed gradient; optimizers are several times slower on strided arrays."""
    W = mg.randn(5, 3, requires_grad=True)
    b = mg.randn(5, requires_grad=True)
    (mg.randn(4, 3) @ W.T + b).sum().backward()
    assert W.grad.data.flags.c_contiguous and b.grad.data.flags.c_contiguous


# ------------------------------------------------------------------------ in-place changes and precision
def test_an_optimizer_step_between_forward_and_backward_is_refused():
    w = mg.nn.Parameter(mg.ones(3))
    loss = (w * w).sum()                        # Mul saved w
    mg.optim.SGD([w], lr=0.1)
    w.grad = mg.ones(3)
    mg.optim.SGD([w], lr=0.1).step()            # changes w in place
    with pytest.raises(RuntimeError, match=r"Mul: an input it saved for backward .* changed in place"):
        loss.backward()


def test_replacing_data_between_forward_and_backward_is_refused():
    x = mg.ones(4, requires_grad=True)
    y = mg.exp(x * 2)                           # Mul saved x
    x.data = np.zeros(4, dtype=np.float32)
    with pytest.raises(RuntimeError, match="changed in place"):
        y.sum().backward()


def test_mark_changed_is_the_way_to_report_a_write_into_data():
    x = mg.ones(4, requires_grad=True)
    y = x * x
    x.data[0] = 5.0
    x.mark_changed()
    with pytest.raises(RuntimeError, match="changed in place"):
        y.sum().backward()


def test_changes_after_backward_are_fine():
    w = mg.nn.Parameter(mg.ones(3))
    opt = mg.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    opt.zero_grad()
    (w * w).sum().backward()                    # a new graph sees the new values
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy())


def test_float32_and_float64_tensors_do_not_mix_silently():
    a = mg.ones(3)
    b = mg.ones(3, dtype="float64")
    with pytest.raises(TypeError, match=r"Add: inputs of different precision, float32 and float64"):
        a + b
    with pytest.raises(TypeError, match="different precision"):
        a * np.ones(3)                          # a float64 NumPy array is a tensor too
    layer = mg.nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"Linear: inputs of different precision"):
        layer(mg.tensor(np.ones((1, 3))))       # np.ones is float64: it used to make the model float64


def test_numbers_take_the_tensor_precision():
    a = mg.ones(3)
    assert (a * np.float64(2.0)).dtype == np.float32          # a NumPy scalar is a number
    assert (a * 2.0).dtype == np.float32
    assert (mg.ones(3, dtype="float64") * np.float32(2)).dtype == np.float64
    assert (a * np.arange(3)).dtype == np.float32             # integers never promote a float tensor


def test_second_derivative_through_an_array_only_backward_is_an_error():
    class ArrayCube(Cube):
        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad.data * 3 * x.data ** 2       # plain arrays: first order only

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    g, = mg.autograd.grad(ArrayCube.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    with pytest.raises(RuntimeError, match="ArrayCube has no second derivative"):
        mg.autograd.grad(ArrayCube.apply(x).sum(), x, create_graph=True)


def test_grad_mode_belongs_to_the_thread():
    import threading
    seen = {}

    def other():
        seen["enabled"] = mg.is_grad_enabled()
        seen["recorded"] = (mg.ones(2, requires_grad=True) * 2).requires_grad

    with mg.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert not (mg.ones(2, requires_grad=True) * 2).requires_grad
    assert seen == {"enabled": True, "recorded": True}
