"""Diffusion: schedules against closed forms and published values, q_sample statistics, the posterior
against Gaussian algebra, the samplers against each other, the bound against a case with a known answer,
bad input, and (slow) trained models judged by held-out data and a classifier."""
import math

import numpy as np
import pytest
from scipy import stats

import minigen as mg
from minigen import diffusion
from minigen.diffusion import NoiseSchedule, cosine_alpha_bar
from minigen.metrics import distances
from minigen.models.ddpm import DDPM, DDPMRecipe
from minigen.models.denoisers import MLPDenoiser, sinusoidal_embedding
from minigen.models.unet import UNet


def random_linear_eps_model(dim, seed=0):
    """A stand-in network: eps(x_t, t) = x_t A + sin(t) b, fixed random A and b."""
    rng = np.random.default_rng(seed)
    A = mg.tensor(rng.normal(size=(dim, dim)) * 0.3, dtype="float64")
    b = mg.tensor(rng.normal(size=(1, dim)), dtype="float64")
    return lambda x_t, t: x_t @ A + mg.sin(t.astype("float64")).reshape(-1, 1) * b


# ----------------------------------------------------------------------------------------- schedules
def test_linear_schedule_matches_ho_et_al():
    s = NoiseSchedule.linear(1000)
    assert s.T == 1000 and s.betas[1] == pytest.approx(1e-4) and s.betas[1000] == pytest.approx(0.02)
    assert s.alpha_bar[1000] == pytest.approx(4.0e-5, rel=0.02)        # published: about 4.04e-5
    np.testing.assert_allclose(s.alpha_bar[1:], np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)), rtol=1e-12)
    assert s.alpha_bar[0] == 1.0 and s.betas[0] == 0.0


def test_linear_schedule_any_T_ends_near_pure_noise():
    for T in (50, 100, 4000):
        s = NoiseSchedule.linear(T)
        assert s.T == T and len(s.alpha_bar) == T + 1
        assert 5e-6 < s.alpha_bar[T] < 1e-4
    short = NoiseSchedule.linear(10)                                    # betas clipped at 0.999
    assert short.betas.max() == 0.999 and short.alpha_bar[10] < 1e-4


def test_cosine_schedule_follows_cos_squared_until_clipped():
    T, s_off = 1000, 0.008
    s = NoiseSchedule.cosine(T)
    t = np.arange(T + 1)
    expected = np.cos((t / T + s_off) / (1 + s_off) * np.pi / 2) ** 2 / np.cos(s_off / (1 + s_off) * np.pi / 2) ** 2
    np.testing.assert_allclose(cosine_alpha_bar(t, T), expected, rtol=1e-12)
    clipped = s.betas >= 0.999
    assert clipped.sum() >= 1 and s.betas.max() == pytest.approx(0.999)
    first_clip = int(np.argmax(clipped))
    np.testing.assert_allclose(s.alpha_bar[:first_clip], expected[:first_clip], rtol=1e-9)
    for T in (10, 50):
        assert NoiseSchedule.cosine(T).T == T


def test_derived_arrays_and_snr():
    s = NoiseSchedule.linear(100)
    np.testing.assert_allclose(s.sqrt_alpha_bar ** 2 + s.sqrt_one_minus_alpha_bar ** 2, 1.0, rtol=1e-12)
    np.testing.assert_allclose(s.snr[1:], s.alpha_bar[1:] / (1 - s.alpha_bar[1:]))
    assert np.all(np.diff(s.snr[1:]) < 0)                             # the signal fades step by step
    assert s.beta_tilde[1] == 0.0
    assert s.log_beta_tilde_clipped[1] == pytest.approx(math.log(s.beta_tilde[2]))
    np.testing.assert_allclose(s.log_beta_tilde_clipped[2:], np.log(s.beta_tilde[2:]))
    assert np.all(s.beta_tilde[1:] <= s.betas[1:])


