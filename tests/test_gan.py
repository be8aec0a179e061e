"""The adversarial family: losses by hand, the gradient penalty's (second-order) gradient, the
conditional networks' use of the label, the alternating loop, the mode metrics and bad input.
Slow tests (``-m slow``): WGAN-GP captures the 8 modes of 8gaussians; cGAN samples carry their label."""
import io as stdio
import json
import math

import numpy as np
import pytest

import minigen as mg
from minigen import training
from minigen.cli import main
from minigen.data import toy2d
from minigen.metrics.modes import mode_metrics
from minigen.models import adversarial, cgan, dcgan, gan, wgan_gp
from minigen.training import TrainingDiverged, UsageError, read_metrics

QUIET = dict(log_every=1, stream=stdio.StringIO())


def _t(values, requires_grad=False):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


def _log_sigmoid(a):
    return -math.log1p(math.exp(-a))


# ------------------------------------------------------------------------------------ losses by hand
def test_gan_losses_match_the_paper_written_with_probabilities():
    real, fake = [2.0, -1.0], [0.5, -3.0]
    d = lambda l: 1 / (1 + math.exp(-l))                                        # noqa: E731
    expected_d = -(np.mean([math.log(d(l)) for l in real]) + np.mean([math.log(1 - d(l)) for l in fake]))
    assert adversarial.discriminator_loss(_t(real), _t(fake)).item() == pytest.approx(expected_d, rel=1e-12)
    assert adversarial.minimax_generator_loss(_t(fake)).item() == pytest.approx(
        np.mean([math.log(1 - d(l)) for l in fake]), rel=1e-12)
    assert adversarial.nonsaturating_generator_loss(_t(fake)).item() == pytest.approx(
        -np.mean([math.log(d(l)) for l in fake]), rel=1e-12)
    # the same numbers in the log-sigmoid form, for one logit: softplus(-2) = -log sigmoid(2)
    assert adversarial.discriminator_loss(_t([2.0]), _t([-3.0])).item() == pytest.approx(
        -_log_sigmoid(2.0) - _log_sigmoid(3.0), rel=1e-12)


def test_gan_losses_are_finite_for_extreme_logits():
    big = _t([1000.0, -1000.0], requires_grad=True)
    loss = adversarial.discriminator_loss(big, big) + adversarial.nonsaturating_generator_loss(big)
    loss.backward()
    assert math.isfinite(loss.item()) and np.isfinite(big.grad.numpy()).all()
    assert adversarial.nonsaturating_generator_loss(_t([-1000.0])).item() == pytest.approx(1000.0)
    assert adversarial.discriminator_loss(_t([1000.0]), _t([-1000.0])).item() == pytest.approx(0.0, abs=1e-300)


def test_minimax_generator_loss_saturates_where_the_nonsaturating_one_does_not():
    # D confidently rejects the fake (logit -10): d/dl of log(1 - sigmoid(l)) is -sigmoid(l) ~ -4.5e-5,
    # d/dl of -log sigmoid(l) is -(1 - sigmoid(l)) ~ -1.
    for loss_fn, expected in ((adversarial.minimax_generator_loss, -1 / (1 + math.exp(10))),
                              (adversarial.nonsaturating_generator_loss, -1 / (1 + math.exp(-10)))):
        logit = _t([-10.0], requires_grad=True)
        loss_fn(logit).backward()
        assert logit.grad.item() == pytest.approx(expected, rel=1e-9)


def test_wasserstein_losses_by_hand():
    real, fake = _t([1.0, 3.0]), _t([-2.0, 0.0])
    assert wgan_gp.critic_loss(real, fake, _t(0.25), gp_weight=10.0).item() == pytest.approx(
        (-1.0) - 2.0 + 2.5)
    assert wgan_gp.generator_loss(fake).item() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------ gradient penalty
