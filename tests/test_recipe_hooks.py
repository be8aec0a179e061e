"""Family behaviour lives on the family: a new family plugs into the harnesses (anomaly scores,
restoration, features, the comparison's sampling) by defining Recipe methods, with no switch to edit;
a family that defines none of them gets one clear error naming it."""
import numpy as np
import pytest

import minigen as mg
from minigen import nn, optim, restore, training
from minigen.harnesses import anomaly, compare
from minigen.recipe import Recipe, UsageError, register
from minigen.restore import LatentGenerator


class TinyGenerator(Recipe):
    """x = sigmoid(W z + b), z ~ N(0, I): just enough of a generative model of 8x8 digits."""

    default_config = {"latent_dim": 4, "lr": 1e-2, "batch_size": 32, "epochs": 1}
    data_kinds = ("image",)

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.net = nn.Linear(config["latent_dim"], 64).to(device)
        self.optimizer = optim.Adam(self.net.parameters(), lr=config["lr"])

    def g(self, z):
        return mg.sigmoid(self.net(z)).reshape(z.shape[0], 1, 8, 8)

    def train_step(self, batch, step):
        x, _ = batch
        z = mg.randn(x.shape[0], self.config["latent_dim"], device=self.device)
        loss = ((self.g(z) - x) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def sample(self, n, label=None, steps=None):
        self.sample_labels(n, label)
        with mg.no_grad():
            return self.g(mg.randn(n, self.config["latent_dim"], device=self.device)).numpy()

    def evaluate(self, x, y=None):
        return {"mean": float(x.mean())}

    def features(self, x):
        return x.reshape(len(x), -1).astype(np.float64)

    @classmethod
    def anomaly_score_names(cls):
        return ("tiny-brightness",)

    def anomaly_scores(self, x, seed=0, batch_size=500):
        return {"tiny-brightness": x.reshape(len(x), -1).mean(axis=1).astype(np.float64)}

    def restoration_prior(self):
        return LatentGenerator(g=self.g, latent_shape=(self.config["latent_dim"],))


@pytest.fixture
def tiny(monkeypatch):
    """TinyGenerator registered as 'tiny' for the length of one test."""
    monkeypatch.setattr(TinyGenerator, "name", "tiny")
    monkeypatch.setitem(training.registry._RECIPES, "tiny", TinyGenerator)
    x, y = mg.data.load("digits", split="train")
    return training.fit("tiny", "digits", x[:256], y[:256], steps=5)


def test_a_new_family_plugs_into_every_harness(tiny):
    x_test, _ = mg.data.load("digits", split="test")
    clean, blank = x_test[:20], np.zeros_like(x_test[:20])
    # anomaly scores by name: the harness finds the family through its recipe, not a list of names
    assert anomaly.family_of("tiny-brightness") == "tiny"
    scores = anomaly.anomaly_scores("tiny-brightness", tiny, clean)
    np.testing.assert_allclose(scores, clean.reshape(20, -1).mean(axis=1))
    assert anomaly.all_scores(tiny, blank)["tiny-brightness"].max() == 0.0
    # restoration through its LatentGenerator
    y = restore.corrupt(clean[:3], restore.make_operator("denoise", noise_std=0.1), seed=0)
    out = restore.restore(tiny, y, "denoise", noise_std=0.1, steps=3, restarts=1)
    assert out.shape == (3, 1, 8, 8) and 0 <= out.min() and out.max() <= 1
    # the comparison harness: it applies, and samples come through the recipe
    chosen, _ = compare.applicable("digits", ["tiny", "classifier"])
    assert chosen == ["tiny"]
    samples, _ = compare.draw_samples(tiny, 7, seed=0)
    assert samples.shape == (7, 1, 8, 8)
    assert tiny.features(clean).shape == (20, 64)


def test_a_family_without_a_hook_gets_one_clear_error():
    x, y = mg.data.load("digits", split="train")
    classifier = training.fit("classifier", "digits", x[:64], y[:64], steps=1, options={"arch": "linear"})
    with pytest.raises(UsageError, match="'classifier' defines no anomaly score"):
        classifier.anomaly_scores(x[:4])
    with pytest.raises(UsageError, match="'classifier' cannot restore images"):
        classifier.restoration_prior()
    ae = training.fit("ae", "digits", x[:64], None, steps=1, options={"hidden": 16})
    with pytest.raises(UsageError, match="'ae' defines no features"):
        ae.features(x[:4])
    with pytest.raises(ValueError, match="option\\(s\\) \\['iwae_k'\\] do not apply to 'ae'"):
        anomaly.anomaly_scores("ae", ae, x[:4], iwae_k=4)


def test_every_registered_score_comes_from_the_family_that_names_it():
    families = anomaly.score_families()
    assert families["ddpm-bound"] == "ddpm" and families["glow"] == "glow" and families["wgan-gp"] == "wgan-gp"
    assert "cgan" not in families and "cvae" not in families        # conditional: no unlabelled score
    with pytest.raises(ValueError, match="no score named 'flow'"):
        anomaly.family_of("flow")


def test_register_and_the_loop_need_no_edit_elsewhere(monkeypatch):
    """@register is the only step: the registry, fit and train find the family by name."""
    registered = register("tiny-registered")(type("TinyRegistered", (TinyGenerator,), {}))
    try:
        assert "tiny-registered" in training.names()
        x, y = mg.data.load("digits", split="train")
        recipe = training.fit("tiny-registered", "digits", x[:64], y[:64], steps=2)
        assert isinstance(recipe, registered) and recipe.config["steps"] == 2
    finally:
        del training.registry._RECIPES["tiny-registered"]
