"""Engine benchmarks: per-op overhead, and an MLP training step beside PyTorch and the bare GEMMs.

    python benchmarks/bench_engine.py [--device cpu|cuda] [--repeat 50]

(a) Per-op overhead: a small elementwise multiply through minigen (recording a graph, under no_grad,
    and forward + backward) against the bare array call.
(b) One training step of an MLP 784-512-512-10, batch 128, Adam, float32, cross-entropy: minigen,
    the identical PyTorch model (when torch is installed), and the bare time of the same nine
    matrix products (three forward, six backward) in the array library. Printed as a table with
    the ratios the engine is held to: minigen/PyTorch (target <= 1.3 on the CPU) and
    minigen/GEMM (target <= 2).
Timings are medians over --repeat runs after warm-up. Nothing here is asserted in tests.
"""
import argparse
import statistics
import time

import numpy as np

import minigen as mg
from minigen import nn, optim
from minigen.nn import functional as F

SIZES = (784, 512, 512, 10)
BATCH = 128


def median_time(fn, repeat, sync=lambda: None, warmup=5):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_op_overhead(device, repeat):
    xp = mg.device(device).xp
    a_np = xp.ones(16, dtype=np.float32)
    b_np = xp.ones(16, dtype=np.float32)
    a = mg.tensor(a_np, requires_grad=True)
    b = mg.tensor(b_np)
    n = 1000

    def bare():
        for _ in range(n):
            a_np * b_np

    def recorded():
        for _ in range(n):
            a * b

    def untracked():
        with mg.no_grad():
            for _ in range(n):
                a * b

    def fwd_bwd():
        for _ in range(n // 10):
            (a * b).sum().backward()

    rows = [
        ("bare array a*b", median_time(bare, repeat) / n),
        ("minigen a*b (recorded)", median_time(recorded, repeat) / n),
        ("minigen a*b (no_grad)", median_time(untracked, repeat) / n),
        ("minigen (a*b).sum().backward()", median_time(fwd_bwd, repeat) / (n // 10)),
    ]
    print(f"\n(a) per-op overhead, 16-element float32 arrays, device {device}")
    print(f"{'what':<34}{'time per call':>16}")
    for name, t in rows:
        print(f"{name:<34}{t * 1e6:>13.2f} us")


def minigen_step(device):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]),
                          nn.ReLU(), nn.Linear(SIZES[2], SIZES[3])).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = mg.randn(BATCH, SIZES[0], device=device)
    y = mg.randint(0, SIZES[3], size=(BATCH,), device=device)

    def forward():
        return F.cross_entropy(model(x), y)

    def forward_backward():
        opt.zero_grad()
        forward().backward()

    def step():
        forward_backward()
        opt.step()
    return step, forward, forward_backward


def torch_step():
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                                torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
                                torch.nn.Linear(SIZES[2], SIZES[3]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, SIZES[0])
    y = torch.randint(0, SIZES[3], (BATCH,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step, torch.get_num_threads()


def bare_gemms(device):
    """The nine products of one step: h = x W^T forward, dX = dH W and dW = dH^T X backward."""
    xp = mg.device(device).xp
    rng = np.random.default_rng(0)
    acts = [xp.asarray(rng.standard_normal((BATCH, n)).astype(np.float32)) for n in SIZES]
    weights = [xp.asarray(rng.standard_normal((o, i)).astype(np.float32)) for i, o in zip(SIZES, SIZES[1:])]

    def gemms():
        for k, W in enumerate(weights):
            acts[k] @ W.T                      # forward
            acts[k + 1] @ W                    # gradient of the layer input
            acts[k + 1].T @ acts[k]            # gradient of the weight
    return gemms


def mlp_step(device, repeat):
    sync = (lambda: mg.device(device).xp.cuda.Stream.null.synchronize()) if device != "cpu" else (lambda: None)
    step, forward, forward_backward = minigen_step(device)
    t_mg = median_time(step, repeat, sync)
    t_fwd = median_time(forward, repeat, sync)
    t_fb = median_time(forward_backward, repeat, sync)
    t_gemm = median_time(bare_gemms(device), repeat, sync)
    t_torch = threads = None
    if device == "cpu":
        try:
            step, threads = torch_step()
            t_torch = median_time(step, repeat)
        except ImportError:
            pass
    print(f"\n(b) MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, Adam, float32, device {device}")
    print(f"{'what':<40}{'ms per step':>12}{'ratio':>10}")
    print(f"{'minigen training step':<40}{t_mg * 1e3:>12.3f}{'':>10}")
    print(f"{'  of which forward':<40}{t_fwd * 1e3:>12.3f}")
    print(f"{'  of which backward':<40}{(t_fb - t_fwd) * 1e3:>12.3f}")
    print(f"{'  of which optimizer (Adam)':<40}{(t_mg - t_fb) * 1e3:>12.3f}")
    if t_torch is not None:
        print(f"{f'PyTorch training step ({threads} threads)':<40}{t_torch * 1e3:>12.3f}"
              f"{t_mg / t_torch:>9.2f}x")
    else:
        print(f"{'PyTorch training step':<40}{'not installed (pip install torch==2.13.0)':>22}")
    print(f"{'bare GEMMs of the same step':<40}{t_gemm * 1e3:>12.3f}{t_mg / t_gemm:>9.2f}x")
    print("ratios: minigen time / that row's time (targets on the CPU: <= 1.3x PyTorch, <= 2x GEMMs)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()
    per_op_overhead(args.device, args.repeat)
    mlp_step(args.device, args.repeat)


if __name__ == "__main__":
    main()
