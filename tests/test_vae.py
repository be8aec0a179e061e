"""AE, VAE and conditional VAE: loss terms against hand-computed values, the IWAE bound, errors,
the recipes end to end; slow tests train on digits and check the learning signal is real."""
import math
import os

import numpy as np
import pytest

import minigen as mg
from minigen.data.pixels import binarize, dequantize
from minigen.metrics.codes import codebook_perplexity
from minigen.metrics.likelihood import bits_per_dim, log_mean_exp
from minigen.models.ae import Autoencoder
from minigen.models.cvae import ConditionalVAE
from minigen.models.encoders import ImageDecoder, ImageEncoder, conv_down, conv_up
from minigen.models.vae import VAE
from minigen.training import train

SHAPE = (1, 2, 2)
MU, LOG_VAR = 0.5, math.log(2.25)            # q(z|x) = N(0.5, 1.5^2), wider than p(z) = N(0, 1)
KL_PER_DIM = 0.5 * (2.25 + 0.25 - 1 - math.log(2.25))   # closed form, 0.344535...
BIAS = np.array([0.3, -1.0, 2.0, 0.0])       # decoder logits (or means), independent of z


def constant_vae(likelihood="bernoulli", latent_dim=3, log_var_x=None):
    """A VAE whose encoder always outputs (MU, LOG_VAR) and whose decoder always outputs BIAS, so its
    ELBO and log p(x) (= log p(x|z), whatever z) have closed forms."""
    model = VAE(SHAPE, latent_dim=latent_dim, hidden=8, likelihood=likelihood).to(dtype="float64")
    head, out = model.encoder.head[-1], model.decoder.net[0][-1]
    head.weight.data[...] = 0
    head.bias.data[...] = [MU] * latent_dim + [LOG_VAR] * latent_dim
    out.weight.data[...] = 0
    out.bias.data[...] = BIAS
    if log_var_x is not None:
        model.log_var_x.data[...] = log_var_x
    return model


X = np.array([[[[1.0, 0.0], [1.0, 1.0]]], [[[0.0, 0.0], [1.0, 0.0]]]])
LOG_PX_BERNOULLI = (X.reshape(2, 4) * BIAS - np.log1p(np.exp(BIAS))).sum(axis=1)


# ------------------------------------------------------------------------------------ loss terms
def test_elbo_terms_match_hand_computed_values_bernoulli():
    model = constant_vae()
    terms = model.elbo(mg.tensor(X), beta=2.0)
    np.testing.assert_allclose(terms["log_px_z"].numpy(), LOG_PX_BERNOULLI, rtol=1e-12)
    np.testing.assert_allclose(terms["kl"].numpy(), [3 * KL_PER_DIM] * 2, rtol=1e-12)
    np.testing.assert_allclose(terms["elbo"].numpy(), LOG_PX_BERNOULLI - 2.0 * 3 * KL_PER_DIM, rtol=1e-12)