def test_q_sample_mean_and_variance():
    s = NoiseSchedule.linear(1000)
    n, t = 200_000, 300
    x0 = mg.full((n, 1), 0.7, dtype="float64")
    x_t = s.q_sample(x0, t, mg.randn(n, 1, dtype="float64")).numpy()[:, 0]
    mean, var = math.sqrt(s.alpha_bar[t]) * 0.7, 1 - s.alpha_bar[t]
    assert abs(x_t.mean() - mean) < 4 * math.sqrt(var / n)            # ~0.2 % of the std
    assert abs(x_t.var() - var) < 4 * var * math.sqrt(2 / n)          # ~1.3 % relative
    # per-example t: each row gets its own alpha_bar_t
    t_rows = mg.tensor(np.array([1, 500, 1000]))
    rows = s.q_sample(mg.ones(3, 2, dtype="float64"), t_rows, mg.zeros(3, 2, dtype="float64")).numpy()
    np.testing.assert_allclose(rows[:, 0], s.sqrt_alpha_bar[[1, 500, 1000]])


def test_posterior_matches_gaussian_algebra():
    """q(x_{t-1} | x_t, x_0) is prior q(x_{t-1} | x_0) times likelihood q(x_t | x_{t-1}), renormalised:
    precision = 1 / (1 - alpha_bar_{t-1}) + alpha_t / beta_t, mean = var * (sum of precision-weighted guesses)."""
    rng = np.random.default_rng(1)
    for schedule in (NoiseSchedule.linear(200), NoiseSchedule.cosine(200)):
        for t in (2, 3, 57, 199, 200):
            x0 = mg.tensor(rng.normal(size=(5, 3)))
            x_t = mg.tensor(rng.normal(size=(5, 3)))
            mean, var, log_var = schedule.q_posterior(x0, x_t, t)
            a_prev, alpha, beta = schedule.alpha_bar[t - 1], schedule.alphas[t], schedule.betas[t]
            expected_var = 1 / (1 / (1 - a_prev) + alpha / beta)
            expected_mean = expected_var * (math.sqrt(a_prev) * x0.numpy() / (1 - a_prev)
                                            + math.sqrt(alpha) * x_t.numpy() / beta)
            np.testing.assert_allclose(mean.numpy(), expected_mean, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(var.numpy().ravel(), expected_var, rtol=1e-9)
            np.testing.assert_allclose(log_var.numpy().ravel(), math.log(expected_var), rtol=1e-9)
    # one step from the data, the posterior is the data itself
    s = NoiseSchedule.linear(50)
    x0 = mg.tensor(rng.normal(size=(4, 2)))
    mean, var, _ = s.q_posterior(x0, mg.tensor(rng.normal(size=(4, 2))), 1)
    np.testing.assert_allclose(mean.numpy(), x0.numpy(), atol=1e-12)
    assert float(var.numpy().max()) == 0.0


def test_predictions_convert_into_each_other():
    s = NoiseSchedule.cosine(100)
    rng = np.random.default_rng(2)
    x0, eps = mg.tensor(rng.normal(size=(6, 2))), mg.tensor(rng.normal(size=(6, 2)))
    t = mg.tensor(np.array([1, 10, 40, 70, 99, 100]))
    x_t = s.q_sample(x0, t, eps)
    for prediction in diffusion.PREDICTIONS:
        output = s.target(prediction, x0, t, eps)
        np.testing.assert_allclose(s.eps_from_output(prediction, x_t, t, output).numpy(), eps.numpy(),
                                   rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.predict_x0(x_t, t, eps).numpy(), x0.numpy(), atol=1e-6)


# ----------------------------------------------------------------------------------------- samplers
def test_ddim_with_eta_1_is_ancestral_with_beta_tilde():
    s = NoiseSchedule.linear(50)
    eps_model = random_linear_eps_model(3)
    x_t = mg.tensor(np.random.default_rng(3).normal(size=(8, 3)))
    for t in (1, 2, 17, 50):
        eps_hat = eps_model(x_t, mg.full((8,), t, dtype="int64"))
        z = mg.randn(8, 3, dtype="float64") if t > 1 else 0.0        # Algorithm 2: z = 0 at t = 1
        mean_a = diffusion.ancestral_step(s, x_t, t, eps_hat, 0.0, variance="beta_tilde")     # z = 0: the mean
        mean_d = diffusion.ddim_step(s, x_t, t, t - 1, eps_hat, 0.0, eta=1.0)
        np.testing.assert_allclose(mean_d.numpy(), mean_a.numpy(), rtol=1e-9, atol=1e-12)
        step_a = diffusion.ancestral_step(s, x_t, t, eps_hat, z, variance="beta_tilde")      # + sigma_t z
        step_d = diffusion.ddim_step(s, x_t, t, t - 1, eps_hat, z, eta=1.0)
        np.testing.assert_allclose(step_d.numpy(), step_a.numpy(), rtol=1e-9, atol=1e-12)
    # and so the whole chains agree draw for draw under one seed
    x_T = mg.randn(8, 3, dtype="float64")
    mg.manual_seed(5)
    a = diffusion.ancestral(eps_model, s, x_T, variance="beta_tilde")
    mg.manual_seed(5)
    d = diffusion.ddim(eps_model, s, x_T, steps=50, eta=1.0)
    np.testing.assert_allclose(d.numpy(), a.numpy(), rtol=1e-8, atol=1e-10)


def test_ancestral_step_is_ho_et_al_eq_11():
    """mu = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps), sigma_t^2 = beta_t."""
    s = NoiseSchedule.linear(100)
    x_t = mg.tensor(np.random.default_rng(4).normal(size=(4, 2)))
    eps = mg.tensor(np.random.default_rng(5).normal(size=(4, 2)))
    t = 37
    z = mg.tensor(np.random.default_rng(6).normal(size=(4, 2)))
    x_prev = diffusion.ancestral_step(s, x_t, t, eps, z, variance="beta")
    expected = ((x_t.numpy() - s.betas[t] / math.sqrt(1 - s.alpha_bar[t]) * eps.numpy()) / math.sqrt(s.alphas[t])
                + math.sqrt(s.betas[t]) * z.numpy())
    np.testing.assert_allclose(x_prev.numpy(), expected, rtol=1e-9)


def test_ddim_eta_0_is_deterministic_and_timesteps_are_spread():
    s = NoiseSchedule.linear(100)
    steps = diffusion.ddim_timesteps(1000, 50)
    assert len(steps) == len(set(steps)) == 50 and steps[0] == 1000 and steps[-1] == 1
    assert steps == sorted(steps, reverse=True)
    eps_model = random_linear_eps_model(2)
    x_T = mg.randn(5, 2, dtype="float64")
    frames = []
    a = diffusion.ddim(eps_model, s, x_T, steps=10, callback=lambda t, x: frames.append(t))
    b = diffusion.ddim(eps_model, s, x_T, steps=10)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert frames[0] == 100 and frames[-1] == 0 and len(frames) == 11


def test_inpainting_keeps_known_pixels_exactly():
    s = NoiseSchedule.linear(30)
    net = UNet((1, 8, 8), channels=8, channel_mults=(1, 2))
    known = mg.rand(3, 1, 8, 8) * 2 - 1
    mask = mg.zeros(3, 1, 8, 8)
    mask.data[:, :, :4] = 1.0                                             # top half known
    eps_model = lambda x_t, t: net(x_t, t)  # noqa: E731
    for steps in (None, 5):
        out = diffusion.inpaint(eps_model, s, known, mask, steps=steps, clip_x0=True).numpy()
        np.testing.assert_array_equal(out[:, :, :4], known.numpy()[:, :, :4])
        assert not np.allclose(out[:, :, 4:], known.numpy()[:, :, 4:])


def test_denoising_starts_at_the_matching_step():
    s = NoiseSchedule.linear(1000)
    for sigma in (0.05, 0.3, 1.0):
        t = s.matching_step(sigma)
        assert math.sqrt((1 - s.alpha_bar[t]) / s.alpha_bar[t]) == pytest.approx(sigma, rel=0.05)
    # an eps model that knows the data is 0 gives back (close to) 0
    y = mg.randn(4, 2, dtype="float64") * 0.3
    out = diffusion.denoise(lambda x_t, t: x_t / mg.tensor(s.sqrt_one_minus_alpha_bar)[t.data].reshape(-1, 1),
                            s, y, 0.3, steps=10)
    np.testing.assert_allclose(out.numpy(), 0.0, atol=1e-6)


def test_classifier_free_guidance_mixes_the_two_guesses():
    s = NoiseSchedule.linear(20)
    model = DDPM(MLPDenoiser(2, 16, 2, num_classes=3), s)
    x_t, t = mg.randn(4, 2), mg.full((4,), 7, dtype="int64")
    label = mg.tensor(np.array([0, 1, 2, 1]))
    with mg.no_grad():
        conditional, unconditional = model.eps(x_t, t, label), model.eps(x_t, t)
        guided = model.eps(x_t, t, label, guidance=2.0)
    np.testing.assert_allclose(guided.numpy(), (3 * conditional - 2 * unconditional).numpy(), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------- the bound
def test_bound_is_exact_for_gaussian_data_with_the_optimal_denoiser():
    """x_0 ~ N(0, I) keeps every marginal N(0, I); the best eps guess is sqrt(1 - alpha_bar_t) x_t and the
    true reverse step is N(sqrt(alpha_t) x_t, beta_t): with sigma_t^2 = beta_t the bound is -log p(x_0)
    plus only the decoder's variance mismatch (sigma_1^2 = beta_tilde_2 instead of beta_1)."""
    s = NoiseSchedule.linear(40)
    optimal = lambda x_t, t: x_t * float(s.sqrt_one_minus_alpha_bar[int(t.data[0])])  # noqa: E731
    x0 = mg.randn(4000, 2, dtype="float64")
    bound = diffusion.variational_bound(optimal, s, x0, variance="beta")
    nll = (0.5 * x0.numpy() ** 2 + 0.5 * math.log(2 * math.pi)).sum(1)
    s1, b1 = s.beta_tilde[2], s.betas[1]
    mismatch = 2 * 0.5 * (math.log(s1 / b1) + b1 / s1 - 1)        # KL(N(., b1) || N(., s1)), 2 dims
    assert bound["terms"].min() >= -1e-12
    assert bound["total"].mean() == pytest.approx(nll.mean() + mismatch, abs=0.03)


def test_bound_strata_cover_every_step_once():
    from minigen.diffusion.likelihood import bound_strata
    rng = np.random.default_rng(0)
    for T, K in ((1000, 100), (1000, 7), (40, 39), (40, 1), (40, 5)):
        steps, weights = bound_strata(T, K, 3, rng)
        assert steps.shape == (K, 3) and weights.shape == (K,) and weights.sum() == T - 1
        edges = np.concatenate([[2], 2 + np.cumsum(weights)]).astype(int)
        assert ((edges[:-1, None] <= steps) & (steps < edges[1:, None])).all()
        assert (np.diff(weights) >= -1).all()              # wider with t (up to rounding)
    steps, weights = bound_strata(1000, 100, 1)
    assert (weights[:15] == 1).all()                     # the first steps, where L_{t-1} is largest: exact
    draws = bound_strata(1000, 100, 4000, rng)[0]                              # uniform within a stratum
    k = 60
    lo, width = 2 + int(weights[:k].sum()), int(weights[k])
    counts = np.bincount(draws[k] - lo, minlength=width)
    assert counts.size == width and stats.chisquare(counts).pvalue > 1e-3
    steps, weights = bound_strata(40, None, 2)
    assert (steps[:, 0] == np.arange(2, 41)).all() and (steps[:, 1] == steps[:, 0]).all() and (weights == 1).all()
    with pytest.raises(ValueError, match="timesteps must be a positive integer"):
        bound_strata(40, 0)


def test_stratified_bound_is_an_unbiased_estimate_of_the_full_sum():
    """With sigma_t^2 = beta_tilde_t, the optimal denoiser of Gaussian data leaves KL terms that fall
    steeply with t (about 2 nats at t = 2, 1e-5 at t = T), so where in each stratum t is drawn matters:
    the 8-step estimate must match the exact sum to within its standard error, which here is small,
    as every example draws its own steps. A biased rule (the first step of each stratum) misses."""
    s = NoiseSchedule.linear(200)
    optimal = lambda x_t, t: x_t * mg.tensor(s.sqrt_one_minus_alpha_bar[t.numpy()][:, None])  # noqa: E731
    mg.manual_seed(0)
    x0 = mg.randn(4000, 2, dtype="float64")
    exact = diffusion.variational_bound(optimal, s, x0, variance="beta_tilde")
    per_step = exact["terms"].mean(1)                          # L_{t-1}, t = 2..T
    estimate = diffusion.variational_bound(optimal, s, x0, variance="beta_tilde", timesteps=8,
                                           rng=np.random.default_rng(1))
    assert estimate["terms"].shape == (8, 4000)
    np.testing.assert_allclose(estimate["total"],
                               estimate["prior"] + estimate["weights"] @ estimate["terms"] + estimate["decoder"])
    sums = estimate["weights"] @ estimate["terms"]             # one estimate of the sum per example
    exact_sum, standard_error = per_step.sum(), sums.std() / np.sqrt(len(sums))
    assert exact_sum > 5 and standard_error < 0.05 * exact_sum
    assert abs(sums.mean() - exact_sum) < 4 * standard_error
    edges = np.concatenate([[2], 2 + np.cumsum(estimate["weights"])]).astype(int)
    first = sum(w * per_step[lo - 2] for w, lo in zip(estimate["weights"], edges[:-1]))
    assert abs(first - exact_sum) > 10 * standard_error


def test_bound_with_a_fixed_quadrature_and_the_noise_error():
    """A fixed (steps, weights) rule is used for every example; eps_error is ||eps - eps_hat||^2 at the
    same x_t: for a network that always guesses 0 it is ||eps||^2, about D per example."""
    s = NoiseSchedule.linear(50)
    zero = lambda x_t, t: 0.0 * x_t  # noqa: E731
    mg.manual_seed(0)
    x0 = mg.randn(3000, 4, dtype="float64")
    b = diffusion.variational_bound(zero, s, x0, timesteps=(np.array([2, 10, 40]), np.array([8.0, 30.0, 11.0])))
    assert b["steps"].shape == (3, 3000) and (b["steps"][1] == 10).all()
    assert b["eps_error"].shape == (3, 3000) and b["eps_error"].mean() == pytest.approx(4.0, rel=0.03)
    np.testing.assert_allclose(b["total"], b["prior"] + b["weights"] @ b["terms"] + b["decoder"])
    for bad in ((np.array([1, 10]), np.array([1.0, 1.0])), (np.array([2, 10]), np.array([1.0])),
                (np.array([2.5]), np.array([1.0]))):
        with pytest.raises(ValueError, match="fixed quadrature"):
            diffusion.variational_bound(zero, s, x0[:4], timesteps=bad)


def test_discretised_decoder_is_a_distribution_over_the_levels():
    levels = 17
    grid = mg.tensor(np.linspace(-1, 1, levels).reshape(-1, 1))
    for mean, std in ((0.1, 0.05), (-0.93, 0.3), (0.0, 2.0)):
        log_p = diffusion.discretised_gaussian_log_likelihood(grid, mg.full((levels, 1), mean, dtype="float64"),
                                                              std, levels).numpy().ravel()
        assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-9)
        inner = np.linspace(-1, 1, levels)[5]
        expected = stats.norm.cdf(inner + 1 / 16, mean, std) - stats.norm.cdf(inner - 1 / 16, mean, std)
        assert math.exp(log_p[5]) == pytest.approx(expected, rel=1e-6, abs=1e-12)


# ----------------------------------------------------------------------------------------- networks
def test_networks_take_digits_and_mnist_sizes():
    for shape in ((1, 8, 8), (1, 28, 28)):
        net = UNet(shape, channels=8, channel_mults=(1, 2, 2), num_classes=10)
        x = mg.randn(2, *shape)
        out = net(x, mg.tensor(np.array([1, 500])), mg.tensor(np.array([3, 10])))
        assert out.shape == (2, *shape)
        assert np.all(out.numpy() == 0)            # zero-initialised output conv: eps_hat starts at 0
    mlp = MLPDenoiser(2, 32, 2)
    assert mlp(mg.randn(5, 2), mg.tensor(np.arange(1, 6))).shape == (5, 2)
    emb = sinusoidal_embedding(mg.tensor(np.array([0, 1, 999])), 16).numpy()
    np.testing.assert_allclose(emb[0], [0] * 8 + [1] * 8, atol=1e-7)


def test_unet_gradients_reach_every_parameter():
    net = UNet((1, 8, 8), channels=8, channel_mults=(1, 2), num_classes=2)
    model = DDPM(net, NoiseSchedule.linear(10), "v")
    # the zero-initialised output and attention projections block gradients below them at step 0
    net.output_conv.weight.data[...] = 0.1
    net.middle_attention.proj.weight.data[...] = 0.1
    model.loss(mg.randn(4, 1, 8, 8), mg.tensor(np.array([0, 1, 2, 1]))).backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not np.any(p.grad.numpy())]
    assert not missing


