"""Inverse problems (minigen.restore, minigen restore / corrupt): the operators against their algebra, PSNR
against known values, the latent solver against a closed-form MAP, the DDPM projection against its
constraint, and the command line end to end on tiny trained runs."""
import numpy as np
import pytest

import minigen as mg
from minigen import diffusion, training
from minigen.cli import main
from minigen.diffusion.samplers import solve_linear
from minigen.metrics.psnr import psnr, summary
from minigen.restore import (Denoise, Inpaint, SuperResolution, corrupt, latent, make_mask, make_operator,
                             restore)
from minigen.training import UsageError


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


# ------------------------------------------------------------------------------------ operators
@pytest.mark.parametrize("operator", [Inpaint(make_mask("center", (2, 8, 8))), SuperResolution(2),
                                      SuperResolution(4), Denoise(0.1)])
def test_adjoint_satisfies_the_inner_product_identity_and_pinv_is_a_right_inverse(operator):
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((3, 2, 8, 8)))
    ax = operator.apply(x)
    y = mg.tensor(rng.standard_normal(ax.shape))
    lhs = float((ax * y).sum().item())                         # <A x, y>
    rhs = float((x * operator.adjoint(y)).sum().item())        # <x, A^T y>
    assert lhs == pytest.approx(rhs, rel=1e-5)
    np.testing.assert_allclose(operator.apply(operator.pinv(ax)).numpy(), ax.numpy(), atol=1e-6)


