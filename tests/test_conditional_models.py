"""Conditional generation beyond class labels: the pix2pix objective, the image- and text-conditional
DDPMs (the DDPM's own loss and guidance, with a condition), the text encoder, SSIM and the conditional
metrics; shapes and errors; and slow tests that train briefly and beat chance by a clear margin."""
import numpy as np
import pytest

import minigen as mg
from minigen import data
from minigen.data import captions
from minigen.diffusion import NoiseSchedule
from minigen.metrics import conditional as cm
from minigen.metrics.ssim import ssim
from minigen.models import pix2pix
from minigen.models.conditional_ddpm import ImageToImageDDPMRecipe, TextToImageDDPMRecipe
from minigen.models.ddpm import DDPM
from minigen.models.unet import UNet
from minigen.recipe import UsageError, fit

TINY_DDPM = {"channels": 8, "channel_mults": [1, 2], "timesteps": 20, "eval_steps": 3}


def softplus(a):
    return np.logaddexp(0.0, a)


# --------------------------------------------------------------------------------- the pix2pix objective
def test_pix2pix_losses_are_the_formulas():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(4, 1, 2, 2)), rng.normal(size=(4, 1, 2, 2))
    y, y_hat = rng.uniform(-1, 1, (4, 1, 8, 8)), rng.uniform(-1, 1, (4, 1, 8, 8))
    loss_d = pix2pix.pix2pix_discriminator_loss(mg.tensor(real), mg.tensor(fake)).item()
    # L_D = 1/2 (E[-log D(x, y)] + E[-log(1 - D(x, G(x)))]), D = sigmoid(l)
    sigmoid = 1 / (1 + np.exp(-np.concatenate([real, fake])))
    expected_d = 0.5 * (-np.log(sigmoid[:4]).mean() - np.log(1 - sigmoid[4:]).mean())
    assert loss_d == pytest.approx(expected_d, rel=1e-5)
    loss_g, l1 = pix2pix.pix2pix_generator_loss(mg.tensor(fake), mg.tensor(y), mg.tensor(y_hat), 100.0)
    expected_l1 = np.abs(y - y_hat).mean()
    assert l1.item() == pytest.approx(expected_l1, rel=1e-5)
    assert loss_g.item() == pytest.approx(softplus(-fake).mean() + 100 * expected_l1, rel=1e-5)


def test_pix2pix_generator_loss_gradcheck():
    rng = np.random.default_rng(1)
    logits = mg.tensor(rng.normal(size=(2, 1, 2, 2)), dtype="float64", requires_grad=True)
    y = mg.tensor(rng.uniform(-1, 1, (2, 1, 4, 4)), dtype="float64")
    y_hat = mg.tensor(rng.uniform(-1, 1, (2, 1, 4, 4)), dtype="float64", requires_grad=True)
    assert mg.autograd.gradcheck(lambda l, g: pix2pix.pix2pix_generator_loss(l, y, g, 3.0)[0], (logits, y_hat))
    real = mg.tensor(rng.normal(size=(2, 1, 2, 2)), dtype="float64", requires_grad=True)
    assert mg.autograd.gradcheck(pix2pix.pix2pix_discriminator_loss, (real, logits))


