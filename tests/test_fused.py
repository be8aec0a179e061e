"""The fused Functions of the fast path against their composed definitions and finite differences, and
the thread pool that runs large operations in chunks (same numbers for any number of threads)."""
import threading

import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.autograd import gradcheck, gradgradcheck
from minigen.backend import parallel
from minigen.nn import functional as F

rng = np.random.default_rng(0)


def t64(a, grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# -------------------------------------------------------------------------- log-likelihood terms
def test_bce_with_logits_matches_its_definition_and_is_twice_differentiable():
    x = rng.standard_normal((3, 4)) * 4
    t = rng.uniform(0, 1, (3, 4))
    s = 1 / (1 + np.exp(-x))
    expected = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    np.testing.assert_allclose(mg.ops.binary_cross_entropy_with_logits(t64(x), t64(t)).numpy(), expected,
                               rtol=1e-12)
    assert gradcheck(mg.ops.binary_cross_entropy_with_logits, [t64(x), t64(t)])
    assert gradgradcheck(mg.ops.binary_cross_entropy_with_logits, [t64(x), t64(t)])


def test_bce_with_logits_does_not_overflow():
    big = mg.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    loss = mg.ops.binary_cross_entropy_with_logits(big, mg.tensor([1.0, 0.5, 0.0]))
    np.testing.assert_allclose(loss.numpy(), [1000.0, np.log(2), 1000.0], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(big.grad.numpy(), [-1.0, 0.0, 1.0], atol=1e-7)


def test_normal_log_prob_matches_its_definition_with_broadcasting():
    x = rng.standard_normal((4, 3))
    mu = rng.standard_normal((1, 3))
    sigma = rng.uniform(0.5, 2.0, (4, 1))
    expected = -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(mg.ops.normal_log_prob(t64(x), t64(mu), t64(sigma)).numpy(), expected,
                               rtol=1e-12)
    assert gradcheck(mg.ops.normal_log_prob, [t64(x), t64(mu), t64(sigma)])
    assert gradgradcheck(mg.ops.normal_log_prob, [t64(x), t64(mu), t64(sigma)])


def test_gaussian_nll_is_the_normal_log_density():
    mu, target, log_var = rng.standard_normal((3, 5, 2))
    expected = 0.5 * (log_var + (target - mu) ** 2 * np.exp(-log_var))
    got = F.gaussian_nll(t64(mu), t64(target), t64(log_var), reduction="none").numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_without_or_with_affine_is_twice_differentiable(affine):
    x = t64(rng.standard_normal((2, 4, 3, 3)))
    w = t64(rng.standard_normal(4)) if affine else None
    b = t64(rng.standard_normal(4)) if affine else None
    inputs = [x] + ([w, b] if affine else [])
    assert gradcheck(lambda x, *wb: F.group_norm(x, 2, *wb), inputs)
    assert gradgradcheck(lambda x, *wb: F.group_norm(x, 2, *wb), inputs)


def test_layer_norm_over_two_axes_with_bias_only():
    x = t64(rng.standard_normal((3, 2, 4)))
    b = t64(rng.standard_normal((2, 4)))
    assert gradcheck(lambda x, b: F.layer_norm(x, (2, 4), None, b), [x, b])
    y = F.layer_norm(x, (2, 4)).numpy()
    np.testing.assert_allclose(y.reshape(3, -1).mean(axis=1), 0, atol=1e-12)


class _TwoRanks:
    """A communicator stand-in for two threads: reduce(a) returns the sum of both threads' a."""

    def __init__(self):
        self.barrier = threading.Barrier(2)
        self.slots = [None, None]

    def reduce_for(self, rank):
        def reduce(a):
            self.slots[rank] = a.copy()
            self.barrier.wait()
            total = self.slots[0] + self.slots[1]
            self.barrier.wait()            # both have read before either writes again
            return total
        return reduce


def test_synchronised_batch_norm_equals_batch_norm_on_the_whole_batch():
    """Two processes each holding half of a batch, reducing their statistics, normalise exactly as one
    process with the whole batch: outputs, input gradients and (summed) parameter gradients."""
    x = rng.standard_normal((8, 3, 2, 2)) * 2 + 1
    g = rng.standard_normal(x.shape)
    w, b = rng.standard_normal(3), rng.standard_normal(3)

    def run(xs, gs, reduce):
        xt, wt, bt = t64(xs), t64(w), t64(b)
        rm, rv = mg.zeros(3, dtype="float64"), mg.ones(3, dtype="float64")
        y = F.batch_norm(xt, rm, rv, wt, bt, training=True, reduce=reduce)
        (y * t64(gs, False)).sum().backward()
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), rm.numpy(), rv.numpy()

    whole = run(x, g, None)
    comm, halves = _TwoRanks(), [None, None]

    def rank(r):
        halves[r] = run(x[4 * r:4 * r + 4], g[4 * r:4 * r + 4], comm.reduce_for(r))
    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    np.testing.assert_allclose(np.concatenate([halves[0][0], halves[1][0]]), whole[0], rtol=1e-10)
    np.testing.assert_allclose(np.concatenate([halves[0][1], halves[1][1]]), whole[1], rtol=1e-9, atol=1e-12)
    for k in (2, 3):          # parameter gradients: each rank has its share; the sum is the whole
        np.testing.assert_allclose(halves[0][k] + halves[1][k], whole[k], rtol=1e-10)
    for k in (4, 5):          # running statistics use the global batch on every rank
        np.testing.assert_allclose(halves[0][k], whole[k], rtol=1e-12)
        np.testing.assert_allclose(halves[1][k], whole[k], rtol=1e-12)


# ------------------------------------------------------------------------------ threads
@pytest.fixture
def threads():
    before = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


def test_chunks_cover_the_range_in_order():
    assert parallel.chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert parallel.chunks(3, 5) == [(0, 3)]
    assert parallel.chunks(0, 5) == []


def test_run_chunks_returns_results_in_order_and_raises_what_a_chunk_raised(threads):
    threads(2)
    assert parallel.run_chunks(lambda lo, hi: (lo, hi), parallel.chunks(20, 3)) == parallel.chunks(20, 3)

    def fail(lo, hi):
        if lo == 6:
            raise ValueError("chunk 6 failed")
        return lo
    with pytest.raises(ValueError, match="chunk 6 failed"):
        parallel.run_chunks(fail, parallel.chunks(20, 3))


def test_set_num_threads_checks_its_argument():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            parallel.set_num_threads(bad)


@pytest.mark.parametrize("case", ["conv", "conv_transpose", "linear", "linear_short", "attention", "groupnorm",
                                  "silu"])
def test_the_numbers_do_not_depend_on_the_number_of_threads(case, threads):
    """Chunks come from the shapes alone and partial sums are added in chunk order: bit-for-bit the
    same on one thread or many (what --resume and the distributed equivalence rely on)."""
    r = np.random.default_rng(1)
    if case == "conv":
        layer, x = nn.Conv2d(8, 16, 3, padding=1), r.standard_normal((32, 8, 28, 28))
    elif case == "conv_transpose":
        layer, x = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), r.standard_normal((32, 16, 14, 14))
    elif case == "linear":
        layer, x = nn.Linear(512, 512), r.standard_normal((256, 512))
    elif case == "linear_short":   # a short batch: the product is split by columns
        layer, x = nn.Linear(784, 512), r.standard_normal((128, 784))
    elif case == "attention":
        layer, x = nn.SelfAttention2d(32, num_heads=4, num_groups=8), r.standard_normal((16, 32, 7, 7))
    elif case == "groupnorm":  # a million numbers: normalised a slice of the batch at a time
        layer, x = nn.GroupNorm(8, 32), r.standard_normal((40, 32, 28, 28))
        nn.init.normal_(layer.weight)
    else:                     # a million numbers in pieces, on a transposed (strided) input
        silu = nn.SiLU()
        layer, x = (lambda t: silu(t.transpose(0, 1, 3, 2))), r.standard_normal((40, 32, 28, 28))
        layer.parameters = lambda: []
    results = []
    for n in (1, 2, 3):
        threads(n)
        xt = mg.tensor(x.astype(np.float32), requires_grad=True)
        for p in layer.parameters():
            p.grad = None
        y = layer(xt)
        (y * y).sum().backward()
        results.append([y.numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.0, 3.0, -0.5])
def test_leaky_relu_for_any_slope(slope):
    x = away = rng.standard_normal((4, 5))
    away = np.where(np.abs(x) < 0.05, 0.1, x)               # off the kink for finite differences
    np.testing.assert_allclose(mg.leaky_relu(t64(away, False), slope).numpy(),
                               np.where(away > 0, away, slope * away), rtol=1e-15)
    assert gradcheck(lambda x: mg.leaky_relu(x, slope), [t64(away)])


def test_malloc_settings_apply_once_and_leave_a_users_own_alone(monkeypatch):
    import sys
    from minigen.backend import memory
    if not sys.platform.startswith("linux"):
        assert memory.keep_arrays_in_the_heap() is False
        return
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert memory.keep_arrays_in_the_heap() is False          # the user's malloc settings stand
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert memory.keep_arrays_in_the_heap() in (True, False)  # False only off glibc (e.g. musl)
