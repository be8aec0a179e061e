"""Distributions: densities against SciPy, closed-form KL against Monte Carlo, reparameterized gradients."""
import numpy as np
import pytest
from scipy import stats

import minigen as mg
from minigen.distributions import Normal, Bernoulli, Categorical, kl_divergence


def T(a, grad=False):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_normal_log_prob_and_entropy_match_scipy():
    mu, sigma, x = np.array([0.0, 1.5, -2.0]), np.array([1.0, 0.3, 2.5]), np.array([0.2, 1.0, 3.0])
    n = Normal(T(mu), T(sigma))
    np.testing.assert_allclose(n.log_prob(T(x)).numpy(), stats.norm.logpdf(x, mu, sigma), rtol=1e-12)
    np.testing.assert_allclose(n.entropy().numpy(), stats.norm.entropy(mu, sigma), rtol=1e-12)
    lv = Normal.from_log_var(T(mu), T(2 * np.log(sigma)))
    np.testing.assert_allclose(lv.stddev.numpy(), sigma, rtol=1e-12)


def test_rsample_is_mu_plus_sigma_eps_and_gradients_flow():
    mu, sigma = T([0.5, -1.0], grad=True), T([2.0, 0.5], grad=True)
    mg.manual_seed(3)
    z = Normal(mu, sigma).rsample((1000,))
    eps = (z.numpy() - mu.numpy()) / sigma.numpy()
    z.sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), [1000, 1000])              # dz/dmu = 1
    np.testing.assert_allclose(sigma.grad.numpy(), eps.sum(axis=0), rtol=1e-10)   # dz/dsigma = eps
    assert abs(eps.mean()) < 0.1 and abs(eps.std() - 1) < 0.1


def test_reparameterized_gradient_of_an_expectation():
    """d/dmu E[z^2] = 2 mu and d/dsigma E[z^2] = 2 sigma, estimated through rsample."""
    mu, sigma = T([0.7], grad=True), T([1.3], grad=True)
    mg.manual_seed(0)
    (Normal(mu, sigma).rsample((200_000,)) ** 2).mean().backward()
    np.testing.assert_allclose(mu.grad.numpy(), [1.4], atol=0.02)
    np.testing.assert_allclose(sigma.grad.numpy(), [2.6], atol=0.02)
    assert not Normal(mu, sigma).sample((3,)).requires_grad


def test_normal_kl_closed_form_matches_monte_carlo():
    q, p = Normal(T([0.3, -1.0]), T([0.8, 2.0])), Normal(T([1.0, 0.0]), T([1.5, 1.0]))
    mg.manual_seed(1)
    z = q.sample((400_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).mean(axis=0).numpy()
    np.testing.assert_allclose(kl_divergence(q, p).numpy(), mc, atol=0.01)
    vae = Normal.from_log_var(T([0.3]), T([-0.4]))
    std = Normal(T([0.0]), T([1.0]))
    expected = -0.5 * (1 - 0.4 - 0.09 - np.exp(-0.4))
    np.testing.assert_allclose(kl_divergence(vae, std).numpy(), [expected], rtol=1e-12)
    assert gradcheck_kl()


def gradcheck_kl():
    mu, lv = T([0.3, -0.2], grad=True), T([0.1, -0.5], grad=True)
    return mg.autograd.gradcheck(
        lambda m, v: kl_divergence(Normal.from_log_var(m, v), Normal(T([0.0, 0.0]), T([1.0, 1.0]))), [mu, lv])


def test_bernoulli_is_stable_and_correct():
    logits = T([-1000.0, -2.0, 0.0, 3.0, 1000.0], grad=True)
    b = Bernoulli(logits)
    x = T([0.0, 1.0, 1.0, 0.0, 1.0])
    lp = b.log_prob(x)
    p = 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0])))
    np.testing.assert_allclose(lp.numpy(), [0, np.log(p[0]), np.log(p[1]), np.log(1 - p[2]), 0], atol=1e-12)
    lp.sum().backward()
    assert np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(b.entropy().numpy()[2], np.log(2))
    mg.manual_seed(0)
    draws = Bernoulli(T([0.0, 2.0])).sample((20_000,)).numpy().mean(axis=0)
    np.testing.assert_allclose(draws, [0.5, 1 / (1 + np.exp(-2))], atol=0.015)


def test_categorical_sampling_log_prob_and_kl():
    logits = T([[0.0, 1.0, -1.0, 2.0]])
    c = Categorical(logits)
    p = np.exp(logits.numpy()[0]) / np.exp(logits.numpy()[0]).sum()
    np.testing.assert_allclose(c.log_prob(mg.tensor([3])).numpy(), [np.log(p[3])], rtol=1e-12)
    mg.manual_seed(0)
    draws = c.sample((40_000,)).numpy()[:, 0]
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, p, atol=0.01)
    np.testing.assert_allclose(c.entropy().numpy(), [-(p * np.log(p)).sum()], rtol=1e-12)
    q = Categorical(T([[1.0, 0.0, 0.0, 0.0]]))
    qp = np.exp(q.logits.numpy()[0]) / np.exp(q.logits.numpy()[0]).sum()
    np.testing.assert_allclose(kl_divergence(q, c).numpy(), [(qp * np.log(qp / p)).sum()], rtol=1e-10)
    with pytest.raises(ValueError, match="expected"):
        c.log_prob(mg.tensor([0, 1]))


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="scale must be positive"):
        Normal(0.0, -1.0)
    with pytest.raises(NotImplementedError, match="no closed form"):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(T([0.0])))
