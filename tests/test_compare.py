"""The comparison metrics on inputs with hand-computed answers, and the harness end to end."""
import json
import math

import numpy as np
import pytest

from minigen.cli import main
from minigen.harnesses import compare, report
from minigen.metrics import sample_quality as sq
from minigen.training import UsageError


# ---------------------------------------------------------------------------------- Frechet distance
def test_frechet_identical_gaussians_is_zero():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert sq.frechet_distance_gaussians([1.0, -2.0], cov, [1.0, -2.0], cov) == pytest.approx(0, abs=1e-9)


def test_frechet_closed_forms():
    # same covariance: only the mean term ||mu1 - mu2||^2 remains
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert sq.frechet_distance_gaussians([0, 0], cov, [3, 4], cov) == pytest.approx(25.0)
    # diagonal covariances: Tr(S1 + S2 - 2 (S1 S2)^(1/2)) = sum (sqrt(a) - sqrt(b))^2 = (1-2)^2 + (2-3)^2
    assert sq.frechet_distance_gaussians([0, 0], np.diag([1.0, 4.0]), [0, 0],
                                         np.diag([4.0, 9.0])) == pytest.approx(2.0)


def test_frechet_of_samples():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3))
    assert sq.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.5])      # a shift leaves the covariance as it is
    assert sq.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="3 and 2 features"):
        sq.frechet_distance(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(N, D\) array"):
        sq.frechet_distance(np.zeros(5), np.zeros((5, 1)))


# ---------------------------------------------------------------------------------- precision / recall
def test_precision_recall_identical_sets():
    points = np.random.default_rng(1).normal(size=(50, 4))
    assert sq.precision_recall(points, points) == {"precision": 1.0, "recall": 1.0}


def test_precision_recall_disjoint_sets():
    real = np.random.default_rng(2).normal(size=(40, 2))
    assert sq.precision_recall(real, real + 100.0) == {"precision": 0.0, "recall": 0.0}


def test_precision_recall_dropped_mode():
    # real: two clusters {0..3} and {100..103}; fake covers only the first. With k = 3 each real point's
    # ball reaches its 3rd neighbour (radius 2 or 3), so every fake point is realistic (precision 1),
    # and the fake balls (radius 2 or 3) cover 0..3 but not 100..103 (recall 1/2).
    real = np.array([0, 1, 2, 3, 100, 101, 102, 103], dtype=float)[:, None]
    fake = np.array([0.5, 1.5, 2.5, 3.5])[:, None]
    assert sq.precision_recall(real, fake, k=3) == {"precision": 1.0, "recall": 0.5}
    # and the other way round: half of the "fake" points lie off the real manifold
    assert sq.precision_recall(fake, real, k=3) == {"precision": 0.5, "recall": 1.0}


def test_precision_recall_needs_k_plus_one_points():
    with pytest.raises(ValueError, match="N >= 4"):
        sq.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)


# ---------------------------------------------------------------------------------- entropy, memorisation
def test_class_entropy():
    assert sq.class_entropy(np.arange(10).repeat(7), 10) == pytest.approx(math.log2(10))
    assert sq.class_entropy(np.full(20, 3), 10) == 0.0
    assert sq.class_entropy(np.array([0, 0, 1, 1]), 10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        sq.class_entropy(np.array([0, 10]), 10)


def test_memorisation_ratio():
    rng = np.random.default_rng(3)
    train, test = rng.random((200, 1, 4, 4)), rng.random((50, 1, 4, 4))
    assert sq.memorisation_ratio(train[:30], train, test) == 0.0          # copies of training images
    assert sq.memorisation_ratio(test, train, test) == pytest.approx(1.0)  # fresh data, by definition
    # 1-D: test point 1 lies at distance 1 from the training set {0, 10}, sample 2 at distance 2
    assert sq.memorisation_ratio(np.array([[2.0]]), np.array([[0.0], [10.0]]), np.array([[1.0]])) == 2.0


# ---------------------------------------------------------------------------------- the harness
def test_families_that_do_not_apply_are_skipped_with_a_reason():
    chosen, skipped = compare.applicable("8gaussians", ["gan", "vae", "classifier"])
    assert chosen == ["gan"]
    assert "needs" in skipped["vae"] and "8gaussians" in skipped["vae"]
    assert "not a generative model" in skipped["classifier"]
    with pytest.raises(UsageError, match="unknown model"):
        compare.applicable("8gaussians", ["no-such-model"])


@pytest.mark.slow
def test_harness_end_to_end_on_2d(tmp_path, capsys):
    out = tmp_path / "cmp"
    status = main(["compare", "--dataset", "8gaussians", "--steps", "3", "--seeds", "2",
                   "--models", "gan,realnvp,vae", "--samples", "100", "--out", str(out)])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["families"]) == ["gan", "realnvp"]
    assert "vae" in results["skipped"]
    for name in ("gan", "realnvp"):
        family = results["families"][name]
        assert [r["seed"] for r in family["runs"]] == [0, 1]
        assert all(r["train_steps"] == 3 for r in family["runs"])
        summary = family["summary"]
        assert summary["energy_distance"]["n"] == 2 and summary["parameters"]["mean"] > 0
        assert 0 <= summary["modes_captured"]["mean"] <= 8
        assert any("too small" in note for note in family["notes"])     # 3 steps cannot train anything
    assert "nll_nats" in results["families"]["realnvp"]["summary"]
    assert "nll_nats" not in results["families"]["gan"]["summary"]
    md = (out / "report.md").read_text()
    gan_row = next(line for line in md.splitlines() if line.startswith("| gan |"))
    assert gan_row.split("|")[2].strip() == "n/a"                        # a GAN has no likelihood
    assert "minigen compare --dataset 8gaussians --steps 3 --seeds 2" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 2 and "<table>" in page
    assert "| gan |" in capsys.readouterr().out


