"""Time minigen's convolutions and pooling on the CPU (float32), beside PyTorch's when it is installed.

    python benchmarks/bench_conv.py [--repeat R]

Each row is the median over R runs of the forward pass alone and of forward + backward (the
gradient of sum(y * g) with respect to the input and the parameters).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minigen as mg  # noqa: E402

# name, op, input shape, parameter shapes, keyword arguments
CASES = [
    ("conv 64->128 14x14 k4 s2 p1, N=64", "conv2d", (64, 64, 14, 14), [(128, 64, 4, 4), (128,)],
     dict(stride=2, padding=1)),
    ("conv 1->32 28x28 k3 p1, N=128", "conv2d", (128, 1, 28, 28), [(32, 1, 3, 3), (32,)],
     dict(padding=1)),
    ("conv 32->64 28x28 k3 p1, N=64", "conv2d", (64, 32, 28, 28), [(64, 32, 3, 3), (64,)],
     dict(padding=1)),
    ("convT 128->64 7x7 k4 s2 p1, N=64", "conv_transpose2d", (64, 128, 7, 7), [(128, 64, 4, 4), (64,)],
     dict(stride=2, padding=1)),
    ("convT 64->1 14x14 k4 s2 p1, N=128", "conv_transpose2d", (128, 64, 14, 14), [(64, 1, 4, 4), (1,)],
     dict(stride=2, padding=1)),
    ("max_pool 2x2, (64, 32, 28, 28)", "max_pool2d", (64, 32, 28, 28), [], dict(kernel_size=2)),
    ("avg_pool 2x2, (64, 32, 28, 28)", "avg_pool2d", (64, 32, 28, 28), [], dict(kernel_size=2)),
    ("upsample x2, (64, 32, 14, 14)", "upsample", (64, 32, 14, 14), [], dict(scale_factor=2)),
]


def median_time(fn, repeat):
    fn()   # warm up: first-touch page faults, BLAS thread start
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_minigen(op, arrays, kwargs, repeat):
    fn = getattr(mg.ops, op)
    x, *params = [mg.tensor(a, requires_grad=True) for a in arrays]
    g = mg.tensor(np.ones(fn(x, *params, **kwargs).shape, dtype=np.float32))

    def forward():
        with mg.no_grad():
            fn(x, *params, **kwargs)

    def forward_backward():
        (fn(x, *params, **kwargs) * g).sum().backward()

    return median_time(forward, repeat), median_time(forward_backward, repeat)


def time_torch(torch, op, arrays, kwargs, repeat):
    fn = getattr(torch.nn.functional, {"upsample": "interpolate"}.get(op, op))
    if op == "upsample":
        kwargs = dict(kwargs, mode="nearest")
    x, *params = [torch.tensor(a, requires_grad=True) for a in arrays]

    def forward():
        with torch.no_grad():
            fn(x, *params, **kwargs)

    def forward_backward():
        fn(x, *params, **kwargs).sum().backward()

    return median_time(forward, repeat), median_time(forward_backward, repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import torch
        torch.set_num_threads(cores)   # the cores NumPy's BLAS may use too
    except ImportError:
        torch = None

    rng = np.random.default_rng(0)
    header = f"{'case':38s} {'fwd':>8s} {'fwd+bwd':>8s}"
    if torch is not None:
        header += f" {'torch fwd':>10s} {'torch f+b':>10s}"
    print(f"NumPy {np.__version__}, {cores} cores, float32, median of {args.repeat} runs (ms)")
    print(header)
    for name, op, x_shape, param_shapes, kwargs in CASES:
        arrays = [rng.standard_normal(s).astype(np.float32) for s in [x_shape, *param_shapes]]
        fwd, both = time_minigen(op, arrays, kwargs, args.repeat)
        row = f"{name:38s} {fwd * 1e3:8.1f} {both * 1e3:8.1f}"
        if torch is not None:
            tf, tb = time_torch(torch, op, arrays, kwargs, args.repeat)
            row += f" {tf * 1e3:10.1f} {tb * 1e3:10.1f}"
        print(row)


if __name__ == "__main__":
    main()
