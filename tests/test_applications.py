"""The pieces behind docs/applications.md sections 1, 3 and 5: feature accessors of the generative
families, the linear probe, and the generative classifiers against known Bayes-optimal answers."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigen as mg
from minigen import data, training
from minigen.metrics.probe import linear_probe
from minigen.models import GaussianClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits():
    x, y = data.load("digits", split="train")
    return x[:256], y[:256]


def fit(model, digits, steps=2, batch_size=32, options=None):
    x, y = digits
    return training.fit(model, "digits", x, y, steps, seed=0, options=options, batch_size=batch_size)


# ---------------------------------------------------------------------------- feature accessors
def test_vqvae_features_are_codebook_vectors_and_code_counts(digits):
    recipe = fit("vqvae", digits)
    x = digits[0][:7]
    z = recipe.features(x)
    hist = recipe.features(x, "histogram")
    quantizer = recipe.model.quantizer
    num_codes, code_dim = quantizer.num_codes, recipe.config["code_dim"]
    h, w = recipe.model.latent_shape
    assert z.shape == (7, code_dim * h * w) and hist.shape == (7, num_codes)
    np.testing.assert_array_equal(z, recipe.features(x))                     # eval mode: deterministic
    # every position's D-vector is one of the K codebook rows, the one encode() picked
    with mg.no_grad():
        codes = recipe.model.encode(mg.tensor(x)).numpy()                    # (N, h, w)
        codebook = quantizer.codebook.numpy()                                # (K, D)
    vectors = z.reshape(7, code_dim, h * w).transpose(0, 2, 1)               # (N, hw, D)
    np.testing.assert_allclose(vectors, codebook[codes.reshape(7, h * w)], rtol=1e-6)
    # the histogram counts those codes and sums to the number of positions
    expected = np.stack([np.bincount(c.ravel(), minlength=num_codes) for c in codes])
    np.testing.assert_array_equal(hist, expected)
    assert (hist.sum(1) == h * w).all()
    with pytest.raises(ValueError, match="summary must be 'embeddings' or 'histogram', got 'mean'"):
        recipe.features(x, "mean")


@pytest.mark.parametrize("model", ["glow", "realnvp"])
def test_flow_features_are_z_and_invert_to_the_dequantised_image(digits, model):
    recipe = fit(model, digits, steps=1, batch_size=8)
    x = digits[0][:5]
    z = recipe.features(x)
    assert z.shape == (5, 64)
    np.testing.assert_array_equal(z, recipe.features(x))
    with mg.no_grad():
        back = recipe.flow.transform.inverse(mg.tensor(z).reshape(5, *recipe.flow.z_shape)).numpy()
    dequantised = recipe.to_model_space(mg.tensor(x), seed=0).numpy()
    np.testing.assert_allclose(back.reshape(x.shape), dequantised, atol=1e-4)


@pytest.mark.parametrize("model, width", [("gan", 128), ("dcgan", 2 * 32 * 2 * 2)])
def test_discriminator_features_feed_its_last_layer(digits, model, width):
    recipe = fit(model, digits)
    x = digits[0][:6]
    h = recipe.features(x)
    assert h.shape == (6, width)
    np.testing.assert_array_equal(h, recipe.features(x))                     # batch norm in eval mode
    head = recipe.discriminator.net[-1] if model == "gan" else recipe.discriminator.head
    with mg.no_grad():
        scores = recipe.discriminator(mg.tensor(x * 2 - 1)).numpy()
        h_in = mg.tensor(h) if model == "gan" else mg.tensor(h.reshape(6, 64, 2, 2))
        from_features = head(h_in).numpy().reshape(6)
    np.testing.assert_allclose(from_features, scores, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- the linear probe
def test_linear_probe_known_answers():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    separable = rng.normal(size=(600, 4)) + 10 * np.eye(3, 4)[y]             # classes 10 sigma apart
    assert linear_probe(separable[:300], y[:300], separable[300:], y[300:]) == 1.0
    noise = rng.normal(size=(600, 4))                                        # features ignore y
    assert abs(linear_probe(noise[:300], y[:300], noise[300:], y[300:]) - 1 / 3) < 0.1
    with pytest.raises(ValueError, match=r"same F, got \(300, 4\) and \(300, 3\)"):
        linear_probe(noise[:300], y[:300], noise[300:, :3], y[300:])
    with pytest.raises(ValueError, match="300 and 300 feature rows but 299 and 300 labels"):
        linear_probe(noise[:300], y[:299], noise[300:], y[300:])


def test_linear_probe_beats_chance_on_a_tiny_trained_model(digits):
    recipe = fit("gan", digits, steps=30)
    x_test, y_test = data.load("digits", split="test")
    accuracy = linear_probe(recipe.features(digits[0]), digits[1], recipe.features(x_test), y_test,
                            steps=200)
    assert accuracy > 0.5                                                    # chance: 0.1


# ---------------------------------------------------------------------------- generative classifiers
def two_gaussians(n, mu, sigma, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    chol = np.linalg.cholesky(sigma)                                         # (2, D, D)
    x = mu[y] + np.einsum("nij,nj->ni", chol[y], rng.normal(size=(n, mu.shape[1])))
    return x, y


def bayes_posterior(x, mu, sigma):
    """p(y = 1 | x) from the true class densities, equal priors."""
    log_lik = []
    for k in range(2):
        diff = x - mu[k]
        maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(sigma[k]), diff)
        log_lik.append(-0.5 * maha - 0.5 * np.linalg.slogdet(sigma[k])[1])
    return 1 / (1 + np.exp(log_lik[0] - log_lik[1]))


@pytest.mark.parametrize("covariance, sigma", [
    ("diagonal", np.array([np.diag([1.0, 4.0]), np.diag([2.0, 0.5])])),             # naive Bayes is right
    ("shared", np.array([[[1.0, 0.6], [0.6, 2.0]]] * 2)),                            # LDA is right
    ("full", np.array([[[1.0, 0.8], [0.8, 1.0]], [[2.0, -0.5], [-0.5, 1.0]]])),      # QDA is right
])
def test_gaussian_classifier_recovers_the_bayes_optimal_rule(covariance, sigma):
    mu = np.array([[0.0, 0.0], [1.5, 1.0]])
    x, y = two_gaussians(40000, mu, sigma, seed=0)
    x_test, y_test = two_gaussians(4000, mu, sigma, seed=1)
    model = GaussianClassifier(2, 2, covariance=covariance, reg=1e-6)
    model.observe(mg.tensor(x), mg.tensor(y))
    with mg.no_grad():
        posterior = np.exp(model.log_posterior(mg.tensor(x_test)).numpy()[:, 1])
    truth = bayes_posterior(x_test, mu, sigma)
    # estimation error from 40,000 draws: small on average, larger only far out in the tails
    assert np.abs(posterior - truth).mean() < 0.01 and np.abs(posterior - truth).max() < 0.08
    agree = ((posterior > 0.5) == (truth > 0.5)).mean()
    assert agree > 0.99
    bayes_accuracy = ((truth > 0.5) == y_test).mean()
    assert abs(((posterior > 0.5) == y_test).mean() - bayes_accuracy) < 0.01


def test_naive_bayes_misses_the_correlation_that_qda_uses():
    """Two classes that differ only in the sign of their correlation: same means, same variances.
    Naive Bayes sees identical marginals (chance); the full-covariance model is near Bayes-optimal."""
    sigma = np.array([[[1.0, 0.9], [0.9, 1.0]], [[1.0, -0.9], [-0.9, 1.0]]])
    mu = np.zeros((2, 2))
    x, y = two_gaussians(20000, mu, sigma, seed=0)
    x_test, y_test = two_gaussians(4000, mu, sigma, seed=1)
    scores = {}
    for covariance in ("diagonal", "full"):
        model = GaussianClassifier(2, 2, covariance=covariance, reg=1e-6)
        model.observe(mg.tensor(x), mg.tensor(y))
        with mg.no_grad():
            scores[covariance] = (model.log_posterior(mg.tensor(x_test)).numpy().argmax(1) == y_test).mean()
    bayes_accuracy = ((bayes_posterior(x_test, mu, sigma) > 0.5) == y_test).mean()
    assert abs(scores["diagonal"] - 0.5) < 0.05
    assert abs(scores["full"] - bayes_accuracy) < 0.01


# ---------------------------------------------------------------------------- the scripts, end to end
def run_example(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_representation_learning_script_prints_a_row_per_representation():
    out = run_example("examples/representation_learning.py", "--quick", "--steps", "5",
                      "--models", "vqvae,gan", "--seeds", "2")
    for name in ("raw pixels", "vqvae z_q (embeddings)", "vqvae code histogram", "gan discriminator"):
        assert f"| {name} |" in out
    assert "| raw pixels | 64 |" in out


@pytest.mark.slow
def test_generative_vs_discriminative_script_on_digits(tmp_path):
    out = run_example("examples/generative_vs_discriminative.py", "--out", str(tmp_path), "--sizes", "5,20",
                      "--draws", "2", "--mlp-steps", "50")
    header = "| images per class | Gaussian, full | Gaussian, shared | naive Bayes | logistic regression | MLP |"
    assert header in out
    assert os.path.exists(tmp_path / "digits" / "accuracy_vs_training_size.png")


@pytest.mark.slow
def test_augmentation_script_with_a_conditional_ddpm():
    out = run_example("examples/augmentation.py", "--quick", "--models", "ddpm", "--sizes", "5", "--seeds", "2",
                      "--generator-steps", "5", "--classifier-steps", "20", "--generated-per-class", "2")
    assert "| labelled per class | real only | + ddpm |" in out
