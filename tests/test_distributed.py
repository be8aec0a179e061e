"""Data-parallel training (minigen.distributed).

Run in two ways, and CI (.ci/run) runs both:

    python -m pytest tests/test_distributed.py                  # one process: the world of one, the
                                                                # sharding and draw arithmetic, errors,
                                                                # and faults in jobs it starts itself
    mpiexec -n 2 python -m pytest tests/test_distributed.py     # two ranks: N ranks = 1 process, the
                                                                # collectives, rank-0 writing, resume

Tests that need two ranks skip (saying so) in a single process; tests that start their own
``mpiexec`` skip inside an MPI job. Equivalence tests train the reference single-process run in the
same test, inside ``single_process()``, and compare parameters up to the order of float32 sums.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigen as mg
from minigen import distributed
from minigen.distributed import comm as comm_module
from minigen.distributed.random import ShardedGenerator
from minigen.training import UsageError, train

LAUNCHED = distributed.launched_by_mpi() is not None
WORLD = (distributed.launched_by_mpi() or (0, 1, None))[1] or 1
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs_two_ranks = pytest.mark.skipif(
    WORLD != 2, reason="needs two ranks: run mpiexec -n 2 python -m pytest tests/test_distributed.py")


def _mpi_tools():
    """(mpiexec path, why not): mpi4py and an mpiexec beside this Python or on PATH."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None, 'needs the MPI extra: pip install ".[mpi]"'
    import sysconfig
    here = [os.path.join(folder, "mpiexec")
            for folder in (os.path.dirname(sys.executable), sysconfig.get_path("scripts"))]
    path = next((p for p in here if os.path.exists(p)), None) or shutil.which("mpiexec")
    return path, None if path else "needs mpiexec (pip install \".[mpi]\" brings MPICH's)"


MPIEXEC, NO_MPI = _mpi_tools()
spawns_mpiexec = pytest.mark.skipif(
    LAUNCHED or MPIEXEC is None,
    reason="starts its own mpiexec job, so it runs in the single-process suite"
    if LAUNCHED else NO_MPI or "")


# ------------------------------------------------------------------------------------ helpers
class FakeRank:
    """What DataLoader(shard=...) reads from a communicator, for arithmetic tests in one process."""

    def __init__(self, rank, world_size):
        self.rank, self.world_size = rank, world_size


