"""The ``minigen`` command line, end to end in a temporary folder (in-process, plus one subprocess)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigen as mg
from minigen.cli import main
from minigen.training import Recipe, registry


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("clf")
    assert main(["train", "classifier", "--dataset", "digits", "--steps", "20", "--out", str(out),
                 "--batch-size", "32", "--lr", "0.01", "--arch", "mlp", "--hidden", "64"]) == 0
    return out


def test_train_writes_the_run_folder(classifier_run):
    config = json.loads((classifier_run / "config.json").read_text())
    assert config["model"] == "classifier" and config["steps"] == 20
    assert (config["batch_size"], config["lr"], config["hidden"]) == (32, 0.01, 64)
    assert sorted(os.listdir(classifier_run)) == ["checkpoint.npz", "config.json", "metrics.jsonl",
                                                  "samples.png"]


def test_eval_prints_one_json_object(classifier_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(classifier_run)]) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    metrics = json.loads(out)
    assert metrics["split"] == "test" and metrics["step"] == 20
    assert 0.5 < metrics["accuracy"] <= 1 and metrics["nll"] > 0
    assert main(["eval", str(classifier_run), "--split", "train"]) == 0
    assert json.loads(capsys.readouterr().out)["split"] == "train"


def test_sample_refuses_a_model_that_is_not_generative(classifier_run, capsys):
    assert main(["sample", str(classifier_run), "--n", "4"]) == 2
    _one_line_error(capsys, "'classifier' is not a generative model")


def test_gaussian_classifier_trains_and_samples_a_class(tmp_path, capsys):
    out = tmp_path / "gauss"
    assert main(["train", "gaussian-classifier", "--dataset", "digits", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= 0.97
    npy = tmp_path / "threes.npy"
    assert main(["sample", str(out), "--n", "5", "--label", "3", "--seed", "1", "--out", str(npy)]) == 0
    samples = np.load(npy, allow_pickle=False)
    assert samples.shape == (5, 1, 8, 8) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert main(["sample", str(out), "--n", "5", "--label", "3", "--seed", "1", "--out", str(npy)]) == 0
    np.testing.assert_array_equal(np.load(npy), samples)          # --seed makes it reproducible
    assert main(["sample", str(out), "--label", "10"]) == 2
    _one_line_error(capsys, "--label must be in [0, 10)")
    assert main(["sample", str(out), "--steps", "10"]) == 2
    _one_line_error(capsys, "has no sampler step count")


class _Noise(Recipe):
    """An unconditional 'generative model' that draws uniform noise: just enough for the CLI checks."""
    default_config = {"batch_size": 64, "epochs": 1}

    @classmethod
    def supports(cls, info):
        return info.name == "digits"

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.model = mg.nn.Linear(1, 1)

    def train_step(self, batch, step):
        return {"loss": 1.0 / (step + 1)}

    def sample(self, n, label=None, steps=None):
        return mg.rand(n, *self.info.shape).numpy()

    def evaluate(self, x, y=None):
        return {"mean": float(x.mean())}


def test_label_needs_a_conditional_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(registry._RECIPES, "noise", _Noise)
    monkeypatch.setattr(_Noise, "name", "noise")
    assert main(["train", "noise", "--dataset", "digits", "--steps", "3", "--out", str(tmp_path)]) == 0
    assert os.path.exists(tmp_path / "samples.png")              # the default figure: a grid
    assert main(["sample", str(tmp_path), "--n", "3"]) == 0
    assert np.load(tmp_path / "samples.npy").shape == (3, 1, 8, 8)
    capsys.readouterr()
    assert main(["sample", str(tmp_path), "--label", "1"]) == 2
    _one_line_error(capsys, "'noise' is not class-conditional")


@pytest.mark.parametrize("argv, needle", [
    (["train", "vea", "--dataset", "digits"], "unknown model 'vea'"),
    (["train", "classifier", "--dataset", "moons"], "needs labelled images"),
    (["train", "classifier", "--dataset", "digits", "--arch", "resnet"], "arch must be one of"),
    (["train", "classifier", "--dataset", "digits", "--hidden", "many"], "--hidden takes an int"),
    (["train", "classifier", "--dataset", "digits", "--depth", "3"], "has no option --depth"),
    (["eval", "/nonexistent/run"], "no checkpoint in /nonexistent/run"),
    (["sample", "/nonexistent/run"], "no checkpoint in /nonexistent/run"),
])
def test_mistakes_print_one_line_and_exit_2(argv, needle, capsys, tmp_path):
    if argv[0] == "train":
        argv = argv + ["--out", str(tmp_path)]
    assert main(argv) == 2
    _one_line_error(capsys, needle)


def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path, capsys):
    if mg.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "classifier", "--dataset", "digits", "--device", "cuda", "--out",
                 str(tmp_path)]) == 2
    _one_line_error(capsys, "CUDA")


def test_argument_errors_exit_2():
    with pytest.raises(SystemExit) as caught:
        main(["train", "classifier", "--dataset", "digits", "--steps", "3", "--epochs", "2"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        main(["eval", "dir", "--arch", "cnn"])


def test_datasets_lists_digits(capsys):
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "shape"]
    assert any(line.split()[0] == "digits" and "8x8" in line for line in lines[1:])


def test_info_in_process(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("minigen", "numpy", "scipy", "cupy", "cuda devices", "blas"):
        assert name in out


def test_python_dash_m_minigen_info():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "minigen", "info"], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["minigen", mg.__version__]
