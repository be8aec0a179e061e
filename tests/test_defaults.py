"""Defaults that depend on the dataset (Recipe.dataset_defaults), applied where every config is made,
shown by `minigen train MODEL --help`, recorded in config.json; `minigen sample --out FILE.png`; and
`minigen eval --samples N`."""
import json
import os

import numpy as np
import pytest

import minigen as mg
from minigen import nn, optim, training
from minigen.cli import main
from minigen.recipe import Recipe, UsageError, family_defaults, make_config, register
from minigen.recipe.registry import RECIPES


class Shifted(Recipe):
    """x = b + noise: a family with defaults for the 2-D kind, for images, and for digits by name."""

    default_config = {"width": 4, "lr": 1e-2, "batch_size": 32, "epochs": 1, "note": "base"}
    dataset_defaults = {"2d": {"batch_size": 128, "note": "2d"},
                        "image": {"width": 8, "note": "image"},
                        "digits": {"epochs": 2, "note": "digits"}}

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.b = nn.Linear(1, int(np.prod(info.shape))).to(device)
        self.optimizer = optim.Adam(self.b.parameters(), lr=config["lr"])

    def train_step(self, batch, step):
        x, _ = batch
        loss = ((self.b(mg.ones(1, 1, device=self.device)) - x.reshape(x.shape[0], -1)) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def sample(self, n, label=None, steps=None):
        self.sample_labels(n, label)
        with mg.no_grad():
            mean = self.b(mg.ones(n, 1, device=self.device))
        x = (mean + 0.1 * mg.randn(*mean.shape, device=self.device)).reshape(n, *self.info.shape)
        return (mg.clip(x, 0.0, 1.0) if len(self.info.shape) > 1 else x).numpy()

    def evaluate(self, x, y=None):
        return {"mean": float(x.mean())}


@pytest.fixture
def shifted(monkeypatch):
    monkeypatch.setattr(Shifted, "name", "shifted")
    monkeypatch.setitem(RECIPES, "shifted", Shifted)
    return Shifted


def test_kind_then_name_then_options(shifted):
    assert family_defaults(shifted, training.dataset_info("moons"))["batch_size"] == 128
    on_mnist = make_config(shifted, "mnist-5k", 0, None)
    assert (on_mnist["width"], on_mnist["epochs"], on_mnist["note"]) == (8, 1, "image")
    on_digits = make_config(shifted, "digits", 0, None)
    assert (on_digits["width"], on_digits["epochs"], on_digits["note"]) == (8, 2, "digits")
    asked = make_config(shifted, "digits", 0, {"epochs": 5, "width": 3})
    assert (asked["width"], asked["epochs"], asked["note"]) == (3, 5, "digits")
    assert shifted.default_config["width"] == 4          # the class's own defaults are left alone


def test_the_run_records_what_it_used_and_resume_keeps_it(shifted, tmp_path):
    out = tmp_path / "run"
    run = training.train("shifted", "digits", out=out, steps=3, stream=open(os.devnull, "w"))
    saved = json.loads((out / "config.json").read_text())
    assert (saved["width"], saved["epochs"], saved["note"]) == (8, 2, "digits")
    assert run.config["width"] == 8
    # asking on resume for the value the dataset's default gave is no change of hyperparameters
    again = training.train("shifted", "digits", out=out, steps=5, resume=True, options={"width": 8},
                           stream=open(os.devnull, "w"))
    assert again.step == 5 and again.config["note"] == "digits"
    with pytest.raises(UsageError, match="whose width is 8, not 4"):
        training.train("shifted", "digits", out=out, steps=6, resume=True, options={"width": 4},
                       stream=open(os.devnull, "w"))
    assert training.load_run(out).recipe.config["width"] == 8


def test_fit_and_the_epochs_of_a_run_use_the_datasets_defaults(shifted):
    x, y = mg.data.load("digits", split="train")
    recipe = training.fit("shifted", "digits", x[:64], y[:64])
    assert recipe.config["epochs"] == 2 and recipe.config["steps"] == 2 * (64 // 32)
    points, _ = mg.data.load("moons", split="train")
    assert training.fit("shifted", "moons", points[:256]).config["batch_size"] == 128


def test_register_refuses_overrides_of_options_the_family_lacks():
    with pytest.raises(ValueError, match="sets 'widht', which is not in its default_config"):
        register("typo")(type("Typo", (Shifted,), {"dataset_defaults": {"digits": {"widht": 3}}}))
    with pytest.raises(UsageError, match="option epochs of model .* takes an int"):
        register("typo")(type("Typo", (Shifted,), {"dataset_defaults": {"digits": {"epochs": 2.5}}}))
    with pytest.raises(TypeError, match=r"dataset_defaults\['digits'\] must be a dict"):
        register("typo")(type("Typo", (Shifted,), {"dataset_defaults": {"digits": 3}}))
    assert "typo" not in RECIPES


def test_every_family_declares_defaults_for_kinds_and_datasets_that_exist():
    known = {"2d", "image"} | {info.name for info in mg.data.datasets()}
    for name in training.names():
        recipe_cls = training.get(name)
        # what the class declares itself (a family built on another, ddpm-img2img on ddpm, inherits
        # entries for data it does not take, which never apply)
        own = vars(recipe_cls).get("dataset_defaults", {})
        assert set(own) <= known, (name, set(own) - known)
        for where in own:                                  # and for data the family trains on
            kinds = {where} if where in ("2d", "image") else {training.dataset_info(where).kind}
            assert kinds <= set(recipe_cls.data_kinds), (name, where)


def test_help_shows_the_defaults_on_each_kind_and_on_a_named_dataset(shifted, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "shifted", "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    width = next(line for line in text.splitlines() if line.strip().startswith("--width INT"))
    assert width.split()[2] == "4" and "[image: 8]" in width
    epochs = next(line for line in text.splitlines() if line.strip().startswith("--epochs INT"))
    assert "[digits: 2]" in epochs
    assert "--dataset NAME --help" in text
    with pytest.raises(SystemExit):
        main(["train", "shifted", "--dataset", "digits", "--help"])
    text = capsys.readouterr().out
    assert "the default on digits" in text
    width = next(line for line in text.splitlines() if line.strip().startswith("--width INT"))
    assert width.split()[2] == "8"


# ---------------------------------------------------------------------------------- pictures of samples
def test_sample_writes_a_grid_or_a_scatter_for_a_png(shifted, tmp_path, capsys):
    images, points = tmp_path / "images", tmp_path / "points"
    assert main(["train", "shifted", "--dataset", "digits", "--steps", "2", "--out", str(images)]) == 0
    assert main(["train", "shifted", "--dataset", "moons", "--steps", "2", "--out", str(points)]) == 0
    for run in (images, points):
        assert main(["sample", str(run), "--n", "20", "--out", str(run / "look" / "grid.PNG")]) == 0
        with open(run / "look" / "grid.PNG", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert main(["sample", str(run), "--n", "5", "--out", str(run / "s.npy")]) == 0
        assert np.load(run / "s.npy").shape[0] == 5
    capsys.readouterr()
    assert main(["sample", str(images), "--out", str(tmp_path / "grid.jpg")]) == 2
    assert "give a .npy file (the samples as an array) or a .png file" in capsys.readouterr().err
    assert main(["sample", str(images), "--n", "401", "--out", str(tmp_path / "big.png")]) == 2
    assert "at most 400 images" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "big.png")
    assert main(["sample", str(points), "--n", "3000", "--out", str(tmp_path / "many.png")]) == 0


def test_a_conditional_picture_has_one_column_per_class(tmp_path, monkeypatch):
    from minigen import viz
    out = tmp_path / "gauss"
    assert main(["train", "gaussian-classifier", "--dataset", "digits", "--out", str(out)]) == 0
    drawn = {}
    monkeypatch.setattr(viz, "image_grid", lambda images, path, nrow=None, title=None: drawn.update(
        n=len(images), nrow=nrow, title=title))
    assert main(["sample", str(out), "--n", "30", "--out", str(tmp_path / "all.png")]) == 0
    assert drawn == {"n": 30, "nrow": 10, "title": "gaussian-classifier samples, one column per class"}
    assert main(["sample", str(out), "--n", "8", "--label", "3", "--out", str(tmp_path / "3.png")]) == 0
    assert drawn == {"n": 8, "nrow": None, "title": "gaussian-classifier samples, label 3"}


# ---------------------------------------------------------------------------------- eval --samples
def test_eval_judges_samples_on_2d_data(shifted, tmp_path, capsys):
    out = tmp_path / "points"
    assert main(["train", "shifted", "--dataset", "8gaussians", "--steps", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--samples", "300"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["samples"] == 300 and metrics["mean"] == pytest.approx(0, abs=0.1)
    assert metrics["energy_distance"] > 0.5 and metrics["num_modes"] == 8
    assert metrics["modes_captured"] == 0          # one blob at the centre of the ring
    assert main(["eval", str(out), "--sample-steps", "5"]) == 2
    assert "--sample-steps goes with --samples N" in capsys.readouterr().err
    assert main(["eval", str(out), "--samples", "1"]) == 2


def _report_module():
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "defaults_report.py")
    spec = importlib.util.spec_from_file_location("defaults_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_defaults_report_shows_what_it_measured_and_says_what_it_did_not(tmp_path):
    """examples/defaults_report.py writes the measured rows, a "not run" line for every other row of
    its plan (no invented numbers), the numbers as JSON for the documented-commands test, and refuses
    to quote a number of a row it has not measured."""
    report = _report_module()
    row = {"family": "wgan-gp", "dataset": "8gaussians", "steps": 9984, "epochs": 128, "batch_size": 256,
           "steps_per_epoch": 78, "wall_s": 120.0, "cpu_s": 100.0, "cpu_per_step_s": 0.004, "estimate_s": 43.0,
           "end_wall_s": 1.0, "end_cpu_s": 1.0, "load_before": [2.0, 2.0, 2.0], "load_after": [3.0, 3.0, 3.0],
           "finished": "2026-12-06T04:00:00", "commit": "abc1234",
           "eval": {"modes_captured": 8, "num_modes": 8, "high_quality_share": 0.9, "energy_distance": 0.03}}
    results = {"machine": {"cpu": "a CPU", "cores": 2, "system": "Linux", "commit": "abc1234"},
               "rows": {"wgan-gp/8gaussians": row}}
    report.write_page(results, tmp_path / "defaults.md")
    text = (tmp_path / "defaults.md").read_text()
    assert "| `minigen train wgan-gp --dataset 8gaussians` | 9,984 (128 x 78) | 8/8 | 0.90 |" in text
    assert "| `minigen train ddpm --dataset mnist-5k` | not run for this report |" in text
    assert f"1 of the plan's {len(report.PLAN)} runs measured" in text
    numbers = json.loads(text.split("<!-- defaults-values\n")[1].split("\n-->")[0])
    assert numbers["wgan-gp/8gaussians"]["modes_captured"] == 8
    page = tmp_path / "page.md"
    page.write_text("<!-- defaults: wgan-gp/8gaussians, gan/8gaussians -->\nold\n<!-- /defaults -->\n"
                    "share <!-- value: wgan-gp/8gaussians high_quality_share -->0.1<!-- /value -->\n")
    report.rewrite_quotes(results, [str(page)])
    text = page.read_text()
    assert "old" not in text and "share <!-- value: wgan-gp/8gaussians high_quality_share -->0.90<!-- /value -->" in text
    assert "| `minigen train gan --dataset 8gaussians` | not run for this report |" in text
    page.write_text("<!-- value: gan/8gaussians high_quality_share -->0.9<!-- /value -->\n")
    with pytest.raises(SystemExit, match="gan/8gaussians"):
        report.rewrite_quotes(results, [str(page)])
