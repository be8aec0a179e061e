"""minigen's thread policy on a quiet machine and on a busy one: seconds for a few training runs.

    python benchmarks/bench_threads.py [--burners 0,1] [--steps 100]

Each cell is the wall time of one `minigen train ...` run in a fresh process. The busy machine is
simulated by busy-looping processes ("burners", each one a core's worth of someone else's work).
The policies compared:

    minigen    the default: BLAS on one thread, minigen's own chunks on one thread per core
    blas       BLAS's own threads (one per core) and no chunking: what NumPy does by itself
    one        everything on one thread

(see minigen/backend/parallel.py for why the default is what it is). Nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

POLICIES = {
    "minigen": {},
    "blas": {"MINIGEN_NUM_THREADS": "1", "MINIGEN_BLAS_THREADS": str(os.cpu_count() or 1)},
    "one": {"MINIGEN_NUM_THREADS": "1", "MINIGEN_BLAS_THREADS": "1"},
}
RUNS = [  # what, command after `minigen train`, steps scale
    ("vae digits (README's first command)", ["vae", "--dataset", "digits"], 1.0),
    ("dcgan mnist-5k", ["dcgan", "--dataset", "mnist-5k"], 0.3),
    ("ddpm mnist-5k", ["ddpm", "--dataset", "mnist-5k"], 0.1),
]


def burn():
    while True:
        pass


def timed_run(args, steps, env):
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "minigen", "train", *args, "--steps", str(steps), "--out", out]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    return elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--burners", default="0,1", help="numbers of busy-looping processes, e.g. 0,1")
    p.add_argument("--steps", type=int, default=100, help="steps of the first run (others scaled)")
    p.add_argument("--policies", default=",".join(POLICIES))
    args = p.parse_args()
    policies = args.policies.split(",")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  cores {os.cpu_count()}  load average "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"{'run':<38}{'burners':>8}" + "".join(f"{p + ' s':>12}" for p in policies))
    for burners in (int(b) for b in args.burners.split(",")):
        import multiprocessing
        workers = [multiprocessing.Process(target=burn, daemon=True) for _ in range(burners)]
        for w in workers:
            w.start()
        try:
            for what, cmd, scale in RUNS:
                steps = max(5, int(args.steps * scale))
                cells = []
                for policy in policies:
                    t = timed_run(cmd, steps, POLICIES[policy])
                    cells.append(f"{t:>12.1f}" if isinstance(t, float) else f"{t:>12}")
                print(f"{what + f' ({steps} steps)':<38}{burners:>8}" + "".join(cells), flush=True)
        finally:
            for w in workers:
                w.terminate()


if __name__ == "__main__":
    main()