def test_gradient_penalty_of_a_linear_critic_is_the_squared_norm_gap():
    w = _t([3.0, 4.0])                        # D(x) = w . x: the gradient is w everywhere, ||w|| = 5
    critic = lambda x: (x * w).sum(axis=1)    # noqa: E731
    x_real, x_fake = mg.randn(7, 2, dtype="float64"), mg.randn(7, 2, dtype="float64")
    assert wgan_gp.gradient_penalty(critic, x_real, x_fake).item() == pytest.approx(16.0)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_uses_interpolates():
    seen = []

    def critic(x):
        seen.append(x.numpy())
        return x.sum(axis=(1, 2, 3)) / 2.0     # gradient (1/2, 1/2, 1/2, 1/2): norm 1
    x_real, x_fake = mg.ones(3, 1, 2, 2, dtype="float64"), mg.zeros(3, 1, 2, 2, dtype="float64")
    eps = _t([0.0, 0.25, 1.0])
    assert wgan_gp.gradient_penalty(critic, x_real, x_fake, eps=eps).item() == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(seen[0][:, 0, 0, 0], [0.0, 0.25, 1.0])    # eps x + (1 - eps) x~


def test_gradient_penalty_gradient_matches_finite_differences():
    """The penalty holds a first derivative of D, so its gradient is a second derivative."""
    rng = np.random.default_rng(1)
    leaf = lambda *shape: mg.tensor(rng.standard_normal(shape), requires_grad=True)   # noqa: E731
    x_real, x_fake, w1, b1, w2 = leaf(5, 3), leaf(5, 3), leaf(3, 4), leaf(4), leaf(4, 1)
    eps = mg.tensor(rng.uniform(size=5))

    def penalty(x_real, x_fake, w1, b1, w2):
        critic = lambda x: (mg.tanh(x @ w1 + b1) @ w2).reshape(x.shape[0])     # noqa: E731
        return wgan_gp.gradient_penalty(critic, x_real, x_fake, eps=eps)
    assert mg.autograd.gradcheck(penalty, [x_real, x_fake, w1, b1, w2], eps=1e-6, atol=1e-5, rtol=1e-3)


# ------------------------------------------------------------------------------------ the networks
def test_conditional_networks_use_the_label():
    d = cgan.ProjectionDiscriminator(10, (1, 8, 8), width=8).eval()
    g = cgan.ConditionalGenerator(4, 10, (1, 8, 8), width=8).eval()
    x, z = mg.rand(6, 1, 8, 8), mg.randn(6, 4)
    y, other = mg.tensor([0, 1, 2, 3, 4, 5]), mg.tensor([5, 6, 7, 8, 9, 0])
    with mg.no_grad():
        assert np.abs(d(x, y).numpy() - d(x, other).numpy()).min() > 1e-6
        assert np.abs(g(z, y).numpy() - g(z, other).numpy()).max() > 1e-4
        # with the projection removed, the label could not matter: check it is the only difference
        phi = d.critic.features(x)
        np.testing.assert_allclose((d(x, y) - d(x, other)).numpy(),
                                   ((d.embed(y) - d.embed(other)) * phi.flatten(1)).sum(axis=1).numpy(),
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("side", [8, 28])
def test_dcgan_shapes_for_digits_and_mnist(side):
    g, d = dcgan.DCGANGenerator(16, (1, side, side), width=4), dcgan.ConvCritic((1, side, side), width=4)
    x = g(mg.randn(3, 16))
    assert x.shape == (3, 1, side, side) and np.abs(x.numpy()).max() <= 1
    assert d(x).shape == (3,)


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"latent z of shape \(N, 16\), got \(4, 8\)"):
        gan.MLPGenerator(16, (2,))(mg.randn(4, 8))
    with pytest.raises(ValueError, match=r"latent z of shape \(N, 16\)"):
        dcgan.DCGANGenerator(16, (1, 8, 8))(mg.randn(4, 3))
    with pytest.raises(ValueError, match="multiple of 4"):
        dcgan.DCGANGenerator(16, (1, 10, 10))
    with pytest.raises(ValueError, match=r"expected data of shape \(N, 1, 8, 8\), got \(2, 1, 28, 28\)"):
        dcgan.ConvCritic((1, 8, 8))(mg.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="needs labels"):
        cgan.ProjectionDiscriminator(10, (1, 8, 8))(mg.rand(2, 1, 8, 8), None)
    with pytest.raises(UsageError, match="needs square images"):
        training.train("dcgan", "8gaussians", out=tmp_path / "d", steps=1, **QUIET)
    with pytest.raises(UsageError, match="labelled square images"):
        training.train("cgan", "moons", out=tmp_path / "c", steps=1, **QUIET)
    with pytest.raises(UsageError, match="latent_dim must be a positive integer, got 0"):
        training.train("gan", "moons", out=tmp_path / "z", steps=1, options={"latent_dim": 0}, **QUIET)
    with pytest.raises(UsageError, match="generator_loss must be one of"):
        training.train("gan", "moons", out=tmp_path / "g", steps=1, options={"generator_loss": "x"}, **QUIET)


