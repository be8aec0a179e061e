"""minigen: generative models on a from-scratch autograd engine over NumPy (CPU) or CuPy (CUDA).

    import minigen as mg
    x = mg.randn(4, 3, requires_grad=True)
    (x * x).sum().backward()        # x.grad == 2 x

The package is built in layers; a module may import its own layer and the ones below it, never one
above (tests/test_layers.py checks every import of every module against ``LAYERS``). Lowest first:

    backend, cuda     NumPy/CuPy selection, devices, random state (the only place that imports CuPy)
    autograd          Tensor, Function, the backward engine, grad mode, gradcheck
    ops               differentiable primitives
    io                save/load of nested dicts of arrays as .npz, atomic writes
    nn                Module, Parameter, layers, losses, functional, init
    optim             optimizers, schedules, clipping, EMA
    distributions     Normal, Bernoulli, Categorical, KL
    flows             invertible layers with log-determinants
    diffusion         noise schedules, samplers, the variational bound
    data              datasets, DataLoader, pixel levels and the spaces families model them in
    metrics           pure measures: bits/dim, IWAE, distances, modes, sample quality, PSNR, AUROC
    viz               plots and image grids
    distributed       data parallelism (MPI, NCCL)
    recipe            the Recipe interface a family implements, configs, the one training loop
    restore           inverse problems with any family's restoration prior
    models            one file per family
    training          families by name, run folders, checkpoints, resume
    harnesses         what runs many families: compare and its reports, anomaly experiments
    cli               the ``minigen`` command

See docs/ and ../shared/DESIGN.md.
"""
__version__ = "0.1.0"

# Each entry is one layer: the names (packages or modules of minigen) that sit at it. Lowest first.
LAYERS = (
    ("backend", "cuda"),
    ("autograd",),
    ("ops",),
    ("io",),
    ("nn",),
    ("optim",),
    ("distributions",),
    ("flows",),
    ("diffusion",),
    ("data",),
    ("metrics",),
    ("viz",),
    ("distributed",),
    ("recipe",),
    ("restore",),
    ("models",),
    ("training",),
    ("harnesses",),
    ("cli", "__main__"),
)

from . import backend
from .backend import Device, manual_seed, get_num_threads, set_num_threads
from .backend import device as device
from . import autograd
from .autograd import Tensor, no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import ops
from .ops import *  # noqa: F401,F403  (mg.exp, mg.matmul, mg.tensor, mg.randn, ...)
from . import cuda
from . import nn
from . import optim
from . import data
from . import distributions
from . import flows
from . import diffusion
from . import distributed
from .io import save, load

float32 = "float32"
float64 = "float64"


def __getattr__(name):
    # matplotlib takes most of a second to import: load the plotting layer only when asked for
    if name == "viz":
        import importlib
        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'minigen' has no attribute {name!r}")
