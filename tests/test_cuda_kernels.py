"""The CUDA kernels of minigen.backend.cuda_kernels against the NumPy paths they replace.

Run on a GPU with ``MINIGEN_TEST_DEVICE=cuda python -m pytest tests/test_cuda_kernels.py``; without
one (or without CuPy) every test here is skipped with that reason.
"""
import numpy as np
import pytest

import minigen as mg
from minigen import optim

pytestmark = pytest.mark.cuda


@pytest.fixture
def gpu(device):
    if not device.startswith("cuda"):
        pytest.skip("CUDA kernels: set MINIGEN_TEST_DEVICE=cuda on a machine with a GPU and CuPy")
    return device


def test_silu_and_its_gradient_match_the_cpu(gpu):
    x = np.random.default_rng(0).standard_normal((64, 33)) * 5
    g = np.random.default_rng(1).standard_normal((64, 33))
    results = {}
    for dev in ("cpu", gpu):
        t = mg.tensor(x, dtype="float32", device=dev, requires_grad=True)
        y = mg.silu(t)
        y.backward(mg.tensor(g, dtype="float32", device=dev))
        results[dev] = (y.numpy(), t.grad.numpy())
    for a, b in zip(results["cpu"], results[gpu]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_adam_kernel_matches_the_cpu(gpu):
    rng = np.random.default_rng(0)
    init, grads = rng.standard_normal(1000), [rng.standard_normal(1000) for _ in range(3)]
    out = {}
    for dev in ("cpu", gpu):
        p = mg.tensor(init, dtype="float32", device=dev, requires_grad=True)
        opt = optim.AdamW([p], lr=0.01, weight_decay=0.1)
        for g in grads:
            p.grad = mg.tensor(g, dtype="float32", device=dev)
            opt.step()
        out[dev] = p.numpy()
    np.testing.assert_allclose(out["cpu"], out[gpu], rtol=1e-5, atol=1e-6)