def clean_env(**extra):
    """This environment without an enclosing MPI job's variables, one BLAS thread, and ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MV2_", "HYDRA_", "MPI_LOCAL"))}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=REPO,
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")  # CI runs as root
    env.update(extra)
    return env


def run_mpiexec(args, timeout=180, **env):
    start = time.monotonic()
    done = subprocess.run([MPIEXEC, "-n", "2"] + args, capture_output=True, text=True, timeout=timeout,
                          env=clean_env(**env), cwd=REPO)
    return done, time.monotonic() - start


def params(out):
    """{dotted name: array} of every array in the model state saved in run folder ``out``: weights,
    buffers, optimizer moments, averages of weights."""
    def flat(tree, prefix):
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield from flat(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(tree, np.ndarray) and tree.dtype.kind == "f":
            yield prefix, tree
    return dict(flat(mg.load(os.path.join(out, "checkpoint.npz"))["model"], ""))


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a)


def metrics(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def dist():
    return distributed.init()


@pytest.fixture
def shared_dir(dist):
    """A folder every rank sees (one machine): made by rank 0, its path sent to the others."""
    path = dist.broadcast_object(tempfile.mkdtemp(prefix="minigen-dist-") if dist.is_root else None)
    yield path
    dist.barrier()
    if dist.is_root:
        shutil.rmtree(path, ignore_errors=True)


def quiet():
    return open(os.devnull, "w")


# ====================================================================== one process (always run)
def test_a_plain_process_is_a_world_of_one_without_mpi():
    code = ("import sys, minigen as mg; d = mg.distributed.init(); "
            "print(d.backend, d.rank, d.world_size, d.local_rank, 'mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(),
                         check=True).stdout.split()
    assert out == ["single", "0", "1", "0", "False"]


def test_a_world_of_one_passes_arrays_and_objects_through():
    one = distributed.Communicator()
    a = np.arange(6, dtype=np.float32)
    assert one.allreduce_sum_(a) is a and np.array_equal(one.allreduce_sum(a), a)
    assert one.allreduce_sum(a) is not a
    assert one.broadcast_(a) is a
    assert one.broadcast_object({"k": 1}) == {"k": 1} and one.allgather_object(3) == [3]
    assert one.on_root(lambda x: x + 1, 1) == 2 and one.together(lambda: "ok") == "ok"
    with pytest.raises(ZeroDivisionError):
        one.on_root(lambda: 1 / 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        one.allreduce_sum_(np.zeros((4, 4))[:, ::2])


def test_the_launcher_is_read_from_the_environment(monkeypatch):
    for var in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                "MV2_COMM_WORLD_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert distributed.launched_by_mpi() is None
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert distributed.launched_by_mpi() == (3, 4, "OMPI_COMM_WORLD_RANK")
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("PMI_SIZE", "2")
    assert distributed.launched_by_mpi() == (1, 2, "PMI_RANK")


@pytest.mark.skipif(LAUNCHED, reason="pretends to be a rank without MPI; runs in the single-process suite")
def test_a_launched_rank_without_mpi4py_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)          # import mpi4py now fails
    monkeypatch.setattr(comm_module, "_current", None)
    with pytest.raises(RuntimeError, match=r'PMI_RANK=1, 2 ranks.*pip install "minigen\[mpi\]"'):
        distributed.init()
    with pytest.raises(UsageError, match=r'minigen\[mpi\]'):          # the trainer, before any work
        train("vae", "digits", steps=1, out=os.path.join(tempfile.gettempdir(), "never-written"))


def test_init_refuses_unknown_backends_and_devices():
    with pytest.raises(ValueError, match="backend must be"):
        distributed.init(backend_name="gloo")
    with pytest.raises(ValueError, match="unknown device"):
        distributed.init(device="tpu")


@pytest.mark.skipif(mg.cuda.is_available(), reason="checks the message given when CUDA is missing")
def test_gpus_without_cupy_or_nccl_say_what_is_missing():
    with pytest.raises(RuntimeError, match="CuPy"):
        mg.backend.nccl()
    with distributed.single_process():
        pass
    if not LAUNCHED:
        with pytest.raises(RuntimeError, match="CuPy|GPU"):
            comm_module.init(device="cuda", backend_name="nccl")


def test_each_rank_takes_the_gpu_of_its_local_rank(monkeypatch):
    monkeypatch.setattr(mg.backend, "cuda_device_count", lambda: 2)
    assert comm_module._gpu("cuda", 0, 4) == mg.backend.Device("cuda", 0)
    assert comm_module._gpu("cuda", 1, 4) == mg.backend.Device("cuda", 1)
    with pytest.raises(RuntimeError, match=r"local rank 2 on node7, which has 2 GPU\(s\).*at most 2"):
        comm_module._gpu("cuda", 2, 4, "node7", rank=6)
    with pytest.raises(ValueError, match="pass device 'cuda'.*CUDA_VISIBLE_DEVICES"):
        comm_module._gpu("cuda:1", 1, 4)


def test_nccl_sums_the_dtypes_minigen_trains_in():
    from minigen.distributed.nccl import _nccl_dtype

    class FakeNccl:
        NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
    assert _nccl_dtype(FakeNccl, np.dtype("float32")) == 7
    assert _nccl_dtype(FakeNccl, np.dtype("float64")) == 8
    with pytest.raises(TypeError, match="NCCL sums arrays of"):
        _nccl_dtype(FakeNccl, np.dtype("complex64"))


@pytest.mark.cuda
@pytest.mark.skipif(not mg.cuda.is_available(), reason="needs a CUDA GPU with CuPy and NCCL")
@pytest.mark.skipif(LAUNCHED, reason="makes a one-rank NCCL world; runs in the single-process suite")
def test_a_one_rank_nccl_world_sums_and_trains_on_the_gpu(monkeypatch, tmp_path):
    monkeypatch.setattr(comm_module, "_current", None)
    dist = distributed.init(device="cuda", backend_name="nccl")
    try:
        assert (dist.backend, dist.device) == ("nccl", mg.backend.Device("cuda", 0))
        for dtype in ("float32", "float64"):
            a = mg.arange(6, dtype=dtype, device=dist.device).data
            assert np.array_equal(mg.backend.to_numpy(dist.allreduce_sum(a)), np.arange(6))
            assert dist.broadcast_(a) is a
        with pytest.raises(ValueError, match="C-contiguous"):
            dist.allreduce_sum_(mg.zeros(4, 4, device=dist.device).data[:, ::2])
    finally:
        dist.close()
    with distributed.single_process():
        train("vae", "digits", out=str(tmp_path / "gpu"), steps=3, device="cuda", stream=quiet())


# ---------------------------------------------------------------------------------- sharding
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), world=st.integers(1, 5), per_rank=st.integers(1, 12),
       drop_last=st.booleans(), seed=st.integers(0, 2**31), epoch=st.integers(0, 3))
def test_the_shards_of_a_global_batch_are_the_single_process_batch(n, world, per_rank, drop_last, seed,
                                                                   epoch):
    x, batch = np.arange(n), world * per_rank
    try:
        shards = [mg.data.DataLoader(x, batch_size=batch, seed=seed, drop_last=drop_last,
                                     shard=FakeRank(r, world)) for r in range(world)]
    except ValueError as e:                   # only when the batches cannot be shared equally
        assert (drop_last and batch > n) or (not drop_last and (n % batch) % world), e
        return
    single = mg.data.DataLoader(x, batch_size=batch, seed=seed, drop_last=drop_last)
    parts = [[b.numpy() for b, _ in s.batches(epoch)] for s in shards]
    for k, (whole, _) in enumerate(single.batches(epoch)):
        assert len({len(p[k]) for p in parts}) == 1                          # equal shares
        assert np.array_equal(np.concatenate([p[k] for p in parts]), whole.numpy())   # in order
    assert all(len(s) == len(single) for s in shards)
    visited = np.concatenate([b for p in parts for b in p]) if len(single) else np.array([])
    assert len(set(visited.tolist())) == len(visited)                         # each example once


def test_a_batch_size_the_world_size_does_not_divide_is_refused():
    x = np.zeros((100, 2))
    with pytest.raises(ValueError, match="batch_size 10 is the global batch, shared by 3 ranks.*9 or 12"):
        mg.data.DataLoader(x, batch_size=10, shard=FakeRank(0, 3))
    with pytest.raises(ValueError, match="last batch of each epoch holds 11 of the 101 .*cannot share"):
        mg.data.DataLoader(np.zeros((101, 2)), batch_size=18, shard=FakeRank(0, 2), drop_last=False)
    mg.data.DataLoader(np.zeros((101, 2)), batch_size=18, shard=FakeRank(0, 2), drop_last=True)
    mg.data.DataLoader(x, batch_size=18, shard=FakeRank(0, 2), drop_last=False)   # 10 over: fine
    with pytest.raises(TypeError, match="shard must be a minigen.distributed communicator"):
        mg.data.DataLoader(x, batch_size=10, shard=FakeRank(2, 2))


# --------------------------------------------------------------------------- per-example draws
@pytest.mark.parametrize("method, make", [
    ("standard_normal", lambda g, n: g.standard_normal((n, 3), dtype=np.float32)),
    ("random", lambda g, n: g.random((n, 1, 2), dtype=np.float32)),
    ("integers", lambda g, n: g.integers(1, 1000, size=(n,))),
])
def test_each_rank_draws_its_rows_of_the_global_batch(method, make):
    world, local = 3, 4
    whole_gen = np.random.default_rng(11)
    whole = make(whole_gen, world * local)
    rows, states = [], []
    for rank in range(world):
        gen = np.random.default_rng(11)
        rows.append(make(ShardedGenerator(gen, rank, world, local), local))
        states.append(gen.bit_generator.state)
    assert np.array_equal(np.concatenate(rows), whole)
    assert all(s == whole_gen.bit_generator.state for s in states)   # every stream moves on as one


def test_draws_of_other_shapes_are_left_alone():
    gen = ShardedGenerator(np.random.default_rng(3), 1, 2, 4)
    assert np.array_equal(gen.standard_normal((5, 4)), np.random.default_rng(3).standard_normal((5, 4)))
    assert gen.bit_generator is not None                   # anything else is the generator's own


def test_shard_draws_reaches_the_ops_that_draw(monkeypatch):
    fake = FakeRank(1, 2)
    mg.manual_seed(4)
    whole = mg.randn(6, 2).numpy()
    mg.manual_seed(4)
    with distributed.shard_draws(fake, 3):
        mine = mg.randn(3, 2).numpy()
        after = mg.rand(7).numpy()                           # not per example: drawn as it is
    mg.manual_seed(4)
    mg.randn(6, 2)
    assert np.array_equal(mine, whole[3:]) and np.array_equal(after, mg.rand(7).numpy())
    with pytest.raises(ValueError, match="local batch size"):
        distributed.shard_draws(fake, 0)


# ------------------------------------------------------------------------------- DataParallel
def test_data_parallel_in_a_world_of_one_is_the_optimizer():
    model = mg.nn.Linear(3, 2)
    adam = mg.optim.Adam(model.parameters(), lr=0.1)
    opt = distributed.DataParallel(adam, distributed.Communicator())
    model(mg.randn(4, 3)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    opt.step()
    assert [p.grad for p in model.parameters()] == grads          # nothing to average
    assert opt.param_groups is adam.param_groups and opt.defaults == adam.defaults
    assert opt.state_dict().keys() == adam.state_dict().keys()
    with pytest.raises(TypeError, match="wraps an optimizer"):
        distributed.DataParallel(model)
    with pytest.raises(TypeError, match="already wrapped"):
        distributed.DataParallel(opt)


def test_gradients_travel_in_a_few_flat_buffers():
    from minigen.distributed.data_parallel import _make_buckets
    model = mg.nn.Sequential(*[mg.nn.Linear(64, 64) for _ in range(10)])      # 20 parameters
    params = list(model.parameters())
    assert len(_make_buckets(params, 25 * 2**20)) == 1
    small = _make_buckets(params, 64 * 64 * 4 * 3)                            # ~3 weights a bucket
    assert 3 <= len(small) <= 8 and [p for b in small for p in b.params] == params


def test_the_watchdog_stops_a_wait_that_takes_too_long():
    from minigen.distributed.faults import Watchdog
    fired = []
    dog = Watchdog(lambda what, waited: fired.append((what, waited)))
    with dog.waiting("a test all-reduce", 0.2):
        time.sleep(1.2)
    with dog.waiting("a quick one", 5):
        pass
    dog.stop()
    assert len(fired) == 1 and fired[0][0] == "a test all-reduce" and fired[0][1] > 0.2


def test_batch_norm_layers_get_the_sum_over_ranks():
    net = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.BatchNorm1d(4), mg.nn.ReLU(),
                           mg.nn.Sequential(mg.nn.Linear(4, 4), mg.nn.BatchNorm1d(4)))
    two = FakeRank(0, 2)
    two.allreduce_sum = lambda a: a + a
    assert distributed.sync_batch_norm(net, two) == 2
    assert net[1].reduce is two.allreduce_sum and net[3][1].reduce is two.allreduce_sum
    y = net(mg.randn(5, 3))                      # F.batch_norm takes the statistics through it
    assert y.shape == (5, 4)
    assert distributed.sync_batch_norm(net, distributed.Communicator()) == 2     # a world of one
    assert net[1].reduce is None
    distributed.sync_batch_norm(net, two)
    distributed.sync_batch_norm(net, None)
    assert net[3][1].reduce is None


def test_synchronised_batch_norm_sends_three_small_messages_per_step():
    # forward: the count with the per-channel sums, then the squared deviations (they need the global
    # mean); backward: its two per-channel sums together
    x = mg.randn(6, 4, 3, 3, dtype="float64", requires_grad=True)
    g = mg.randn(6, 4, 3, 3, dtype="float64")
    bn = mg.nn.BatchNorm2d(4).to(dtype="float64")
    bn.weight.data[...] = np.arange(1.0, 5.0, dtype=bn.weight.data.dtype)
    bn.weight.mark_changed()
    (bn(x) * g).sum().backward()
    alone, alone_grad = bn(x).numpy(), x.grad.numpy()
    sent = []

    def two_equal_ranks(a):                      # both ranks hold this same shard
        sent.append(a.size)
        return a + a
    x.grad = None
    bn.reduce = two_equal_ranks
    y = bn(x)
    (y * g).sum().backward()
    assert sent == [4 + 1, 4, 2 * 4]
    np.testing.assert_allclose(y.numpy(), alone, rtol=1e-12, atol=1e-12)   # the same statistics
    np.testing.assert_allclose(x.grad.numpy(), alone_grad, rtol=1e-10, atol=1e-12)


@distributed.single_process()                   # each rank its own folder, under mpiexec too
def test_the_run_folder_records_the_world_size_and_a_resume_on_another_says_so(tmp_path):
    out = str(tmp_path / "run")
    train("vae", "digits", out=out, steps=3, options={"batch_size": 32}, stream=quiet())
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["world_size"] == 1
    header = mg.io.read_header(os.path.join(out, "checkpoint.npz"))
    assert header["config"]["world_size"] == 1
    # as if the run so far had been trained on 2 ranks
    saved = mg.load(os.path.join(out, "checkpoint.npz"))
    header["config"]["world_size"] = 2
    mg.save(saved, os.path.join(out, "checkpoint.npz"), header=header)
    said = tmp_path / "said.txt"
    with open(said, "w") as stream:
        train("vae", "digits", out=out, steps=5, resume=True, stream=stream)
    assert "resuming a run trained on 2 rank(s) on 1: it goes on as the same run" in said.read_text()
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["world_size"] == 1


# ===================================================================== jobs this suite starts itself
@spawns_mpiexec
def test_mpiexec_minigen_train_equals_one_process(tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    args = ["vae", "--dataset", "digits", "--steps", "12", "--batch-size", "32"]
    subprocess.run([sys.executable, "-m", "minigen", "train", *args, "--out", one], check=True,
                   capture_output=True, env=clean_env(), cwd=REPO)
    done, _ = run_mpiexec([sys.executable, "-m", "minigen", "train", *args, "--out", two])
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("trained vae on digits") == 1                   # rank 0 alone reports
    assert max_difference(params(one), params(two)) < 1e-4
    assert sorted(os.listdir(two)) == sorted(os.listdir(one))
    evaluated, _ = run_mpiexec([sys.executable, "-m", "minigen", "eval", two])   # rank 0 alone
    assert evaluated.returncode == 0, evaluated.stderr
    assert len([line for line in evaluated.stdout.splitlines() if line.startswith("{")]) == 1


@spawns_mpiexec
def test_a_bad_batch_size_stops_every_rank_before_training(tmp_path):
    out = str(tmp_path / "run")
    done, _ = run_mpiexec([sys.executable, "-m", "minigen", "train", "vae", "--dataset", "digits",
                           "--steps", "5", "--batch-size", "63", "--out", out])
    assert done.returncode == 2
    assert done.stderr.count("error: DataLoader: batch_size 63 is the global batch, shared by 2 ranks") == 1
    assert not os.path.exists(out)


@spawns_mpiexec
def test_the_custom_loop_example_on_two_ranks_ends_where_one_process_does(tmp_path):
    example = os.path.join(REPO, "examples", "ddp_custom_loop.py")
    one = str(tmp_path / "one.npz")
    alone = subprocess.run([sys.executable, example, "--epochs", "1", "--out", one], capture_output=True,
                           text=True, env=clean_env(), cwd=REPO)
    assert alone.returncode == 0, alone.stderr
    done, _ = run_mpiexec([sys.executable, example, "--epochs", "1", "--out", str(tmp_path / "two.npz"),
                           "--compare", one])
    assert done.returncode == 0, done.stderr
    assert "2 rank(s), backend mpi: global batch 64, 32 examples per rank" in done.stdout
    assert "the same on every rank: True" in done.stdout
    loss = [line for line in alone.stdout.splitlines() if line.startswith("epoch 1")]
    assert loss and loss[0] in done.stdout                       # the same loss, to print precision
    gap = float(done.stdout.split("largest weight difference from")[1].split(": ")[1].split()[0])
    assert gap < 1e-5


FAULTY_RUN = textwrap.dedent("""
    import os, signal, sys, time
    import minigen as mg
    from minigen.training import train
    dist = mg.distributed.init()
    def fail(step, metrics):
        if step == 4 and dist.rank == 1:
            {action}
    train("vae", "digits", out=sys.argv[1], steps=200, checkpoint_every=2, callback=fail,
          options={{"batch_size": 32}}, stream=open(os.devnull, "w"))