def test_superres_averages_blocks_and_its_pinv_repeats_pixels():
    x = mg.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    y = SuperResolution(2).apply(x).numpy()
    np.testing.assert_allclose(y[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    up = SuperResolution(2).pinv(mg.tensor(y)).numpy()
    assert up.shape == (1, 1, 4, 4) and up[0, 0, 1, 1] == 2.5 and up[0, 0, 3, 2] == 12.5


def test_corrupt_keeps_known_pixels_zeroes_the_rest_and_adds_noise_of_the_right_size():
    x = np.random.default_rng(1).random((4, 1, 8, 8)).astype(np.float32)
    mask = make_mask("left-half", (1, 8, 8))
    assert mask[0, :, :4].all() and not mask[0, :, 4:].any()
    y = corrupt(x, Inpaint(mask))
    np.testing.assert_array_equal(y[..., :4], x[..., :4])
    assert not y[..., 4:].any()
    noisy = corrupt(np.zeros((64, 1, 8, 8)), Denoise(0.2), seed=3)
    assert noisy.std() == pytest.approx(0.2, rel=0.05)
    assert corrupt(x, SuperResolution(2)).shape == (4, 1, 4, 4)


def test_masks_of_each_kind():
    center = make_mask("center", (1, 8, 8))
    assert center.sum() == 64 - 16 and not center[0, 2:6, 2:6].any()
    assert make_mask("top-half", (3, 4, 4))[:, 2:].sum() == 0
    random = make_mask("random", (1, 28, 28), seed=0)
    assert 0.15 < random.mean() < 0.35
    np.testing.assert_array_equal(random, make_mask("random", (1, 28, 28), seed=0))
    with pytest.raises(UsageError, match="unknown mask kind 'ring'"):
        make_mask("ring", (1, 8, 8))


def test_operator_options_must_match_the_task():
    with pytest.raises(UsageError, match="takes only a factor, not noise_std"):
        make_operator("superres", factor=2, noise_std=0.1)
    with pytest.raises(UsageError, match="needs a noise_std"):
        make_operator("denoise")
    with pytest.raises(UsageError, match="unknown task 'deblur'"):
        make_operator("deblur")
    with pytest.raises(UsageError, match="integer >= 2"):
        SuperResolution(1)
    with pytest.raises(UsageError, match="positive number"):
        Denoise(0.0)
    with pytest.raises(UsageError, match="only 0 .missing. and 1"):
        Inpaint(np.full((8, 8), 0.5))
    hole = np.ones((8, 8))
    hole[0, 0] = 0
    assert Inpaint(hole).mask.shape == (1, 8, 8)              # an (H, W) mask serves every channel
    with pytest.raises(UsageError, match="does not match images of shape"):
        Inpaint(make_mask("center", (1, 8, 8))).image_shape((1, 28, 28))
    with pytest.raises(UsageError, match="cannot be pooled by a factor 3"):
        SuperResolution(3).apply(mg.zeros(1, 1, 8, 8))


# ------------------------------------------------------------------------------------ PSNR
def test_psnr_known_values_and_identical_images():
    truth = np.zeros((2, 1, 4, 4))
    estimate = truth + np.array([0.1, 0.01]).reshape(2, 1, 1, 1)
    np.testing.assert_allclose(psnr(truth, estimate), [20.0, 40.0])
    np.testing.assert_allclose(psnr(truth, estimate * 255, data_range=255), [20.0, 40.0])
    with np.errstate(all="raise"):                 # no division warning for identical images
        assert np.isposinf(psnr(truth, truth)).all()
    assert summary(psnr(truth, truth)) == "inf"
    assert summary(np.array([20.0, 40.0])) == "30.00 ± 10.00"


def test_psnr_over_a_region_counts_only_its_pixels():
    truth = np.zeros((1, 1, 2, 2))
    estimate = np.array([[[[0.1, 0.0], [0.0, 0.0]]]])
    region = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert psnr(truth, estimate, region=region)[0] == pytest.approx(20.0)
    assert psnr(truth, estimate)[0] == pytest.approx(20.0 + 10 * np.log10(4))
    with pytest.raises(ValueError, match="same shape"):
        psnr(truth, np.zeros((1, 1, 2, 3)))


# ------------------------------------------------------------------------------------ the latent solver
def test_latent_solver_finds_the_closed_form_map_of_a_linear_generator():
    """g(z) = W z, A = m * x, Gaussian prior: E is quadratic, z* = (W'M W / s^2 + I)^-1 W'M y / s^2."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((12, 3)).astype(np.float32)
    m = np.ones(12, np.float32)
    m[4:9] = 0
    z_true = rng.standard_normal((5, 3)).astype(np.float32)
    y = (z_true @ W.T) * m
    sigma = 0.3
    Wt = mg.tensor(W.T)
    g = lambda z: (z @ Wt).reshape(z.shape[0], 1, 3, 4)                                  # noqa: E731
    A = Inpaint(m.reshape(1, 3, 4))
    x_star, z_star = latent.solve(g, A.apply, mg.tensor(y.reshape(5, 1, 3, 4)), (3,), sigma, steps=600,
                                  restarts=2, lr=0.05)
    WM = W.T * m
    expected = np.linalg.solve(WM @ W / sigma ** 2 + np.eye(3), WM @ y.T / sigma ** 2).T
    np.testing.assert_allclose(z_star.numpy(), expected, atol=2e-3)
    np.testing.assert_allclose(x_star.numpy().reshape(5, 12), expected @ W.T, atol=1e-2)


def test_latent_solver_keeps_the_better_restart():
    """E(z) = (z^2 - 1)^2-like landscape through g: two minima; the init in the worse basin loses."""
    g = lambda z: ((z - 2.0) * z * (z + 1.0)).reshape(-1, 1, 1, 1)                       # noqa: E731
    y = mg.zeros(1, 1, 1, 1)
    # roots of g at z = -1, 0, 2; the prior ||z||^2/2 makes z = 0 the global minimum of E
    x, z = latent.solve(g, lambda x: x, y, (1,), 0.1, steps=200, restarts=3, lr=0.05,
                        init=mg.tensor([[2.0]]))
    assert abs(z.item()) < 0.05 and abs(x.item()) < 0.05


# ------------------------------------------------------------------------------------ DDPM projection
def test_ddpm_linear_observation_is_met_exactly_at_the_end():
    schedule = diffusion.NoiseSchedule.linear(50)
    op = SuperResolution(2)
    y = mg.rand(3, 1, 4, 4) * 2 - 1
    eps_model = lambda x_t, t: 0.5 * x_t                                                   # noqa: E731
    for steps in (None, 10):
        x = solve_linear(eps_model, schedule, y, op.apply, op.pinv, steps=steps, clip_x0=True)
        assert x.shape == (3, 1, 8, 8)
        np.testing.assert_allclose(op.apply(x).numpy(), y.numpy(), atol=1e-5)
        assert np.abs(x.numpy() - op.pinv(y).numpy()).max() > 1e-2       # not merely the upsampled y


def test_ddpm_linear_observation_with_a_mask_matches_inpainting_on_the_known_pixels():
    schedule = diffusion.NoiseSchedule.linear(30)
    op = Inpaint(make_mask("top-half", (1, 8, 8)))
    known = mg.rand(2, 1, 8, 8) * 2 - 1
    y = op.apply(known)
    x = solve_linear(lambda x_t, t: 0.1 * x_t, schedule, y, op.apply, op.pinv, steps=5)
    np.testing.assert_allclose(x.numpy()[:, :, :4], known.numpy()[:, :, :4], atol=1e-6)


# ------------------------------------------------------------------------------------ every family, tiny runs
@pytest.fixture(scope="module")
def digits_test():
    x, _ = mg.data.load("digits", split="test")
    return x[:3]


@pytest.mark.parametrize("model, options", [("vae", {"hidden": 32}), ("gan", {"hidden": 32}),
                                            ("realnvp", {"conv_channels": 8}),
                                            ("ddpm", {"channels": 8, "channel_mults": [1, 2], "timesteps": 50})])
def test_every_family_restores_each_task(model, options, digits_test):
    x_train, _ = mg.data.load("digits", split="train")
    recipe = training.fit(model, "digits", x_train[:64], None, steps=2, options=options, batch_size=32)
    mask = make_mask("center", (1, 8, 8))
    for task, opts in (("inpaint", {"mask": mask}), ("superres", {"factor": 2}), ("denoise", {"noise_std": 0.2})):
        y = corrupt(digits_test, make_operator(task, **opts), seed=0)
        restarts = None if model == "ddpm" else 2
        out = restore(recipe, y, task, steps=5, restarts=restarts, **opts)
        assert out.shape == digits_test.shape and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        if task == "inpaint":      # the guided process, or the final projection, keeps the known pixels
            np.testing.assert_allclose(out[:, mask > 0.5], digits_test[:, mask > 0.5], atol=1e-6)
            assert np.abs(out[:, mask < 0.5] - y[:, mask < 0.5]).max() > 1e-3     # and fills the rest
    np.testing.assert_array_equal(out, restore(recipe, y, task, steps=5, restarts=restarts, **opts))  # seeded
    if model == "ddpm":
        with pytest.raises(UsageError, match="restarts apply to the latent families"):
            restore(recipe, y, task, restarts=2, **opts)


def test_restore_refuses_what_it_cannot_do(digits_test):
    x_train, y_train = mg.data.load("digits", split="train")
    classifier = training.fit("classifier", "digits", x_train[:64], y_train[:64], steps=1,
                              options={"arch": "mlp", "hidden": 16})
    with pytest.raises(UsageError, match="'classifier' is not a generative model"):
        restore(classifier, digits_test, "denoise", noise_std=0.1)
    vae = training.fit("vae", "digits", x_train[:64], None, steps=1, options={"hidden": 16})
    with pytest.raises(UsageError, match=r"restores to images of shape \(1, 16, 16\).*shape \(1, 8, 8\)"):
        restore(vae, digits_test, "superres", factor=2)
    with pytest.raises(UsageError, match="must be images"):
        restore(vae, digits_test[0, 0, 0], "denoise", noise_std=0.1)
    with pytest.raises(UsageError, match="NaN"):
        restore(vae, np.full((1, 1, 8, 8), np.nan), "denoise", noise_std=0.1)
    ae = training.fit("ae", "digits", x_train[:64], None, steps=1, options={"hidden": 16})
    with pytest.raises(UsageError, match="cannot restore images"):
        restore(ae, digits_test, "denoise", noise_std=0.1)
    cvae = training.fit("cvae", "digits", x_train[:64], y_train[:64], steps=1, options={"hidden": 16})
    with pytest.raises(UsageError, match="class-conditional"):
        restore(cvae, digits_test, "denoise", noise_std=0.1)
    moons, _ = mg.data.load("moons", split="train")
    gan_2d = training.fit("gan", "moons", moons[:64], None, steps=1, options={"hidden": 8})
    with pytest.raises(UsageError, match="not a set of images"):
        restore(gan_2d, moons[:4], "denoise", noise_std=0.1)
    assert restore(vae, digits_test[0, 0], "denoise", noise_std=0.1, steps=2).shape == (1, 1, 8, 8)


# ------------------------------------------------------------------------------------ the command line
def _tiny_run(model, out, options):
    """A run folder trained for a few steps; the end-of-training figure is skipped (matplotlib is slow
    to load, and figures are not what is tested here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.Recipe, "save_figure", lambda self, path, x, y=None: False)
        patch.setattr(training.get(model), "save_figure", lambda self, path, x, y=None: False)
        training.train(model, "digits", out=str(out), steps=3, options=options)
    return out


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return _tiny_run("vae", tmp_path_factory.mktemp("vae"), {"hidden": 32})


def test_cli_corrupt_then_restore(vae_run, tmp_path, capsys):
    y, truth, out = tmp_path / "y.npy", tmp_path / "x.npy", tmp_path / "out.npy"
    assert main(["corrupt", "--dataset", "digits", "--task", "superres", "--factor", "2", "--n", "4",
                 "--out", str(y), "--truth", str(truth)]) == 0
    assert np.load(y).shape == (4, 1, 4, 4) and np.load(truth).shape == (4, 1, 8, 8)
    assert main(["restore", str(vae_run), "--task", "superres", "--factor", "2", "--input", str(y),
                 "--out", str(out), "--steps", "3", "--restarts", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith("out.npy")
    restored = np.load(out)
    assert restored.shape == (4, 1, 8, 8) and restored.dtype == np.float32
    np.save(tmp_path / "mask.npy", make_mask("random", (1, 8, 8)))
    assert main(["corrupt", "--dataset", "digits", "--task", "inpaint", "--mask", str(tmp_path / "mask.npy"),
                 "--n", "2", "--out", str(y)]) == 0
    assert main(["restore", str(vae_run), "--task", "inpaint", "--mask", str(tmp_path / "mask.npy"),
                 "--input", str(y), "--out", str(out), "--steps", "2"]) == 0


@pytest.mark.parametrize("args, needles", [
    (["--task", "inpaint", "--factor", "2", "--mask-kind", "center"], ["takes only a mask, not factor"]),
    (["--task", "denoise"], ["needs a noise_std", "--noise-std"]),
    (["--task", "inpaint", "--mask-kind", "center", "--mask", "m.npy"], ["not both"]),
    (["--task", "superres", "--factor", "2"], ["restores to images of shape (1, 16, 16)"]),
    (["--task", "inpaint", "--mask", "small.npy"], ["does not match images of shape (1, 8, 8)"]),
    (["--task", "denoise", "--noise-std", "0.1", "--input", "missing.npy"], ["no such file"]),
])
def test_cli_errors_are_one_line(vae_run, tmp_path, capsys, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    np.save("y.npy", np.zeros((2, 1, 8, 8), np.float32))
    np.save("small.npy", make_mask("center", (1, 4, 4)))
    argv = ["restore", str(vae_run)] + args + ([] if "--input" in args else ["--input", "y.npy"]) + ["--out", "o.npy"]
    assert main(argv) == 2
    _one_line_error(capsys, *needles)


def test_cli_refuses_a_classifier(tmp_path, capsys):
    out = _tiny_run("classifier", tmp_path / "clf", {"arch": "mlp", "hidden": 16})
    np.save(tmp_path / "y.npy", np.zeros((1, 1, 8, 8), np.float32))
    capsys.readouterr()
    assert main(["restore", str(out), "--task", "denoise", "--noise-std", "0.1", "--input",
                 str(tmp_path / "y.npy"), "--out", str(tmp_path / "o.npy")]) == 2
    _one_line_error(capsys, "'classifier' is not a generative model")


# ------------------------------------------------------------------------------------ slow: it helps
@pytest.mark.slow
def test_a_trained_vae_and_ddpm_beat_the_corrupted_input():
    x_train, _ = mg.data.load("digits", split="train")
    x_test, _ = mg.data.load("digits", split="test")
    x = x_test[:16]
    mask = make_mask("center", (1, 8, 8))
    y = corrupt(x, Inpaint(mask))
    baseline = psnr(x, y, region=1 - mask).mean()
    vae = training.fit("vae", "digits", x_train, None, steps=1500)
    assert psnr(x, restore(vae, y, "inpaint", mask=mask), region=1 - mask).mean() > baseline + 3
    ddpm = training.fit("ddpm", "digits", x_train, None, steps=1500,
                        options={"channels": 16, "channel_mults": [1, 2], "batch_size": 64})
    y_noisy = corrupt(x, Denoise(0.2), seed=1)
    assert psnr(x, restore(ddpm, y_noisy, "denoise", noise_std=0.2, steps=50)).mean() > psnr(x, y_noisy).mean() + 2
