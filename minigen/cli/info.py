"""``minigen info`` (versions, devices, BLAS) and ``minigen datasets`` (a table of every dataset)."""
from __future__ import annotations

import os
import platform
import sys


def add_commands(commands) -> None:
    p = commands.add_parser("info", help="versions, devices and the BLAS library in use")
    p.set_defaults(run=run_info)
    p = commands.add_parser("datasets", help="every dataset: name, shape, classes, sizes, source")
    p.set_defaults(run=run_datasets)


def _version(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return getattr(module, "__version__", "unknown")


def blas() -> str:
    """The BLAS library NumPy calls: threadpoolctl's live view when installed, else NumPy's build info."""
    try:
        import threadpoolctl
        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return ", ".join(f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)" for p in pools)
    except ImportError:
        pass
    import numpy as np
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{config['name']} {config.get('version', '')}".strip()
    except (TypeError, KeyError):   # NumPy < 1.26 prints its config instead of returning it
        return "unknown (NumPy does not report it; install threadpoolctl to see it)"


def run_info(args) -> int:
    from .. import __version__, backend
    devices = backend.info()
    rows = [("minigen", __version__),
            ("python", f"{platform.python_version()} ({sys.executable})"),
            ("numpy", _version("numpy")),
            ("scipy", _version("scipy")),
            ("matplotlib", _version("matplotlib")),
            ("cupy", devices["cupy"] or "not installed"),
            ("cuda devices", ", ".join(devices["cuda_devices"]) or "none"),
            ("blas", blas()),
            ("threads", f"{backend.get_num_threads()} for minigen's own chunks of work, BLAS on "
                        f"{os.environ.get('MINIGEN_BLAS_THREADS', '1')} (docs/performance.md)")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def run_datasets(args) -> int:
    from .. import data
    header = ("name", "kind", "shape", "classes", "train", "test", "source")
    def shape(d):            # paired and captioned sets: what a model is given -> what it draws
        target = "x".join(str(s) for s in d.shape)
        if d.kind == "paired":
            return "x".join(str(s) for s in d.condition_shape) + " -> " + target
        return f"text -> {target}" if d.kind == "captioned" else target
    rows = [(d.name, d.kind, shape(d), str(d.num_classes or "-"),
             f"{d.n_train:,}", f"{d.n_test:,}", d.source) for d in data.datasets()]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