@pytest.mark.parametrize("channels, shape", [(1, (1, 8, 8)), (2, (1, 28, 28))])
def test_pix2pix_networks_shapes(channels, shape):
    G = pix2pix.UNetGenerator(channels, shape, width=8)
    D = pix2pix.PatchDiscriminator(channels, shape, width=8)
    x = mg.rand(3, channels, *shape[1:])
    y = G(x)
    assert y.shape == (3, *shape) and float(y.data.min()) >= -1 and float(y.data.max()) <= 1
    assert D(x, y).shape == (3, 1, shape[1] // 4, shape[2] // 4)           # one logit per patch
    with pytest.raises(ValueError, match=r"expected conditions of shape \(N, %d, %d, %d\)" % (channels, *shape[1:])):
        G(mg.rand(3, channels, 4, 4))
    with pytest.raises(ValueError, match="multiples of 4"):
        pix2pix.UNetGenerator(1, (1, 10, 10))


def test_patch_discriminator_sees_the_condition():
    D = pix2pix.PatchDiscriminator(1, (1, 8, 8), width=8)
    y = mg.rand(2, 1, 8, 8)
    assert not np.allclose(D(mg.zeros(2, 1, 8, 8), y).numpy(), D(mg.ones(2, 1, 8, 8), y).numpy())


# --------------------------------------------------------------------------------- the conditional DDPM
def test_image_conditional_loss_is_l_simple_with_the_condition_beside_x_t():
    info = data.info("lowres2digits")
    recipe = ImageToImageDDPMRecipe({**ImageToImageDDPMRecipe.default_config, **TINY_DDPM}, info, mg.device("cpu"))
    x, y = data.load("lowres2digits", "test")
    batch = (mg.tensor(x[:4]), mg.tensor(y[:4]))
    y0, c = recipe.training_pair(batch)
    np.testing.assert_allclose(y0.numpy(), 2 * y[:4] - 1)                            # the target in [-1, 1]
    np.testing.assert_allclose(c.numpy(), (2 * x[:4] - 1).repeat(2, axis=2).repeat(2, axis=3))  # lifted
    mg.nn.init.normal_(recipe.model.denoiser.output_conv.weight)       # not the zero start: eps_theta != 0
    mg.manual_seed(3)
    loss = recipe.model.loss(y0, c).item()
    mg.manual_seed(3)                                   # the same draws, by hand: Algorithm 1
    schedule = recipe.model.schedule
    t = mg.randint(1, schedule.T + 1, size=(4,))
    eps = mg.randn_like(y0)
    a = schedule.sqrt_alpha_bar[t.numpy()].reshape(4, 1, 1, 1)
    s = schedule.sqrt_one_minus_alpha_bar[t.numpy()].reshape(4, 1, 1, 1)
    y_t = mg.tensor((a * y0.numpy() + s * eps.numpy()).astype(np.float32))
    with mg.no_grad():
        eps_theta = recipe.model.denoiser(y_t, t, c)
    assert loss == pytest.approx(((eps.numpy() - eps_theta.numpy()) ** 2).mean(), rel=1e-4)


def test_unet_with_condition_channels_reads_the_condition_and_checks_it():
    net = UNet((1, 8, 8), channels=8, channel_mults=(1, 2), condition_channels=2)
    mg.nn.init.normal_(net.output_conv.weight)            # so that the output depends on the input
    x_t, t = mg.randn(2, 1, 8, 8), mg.tensor(np.array([3, 7]))
    a, b = net(x_t, t, mg.zeros(2, 2, 8, 8)), net(x_t, t, mg.ones(2, 2, 8, 8))
    assert a.shape == (2, 1, 8, 8) and not np.allclose(a.numpy(), b.numpy())
    assert net.conditional
    with pytest.raises(ValueError, match=r"conditioned on an image c of shape \(2, 2, 8, 8\), got none"):
        net(x_t, t)
    with pytest.raises(ValueError, match=r"got \(2, 1, 8, 8\)"):
        net(x_t, t, mg.zeros(2, 1, 8, 8))


def test_text_guidance_is_the_label_guidance_with_the_empty_caption_as_null():
    info = data.info("captioned-digits")
    recipe = TextToImageDDPMRecipe({**TextToImageDDPMRecipe.default_config, **TINY_DDPM}, info, mg.device("cpu"))
    model = recipe.model
    mg.nn.init.normal_(model.denoiser.output_conv.weight)
    w = mg.tensor(captions.encode_all(["a thick seven", "a thin slanted four"]))
    x_t, t = mg.randn(2, 1, 8, 8), mg.tensor(np.array([5, 9]))
    with mg.no_grad():
        conditional = model.eps(x_t, t, w).numpy()
        null = model.eps(x_t, t, mg.zeros_like(w)).numpy()
        np.testing.assert_allclose(model.eps(x_t, t).numpy(), null, atol=1e-6)   # c = None is the empty caption
        guided = model.eps(x_t, t, w, guidance=2.5).numpy()
    np.testing.assert_allclose(guided, 3.5 * conditional - 2.5 * null, atol=1e-5)
    assert not np.allclose(conditional, null)


def test_text_training_pairs_pick_a_phrasing_and_drop_to_the_empty_caption():
    info = data.info("captioned-digits")
    config = {**TextToImageDDPMRecipe.default_config, **TINY_DDPM, "caption_dropout": 0.3}
    recipe = TextToImageDDPMRecipe(config, info, mg.device("cpu"))
    tokens, y = data.load("captioned-digits", "train")
    tokens, y = tokens[:500], y[:500]
    _, w = recipe.training_pair((mg.tensor(tokens), mg.tensor(y)))
    w = w.numpy()
    empty = (w == 0).all(axis=1)
    assert 0.2 < empty.mean() < 0.4
    for row, options in zip(w[~empty], tokens[~empty]):
        assert any((row == option).all() for option in options)                  # one of its own captions
    picked = [next(k for k, option in enumerate(options) if (row == option).all())
              for row, options in zip(w[~empty], tokens[~empty])]
    assert len(set(picked)) == captions.PHRASINGS


def test_text_encoder_masks_padding_and_is_a_bag_of_words_without_layers():
    rng = np.random.default_rng(0)
    for layers in (0, 1):
        enc = mg.nn.TextEncoder(len(captions.VOCABULARY), 16, 24, captions.MAX_WORDS, layers=layers)
        w = captions.encode_all(["a thin slanted four", "7, slanted to the right", "the digit nine"])
        full = enc(mg.tensor(w)).numpy()
        short = enc(mg.tensor(w[:, :6])).numpy()                 # the same captions with less padding
        np.testing.assert_allclose(full, short, atol=1e-5)
        empty = enc(enc.null(3)).numpy()
        np.testing.assert_allclose(empty, np.broadcast_to(empty[:1], empty.shape), atol=1e-6)
        swapped = captions.encode_all(["four slanted thin a"])
        same = np.allclose(enc(mg.tensor(swapped)).numpy(), full[:1], atol=1e-5)
        assert same == (layers == 0)                             # only attention sees the order
    with pytest.raises(ValueError, match="expected integer token ids"):
        enc(mg.tensor(rng.random((2, 3))))


def test_masked_attention_gradcheck():
    rng = np.random.default_rng(2)
    q, k, v = (mg.tensor(rng.normal(size=(2, 3, 4)), dtype="float64", requires_grad=True) for _ in range(3))
    mask = mg.tensor(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    assert mg.autograd.gradcheck(lambda a, b, c: mg.nn.attention.attention(a, b, c, mask), (q, k, v))
    out = mg.nn.attention.attention(q, k, v, mask).numpy()
    v2 = v.numpy().copy()
    v2[0, 2] += 5.0                                              # a padded key's value is never read
    np.testing.assert_allclose(mg.nn.attention.attention(q, k, mg.tensor(v2), mask).numpy()[0], out[0], atol=1e-12)


# --------------------------------------------------------------------------------- SSIM and the metrics
def test_ssim_is_the_formula_window_by_window():
    rng = np.random.default_rng(0)
    x, y = rng.random((2, 1, 9, 10)), rng.random((2, 1, 9, 10))
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    expected = []
    for a, b in zip(x[:, 0], y[:, 0]):
        values = []
        for r in range(9 - 6):
            for c in range(10 - 6):
                u, v = a[r:r + 7, c:c + 7], b[r:r + 7, c:c + 7]
                cov = ((u - u.mean()) * (v - v.mean())).mean()
                values.append((2 * u.mean() * v.mean() + c1) * (2 * cov + c2)
                              / ((u.mean() ** 2 + v.mean() ** 2 + c1) * (u.var() + v.var() + c2)))
        expected.append(np.mean(values))
    np.testing.assert_allclose(ssim(x, y), expected, rtol=1e-10)
    np.testing.assert_allclose(ssim(x, x), 1.0)
    np.testing.assert_allclose(ssim(x, y), ssim(y, x))
    noisy = [ssim(x, np.clip(x + s * rng.normal(size=x.shape), 0, 1)).mean() for s in (0.05, 0.2, 0.5)]
    assert noisy[0] > noisy[1] > noisy[2]
    assert ssim(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 8, 8)))[0] == pytest.approx(1.0)   # 8x8: one 7x7 window size
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, y[:1])


