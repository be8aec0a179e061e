"""Normalizing flows: every layer is checked to be a bijection whose log_det is log|det J| of its full
Jacobian (computed by brute force, one row per backward pass, in float64), over random inputs and
random parameters drawn by hypothesis; then the density integrates to 1, the bad inputs fail loudly,
and (slow) the models reach the numbers docs/flows.md reports."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
from minigen import flows

SETTINGS = settings(max_examples=8, deadline=None)


# ------------------------------------------------------------------------------------ helpers
def perturb(module, rng, scale):
    """Move every parameter away from its (often identity-making) initial value."""
    for p in module.parameters():
        p.data = p.data + scale * rng.standard_normal(p.shape)
    return module


def brute_force_log_det(layer, x):
    """log|det dz/dx| per example from the full Jacobian, built one output coordinate at a time."""
    x = mg.tensor(x.data, requires_grad=True)
    z, _ = layer(x)
    n, d_in, d_out = x.shape[0], x.data[0].size, z.data[0].size
    assert d_in == d_out, "a bijection keeps the dimension"
    z_flat = z.reshape(n, d_out)
    jac = np.zeros((n, d_out, d_in))
    for j in range(d_out):
        row, = mg.autograd.grad(z_flat[:, j].sum(), x, retain_graph=True)
        jac[:, j, :] = row.data.reshape(n, d_in)          # examples are independent: row j of each J
    sign, log_abs = np.linalg.slogdet(jac)
    assert (sign != 0).all(), "singular Jacobian"
    return log_abs


def check_bijection(layer, x, atol=1e-8):
    layer.to(dtype="float64")
    layer.eval()
    z, log_det = layer(x)
    assert log_det.shape == (x.shape[0],)
    np.testing.assert_allclose(layer.inverse(z).data, x.data, atol=atol, rtol=1e-6)
    np.testing.assert_allclose(log_det.data, brute_force_log_det(layer, x), atol=1e-7, rtol=1e-6)


def randn(rng, *shape):
    return mg.tensor(rng.standard_normal(shape), dtype="float64")


seeds = st.integers(0, 2**31 - 1)
scales = st.floats(0.05, 0.8)


# ------------------------------------------------------------------------------------ every layer
@SETTINGS
@given(seed=seeds, scale=scales, dim=st.integers(2, 5), parity=st.integers(0, 1))
def test_affine_coupling_vectors(seed, scale, dim, parity):
    rng = np.random.default_rng(seed)
    layer = flows.AffineCoupling(flows.checkerboard_mask((dim,), parity), flows.MLPConditioner(dim, 2 * dim, 16))
    check_bijection(perturb(layer, rng, scale), randn(rng, 4, dim))


@SETTINGS
@given(seed=seeds, scale=scales, parity=st.integers(0, 1), mask=st.sampled_from(["checkerboard", "channel"]))
def test_affine_coupling_images(seed, scale, parity, mask):
    rng = np.random.default_rng(seed)
    shape = (2, 4, 4)
    make_mask = flows.checkerboard_mask if mask == "checkerboard" else flows.channel_mask
    layer = flows.AffineCoupling(make_mask(shape, parity), flows.ConvConditioner(2, 4, 8))
    check_bijection(perturb(layer, rng, scale), randn(rng, 3, *shape))


@SETTINGS
@given(seed=seeds, scale=scales, image=st.booleans())
def test_additive_coupling(seed, scale, image):
    rng = np.random.default_rng(seed)
    if image:
        shape, net = (2, 4, 4), flows.ConvConditioner(2, 2, 8)
    else:
        shape, net = (4,), flows.MLPConditioner(4, 4, 16)
    layer = perturb(flows.AdditiveCoupling(flows.channel_mask(shape, 1), net), rng, scale)
    check_bijection(layer, randn(rng, 3, *shape))


@SETTINGS
@given(seed=seeds, scale=scales, dim=st.integers(2, 4))
def test_conditional_coupling(seed, scale, dim):
    rng = np.random.default_rng(seed)
    layer = perturb(flows.AffineCoupling(flows.checkerboard_mask((dim,)),
                                         flows.MLPConditioner(dim, 2 * dim, 16, cond_features=3)), rng, scale)
    layer.to(dtype="float64")
    x, cond = randn(rng, 5, dim), mg.tensor(np.eye(3)[rng.integers(0, 3, 5)])
    z, log_det = layer(x, cond)
    np.testing.assert_allclose(layer.inverse(z, cond).data, x.data, atol=1e-10)
    np.testing.assert_allclose(log_det.data, brute_force_log_det(lambda t: layer(t, cond), x), atol=1e-8)
    assert not np.allclose(layer(x, cond)[0].data, layer(x, 1 - cond)[0].data)   # cond is used


@SETTINGS
@given(seed=seeds, scale=scales, image=st.booleans())
def test_actnorm(seed, scale, image):
    rng = np.random.default_rng(seed)
    shape = (3, 4, 4) if image else (3,)
    layer = flows.ActNorm(3).to(dtype="float64")
    first = randn(rng, 64, *shape) * 3 + 2
    z, _ = layer(first)                                   # data-dependent initialisation
    axes = (0, 2, 3) if image else (0,)
    np.testing.assert_allclose(z.data.mean(axis=axes), 0, atol=1e-8)
    np.testing.assert_allclose(z.data.std(axis=axes), 1, atol=1e-4)
    check_bijection(perturb(layer, rng, scale), randn(rng, 3, *shape))   # init happens once only


@SETTINGS
@given(seed=seeds, scale=scales, lu=st.booleans(), image=st.booleans(), channels=st.integers(1, 5))
def test_invertible_1x1_conv(seed, scale, lu, image, channels):
    rng = np.random.default_rng(seed)
    layer = perturb(flows.InvConv1x1(channels, lu=lu), rng, scale)
    shape = (channels, 3, 2) if image else (channels,)
    check_bijection(layer, randn(rng, 3, *shape), atol=1e-7)


def test_lu_log_det_is_the_sum_of_log_s():
    layer = perturb(flows.InvConv1x1(4, lu=True), np.random.default_rng(0), 0.3).to(dtype="float64")
    weight, log_det = layer.weight_and_log_det()
    assert log_det.item() == pytest.approx(np.linalg.slogdet(weight.data)[1], abs=1e-10)


@SETTINGS
@given(seed=seeds, channels=st.integers(1, 3), height=st.sampled_from([2, 4, 6]))
def test_squeeze(seed, channels, height):
    rng = np.random.default_rng(seed)
    x = randn(rng, 2, channels, height, 4)
    z, _ = flows.Squeeze()(x)
    assert z.shape == (2, 4 * channels, height // 2, 2)
    np.testing.assert_array_equal(z.data[:, :4, 0, 0], x.data[:, 0, :2, :2].reshape(2, 4))  # a 2x2 block
    check_bijection(flows.Squeeze(), x)


@SETTINGS
@given(seed=seeds, scale=scales)
def test_split_multiscale(seed, scale):
    rng = np.random.default_rng(seed)
    kept = (2, 2, 2)
    inner = flows.FlowSequence(flows.AffineCoupling(flows.checkerboard_mask(kept), flows.ConvConditioner(2, 4, 8)),
                               flows.Flatten(kept))
    layer = perturb(flows.Split((4, 2, 2), inner), rng, scale)
    x = randn(rng, 3, 4, 2, 2)
    check_bijection(layer, x)
    z, _ = layer(x)
    np.testing.assert_array_equal(z.data[:, :8], x.data[:, 2:].reshape(3, 8))   # factored out as is


@SETTINGS
@given(seed=seeds, dim=st.integers(1, 6), image=st.booleans())
def test_permutations(seed, dim, image):
    rng = np.random.default_rng(seed)
    shape = (dim, 2, 2) if image else (dim,)
    x = randn(rng, 3, *shape)
    check_bijection(flows.Permute(rng.permutation(dim)), x)
    check_bijection(flows.Reverse(dim), x)
    np.testing.assert_array_equal(flows.Reverse(dim)(x)[0].data, x.data[:, ::-1])


@SETTINGS
@given(seed=seeds, scale=st.floats(0.1, 3.0), dim=st.integers(1, 4))
def test_planar(seed, scale, dim):
    rng = np.random.default_rng(seed)
    layer = perturb(flows.Planar(dim), rng, scale)
    layer.to(dtype="float64")
    assert (layer.w * layer.u_hat()).sum().item() > -1            # the invertibility constraint
    check_bijection(layer, randn(rng, 6, dim) * 2)


@SETTINGS
@given(seed=seeds, alpha=st.floats(0.01, 0.2))
def test_logit_transform(seed, alpha):
    rng = np.random.default_rng(seed)
    check_bijection(flows.LogitTransform(alpha), mg.tensor(rng.random((3, 1, 2, 2))))


@SETTINGS
@given(seed=seeds, scale=scales)
def test_sequence_sums_log_dets(seed, scale):
    rng = np.random.default_rng(seed)
    layers = [flows.ActNorm(2), flows.InvConv1x1(2),
              flows.AffineCoupling(flows.checkerboard_mask((2,)), flows.MLPConditioner(2, 4, 8)), flows.Planar(2)]
    seq = perturb(flows.FlowSequence(*layers), rng, scale).to(dtype="float64")
    x = randn(rng, 4, 2)
    seq(x)                                                  # ActNorm init
    z, log_det = seq(x)
    total, h = 0, x
    for layer in layers:
        h, ld = layer(h)
        total = total + ld.data
    np.testing.assert_allclose(log_det.data, total)
    check_bijection(seq, x, atol=1e-7)


# ------------------------------------------------------------------------------- the density
def test_log_prob_integrates_to_one_over_a_grid():
    from minigen.models.realnvp import realnvp_2d
    rng = np.random.default_rng(0)
    flow = perturb(realnvp_2d(couplings=4, hidden=16), rng, 0.3).to(dtype="float64")
    edges = np.linspace(-10, 10, 401)
    centres = (edges[:-1] + edges[1:]) / 2
    gx, gy = np.meshgrid(centres, centres)
    grid = mg.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1))
    with mg.no_grad():
        density = np.exp(flow.log_prob(grid).data)
    assert density.sum() * (edges[1] - edges[0]) ** 2 == pytest.approx(1.0, abs=5e-3)


def test_sample_has_the_data_shape_and_temperature_shrinks_it():
    from minigen.models.glow import glow
    flow = glow((1, 8, 8), levels=2, depth=1, hidden=8)
    with mg.no_grad():
        y = flow.sample(16)
        assert y.shape == (16, 1, 8, 8)
        assert np.isfinite(flow.log_prob(mg.clip(y, 0, 1)).data).all()
        logit = flows.LogitTransform()
        spread = [logit(mg.clip(flow.sample(200, temperature=t), 0, 1))[0].data.std() for t in (1.0, 0.5)]
    assert spread[1] < spread[0]


def test_linalg_gradients():
    rng = np.random.default_rng(0)
    a = mg.tensor(rng.standard_normal((3, 3)) + 3 * np.eye(3), requires_grad=True)
    assert mg.autograd.gradcheck(flows.log_abs_det, [a], eps=1e-6, atol=1e-5, rtol=1e-3)
    assert mg.autograd.gradcheck(flows.inverse, [a], eps=1e-6, atol=1e-5, rtol=1e-3)
    assert mg.autograd.gradgradcheck(flows.log_abs_det, [a], eps=1e-6, atol=1e-5, rtol=1e-3)


def test_bits_per_dim_convention():
    # a uniform density on [0, 1)^D assigns every one of the L^D pixel patterns P = L^-D:
    # NLL = D log L nats, i.e. log2(L) bits per dimension (17 levels for digits, 256 for 8-bit images)
    from minigen.data import pixels
    from minigen.metrics.likelihood import bits_per_dim
    assert mg.data.info("digits").levels == 17 and mg.data.info("mnist-5k").levels == 256
    nll = pixels.dequantized_nll(mg.tensor(0.0), 64, 17).item()
    assert nll == pytest.approx(64 * math.log(17))
    assert bits_per_dim(nll, 64) == pytest.approx(math.log2(17))
    x = mg.tensor(np.arange(17, dtype=np.float32) / 16)
    y = pixels.dequantize(x, 17, seed=1)
    assert ((y.data >= x.data * 16 / 17) & (y.data < (x.data * 16 + 1) / 17)).all()
    np.testing.assert_allclose(pixels.quantize(y, 17).data, x.data)


# ------------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    flow = flows.Flow(flows.FlowSequence(flows.Planar(2)), (2,))
    with pytest.raises(ValueError, match="NaN or infinite"):
        flow.log_prob(mg.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="even number of channels"):
        flows.Split((3, 4, 4), flows.Flatten((1, 4, 4)))
    with pytest.raises(ValueError, match="even number of channels"):
        flows.channel_mask((5, 2, 2))
    with pytest.raises(ValueError, match="cannot be divided into 2x2"):
        flows.Squeeze()(mg.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="cannot be squeezed"):
        from minigen.models.glow import glow
        glow((1, 28, 28), levels=3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        flows.LogitTransform()(mg.tensor([[1.5]]))
    with pytest.raises(ValueError, match="expected input of shape"):
        flows.ActNorm(3)(mg.zeros(2, 4))


# ------------------------------------------------------------------------------- the recipes
def test_recipes_train_sample_and_eval(tmp_path):
    from minigen.training import load_run, train
    for model, dataset in (("realnvp", "8gaussians"), ("planar", "moons"), ("glow", "digits"),
                           ("realnvp", "digits")):
        out = tmp_path / f"{model}-{dataset}"
        options = {"levels": 1, "conv_channels": 8} if (model, dataset) == ("realnvp", "digits") else \
            {"depth": 1, "hidden": 8} if model == "glow" else {}
        train(model, dataset, out=out, steps=2, options={"batch_size": 32, **options}, stream=None)
        run = load_run(out)
        x, y = mg.data.load(dataset, "test")
        metrics = run.recipe.evaluate(x[:200])
        assert np.isfinite(metrics["nll_nats"])
        assert metrics["nll_bits_per_dim"] == pytest.approx(metrics["nll_nats"] / (x[0].size * math.log(2)))
        samples = run.recipe.sample(5)
        assert samples.shape == (5, *x.shape[1:]) and samples.dtype == np.float32
        if x.ndim == 4:
            assert samples.min() >= 0 and samples.max() <= 1
        else:
            assert (out / "density.png").exists()


# ------------------------------------------------------------------------------- slow: the numbers
@pytest.mark.slow
@pytest.mark.parametrize("dataset, gap", [("moons", 0.02), ("8gaussians", 0.15)])
def test_realnvp_reaches_the_true_entropy(tmp_path, dataset, gap):
    """Default `minigen train realnvp` (40 epochs, cosine lr); the true entropy is a Monte-Carlo estimate
    from the exact log-density in minigen.data.toy2d (both sets have one: moons by quadrature along the
    curve). moons: the issue-16 target, within 0.02 nats (measured 0.013-0.015 on seeds 0, 1, 2)."""
    from minigen.metrics.likelihood import true_entropy
    from minigen.training import train
    run = train("realnvp", dataset, out=tmp_path / dataset, stream=None)
    x_test, _ = mg.data.load(dataset, "test")
    entropy, standard_error = true_entropy(dataset, x_test)
    nll = run.recipe.evaluate(x_test)["nll_nats"]
    assert entropy - 3 * standard_error < nll < entropy + gap


@pytest.mark.slow
def test_glow_beats_a_full_covariance_gaussian_on_digits(tmp_path):
    """Default `minigen train glow --dataset digits` (30 epochs) against the stronger of the two
    Gaussian baselines (on the dequantised pixels, or on their logits), in bits/dim."""
    from minigen.metrics.likelihood import gaussian_baseline_bits_per_dim
    from minigen.training import train
    x_train, _ = mg.data.load("digits", "train")
    x_test, _ = mg.data.load("digits", "test")
    baseline = min(gaussian_baseline_bits_per_dim(x_train, x_test, 17),
                   gaussian_baseline_bits_per_dim(x_train, x_test, 17, logit_alpha=0.05))
    run = train("glow", "digits", out=tmp_path / "glow", stream=None)
    assert run.recipe.evaluate(x_test)["nll_bits_per_dim"] < baseline - 0.1


def test_glow_on_device(device):
    from minigen.models.glow import glow
    flow = glow((1, 8, 8), levels=2, depth=1, hidden=8).to(device)
    y = mg.data.pixels.dequantize(mg.tensor(np.random.default_rng(0).integers(0, 17, (4, 1, 8, 8)) / 16,
                                            device=device), 17)
    log_p = flow.log_prob(y.astype("float32"))
    assert log_p.shape == (4,) and log_p.device == mg.device(device)
    with mg.no_grad():
        z, _ = flow(y.astype("float32"))
        np.testing.assert_allclose(flow.transform.inverse(z).numpy(), y.numpy(), atol=1e-4)
        assert flow.sample(3).shape == (3, 1, 8, 8)
