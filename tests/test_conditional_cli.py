"""The command line of conditional generation: ``minigen train pix2pix|ddpm-img2img|ddpm-txt2img``,
``minigen sample DIR --condition FILE.npy|FILE.png`` and ``--prompt TEXT [--guidance W]``, ``minigen
eval``, ``minigen datasets``; every mistake one line on stderr and exit status 2."""
import json

import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from minigen import data
from minigen.cli import main

TINY = ["--channels", "8", "--channel-mults", "1,2", "--timesteps", "10", "--eval-steps", "2"]


def run_cli(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


def one_line_exit_2(argv, capsys, needle):
    capsys.readouterr()
    status = run_cli(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, (argv, status, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, (argv, err)
    assert needle in err, (argv, err)
    return err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two-step runs of the three families on the 8x8 sets, and condition files."""
    root = tmp_path_factory.mktemp("conditional-cli")
    for model, dataset, extra in [("pix2pix", "edges2digits", ["--width", "8", "--eval-examples", "16"]),
                                  ("ddpm-img2img", "masked2digits", TINY + ["--eval-examples", "16"]),
                                  ("ddpm-txt2img", "captioned-digits", TINY + ["--eval-samples", "1"])]:
        assert run_cli(["train", model, "--dataset", dataset, "--steps", 2, "--batch-size", 16,
                        "--out", root / model, *extra]) == 0
    edges, _ = data.load("edges2digits", "test")
    np.save(root / "edges.npy", edges[:3])
    np.save(root / "big.npy", np.zeros((2, 1, 28, 28), np.float32))
    np.save(root / "bright.npy", np.full((1, 8, 8), 255.0, np.float32))
    matplotlib.image.imsave(root / "edge.png", edges[0, 0], cmap="gray", vmin=0, vmax=1)   # RGBA, opaque
    Image.fromarray((edges[0, 0] * 255).round().astype(np.uint8), mode="L").save(root / "grey.png")
    masked, _ = data.load("masked2digits", "test")
    rgba = np.zeros((8, 8, 4))
    rgba[..., :3] = masked[0, 0][..., None]
    rgba[..., 3] = masked[0, 1]                                  # hidden pixels transparent
    matplotlib.image.imsave(root / "masked.png", rgba)
    np.save(root / "masked.npy", masked[:2])
    return root


def test_sample_with_conditions_from_npy_and_png(runs, capsys):
    out = runs / "out.npy"
    assert run_cli(["sample", runs / "pix2pix", "--condition", runs / "edges.npy", "--out", out]) == 0
    assert np.load(out).shape == (3, 1, 8, 8)                   # one translation per condition
    assert run_cli(["sample", runs / "pix2pix", "--condition", runs / "edge.png", "--n", 2, "--out", out]) == 0
    y = np.load(out)
    assert y.shape == (2, 1, 8, 8) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0], y[1])                   # pix2pix: one output per condition
    grey = runs / "grey-out.npy"
    assert run_cli(["sample", runs / "pix2pix", "--condition", runs / "grey.png", "--out", grey]) == 0
    np.testing.assert_allclose(np.load(grey)[0], y[0], atol=0.02)   # the same edge map, as 8-bit grey
    assert run_cli(["sample", runs / "ddpm-img2img", "--condition", runs / "masked.png", "--n", 3, "--steps", 2,
                    "--out", out]) == 0
    assert np.load(out).shape == (3, 1, 8, 8)
    assert run_cli(["sample", runs / "ddpm-img2img", "--condition", runs / "masked.npy", "--n", 2, "--steps", 2,
                    "--out", out]) == 0
    assert np.load(out).shape == (4, 1, 8, 8)                   # 2 draws of each of 2 conditions


def test_sample_a_prompt(runs):
    out = runs / "prompt.npy"
    assert run_cli(["sample", runs / "ddpm-txt2img", "--prompt", "a thin slanted four", "--n", 5, "--guidance", 3,
                    "--steps", 2, "--out", out]) == 0
    x = np.load(out)
    assert x.shape == (5, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    again = runs / "again.npy"
    assert run_cli(["sample", runs / "ddpm-txt2img", "--prompt", "A thin, slanted FOUR", "--n", 5, "--guidance", 3,
                    "--steps", 2, "--out", again]) == 0
    np.testing.assert_array_equal(np.load(again), x)              # the same words, the same seed


def test_eval_prints_the_conditional_metrics(runs, capsys):
    capsys.readouterr()
    assert run_cli(["eval", runs / "pix2pix"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"psnr", "ssim", "l1", "digit_agreement", "truth_agreement"} <= set(metrics)
    assert run_cli(["eval", runs / "ddpm-txt2img"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"agreement", "agreement_guided", "ink_gap", "slant_gap_guided", "data_ink_gap"} <= set(metrics)


def test_datasets_lists_the_paired_and_captioned_sets(capsys):
    capsys.readouterr()
    assert run_cli(["datasets"]) == 0
    table = capsys.readouterr().out
    assert "edges2digits        paired     1x8x8 -> 1x8x8" in table
    assert "lowres2mnist-5k     paired     1x7x7 -> 1x28x28" in table
    assert "captioned-digits    captioned  text -> 1x8x8" in table


def test_mistakes_are_one_line_and_exit_2(runs, capsys):
    p2p, img, txt = runs / "pix2pix", runs / "ddpm-img2img", runs / "ddpm-txt2img"
    for argv, needle in [
            (["sample", p2p, "--condition", runs / "big.npy"],
             "--condition " + str(runs / "big.npy") + ": edges2digits conditions have shape (1, 8, 8) each"),
            (["sample", p2p, "--condition", runs / "bright.npy"], "conditions are images in [0, 1]"),
            (["sample", p2p, "--condition", runs / "nowhere.npy"], "--condition: no such file"),
            (["sample", p2p, "--condition", runs], "is a folder, not a .npy or .png file"),
            (["sample", p2p], "'pix2pix' draws from a condition image: give --condition FILE.npy"),
            (["sample", p2p, "--prompt", "a four"], "--prompt does not apply to 'pix2pix' (trained on edges2digits); "
                                                     "it takes --condition"),
            (["sample", p2p, "--condition", runs / "edges.npy", "--guidance", 2], "no classifier-free guidance"),
            (["sample", p2p, "--condition", runs / "edges.npy", "--label", 3], "not class-conditional"),
            (["sample", img, "--condition", runs / "grey.png"], "has no alpha channel"),
            (["sample", img, "--condition", runs / "edges.npy"], "masked2digits conditions have shape (2, 8, 8)"),
            (["sample", txt], "'ddpm-txt2img' draws from a prompt: give --prompt \"a thin slanted four\""),
            (["sample", txt, "--prompt", ""], "holds no words"),
            (["sample", txt, "--prompt", "a small purple four"],
             "unknown words 'small', 'purple' in the prompt 'a small purple four'; the vocabulary is: a an the digit"),
            (["sample", txt, "--prompt", "a four", "--guidance", -1], "--guidance must be a finite number >= 0"),
            (["sample", txt, "--condition", runs / "edges.npy"], "--condition does not apply to 'ddpm-txt2img'"),
            (["sample", runs / "pix2pix", "--condition", runs / "edges.npy", "--n", 0], "--n must be a positive integer"),
            (["train", "pix2pix", "--dataset", "digits"], "model 'pix2pix' needs paired images (condition, target)"),
            (["train", "ddpm-txt2img", "--dataset", "edges2digits"], "needs captioned images"),
            (["train", "ddpm-txt2img", "--dataset", "captioned-digits", "--text-dim", "10", "--text-heads", "3"],
             "text_dim (10) must be divisible by text_heads (3)"),
            (["restore", img, "--task", "superres", "--factor", 2, "--input", runs / "edges.npy", "--out",
              runs / "o.npy"], "'ddpm-img2img' draws images from an image condition (minigen sample DIR "
                               "--condition ...), so it cannot restore images"),
            (["compare", "--dataset", "edges2digits"], "edges2digits is a paired set"),
    ]:
        one_line_exit_2(argv, capsys, needle)