def test_property_gap_and_agreement():
    digits = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    high = np.array([1, 1, 0, 0, 1, 1, 0, 0], bool)
    values = np.array([3.0, 5.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0])
    gap, order = cm.property_gap(values, digits, high, ~high)
    assert gap == pytest.approx(((4 - 1) + (2 - 4)) / 2) and order == 0.5
    assert np.isnan(cm.property_gap(values, digits, high, np.zeros(8, bool))[0])
    assert cm.agreement([1, 2, 3, 4], [1, 2, 0, -1]) == pytest.approx(2 / 3)


# --------------------------------------------------------------------------------- the recipes
@pytest.fixture(scope="module")
def trained():
    """A few steps of each family on the 8x8 sets (eval mode)."""
    models = {}
    for recipe_cls, dataset, options in [
            (pix2pix.Pix2PixRecipe, "masked2digits", {"width": 8, "eval_examples": 20}),
            (ImageToImageDDPMRecipe, "lowres2digits", {**TINY_DDPM, "eval_examples": 20}),
            (TextToImageDDPMRecipe, "captioned-digits", {**TINY_DDPM, "eval_samples": 1})]:
        x, y = data.load(dataset, "train")
        models[dataset] = fit(recipe_cls, dataset, x[:64], y[:64], steps=2, options=options, batch_size=32)
    return models