def test_elbo_terms_match_hand_computed_values_gaussian():
    model = constant_vae("gaussian", log_var_x=math.log(0.5))
    terms = model.elbo(mg.tensor(X))
    expected = (-0.5 * (X.reshape(2, 4) - BIAS) ** 2 / 0.5 - 0.5 * math.log(0.5) - 0.5 * math.log(2 * math.pi)).sum(1)
    np.testing.assert_allclose(terms["log_px_z"].numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(terms["elbo"].numpy(), expected - 3 * KL_PER_DIM, rtol=1e-12)


def test_elbo_uses_the_reparameterized_sample():
    """ELBO's reconstruction term equals log p(x | mu + sigma eps) for the eps that rsample draws."""
    model = VAE(SHAPE, latent_dim=2, hidden=8).to(dtype="float64")
    x = mg.tensor(X)
    mg.manual_seed(5)
    log_px_z = model.elbo(x)["log_px_z"].numpy()
    h = model.encoder(x).numpy()
    mu, log_var = h[:, :2], h[:, 2:]
    mg.manual_seed(5)
    eps = mg.randn(2, 2, dtype="float64").numpy()
    logits = model.decoder(mg.tensor(mu + np.exp(0.5 * log_var) * eps)).numpy().reshape(2, 4)
    expected = (X.reshape(2, 4) * logits - np.log1p(np.exp(logits))).sum(1)
    np.testing.assert_allclose(log_px_z, expected, rtol=1e-10)


def test_autoencoder_loss_is_the_summed_cross_entropy():
    model = Autoencoder(SHAPE, latent_dim=2, hidden=8).to(dtype="float64")
    out = model.decoder.net[0][-1]
    out.weight.data[...] = 0
    out.bias.data[...] = BIAS
    x = np.array([[[[0.25, 0.0], [1.0, 0.5]]]])
    p = 1 / (1 + np.exp(-BIAS))
    expected = -(x.ravel() * np.log(p) + (1 - x.ravel()) * np.log(1 - p)).sum()
    np.testing.assert_allclose(model.loss(mg.tensor(x)).item(), expected, rtol=1e-10)


# ------------------------------------------------------------------------------------ IWAE
def test_iwae_is_above_the_elbo_and_approaches_log_px_as_k_grows():
    """The decoder ignores z, so log p(x) = log p(x|z) exactly and the bounds must close onto it.
    20,000 log-weights are split into groups of k; each group gives one draw of the IWAE_k bound."""
    model = constant_vae()
    exact = LOG_PX_BERNOULLI
    log_w = model.log_weights(mg.tensor(X), k=20000)
    gaps = []
    for k in (1, 10, 100, 1000):
        bounds = log_mean_exp(log_w.reshape(20000 // k, k, 2), axis=1).numpy()     # (groups, N)
        gaps.append(float((exact - bounds.mean(axis=0)).mean()))
    assert gaps[0] == pytest.approx(3 * KL_PER_DIM, abs=0.05)        # k = 1: the ELBO, on average
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3] > -0.01              # tighter with every k
    assert gaps[3] < 0.02
    iwae = model.iwae(mg.tensor(X), k=1000, chunk=300).numpy()        # the chunked estimator agrees
    np.testing.assert_allclose(iwae, exact, atol=0.1)


def test_log_weights_and_log_mean_exp():
    model = constant_vae(latent_dim=1)
    w = model.log_weights(mg.tensor(X), k=7)
    assert w.shape == (7, 2)
    np.testing.assert_allclose(log_mean_exp(w, axis=0).numpy(),
                               np.log(np.mean(np.exp(w.numpy()), axis=0)), rtol=1e-12)


# ------------------------------------------------------------------------------------ conventions
def test_binarize_and_dequantize_conventions():
    x = np.array([[0.0, 0.5, 1.0, 0.25]], dtype=np.float32)
    b1, b2 = binarize(x, seed=3), binarize(x, seed=3)
    np.testing.assert_array_equal(b1, b2)                      # the fixed test binarisation
    assert b1[0, 0] == 0 and b1[0, 2] == 1
    assert binarize(np.full((20000,), 0.3), seed=0).mean() == pytest.approx(0.3, abs=0.01)
    y = dequantize(x, levels=5, seed=0)
    assert np.all((y >= 0) & (y < 1))
    np.testing.assert_array_equal(np.floor(y * 5), x * 4)      # the bin of y is the grey level
    assert mg.data.info("digits").levels == 17 and mg.data.info("mnist-5k").levels == 256
    assert bits_per_dim(64 * math.log(2), 64) == pytest.approx(1.0)


def test_codebook_perplexity_counts():
    assert codebook_perplexity([5, 5, 5, 5]) == pytest.approx(4.0)
    assert codebook_perplexity([0, 9, 0]) == pytest.approx(1.0)
    assert codebook_perplexity([1, 3]) == pytest.approx(math.exp(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75))))
    with pytest.raises(ValueError, match="no code"):
        codebook_perplexity([0, 0])


# ------------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_encoder_decoder_shapes(shape, arch):
    x = mg.rand(3, *shape)
    enc = ImageEncoder(shape, 6, arch, hidden=32, condition_features=10)
    assert enc(x, mg.one_hot(mg.tensor([1, 2, 3]), 10)).shape == (3, 6)
    assert ImageDecoder(6, shape, arch, hidden=32)(mg.randn(3, 6)).shape == (3,) + shape
    factor = 4 if shape[1] == 28 else 2
    h = conv_down(1, 8, 5, factor)(x)
    assert h.shape == (3, 5, shape[1] // factor, shape[2] // factor)
    assert conv_up(5, 8, 1, factor)(h).shape == (3,) + shape


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_is_a_clear_error():
    vae = VAE((1, 8, 8), latent_dim=2, hidden=8)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 8, 8\), got \(2, 1, 28, 28\)"):
        vae.elbo(mg.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="latent_dim must be a positive integer, got 0"):
        VAE((1, 8, 8), latent_dim=0)
    with pytest.raises(ValueError, match="latent_dim must be a positive integer, got 0"):
        Autoencoder((1, 8, 8), latent_dim=0)
    with pytest.raises(ValueError, match="likelihood must be one of"):
        VAE((1, 8, 8), likelihood="poisson")
    with pytest.raises(ValueError, match="unconditional"):
        vae.elbo(mg.rand(2, 1, 8, 8), mg.tensor([1, 2]))
    cvae = ConditionalVAE((1, 8, 8), 10, latent_dim=2, hidden=8)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), got \[3, 10\]"):
        cvae.elbo(mg.rand(2, 1, 8, 8), mg.tensor([3, 10]))
    with pytest.raises(ValueError, match="needs labels"):
        cvae.sample(2)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        ConditionalVAE((1, 8, 8), 0)