# ----------------------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    s = NoiseSchedule.linear(100)
    x = mg.randn(2, 2)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 100\]"):
        s.q_sample(x, 101, x)
    with pytest.raises(ValueError, match=r"t must lie in"):
        s.q_sample(x, mg.tensor(np.array([-1, 3])), x)
    with pytest.raises(ValueError, match=r"t must lie in \[1, 100\]"):
        s.q_posterior(x, x, 0)
    with pytest.raises(TypeError, match="integers"):
        s.q_sample(x, 1.5, x)
    for betas in ([0.1, 1.0], [0.0, 0.1], [-0.1, 0.2], [0.2, float("nan")]):
        with pytest.raises(ValueError, match=r"open interval \(0, 1\)"):
            NoiseSchedule(betas)
    with pytest.raises(ValueError, match="T must be an integer >= 2"):
        NoiseSchedule.linear(1)
    with pytest.raises(ValueError, match="unknown noise schedule"):
        NoiseSchedule.from_name("quadratic", 10)
    model = DDPM(MLPDenoiser(2, 16, 2), s)
    with pytest.raises(ValueError, match="needs a class-conditional model"):
        model.eps(x, mg.full((2,), 3, dtype="int64"), guidance=1.5)
    with pytest.raises(ValueError, match="divisible by 4; got 10x10"):
        UNet((1, 10, 10), channels=8, channel_mults=(1, 2, 2))
    with pytest.raises(ValueError, match="expected images of shape"):
        UNet((1, 8, 8), channels=8)(mg.randn(2, 1, 28, 28), mg.tensor(np.array([1, 2])))
    with pytest.raises(ValueError, match="number of steps must be an integer"):
        diffusion.ddim_timesteps(100, 0)
    with pytest.raises(ValueError, match="prediction must be one of"):
        DDPM(MLPDenoiser(), s, prediction="score")
    info = mg.data.info("moons")
    with pytest.raises(ValueError, match="needs a class-conditional model"):
        DDPMRecipe({**DDPMRecipe.default_config, "guidance": 2.0}, info, mg.device("cpu"))
    with pytest.raises(ValueError, match="needs a labelled dataset"):
        DDPMRecipe({**DDPMRecipe.default_config, "conditional": True}, info, mg.device("cpu"))