@pytest.mark.parametrize("dataset", ["masked2digits", "lowres2digits"])
def test_image_models_translate_one_or_many_conditions(trained, dataset):
    recipe = trained[dataset]
    x, y = data.load(dataset, "test")
    assert recipe.sample(5, condition=x[:5]).shape == (5, 1, 8, 8)
    out = recipe.sample(3, condition=x[0])
    assert out.shape == (3, 1, 8, 8) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match=f"{dataset} conditions have shape"):
        recipe.sample(2, condition=np.zeros((2, 1, 28, 28)))
    with pytest.raises(UsageError, match="translates a condition into an image"):
        recipe.sample(2)
    with pytest.raises(UsageError, match="not class-conditional"):
        recipe.sample(2, label=3, condition=x[:2])
    metrics = recipe.evaluate(x, y)
    assert metrics["examples"] == 20 and {"psnr", "ssim", "l1", "digit_agreement", "truth_agreement"} <= set(metrics)
    assert metrics["truth_agreement"] > 0.9


def test_text_model_draws_prompts_and_refuses_bad_ones(trained):
    recipe = trained["captioned-digits"]
    assert recipe.sample(4, condition="a thin slanted four", steps=2).shape == (4, 1, 8, 8)
    assert recipe.sample(2, condition=["a seven", "an eight"], steps=2, guidance=0.0).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="holds no words"):
        recipe.sample(2, condition="", steps=2)
    with pytest.raises(ValueError, match=r"unknown word 'purple'.*vocabulary is: a an the digit"):
        recipe.sample(2, condition="a purple four", steps=2)
    with pytest.raises(UsageError, match="draws images of a prompt"):
        recipe.sample(2)
    with pytest.raises(ValueError, match="3 samples asked for with 2 prompts"):
        recipe.sample(3, condition=["a one", "a two"])
    metrics = recipe.evaluate(*data.load("captioned-digits", "test"))
    assert metrics["samples"] == 50 and "agreement_guided" in metrics and "slant_gap" in metrics
    assert metrics["data_ink_gap"] > 0 and metrics["data_slant_gap"] > 0


def test_conditional_families_refuse_other_data_and_harness_questions(trained):
    from minigen.recipe import check_supported
    with pytest.raises(UsageError, match=r"needs paired images \(condition, target\).*try: edges2digits"):
        check_supported(pix2pix.Pix2PixRecipe, data.info("digits"))
    with pytest.raises(UsageError, match="needs captioned images"):
        check_supported(TextToImageDDPMRecipe, data.info("lowres2digits"))
    with pytest.raises(UsageError, match="cannot restore images"):
        trained["lowres2digits"].restoration_prior()
    assert TextToImageDDPMRecipe.anomaly_score_names() == ()
    with pytest.raises(ValueError, match="text_dim .* divisible by text_heads"):
        TextToImageDDPMRecipe({**TextToImageDDPMRecipe.default_config, "text_dim": 10, "text_heads": 3},
                              data.info("captioned-digits"), mg.device("cpu"))