# ------------------------------------------------------------------------------------ recipes
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    options = {"vae": {"hidden": 32, "eval_k": 20}, "cvae": {"hidden": 32, "eval_k": 20, "likelihood": "gaussian"},
               "ae": {"hidden": 32, "latent_dim": 2}}
    return {name: train(name, "digits", out=out / name, steps=3, options=opts, stream=open("/dev/null", "w"))
            for name, opts in options.items()}


def test_recipes_train_evaluate_and_sample(runs):
    x, y = mg.data.load("digits", "test")
    for name, run in runs.items():
        metrics = run.recipe.evaluate(x[:40], y[:40])
        assert all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)), metrics
        assert metrics["recon_mse"] < 0.5
        samples = run.recipe.sample(5, label=4 if name == "cvae" else None)
        assert samples.shape == (5, 1, 8, 8) and samples.dtype == np.float32
        assert samples.min() >= 0 and samples.max() <= 1
    vae = runs["vae"].recipe.evaluate(x[:40])
    assert vae["nll_nats"] <= vae["neg_elbo_nats"] + 1e-6
    assert vae["nll_bits_per_dim"] == pytest.approx(vae["nll_nats"] / (64 * math.log(2)))
    assert os.path.exists(os.path.join(runs["vae"].out, "samples-reconstructions.png"))


def test_label_errors_through_the_recipes_and_the_cli(runs):
    from minigen.cli import main
    with pytest.raises(ValueError, match="not class-conditional"):
        runs["vae"].recipe.sample(3, label=2)
    with pytest.raises(ValueError, match=r"label must be an integer class in \[0, 10\)"):
        runs["cvae"].recipe.sample(3, label=10)
    assert main(["sample", str(runs["vae"].out), "--n", "2", "--label", "1"]) == 2
    assert main(["sample", str(runs["cvae"].out), "--n", "2", "--label", "11"]) == 2
    assert main(["train", "vae", "--dataset", "digits", "--latent-dim", "0", "--out", str(runs["vae"].out) + "-bad"]) == 2


# ------------------------------------------------------------------------------------ slow: real training
def factorised_bernoulli_nll(x_train, x_test_binary):
    """-log p(x) per image of the best per-pixel model: p_j = mean training intensity of pixel j."""
    p = np.clip(x_train.mean(axis=0), 1e-3, 1 - 1e-3)
    return float(-(x_test_binary * np.log(p) + (1 - x_test_binary) * np.log(1 - p)).sum(axis=(1, 2, 3)).mean())


@pytest.mark.slow
def test_vae_on_digits_beats_the_factorised_baseline(tmp_path):
    x_train, _ = mg.data.load("digits", "train")
    x_test, _ = mg.data.load("digits", "test")
    baseline = factorised_bernoulli_nll(x_train, binarize(x_test, seed=0))
    run = train("vae", "digits", out=tmp_path / "vae", epochs=100, options={"eval_k": 100},
                stream=open("/dev/null", "w"))
    metrics = run.recipe.evaluate(x_test)
    # measured: baseline 27.2 nats, VAE about 23.0 (-log p) and 23.4 (-ELBO); the binarisation noise
    # alone, sum_j H(Bernoulli(x_j)) given the grey image, is 13.7, so no model gets near 0
    assert metrics["nll_nats"] < baseline - 3, (metrics, baseline)
    assert metrics["neg_elbo_nats"] < baseline - 2.5, (metrics, baseline)
    assert metrics["nll_nats"] <= metrics["neg_elbo_nats"]


@pytest.mark.slow
def test_cvae_samples_are_recognised_as_their_label(tmp_path):
    classifier = train("classifier", "digits", out=tmp_path / "clf", epochs=20, stream=open("/dev/null", "w")).recipe
    x_test, y_test = mg.data.load("digits", "test")
    assert classifier.evaluate(x_test, y_test)["accuracy"] > 0.9
    cvae = train("cvae", "digits", out=tmp_path / "cvae", epochs=60, stream=open("/dev/null", "w")).recipe
    mg.manual_seed(1)
    labels = np.repeat(np.arange(10), 30)
    samples = np.concatenate([cvae.sample(30, label=k) for k in range(10)])
    accuracy = float((classifier.logits(samples).numpy().argmax(axis=1) == labels).mean())
    assert accuracy > 0.8, accuracy