""")


@spawns_mpiexec
@pytest.mark.parametrize("action, expect", [
    ("raise RuntimeError('rank one broke')", "rank 1 of 2 .* failed: RuntimeError: rank one broke"),
    ("os.kill(os.getpid(), signal.SIGKILL)", "(?i)killed|signal 9|terminated"),
    ("time.sleep(600)", "rank 0 of 2 .* waited .* past the timeout of 3 s"),
])
def test_one_rank_failing_stops_every_rank_and_keeps_the_checkpoint(tmp_path, action, expect):
    script, out = tmp_path / "run.py", str(tmp_path / "run")
    script.write_text(FAULTY_RUN.format(action=action))
    done, seconds = run_mpiexec([sys.executable, str(script), out], timeout=120, MINIGEN_DIST_TIMEOUT="3")
    assert done.returncode != 0
    assert re.search(expect, done.stdout + done.stderr), done.stdout + done.stderr
    assert seconds < 60
    saved = mg.load(os.path.join(out, "checkpoint.npz"))          # intact, and a step it reached
    assert saved["step"] in (2, 4)


@spawns_mpiexec
def test_ctrl_c_stops_every_rank_after_the_same_step_and_resume_continues(tmp_path):
    out = str(tmp_path / "run")
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "minigen", "train", "vae", "--dataset",
               "digits", "--steps", "100000", "--out", out]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=clean_env(), cwd=REPO)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(out, "metrics.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.2)                                             # training has started
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130, err
    step = int(err.split("interrupted after step ")[1].split("/")[0])
    assert err.count("interrupted after step") == 1
    assert mg.load(os.path.join(out, "checkpoint.npz"))["step"] == step
    done, _ = run_mpiexec([sys.executable, "-m", "minigen", "train", "vae", "--dataset", "digits",
                           "--steps", str(step + 3), "--out", out, "--resume"])
    assert done.returncode == 0, done.stderr
    assert mg.load(os.path.join(out, "checkpoint.npz"))["step"] == step + 3


# ====================================================================== two ranks (mpiexec -n 2)
@needs_two_ranks
def test_the_collectives(dist):
    assert (dist.backend, dist.world_size, dist.rank) == ("mpi", 2, dist.rank)
    if "MINIGEN_NUM_THREADS" not in os.environ and dist.local_size == 2:     # each rank: half the cores
        assert mg.backend.parallel.get_num_threads() == max(1, len(os.sched_getaffinity(0)) // 2)
    a = np.full(5, dist.rank + 1, dtype=np.float32)
    assert np.array_equal(dist.allreduce_sum(a), np.full(5, 3.0)) and a[0] == dist.rank + 1
    b = np.arange(4.0) * (dist.rank + 7)
    dist.broadcast_(b)
    assert np.array_equal(b, np.arange(4.0) * 7)
    assert dist.broadcast_object({"from": dist.rank}) == {"from": 0}
    assert dist.allgather_object(dist.rank * 10) == [0, 10]
    assert dist.on_root(lambda: dist.rank) == 0
    with pytest.raises(KeyError, match="only on rank 1"):        # raised on one rank, seen by both
        dist.together(lambda: {}["only on rank 1"] if dist.rank == 1 else None)
    with pytest.raises(ValueError, match="rank 0 says no"):
        dist.on_root(lambda: (_ for _ in ()).throw(ValueError("rank 0 says no")))


@needs_two_ranks
@pytest.mark.cuda
@pytest.mark.skipif(mg.backend.cuda_device_count() < 2, reason="needs two CUDA GPUs with CuPy and NCCL")
def test_two_gpus_sum_and_broadcast_with_nccl(dist):
    from minigen.distributed.nccl import NcclCommunicator
    device = mg.backend.Device("cuda", dist.local_rank)
    nccl = NcclCommunicator(2, dist.rank, device, dist.on_root(NcclCommunicator.new_unique_id))
    try:
        a = mg.full((5,), dist.rank + 1.0, device=device).data
        assert np.array_equal(mg.backend.to_numpy(nccl.allreduce_sum_(a, dist._waiting)), np.full(5, 3.0))
        b = mg.full((3,), 7.0 + dist.rank, dtype="float64", device=device).data
        assert np.array_equal(mg.backend.to_numpy(nccl.broadcast_(b, 0, dist._waiting)), np.full(3, 7.0))
    finally:
        nccl.close()


@needs_two_ranks
def test_every_rank_starts_from_rank_0s_parameters_and_optimizer_state(dist):
    mg.manual_seed(100 + dist.rank)                          # a different model on every rank
    model = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.ReLU(), mg.nn.Linear(8, 2))
    adam = mg.optim.Adam(model.parameters(), lr=0.01)
    if dist.is_root:                                          # and only rank 0 has taken a step
        model(mg.randn(5, 4)).sum().backward()
        adam.step()
    distributed.DataParallel(adam, dist)
    gathered = dist.allgather_object([p.numpy() for p in model.parameters()])
    states = dist.allgather_object(adam.state_dict())
    for mine, root in zip(gathered[1], gathered[0]):
        assert np.array_equal(mine, root)
    assert states[1]["state"]["0"]["step"] == 1
    assert np.array_equal(states[1]["state"]["0"]["m"], states[0]["state"]["0"]["m"])


@needs_two_ranks
def test_the_loader_shards_each_global_batch(dist):
    x = np.arange(40)
    mine = [b.numpy() for b, _ in mg.data.DataLoader(x, batch_size=8, seed=2, shard=dist).batches(1)]
    everyone = dist.allgather_object(mine)
    single = [b.numpy() for b, _ in mg.data.DataLoader(x, batch_size=8, seed=2).batches(1)]
    for k, whole in enumerate(single):
        assert np.array_equal(np.concatenate([everyone[0][k], everyone[1][k]]), whole)


@needs_two_ranks
def test_per_example_draws_are_the_rows_one_process_would_draw(dist):
    mg.manual_seed(9)
    whole, after = mg.randn(6, 3).numpy(), mg.rand(2).numpy()
    mg.manual_seed(9)
    with distributed.shard_draws(dist, 3):
        mine = mg.randn(3, 3).numpy()
    rows = dist.allgather_object(mine)
    assert np.array_equal(np.concatenate(rows), whole) and np.array_equal(mg.rand(2).numpy(), after)


@needs_two_ranks
def test_the_gradient_is_the_mean_over_ranks_and_unused_parameters_stay_untouched(dist):
    mg.manual_seed(0)
    used, branch, unused = (mg.nn.Parameter(mg.randn(3).data) for _ in range(3))
    opt = distributed.DataParallel(mg.optim.SGD([used, branch, unused], lr=1.0), dist)
    before = unused.numpy().copy()
    loss = (used * (dist.rank + 1)).sum()
    if dist.is_root:                                      # only rank 0 goes through this branch
        loss = loss + (branch * 4).sum()
    opt.zero_grad()
    loss.backward()
    opt.synchronize()
    assert np.allclose(used.grad.numpy(), 1.5)            # (1 + 2) / 2
    assert np.allclose(branch.grad.numpy(), 2.0)          # (4 + 0) / 2: zero-filled on rank 1
    assert unused.grad is None                            # no rank had one: left alone
    opt.step()
    assert np.array_equal(unused.numpy(), before)
    norm = mg.optim.clip_grad_norm_([used, branch], 1e9)  # clipping sees the global gradient
    assert dist.allgather_object(norm) == [norm, norm]


@needs_two_ranks
def test_clipping_averages_the_gradients_first(dist):
    w = mg.nn.Parameter(mg.zeros(2).data)
    opt = distributed.DataParallel(mg.optim.SGD([w], lr=1.0), dist)
    (w * mg.tensor([3.0, 0.0] if dist.is_root else [0.0, 4.0])).sum().backward()
    norm = mg.optim.clip_grad_norm_([w], 1.0)
    assert norm == pytest.approx(2.5)                     # |(1.5, 2)|, not |(3, 0)| or |(0, 4)|
    opt.step()
    assert dist.allgather_object(w.numpy().tolist())[0] == dist.allgather_object(w.numpy().tolist())[1]


@needs_two_ranks
def test_two_ranks_train_the_vae_as_one_process_does(dist, shared_dir):
    options = {"batch_size": 32}
    ref = os.path.join(shared_dir, f"one-{dist.rank}")
    with distributed.single_process():
        train("vae", "digits", out=ref, steps=30, options=options, stream=quiet())
        train("vae", "digits", out=ref + "-half", steps=30, options={"batch_size": 16}, stream=quiet())
    two = os.path.join(shared_dir, "two")
    train("vae", "digits", out=two, steps=30, options=options, stream=quiet())
    difference = max_difference(params(ref), params(two))
    control = max_difference(params(ref + "-half"), params(two))   # what a wrong average would give
    assert difference < 1e-4 < control / 100, (difference, control)
    for a, b in zip(metrics(ref), metrics(two)):                    # metrics: the mean over ranks
        assert a["step"] == b["step"] and a["loss"] == pytest.approx(b["loss"], rel=1e-4)


@needs_two_ranks
@pytest.mark.parametrize("model", ["gan", "wgan-gp"])
def test_two_ranks_play_the_adversarial_game_as_one_process_does(dist, shared_dir, model):
    # two optimizers; the generator's backward leaves gradients in D that no step uses; z and
    # WGAN-GP's interpolation weights drawn per example; the gradient penalty's double backward
    options = {"batch_size": 64}
    ref = os.path.join(shared_dir, f"one-{dist.rank}")
    with distributed.single_process():
        train(model, "8gaussians", out=ref, steps=30, options=options, stream=quiet())
    two = os.path.join(shared_dir, "two")
    train(model, "8gaussians", out=two, steps=30, options=options, stream=quiet())
    assert max_difference(params(ref), params(two)) < 1e-4


@needs_two_ranks
def test_two_ranks_train_ddpm_with_clipping_as_one_process_does(dist, shared_dir):
    options = {"batch_size": 16, "grad_clip": 0.05}                  # so that clipping bites
    ref = os.path.join(shared_dir, f"one-{dist.rank}")
    with distributed.single_process():
        train("ddpm", "moons", out=ref, steps=20, options=options, stream=quiet())
    two = os.path.join(shared_dir, "two")
    train("ddpm", "moons", out=two, steps=20, options=options, stream=quiet())
    assert max_difference(params(ref), params(two)) < 1e-4
    assert all(m["grad_norm"] > 0.05 for m in metrics(two))


def _feeding_batch_norm(recipe):
    """Names of the biases of layers followed directly by a BatchNorm, and of those BatchNorms'
    running means. Batch norm subtracts the mean, so such a bias has a gradient of exactly 0 and no
    effect on the output; in float32 its gradient is rounding noise, which Adam's m / sqrt(v) turns
    into steps of about +-lr, different for any change of summation order (1 process or 2)."""
    from minigen.nn.norm import _BatchNorm
    names = set()
    for net in ("generator", "discriminator"):
        for prefix, module in getattr(recipe, net).named_modules():
            if isinstance(module, mg.nn.Sequential):
                for i, (layer, after) in enumerate(zip(list(module), list(module)[1:])):
                    if isinstance(after, _BatchNorm) and getattr(layer, "bias", None) is not None:
                        names |= {f"{net}.{prefix}.{i}.bias", f"{net}.{prefix}.{i + 1}.running_mean"}
    return names


@needs_two_ranks
def test_two_ranks_train_dcgan_with_synchronised_batch_norm_as_one_process_does(dist, shared_dir):
    options = {"batch_size": 32, "width": 8, "latent_dim": 8}
    ref = os.path.join(shared_dir, f"one-{dist.rank}")
    with distributed.single_process():
        one = train("dcgan", "digits", out=ref, steps=24, options=options, stream=quiet()).recipe
    two_dir = os.path.join(shared_dir, "two")
    two = train("dcgan", "digits", out=two_dir, steps=24, options=options, stream=quiet()).recipe
    a, b = params(ref), params(two_dir)
    noise_only = _feeding_batch_norm(one)
    assert len(noise_only) == 6 and noise_only <= a.keys()
    for key in a.keys() - noise_only:           # weights, BN scales and shifts, running variances,
        assert np.abs(a[key] - b[key]).max() < 1e-6, key     # Adam's moments: all as one process
    z = mg.randn(32, 8)                          # and G and D compute the same functions
    x = mg.tensor(mg.data.load("digits", split="test")[0][:32] * 2 - 1)
    for recipe in (one, two):
        recipe.train()                           # batch statistics, where the biases cancel
    with mg.no_grad():
        assert np.abs((one.G(z) - two.G(z)).numpy()).max() < 1e-4
        assert np.abs((one.D(x) - two.D(x)).numpy()).max() < 1e-4


@needs_two_ranks
def test_only_rank_0_writes_the_run_folder(dist, shared_dir, monkeypatch):
    from minigen.training import trainer
    writes = []
    if not dist.is_root:
        for name in ("save", "atomic_write"):
            monkeypatch.setattr(trainer.io, name, lambda *a, name=name, **k: writes.append(name))
        monkeypatch.setattr(trainer, "MetricsLog", lambda *a, **k: writes.append("metrics"))
        monkeypatch.setattr(mg.training.Recipe, "save_figure", lambda *a, **k: writes.append("figure"))
    out = os.path.join(shared_dir, "run")
    train("vae", "digits", out=out, steps=6, checkpoint_every=2, options={"batch_size": 32},
          stream=quiet())
    assert writes == []
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "config.json", "metrics.jsonl",
                                       "samples-reconstructions.png", "samples.png"]
    assert [m["step"] for m in metrics(out)] == [6]


@needs_two_ranks
def test_resume_continues_bit_for_bit_and_across_world_sizes(dist, shared_dir):
    options = {"batch_size": 32}
    straight, stopped = os.path.join(shared_dir, "straight"), os.path.join(shared_dir, "stopped")
    train("vae", "digits", out=straight, steps=20, options=options, stream=quiet())
    train("vae", "digits", out=stopped, steps=8, options=options, stream=quiet())
    regrown = os.path.join(shared_dir, f"alone-{dist.rank}")        # a copy to resume in one process
    if dist.is_root:
        shutil.copytree(stopped, os.path.join(shared_dir, "alone-0"))
        shutil.copytree(stopped, os.path.join(shared_dir, "alone-1"))
    dist.barrier()
    train("vae", "digits", out=stopped, steps=20, resume=True, stream=quiet())
    with distributed.single_process():
        train("vae", "digits", out=regrown, steps=20, resume=True, stream=quiet())
    a, b = params(straight), params(stopped)
    assert all(np.array_equal(a[k], b[k]) for k in a)                 # the same world: bit for bit
    with open(os.path.join(stopped, "config.json")) as f:
        assert json.load(f)["world_size"] == 2
    assert max_difference(a, params(regrown)) < 1e-4                   # 2 ranks, then 1: same run


@needs_two_ranks
def test_a_bad_batch_size_is_refused_on_every_rank_before_training(dist, shared_dir):
    out = os.path.join(shared_dir, "never")
    with pytest.raises(UsageError, match="batch_size 63 is the global batch, shared by 2 ranks"):
        train("vae", "digits", out=out, steps=5, options={"batch_size": 63}, stream=quiet())
    dist.barrier()
    assert not os.path.exists(out)


@needs_two_ranks
def test_a_run_folder_locked_by_another_run_is_refused_on_every_rank(dist, shared_dir):
    out = os.path.join(shared_dir, "locked")
    if dist.is_root:                             # held by a live process on this machine: mpiexec
        os.makedirs(out)
        with open(os.path.join(out, mg.training.lock.LOCK), "w") as f:
            f.write(f"{os.getppid()} {socket.gethostname()}\n")
    dist.barrier()
    with pytest.raises(UsageError, match="is being written by another run"):
        train("vae", "digits", out=out, steps=5, options={"batch_size": 32}, stream=quiet())
    dist.barrier()
    assert os.listdir(out) == ["train.lock"]                        # nothing else was written


@needs_two_ranks
def test_a_model_whose_copies_drift_apart_is_stopped_on_every_rank(dist, shared_dir):
    with pytest.raises(UsageError, match="'model.code_mean' on rank.s. 1 is not rank 0's"):
        train("ae", "digits", out=os.path.join(shared_dir, "ae"), steps=5, stream=quiet())
    model = mg.nn.BatchNorm1d(3)
    if dist.rank == 1:
        model.running_var.data[1] += 1
    with pytest.raises(distributed.ReplicasDiverged, match="'bn.running_var' on rank.s. 1"):
        distributed.check_replicas({"bn": model}, dist)
