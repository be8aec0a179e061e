"""The training loop: bit-for-bit resume, Ctrl-C, NaN stops, the registry, and the two classifiers."""
import io as stdio
import os
import signal
import sys

import numpy as np
import pytest

import minigen as mg
from minigen import training
from minigen.models.classifier import Classifier, ClassifierRecipe
from minigen.models.gaussian_classifier import GaussianClassifier
from minigen.training import (TrainingDiverged, TrainingInterrupted, UsageError, read_metrics,
                              train)

# the MLP keeps these tests fast; dropout makes the random stream matter for bit-for-bit resumes
QUIET = dict(log_every=1, checkpoint_every=5, stream=stdio.StringIO(), options={"arch": "mlp"})


def _losses(out):
    """metrics.jsonl without the wall-clock time, which is the one thing allowed to differ."""
    return [{k: v for k, v in r.items() if k != "time"} for r in read_metrics(out / "metrics.jsonl")]


def _weights(out):
    return mg.load(out / "checkpoint.npz")["model"]["model"]


def _stop_at(stop_step, exception):
    def callback(step, metrics):
        if step == stop_step:
            raise exception
    return callback


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """24 uninterrupted steps of the classifier."""
    out = tmp_path_factory.mktemp("straight")
    train("classifier", "digits", out=out, steps=24, **QUIET)
    return out


def test_resume_after_ctrl_c_equals_the_uninterrupted_run(straight, tmp_path):
    with pytest.raises(TrainingInterrupted, match="interrupted after step 13/24") as caught:
        train("classifier", "digits", out=tmp_path, steps=24, callback=_stop_at(13, KeyboardInterrupt),
              **QUIET)
    assert f"--out {tmp_path} --resume" in str(caught.value)
    assert mg.io.read_header(tmp_path / "checkpoint.npz")["step"] == 13   # saved at once, not at 10
    run = train("classifier", "digits", out=tmp_path, steps=24, resume=True, **QUIET)
    assert run.step == 24
    assert _losses(tmp_path) == _losses(straight)
    for name, value in _weights(straight).items():
        np.testing.assert_array_equal(_weights(tmp_path)[name], value)


def test_resume_after_a_crash_between_checkpoints(straight, tmp_path):
    """A crash at step 13 loses steps 11-13; resuming from step 10 writes them again, identically."""
    with pytest.raises(RuntimeError, match="power cut"):
        train("classifier", "digits", out=tmp_path, steps=24,
              callback=_stop_at(13, RuntimeError("power cut")), **QUIET)
    assert mg.io.read_header(tmp_path / "checkpoint.npz")["step"] == 10
    assert len(read_metrics(tmp_path / "metrics.jsonl")) == 13
    train("classifier", "digits", out=tmp_path, steps=24, resume=True, **QUIET)
    assert _losses(tmp_path) == _losses(straight)


def test_train_half_then_resume_to_the_full_length(straight, tmp_path):
    train("classifier", "digits", out=tmp_path, steps=12, **QUIET)
    train("classifier", "digits", out=tmp_path, steps=24, resume=True, **QUIET)
    assert _losses(tmp_path) == _losses(straight)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_real_sigint_finishes_the_step_then_saves(tmp_path):
    def press_ctrl_c(step, metrics):
        if step == 6:
            os.kill(os.getpid(), signal.SIGINT)
    before = signal.getsignal(signal.SIGINT)       # Python's default, or SIG_IGN under nohup
    with pytest.raises(TrainingInterrupted, match="after step 6"):
        train("classifier", "digits", out=tmp_path, steps=24, callback=press_ctrl_c, **QUIET)
    assert mg.io.read_header(tmp_path / "checkpoint.npz")["step"] == 6
    assert signal.getsignal(signal.SIGINT) is before                    # handler restored


def _poison(monkeypatch, at_step, loss):
    """From the call with index ``at_step`` on, the weights become NaN and the loss is ``loss``."""
    original = ClassifierRecipe.train_step

    def train_step(self, batch, step):
        metrics = original(self, batch, step)
        if step >= at_step:
            for p in self.model.parameters():
                p.data[...] = np.nan
            metrics["loss"] = loss
        return metrics
    monkeypatch.setattr(ClassifierRecipe, "train_step", train_step)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    _poison(monkeypatch, at_step=7, loss=float("nan"))
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 8.*last good checkpoint \(step 5\)"):
        train("classifier", "digits", out=tmp_path, steps=24, **QUIET)
    assert mg.io.read_header(tmp_path / "checkpoint.npz")["step"] == 5
    assert all(np.isfinite(w).all() for w in _weights(tmp_path).values())


