"""CUDA kernels for the elementwise chains where CuPy would otherwise launch one kernel per operation.

On a GPU a chain like Adam's ten array operations costs ten kernel launches and ten round trips
through memory; one ElementwiseKernel does it in one. Each kernel here computes the same formula as
the NumPy path it replaces (named beside it), and ``tests/test_cuda_kernels.py`` compares the two
on a GPU (``MINIGEN_TEST_DEVICE=cuda``).

    silu       s = 1 / (1 + e^{-x}),  y = x s                       minigen.ops.math.Silu.forward
    silu_grad  d = g s (1 + x (1 - s))                              minigen.ops.math.SiluGrad.forward
    adam       m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,     minigen.optim.adam.Adam._update
               theta -= step_size m / (sqrt(v) + eps_hat)
"""
from __future__ import annotations

_SOURCES = {
    "silu": ("T x", "T y, T s",
             "s = (T)1 / ((T)1 + exp(-x)); y = x * s;"),
    "silu_grad": ("T g, T x, T s", "T d",
                  "d = g * s * ((T)1 + x * ((T)1 - s));"),
    "adam": ("T g, float64 beta1, float64 beta2, float64 step_size, float64 eps_hat", "T theta, T m, T v",
             "m = (T)(beta1 * m + (1 - beta1) * g); v = (T)(beta2 * v + (1 - beta2) * g * g);"
             " theta -= (T)(step_size * m / (sqrt((double)v) + eps_hat));"),
}
_compiled = {}


def kernel(name):
    """The compiled ElementwiseKernel ``name`` (compiled on first use; needs CuPy)."""
    k = _compiled.get(name)
    if k is None:
        from . import _require_cupy
        cp = _require_cupy()
        params_in, params_out, body = _SOURCES[name]
        k = _compiled[name] = cp.ElementwiseKernel(params_in, params_out, body, f"minigen_{name}")
    return k
