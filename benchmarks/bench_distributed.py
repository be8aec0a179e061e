"""Data-parallel training speed: steps per second and all-reduce time per step, 1 rank against 2.

    python benchmarks/bench_distributed.py [--steps S]          # needs pip install ".[mpi]"

Each row trains a model family for S steps at the same global batch, after 5 warm-up steps, with the
loop ``minigen train`` runs on N ranks (minigen.recipe.run_steps): sharded data, per-example draws,
DataParallel optimizers, the metrics all-reduce every step. BLAS runs on one thread in every rank. Three set-ups per workload:

    1 x 1      one process, one thread                        (the unit the others are compared with)
    1 x all    one process, minigen's thread pool on every core
    2 x share  mpiexec -n 2: two ranks, each with its share of the cores

Columns:

    step/s         optimisation steps per second (the slowest rank's)
    examples/s     global batch x step/s
    all-reduce     milliseconds per step inside the gradient all-reduce, waiting for the other
                   rank included (so load imbalance shows up here too), and its share of the step
    bare           one all-reduce of a buffer of the same size when both ranks arrive together
                   (the transfer alone)
    vs 1 x 1       step/s against one process on one thread

The machine's load average is printed with the table: other processes on the cores slow the ranks
down unevenly.
"""
import argparse
import json
import os
import subprocess
import sys
import sysconfig
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# name, model, dataset, options (batch_size is the global batch)
WORKLOADS = [
    ("VAE, MLP, mnist-5k, B=128", "vae", "mnist-5k", {"batch_size": 128}),
    ("VAE, conv, mnist-5k, B=64", "vae", "mnist-5k", {"batch_size": 64, "arch": "conv"}),
    ("DDPM, moons, B=256", "ddpm", "moons", {"batch_size": 256}),
]


def measure(model, dataset, options, steps, warmup=5):
    """On every rank: train ``steps`` steps with the training loop itself (minigen.recipe.run_steps, as
    on N ranks); returns (seconds, all-reduce seconds, parameters, bare all-reduce seconds)."""
    from minigen import distributed, recipe as rc
    from minigen.training import get

    dist = distributed.init()
    recipe_cls, info = get(model), rc.dataset_info(dataset)
    config = rc.make_config(recipe_cls, dataset, 0, options)
    x, y = rc.load_split(dataset, "train")
    recipe, loader = rc.prepare(recipe_cls, info, config, x, y, rc.resolve_device("cpu"),
                                steps=warmup + steps, shard=dist)
    rc.parallel.prepare(recipe, dist)
    optimizers = [v for v in vars(recipe).values() if isinstance(v, distributed.DataParallel)]
    position = rc.Position()
    rc.run_steps(recipe, loader, warmup, position, dist=dist)
    dist.barrier()
    comm_before = sum(o.comm_seconds for o in optimizers)
    start = time.perf_counter()
    rc.run_steps(recipe, loader, warmup + steps, position, dist=dist)
    dist.barrier()
    seconds = time.perf_counter() - start
    comm = sum(o.comm_seconds for o in optimizers) - comm_before
    n_params = sum(p.size for m in recipe.modules() for p in m.parameters())
    alone = bare_allreduce(dist, n_params)
    return max(dist.allgather_object(seconds)), max(dist.allgather_object(comm)), n_params, alone


def bare_allreduce(dist, n, repeat=20):
    """Seconds for one all-reduce of n float32 numbers when every rank arrives together."""
    import numpy as np
    buffer, times = np.ones(n, dtype=np.float32), []
    for _ in range(repeat):
        dist.barrier()
        start = time.perf_counter()
        dist.allreduce_sum_(buffer)
        times.append(time.perf_counter() - start)
    return float(np.median(dist.allgather_object(float(np.median(times)))))


def worker(steps):
    """Under mpiexec: one JSON line per workload from rank 0."""
    from minigen import distributed
    dist = distributed.init()
    for name, model, dataset, options in WORKLOADS:
        seconds, comm, n_params, alone = measure(model, dataset, options, steps)
        if dist.is_root:
            from minigen.backend import parallel as threads
            print(json.dumps({"name": name, "ranks": dist.world_size, "seconds": seconds, "comm": comm,
                              "alone": alone, "threads": threads.get_num_threads(),
                              "params": n_params, "batch": options["batch_size"], "steps": steps}),
                  flush=True)


def mpiexec():
    for folder in (os.path.dirname(sys.executable), sysconfig.get_path("scripts")):
        path = os.path.join(folder, "mpiexec")
        if os.path.exists(path):
            return path
    return "mpiexec"


SETUPS = [(1, "1"), (1, None), (2, None)]     # (ranks, MINIGEN_NUM_THREADS): see the docstring


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.steps)
    load_before, rows = os.getloadavg()[0], []
    for ranks, threads in SETUPS:
        env = {k: v for k, v in os.environ.items() if k != "MINIGEN_NUM_THREADS"}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", **({"MINIGEN_NUM_THREADS": threads}
                                                                    if threads else {}))
        command = [mpiexec(), "-n", str(ranks)] if ranks > 1 else []
        done = subprocess.run(command + [sys.executable, __file__, "--worker", "--steps", str(args.steps)],
                              capture_output=True, text=True, env=env)
        if done.returncode:
            sys.exit(f"{ranks} rank(s) failed:\n{done.stderr}")
        rows += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    unit = {r["name"]: r["steps"] / r["seconds"] for r in rows if r["ranks"] == 1 and r["threads"] == 1}
    print(f"load average before: {load_before:.2f} (1 min), {os.cpu_count()} cores; {args.steps} timed "
          "steps after 5 warm-up steps; BLAS on one thread in every rank\n")
    print("| workload | parameters | ranks x threads | step/s | examples/s | all-reduce ms/step | share of step "
          "| bare all-reduce ms | vs 1 x 1 |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in sorted(rows, key=lambda r: [w[0] for w in WORKLOADS].index(r["name"])):
        rate = r["steps"] / r["seconds"]
        comm_ms = 1000 * r["comm"] / r["steps"]
        comm, share, bare = "-", "-", "-"
        if r["ranks"] > 1:
            comm, share, bare = f"{comm_ms:.2f}", f"{comm_ms / 1000 * rate:.0%}", f"{1000 * r['alone']:.2f}"
        print(f"| {r['name']} | {r['params']:,} | {r['ranks']} x {r['threads']} | {rate:.1f} | "
              f"{rate * r['batch']:.0f} | {comm} | {share} | {bare} | {rate / unit[r['name']]:.2f}x |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