def test_plain_ddpm_guidance_without_a_label_is_refused():
    from minigen.models.ddpm import DDPMRecipe
    recipe = DDPMRecipe({**DDPMRecipe.default_config, "conditional": True, **{k: v for k, v in TINY_DDPM.items()
                                                                              if k != "eval_steps"}},
                        data.info("digits"), mg.device("cpu"))
    with pytest.raises(UsageError, match="needs a class to guide towards"):
        recipe.sample(2, steps=2, guidance=2.0)
    assert recipe.sample(2, label=3, steps=2, guidance=2.0).shape == (2, 1, 8, 8)


# --------------------------------------------------------------------------------- slow: they learn
def _train(recipe_cls, dataset, steps, options):
    x, y = data.load(dataset, "train")
    return fit(recipe_cls, dataset, x, y, steps=steps, options=options)


@pytest.mark.slow
def test_pix2pix_turns_edges_into_the_right_digits():
    recipe = _train(pix2pix.Pix2PixRecipe, "edges2digits", 600, {})
    metrics = recipe.evaluate(*data.load("edges2digits", "test"))
    assert metrics["digit_agreement"] > 0.8 and metrics["psnr"] > 18, metrics        # chance: 0.1


@pytest.mark.slow
def test_image_conditional_ddpm_super_resolves_the_right_digits():
    recipe = _train(ImageToImageDDPMRecipe, "lowres2digits", 1500,
                    {"channels": 16, "channel_mults": [1, 2], "batch_size": 64, "eval_examples": 200})
    metrics = recipe.evaluate(*data.load("lowres2digits", "test"))
    assert metrics["digit_agreement"] > 0.6 and metrics["psnr"] > 15, metrics         # chance: 0.1


@pytest.mark.slow
def test_text_conditional_ddpm_draws_the_named_digit_and_property():
    recipe = _train(TextToImageDDPMRecipe, "captioned-digits", 2500,
                    {"channels": 16, "channel_mults": [1, 2], "batch_size": 64, "eval_samples": 10})
    metrics = recipe.evaluate(*data.load("captioned-digits", "test"))
    assert metrics["agreement_guided"] > 0.5, metrics                                 # chance: 0.1
    assert metrics["ink_gap_guided"] > 0 and metrics["ink_order_guided"] >= 0.8, metrics
    assert metrics["slant_gap_guided"] > 0 and metrics["slant_order_guided"] >= 0.8, metrics


@pytest.mark.parametrize("model, dataset, options", [
    ("pix2pix", "edges2digits", {"width": 8}),
    ("ddpm-img2img", "masked2digits", {k: v for k, v in TINY_DDPM.items()}),
    ("ddpm-txt2img", "captioned-digits", {**TINY_DDPM, "text_dim": 8}),
])
def test_resume_continues_bit_for_bit(tmp_path, model, dataset, options):
    import io
    from minigen import training
    quiet = {"stream": io.StringIO(), "checkpoint_every": 2}
    straight = training.train(model, dataset, out=tmp_path / "straight", steps=4, options=options, **quiet)
    training.train(model, dataset, out=tmp_path / "resumed", steps=2, options=options, **quiet)
    resumed = training.train(model, dataset, out=tmp_path / "resumed", steps=4, resume=True, options=options, **quiet)
    a, b = mg.load(tmp_path / "straight" / "checkpoint.npz")["model"], mg.load(tmp_path / "resumed" / "checkpoint.npz")["model"]

    def leaves(tree, prefix=""):
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield from leaves(value, f"{prefix}.{key}")
        elif hasattr(tree, "shape"):
            yield prefix, np.asarray(tree)

    pairs = dict(leaves(b))
    assert len(pairs) > 20                               # every weight, moment and EMA entry
    for name, value in leaves(a):
        np.testing.assert_array_equal(value, pairs[name], err_msg=name)
    assert straight.step == resumed.step == 4