def test_an_infinite_loss_is_caught_too(tmp_path, monkeypatch):
    _poison(monkeypatch, at_step=2, loss=float("inf"))
    with pytest.raises(TrainingDiverged, match="loss is inf at step 3.*no checkpoint had been written"):
        train("classifier", "digits", out=tmp_path, steps=24, **QUIET)
    assert not os.path.exists(tmp_path / "checkpoint.npz")


def test_non_finite_weights_are_never_checkpointed(tmp_path, monkeypatch):
    original = ClassifierRecipe.train_step

    def train_step(self, batch, step):   # finite loss, but the update broke the weights
        metrics = original(self, batch, step)
        if step == 4:          # the 5th update, just before the checkpoint at step 5
            self.model.head.weight.data[0, 0] = np.inf
        return metrics
    monkeypatch.setattr(ClassifierRecipe, "train_step", train_step)
    with pytest.raises(TrainingDiverged, match=r"no longer finite after step 5 \(model\.head\.weight\)"):
        train("classifier", "digits", out=tmp_path, steps=24, **QUIET)
    assert not os.path.exists(tmp_path / "checkpoint.npz")


def test_run_folder_contents(straight):
    assert sorted(os.listdir(straight)) == ["checkpoint.npz", "config.json", "metrics.jsonl", "samples.png"]
    records = read_metrics(straight / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 25))
    assert set(records[0]) == {"step", "epoch", "loss", "accuracy", "lr", "time"}
    assert records[-1]["epoch"] == 1 and records[0]["epoch"] == 0     # 22 batches of 64 per epoch
    assert records[-1]["loss"] < records[0]["loss"]