# ----------------------------------------------------------------------------------------- the recipe
def test_recipe_trains_samples_and_evaluates(tmp_path):
    from minigen.training import train
    run = train("ddpm", "moons", out=tmp_path / "m", steps=3, options={"timesteps": 20, "hidden": 16},
                stream=open(tmp_path / "log", "w"))
    samples = run.recipe.sample(7, steps=4)
    assert samples.shape == (7, 2) and samples.dtype == np.float32
    x_test = mg.data.load("moons", "test")[0]
    metrics = run.recipe.evaluate(x_test[:50])
    assert np.isfinite(metrics["nll_nats"]) and metrics["bound_examples"] == 50
    run = train("ddpm", "digits", out=tmp_path / "d", steps=2,
                options={"timesteps": 10, "channels": 8, "channel_mults": [1, 2], "conditional": True,
                         "guidance": 1.0, "batch_size": 16, "bound_examples": 4},
                stream=open(tmp_path / "log", "w"))
    images = run.recipe.sample(3, label=4, steps=3)
    assert images.shape == (3, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    metrics = run.recipe.evaluate(mg.data.load("digits", "test")[0])
    assert metrics["nll_bits_per_dim"] > 0


# ----------------------------------------------------------------------------------------- slow: trained models
@pytest.mark.slow
@pytest.mark.parametrize("dataset, bound", [("moons", 0.01), ("8gaussians", 0.02)])
def test_2d_samples_are_close_to_held_out_data(tmp_path, dataset, bound):
    from minigen.training import train
    run = train("ddpm", dataset, out=tmp_path / dataset, steps=1500, options={"batch_size": 256},
                stream=open(tmp_path / "log", "w"))
    x_test = mg.data.load(dataset, "test")[0][:2000]
    mg.manual_seed(1)
    model_distance = distances.energy_distance(run.recipe.sample(2000, steps=100), x_test)
    gaussian = distances.gaussian_fit_samples(mg.data.load(dataset, "train")[0], 2000, np.random.default_rng(0))
    gaussian_distance = distances.energy_distance(gaussian, x_test)
    assert model_distance < bound
    assert model_distance < gaussian_distance / 3


@pytest.mark.slow
def test_digits_samples_are_recognisable_and_inpainting_keeps_pixels(tmp_path):
    from minigen.training import train
    classifier = train("classifier", "digits", out=tmp_path / "c", epochs=30,
                       stream=open(tmp_path / "log", "w")).recipe
    run = train("ddpm", "digits", out=tmp_path / "d", steps=1200,
                options={"channels": 16, "channel_mults": [1, 2], "batch_size": 64},
                stream=open(tmp_path / "log", "w"))
    mg.manual_seed(2)
    samples = run.recipe.sample(200, steps=50)
    probs = mg.softmax(classifier.logits(samples), axis=1).numpy()
    real = mg.softmax(classifier.logits(mg.data.load("digits", "test")[0][:200]), axis=1).numpy()
    assert probs.max(1).mean() > 0.8 and probs.max(1).mean() > real.max(1).mean() - 0.15
    assert len(set(probs.argmax(1).tolist())) == 10                  # every digit turns up

    x = mg.tensor(mg.data.load("digits", "test")[0][:8] * 2 - 1)
    mask = mg.zeros(*x.shape)
    mask.data[:, :, :, :4] = 1.0                                       # left half known
    recipe = run.recipe
    with recipe.ema.average_parameters():
        filled = diffusion.inpaint(recipe.eps_model(), recipe.model.schedule, x, mask, steps=50, clip_x0=True)
    np.testing.assert_array_equal(filled.numpy()[..., :4], x.numpy()[..., :4])