# ------------------------------------------------------------------------------------ the loop
@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    return training.train("gan", "8gaussians", out=out, steps=6, options={"hidden": 16}, **QUIET)


def test_metrics_log_the_game(gan_run):
    records = read_metrics(f"{gan_run.out}/metrics.jsonl")
    assert len(records) == 6
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert all(math.isfinite(r[key]) for r in records)
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in records)


def test_label_for_an_unconditional_model_is_refused(gan_run, capsys):
    with pytest.raises(UsageError, match="not class-conditional"):
        gan_run.recipe.sample(4, label=1)
    assert main(["sample", gan_run.out, "--n", "4", "--label", "1"]) == 2
    assert "not class-conditional" in capsys.readouterr().err


def test_eval_reports_mode_metrics_on_gaussian_mixtures(gan_run, capsys):
    assert main(["eval", gan_run.out]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_modes"] == 8 and 0 <= report["modes_captured"] <= 8
    assert 0 <= report["high_quality_share"] <= 1 and 0 < report["d_real"] < 1


def test_wgan_gp_updates_the_generator_every_n_critic_steps(tmp_path):
    seen = []

    def snapshot(step, metrics):
        seen.append(([p.numpy().copy() for p in run_recipe[0].generator.parameters()], metrics))
    run_recipe = []
    original = wgan_gp.WGANGPRecipe.__init__

    def capture(self, *args):
        original(self, *args)
        run_recipe.append(self)
    wgan_gp.WGANGPRecipe.__init__ = capture
    try:
        training.train("wgan-gp", "8gaussians", out=tmp_path, steps=6, callback=snapshot,
                       options={"hidden": 16, "n_critic": 3}, **QUIET)
    finally:
        wgan_gp.WGANGPRecipe.__init__ = original
    changed = [any((a != b).any() for a, b in zip(seen[i][0], seen[i - 1][0])) for i in range(1, 6)]
    assert changed == [False, True, False, False, True]       # after steps 3 and 6 (1-based)
    assert all(m["gp"] >= 0 and "wasserstein" in m for _, m in seen)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_loss_stops_training(tmp_path, monkeypatch):
    monkeypatch.setattr(gan.LogisticGameRecipe, "discriminator_loss",
                        lambda self, r, f, *a: (adversarial.discriminator_loss(r, f) * float("nan"), {}))
    with pytest.raises(TrainingDiverged, match="d_loss is nan at step 1"):
        training.train("gan", "8gaussians", out=tmp_path, steps=3, options={"hidden": 8}, **QUIET)


@pytest.mark.parametrize("model, dataset, options", [
    ("dcgan", "digits", {"width": 4, "latent_dim": 8}),
    ("cgan", "digits", {"width": 4, "latent_dim": 8}),
    ("wgan-gp", "digits", {"width": 4, "latent_dim": 8}),
    ("gan", "digits", {"hidden": 16}),
])
def test_image_models_train_and_sample(tmp_path, monkeypatch, model, dataset, options):
    # a judge that always says 0: cgan's label_accuracy must then be exactly 1/10
    monkeypatch.setattr(cgan, "reference_classifier", lambda *a: lambda images: np.zeros(len(images)))
    run = training.train(model, dataset, out=tmp_path, steps=2, options={**options, "batch_size": 16},
                         **QUIET)
    conditional = model == "cgan"
    samples = run.recipe.sample(5, label=3 if conditional else None)
    assert samples.shape == (5, 1, 8, 8) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert (tmp_path / "samples.png").exists()
    metrics = run.recipe.evaluate(*mg.data.load(dataset, split="test"))
    assert all(math.isfinite(v) for v in metrics.values())
    if conditional:
        assert metrics["label_accuracy"] == pytest.approx(0.1)
        with pytest.raises(UsageError, match=r"label must be an integer class in \[0, 10\)"):
            run.recipe.sample(2, label=10)


# ------------------------------------------------------------------------------------ mode metrics
def test_mode_metrics_by_hand():
    centres, std = toy2d.modes("8gaussians")
    rng = np.random.default_rng(0)
    on_all = np.repeat(centres, 100, axis=0) + 0.1 * std * rng.standard_normal((800, 2))
    assert mode_metrics(on_all, centres, std) == {"modes_captured": 8, "num_modes": 8,
                                                  "high_quality_share": 1.0}
    collapsed = np.repeat(centres[:1], 800, axis=0)
    assert mode_metrics(collapsed, centres, std)["modes_captured"] == 1
    far = np.full((10, 2), 100.0)
    assert mode_metrics(far, centres, std)["high_quality_share"] == 0.0
    # 3 std is the edge: just inside counts, just outside does not
    edge = centres[:1] + np.array([[3 * std * 0.999, 0.0], [3 * std * 1.001, 0.0]])
    assert mode_metrics(edge, centres, std)["high_quality_share"] == 0.5
    # a mode needs a fifth of its fair share (n/K): 19 of 800 samples on mode 1 is too few
    few = np.concatenate([np.repeat(centres[:1], 781, axis=0), np.repeat(centres[1:2], 19, axis=0)])
    assert mode_metrics(few, centres, std)["modes_captured"] == 1
    with pytest.raises(ValueError, match=r"samples of shape \(n, 2\)"):
        mode_metrics(np.zeros((4, 3)), centres, std)


# ------------------------------------------------------------------------------------ slow: real training
@pytest.mark.slow
def test_wgan_gp_captures_every_mode_of_8gaussians(tmp_path):
    # `minigen train wgan-gp --dataset 8gaussians` as the README and docs/gan.md show it: the 2-D
    # defaults (Adam(1e-3, betas (0.5, 0.9)), 9,984 critic steps); the issue-16 target is 8/8 and 0.7
    run = training.train("wgan-gp", "8gaussians", out=tmp_path, seed=0, log_every=100, stream=stdio.StringIO())
    assert run.step == 9984
    centres, std = toy2d.modes("8gaussians")
    mg.manual_seed(1)
    metrics = mode_metrics(run.recipe.sample(10_000), centres, std)
    assert metrics["modes_captured"] == 8
    assert metrics["high_quality_share"] >= 0.7


@pytest.mark.slow
def test_cgan_samples_are_classified_as_their_label(tmp_path):
    run = training.train("cgan", "digits", out=tmp_path / "cgan", epochs=30, seed=0, log_every=50,
                         stream=stdio.StringIO())
    judge = training.train("classifier", "digits", out=tmp_path / "judge", epochs=20, stream=stdio.StringIO())
    classify = lambda images: judge.recipe.logits(images).argmax(axis=1).numpy()     # noqa: E731
    accuracy = cgan.label_accuracy(run.recipe, classify)
    assert accuracy > 0.6                         # chance is 0.1
    # the discriminator prefers real images paired with their own label over a wrong one
    x, y = mg.data.load("digits", split="test")
    real = run.recipe.scores(x, y)
    wrong = run.recipe.scores(x, (y + 1) % 10)
    assert real > wrong