def test_logged_values_are_means_over_the_interval(tmp_path):
    every_step = tmp_path / "a"
    train("classifier", "digits", out=every_step, steps=8, **QUIET)
    train("classifier", "digits", out=tmp_path / "b", steps=8, **{**QUIET, "log_every": 4})
    losses = [r["loss"] for r in read_metrics(every_step / "metrics.jsonl")]
    coarse = [r["loss"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl")]
    np.testing.assert_allclose(coarse, [np.mean(losses[:4]), np.mean(losses[4:])], rtol=1e-12)


def test_mistakes_are_usage_errors(tmp_path, straight):
    with pytest.raises(UsageError, match="unknown model 'vea'.*classifier"):
        train("vea", "digits", out=tmp_path)
    with pytest.raises(UsageError, match="unknown dataset 'digitz'"):
        train("classifier", "digitz", out=tmp_path)
    with pytest.raises(UsageError, match="needs labelled images; dataset 'moons' is not one.*digits"):
        train("classifier", "moons", out=tmp_path)
    with pytest.raises(UsageError, match="has no option 'depth'.*arch"):
        train("classifier", "digits", out=tmp_path, options={"depth": 3})
    with pytest.raises(UsageError, match="option lr .* takes a float"):
        train("classifier", "digits", out=tmp_path, options={"lr": "fast"})
    with pytest.raises(UsageError, match="--resume continues the saved run, whose arch is 'mlp', not 'cnn'"):
        train("classifier", "digits", out=straight, steps=30, resume=True, options={"arch": "cnn"})
    with pytest.raises(UsageError, match="no checkpoint to resume from"):
        train("classifier", "digits", out=tmp_path / "empty", resume=True)
    with pytest.raises(UsageError, match="already holds a run.*--resume"):
        train("classifier", "digits", out=straight, steps=3)
    with pytest.raises(UsageError, match="whose lr is 0.001, not 0.1"):
        train("classifier", "digits", out=straight, steps=30, resume=True, options={"lr": 0.1, "arch": "mlp"})
    with pytest.raises(UsageError, match="steps must be a positive integer"):
        train("classifier", "digits", out=tmp_path, steps=0)


def test_register_rejects_non_recipes_and_duplicates():
    with pytest.raises(TypeError, match="Recipe subclass"):
        training.register("thing")(object)
    with pytest.raises(ValueError, match="already registered"):
        training.register("classifier")(type("Other", (training.Recipe,), {}))
    assert {"classifier", "gaussian-classifier"} <= set(training.names())


def test_load_run_rebuilds_the_trained_model(straight):
    run = training.load_run(straight)
    x, y = mg.data.load("digits", split="test")
    metrics = run.recipe.evaluate(x, y)
    assert run.step == 24 and set(metrics) == {"accuracy", "nll"}
    assert 0.5 < metrics["accuracy"] <= 1.0


def test_progress_prints_plain_lines_when_not_a_terminal():
    stream = stdio.StringIO()
    bar = training.Progress(200, stream=stream, desc="m/d")
    for step in range(1, 201):
        bar.update(step, {"loss": 1.0 / step})
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in stream.getvalue()
    assert lines[-1].startswith("m/d 200/200") and "loss 0.005" in lines[-1] and "step/s" in lines[-1]


# ---------------------------------------------------------------------------------- the models
def test_classifier_architectures_and_features():
    x = mg.rand(5, 1, 8, 8)
    for arch, width in (("linear", 64), ("mlp", 32), ("cnn", 32)):
        model = Classifier((1, 8, 8), 10, arch=arch, hidden=32).eval()
        assert model.features(x).shape == (5, width)
        assert model(x).shape == (5, 10)
    with pytest.raises(ValueError, match="arch must be one of"):
        Classifier((1, 8, 8), 10, arch="resnet")


def _digits():
    return mg.data.load("digits", split="train"), mg.data.load("digits", split="test")


def test_gaussian_classifier_accuracy_and_samples():
    (x, y), (x_test, y_test) = _digits()
    model = GaussianClassifier(64, 10, covariance="full", reg=0.01)
    model.observe(mg.tensor(x), mg.tensor(y))
    posterior = model.log_posterior(mg.tensor(x_test)).numpy()
    assert (posterior.argmax(axis=1) == y_test).mean() >= 0.97
    np.testing.assert_allclose(np.exp(posterior).sum(axis=1), 1.0, rtol=1e-10)
    mg.manual_seed(0)
    threes = model.sample(2000, label=3).numpy()
    # the sample mean and covariance are those of the class: E[mu + L eps] = mu, Cov = L L^T
    np.testing.assert_allclose(threes.mean(axis=0), model.mu.numpy()[3], atol=0.03)
    sigma = model.L.numpy()[3] @ model.L.numpy()[3].T
    np.testing.assert_allclose(np.cov(threes.T), sigma, atol=0.02)


def test_gaussian_statistics_stream_exactly():
    """Batch after batch, the sufficient statistics give the same fit as all the data at once."""
    (x, y), (x_test, _) = _digits()
    whole, streamed = GaussianClassifier(64, 10), GaussianClassifier(64, 10)
    whole.observe(mg.tensor(x), mg.tensor(y))
    for i in range(0, len(x), 100):
        streamed.observe(mg.tensor(x[i:i + 100]), mg.tensor(y[i:i + 100]))
    np.testing.assert_allclose(streamed.log_joint(mg.tensor(x_test[:20])).numpy(),
                               whole.log_joint(mg.tensor(x_test[:20])).numpy(), rtol=1e-9)


@pytest.mark.parametrize("covariance", ["shared", "diagonal"])
def test_gaussian_covariance_variants(covariance):
    (x, y), (x_test, y_test) = _digits()
    model = GaussianClassifier(64, 10, covariance=covariance)
    model.observe(mg.tensor(x), mg.tensor(y))
    assert (model.log_posterior(mg.tensor(x_test)).numpy().argmax(axis=1) == y_test).mean() > 0.85
    sigma = model.L.numpy() @ model.L.numpy().transpose(0, 2, 1)       # fitted by log_posterior
    if covariance == "shared":
        np.testing.assert_allclose(sigma[0], sigma[7], atol=1e-12)
    else:
        np.testing.assert_allclose(sigma[0], np.diag(np.diag(sigma[0])), atol=1e-12)


def test_gaussian_log_density_matches_scipy():
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(0)
    x = rng.random((50, 3))
    y = np.arange(50) % 2
    model = GaussianClassifier(3, 2, reg=0.1)
    model.observe(mg.tensor(x), mg.tensor(y))
    log_joint = model.log_joint(mg.tensor(x)).numpy()
    for k in range(2):
        xk = x[y == k]
        sigma = np.cov(xk.T, bias=True) + 0.1 * np.eye(3)
        expected = multivariate_normal(xk.mean(axis=0), sigma).logpdf(x) + np.log((25 + 1) / (50 + 2))
        np.testing.assert_allclose(log_joint[:, k], expected, rtol=1e-10)


def test_register_refuses_options_the_trainer_owns():
    import pytest
    from minigen.training import Recipe, register
    with pytest.raises(ValueError, match=r"may not use \['steps'\]"):
        @register("bad-steps-option")
        class BadRecipe(Recipe):
            default_config = {"steps": 4, "epochs": 1}


def test_fit_trains_even_when_called_under_no_grad():
    """An evaluation runs under no_grad and may train a small model (the cGAN's judge): fit must still
    take gradient steps there (a regression: `minigen compare` failed on cgan with 'does not require grad')."""
    from minigen.training import fit
    x, y = mg.data.load("digits", split="train")
    with mg.no_grad():
        recipe = fit("classifier", "digits", x[:256], y[:256], steps=30, options={"arch": "linear"})
    assert recipe.evaluate(x[:256], y[:256])["accuracy"] > 0.3          # chance: 0.1


# ---------------------------------------------------------------------------------- one loop
def test_fit_is_the_training_loop_without_a_folder(tmp_path):
    """fit and train run the same loop: the same config gives bit-for-bit the same weights."""
    x, y = mg.data.load("digits", split="train")
    run = train("classifier", "digits", out=tmp_path, steps=7, **{**QUIET, "options": {"arch": "mlp", "hidden": 32}})
    fitted = training.fit("classifier", "digits", x, y, steps=7, options={"arch": "mlp", "hidden": 32})
    assert fitted.config["steps"] == run.config["steps"] == 7
    for name, value in run.recipe.model.state_dict().items():
        np.testing.assert_array_equal(fitted.model.state_dict()[name], value)


def test_fit_gives_vqvae2_its_steps_so_the_autoencoder_trains_first():
    """vqvae2 trains its autoencoder for the first vq_fraction of config["steps"], then its priors. fit
    once left "steps" out of the config, so the priors trained on an untrained autoencoder."""
    from minigen.models.vqvae2 import VQVAE2Recipe
    from minigen.recipe import make_config
    x, y = mg.data.load("digits", split="train")
    options = {"hidden": 8, "code_dim": 4, "num_codes": 4, "prior_channels": 4, "prior_layers": 1}
    recipe = training.fit("vqvae2", "digits", x[:128], y[:128], steps=4, options=options)
    assert recipe.config["steps"] == 4 and recipe.vq_steps == 2
    mg.manual_seed(0)
    untrained = VQVAE2Recipe({**make_config(VQVAE2Recipe, "digits", 0, options), "steps": 4},
                             mg.data.info("digits"), mg.device("cpu"))
    changed = [name for name, value in untrained.model.state_dict().items()
               if not np.array_equal(recipe.model.state_dict()[name], value)]
    assert changed, "the autoencoder was never trained"
    with pytest.raises(ValueError, match="needs 'steps'"):
        VQVAE2Recipe(make_config(VQVAE2Recipe, "digits", 0, options), mg.data.info("digits"), mg.device("cpu"))


def test_fit_keeps_the_last_short_batch_of_a_family_that_wants_it():
    """gaussian-classifier has drop_last = False: one epoch of fit sees every example, as train does."""
    x, y = mg.data.load("digits", split="train")
    recipe = training.fit("gaussian-classifier", "digits", x[:300], y[:300], epochs=1, batch_size=256)
    assert recipe.config["steps"] == 2 and int(recipe.model.count.numpy().sum()) == 300


def test_the_preview_uses_the_fast_sampler_and_says_what_it_cost(tmp_path, monkeypatch):
    """DDPM draws samples.png by DDIM in a few steps (the full ancestral sampler stays for `minigen
    sample`), autoregressive priors draw a small grid, and train prints the preview's cost."""
    from minigen.models.ddpm import DDPMRecipe
    from minigen.models.pixelcnn import PixelCNNRecipe
    calls = []
    real = DDPMRecipe.sample
    monkeypatch.setattr(DDPMRecipe, "sample",
                        lambda self, n, label=None, steps=None, **kw: calls.append((n, steps)) or
                        real(self, n, label=label, steps=steps, **kw))
    stream = stdio.StringIO()
    training.train("ddpm", "8gaussians", out=tmp_path / "d", steps=2, stream=stream,
                   options={"timesteps": 100})
    assert calls == [(1000, 50)]
    assert "preview: " in stream.getvalue() and "(DDIM, 50 steps, " in stream.getvalue()
    assert PixelCNNRecipe.preview_images < 64 and PixelCNNRecipe.preview_per_class < 8