def test_wall_clock_budget_stops_training_and_reports_are_written(tmp_path):
    results = compare.compare("8gaussians", models=["realnvp"], budget_seconds=1e-3, seeds=2,
                              out=tmp_path, n_samples=50, log=lambda line: None)
    family = results["families"]["realnvp"]
    assert all(1 <= run["train_steps"] < compare.FEW_STEPS for run in family["runs"])
    assert "too small" in family["notes"][0]
    assert family["summary"]["nll_nats"]["n"] == 2 and family["summary"]["nll_nats"]["std"] > 0
    paths = report.write_reports(results, tmp_path)
    md = open(paths["report.md"]).read()
    assert "--budget-seconds 0.001 --seeds 2 --models realnvp" in md and "| realnvp |" in md
    assert " ± " in next(line for line in md.splitlines() if line.startswith("| realnvp |"))
    page = open(paths["report.html"]).read()
    assert "data:image/png;base64," in page and "<td>realnvp</td>" in page
    assert json.load(open(paths["results.json"]))["families"]["realnvp"]["runs"][1]["seed"] == 1


def test_compare_bad_input(tmp_path):
    with pytest.raises(UsageError, match="no generative family applies"):
        compare.compare("8gaussians", models=["vae"], out=tmp_path, log=lambda line: None)
    with pytest.raises(UsageError, match="--seeds"):
        compare.compare("8gaussians", models=["gan"], seeds=0, out=tmp_path)
    assert main(["compare", "--dataset", "nope", "--out", str(tmp_path)]) == 2
    assert main(["compare", "--dataset", "8gaussians", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert main(["compare", "--dataset", "8gaussians", "--models", "vae", "--out", str(tmp_path)]) == 2


@pytest.mark.slow
def test_harness_on_digits(tmp_path):
    out = tmp_path / "digits"
    results = compare.compare("digits", models=["ae", "gan"], steps=20, seeds=1, out=out, n_samples=200,
                              feature_cache=tmp_path / "features", log=lambda line: None)
    assert results["floor"]["classifier_test_accuracy"] > 0.9
    for name in ("ae", "gan"):
        summary = results["families"][name]["summary"]
        assert {"fid", "precision", "recall", "class_entropy_bits", "memorisation_ratio"} <= set(summary)
    assert results["floor"]["fid"] < results["families"]["gan"]["summary"]["fid"]["mean"]
    page = open(report.write_reports(results, out)["report.html"]).read()
    assert page.count("data:image/png;base64,") >= 4          # rendered in a browser: test_report_browser.py


# ---------------------------------------------------------------------------------- AUROC
def test_auroc_known_cases():
    from minigen.metrics.auroc import auroc
    assert auroc([0, 1, 2], [3, 4]) == 1.0                    # a perfect score
    assert auroc([3, 4], [0, 1, 2]) == 0.0                    # exactly backwards
    assert auroc([1, 1, 1], [1, 1]) == 0.5                    # a constant score cannot tell
    assert auroc([0, 2], [1, 3]) == 0.75                      # pairs: (1>0, 1<2, 3>0, 3>2) -> 3/4
    rng = np.random.default_rng(0)
    assert abs(auroc(rng.random(4000), rng.random(4000)) - 0.5) < 0.03     # a random score
    with pytest.raises(ValueError, match="both sets"):
        auroc([], [1.0])
