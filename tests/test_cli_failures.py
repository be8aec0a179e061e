"""Every mistake on the command line is one clear line on stderr and exit status 2, never a traceback:
a table of bad arguments run in-process through ``minigen.cli.main`` (argparse's own mistakes included),
plus one run of the real program in a subprocess."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import minigen as mg
from minigen.cli import main


def run_cli(argv):
    """(exit status, stderr) of one in-process command."""
    try:
        return main(argv)
    except SystemExit as e:               # argparse's mistakes and --help
        return e.code


def assert_one_line_exit_2(argv, capsys, needle=None):
    capsys.readouterr()
    status = run_cli(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, (argv, status, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, (argv, err)
    if needle:
        assert needle in err, (argv, err)
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A trained (tiny) VAE and every kind of broken file the table below feeds the commands."""
    root = tmp_path_factory.mktemp("cli-failures")
    run = root / "vae"
    assert main(["train", "vae", "--dataset", "digits", "--steps", "2", "--hidden", "16", "--latent-dim", "2",
                 "--out", str(run)]) == 0
    checkpoint = (run / "checkpoint.npz").read_bytes()
    for name, content in {"truncated": checkpoint[:len(checkpoint) // 2],
                          "not-an-npz": b"this is not a zip archive\n"}.items():
        (root / name).mkdir()
        (root / name / "checkpoint.npz").write_bytes(content)
    damaged = bytearray(checkpoint)               # the archive's directory intact, an entry's bytes not
    middle = len(damaged) // 2
    damaged[middle:middle + 64] = bytes(64)
    (root / "damaged").mkdir()
    (root / "damaged" / "checkpoint.npz").write_bytes(bytes(damaged))
    (root / "foreign").mkdir()
    np.savez(root / "foreign" / "checkpoint.npz", weights=np.ones(3))
    (root / "plain-save").mkdir()
    mg.save({"weights": np.ones(3)}, root / "plain-save" / "checkpoint.npz")
    (root / "a-file.txt").write_text("not a folder\n")
    x, _ = mg.data.load("digits", split="test")
    np.save(root / "y.npy", x[:2])
    np.save(root / "empty.npy", np.zeros((0, 1, 8, 8), np.float32))
    np.save(root / "nan.npy", np.full((1, 1, 8, 8), np.nan, np.float32))
    np.save(root / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(root / "words.npy", np.array(["a", "b"]))
    return root


def table(f):
    """(argv, what the one line must say): f(name) is the path of a fixture file."""
    vae, y = f("vae"), f("y.npy")
    restore = ["restore", vae, "--task", "denoise", "--noise-std", "0.1", "--input", y, "--out", f("o.npy")]
    return [
        # a checkpoint that is not one
        (["eval", f("truncated")], "not a readable minigen checkpoint"),
        (["sample", f("truncated")], "not a readable minigen checkpoint"),
        (["restore", f("truncated"), "--task", "denoise", "--noise-std", "0.1", "--input", y, "--out", f("o.npy")],
         "not a readable minigen checkpoint"),
        (["eval", f("not-an-npz")], "not a readable minigen checkpoint"),
        (["train", "vae", "--dataset", "digits", "--out", f("truncated"), "--resume"], "not a readable"),
        (["train", "vae", "--dataset", "digits", "--out", f("damaged")], "already holds a run"),
        (["sample", f("damaged")], "checkpoint"),
        (["eval", f("foreign")], "not one written by minigen"),
        (["eval", f("plain-save")], "not a training checkpoint"),
        (["eval", f("nowhere")], "no checkpoint in"),
        (["eval", f("a-file.txt")], "no checkpoint in"),
        # where the output goes
        (["sample", vae, "--out", f("a-file.txt") + "/s.npy"], "is a file, not a folder"),
        (["sample", vae, "--out", vae], "is a folder"),
        (["sample", vae, "--out", "/proc/minigen-test/s.npy"], "cannot create the folder"),
        (["train", "vae", "--dataset", "digits", "--out", f("a-file.txt")], "is a file, not a folder"),
        (["train", "vae", "--dataset", "digits", "--out", "/proc/minigen-test/run"], "cannot create the run folder"),
        (["compare", "--dataset", "moons", "--out", f("a-file.txt")], "is a file, not a folder"),
        (restore[:-1] + [vae], "is a folder"),
        (["corrupt", "--dataset", "digits", "--task", "denoise", "--noise-std", "0.1", "--out", f("o.npy"),
          "--truth", f("a-file.txt") + "/x.npy"], "is a file, not a folder"),
        # numbers
        (["sample", vae, "--n", "0"], "--n must be a positive integer"),
        (["sample", vae, "--n", "10000000000000"], "on disk"),
        (["sample", vae, "--seed", "-1"], "--seed must be an integer >= 0"),
        (["sample", vae, "--steps", "0"], "--steps must be a positive integer"),
        (["sample", vae, "--steps", "3"], "has no sampler step count"),
        (["sample", vae, "--label", "1"], "not class-conditional"),
        (["sample", vae, "--n", "many"], "invalid int value"),
        (["train", "vae", "--dataset", "digits", "--lr", "nan"], "--lr must be a finite number > 0"),
        (["train", "vae", "--dataset", "digits", "--lr", "inf"], "--lr must be a finite number > 0"),
        (["train", "vae", "--dataset", "digits", "--lr", "-0.1"], "--lr must be a finite number > 0"),
        (["train", "vae", "--dataset", "digits", "--beta", "nan"], "--beta must be a finite number"),
        (["train", "vae", "--dataset", "digits", "--batch-size", "0"], "--batch-size must be a positive integer"),
        (["train", "vae", "--dataset", "digits", "--epochs", "0"], "--epochs must be a positive integer"),
        (["train", "vae", "--dataset", "digits", "--steps", "-3"], "--steps must be a positive integer"),
        (["train", "vae", "--dataset", "digits", "--seed", "-1"], "--seed must be an integer >= 0"),
        (["train", "vae", "--dataset", "digits", "--hidden", "1.5"], "--hidden takes an int"),
        (["train", "vae", "--dataset", "digits", "--latent-dim", "0"], "latent_dim must be a positive integer"),
        (["train", "vae", "--dataset", "digits", "--batch-size", "5000"], "batch_size"),
        (["restore", *restore[1:], "--steps", "0"], "--steps must be a positive integer"),
        (["restore", *restore[1:], "--restarts", "-2"], "--restarts must be a positive integer"),
        (["restore", vae, "--task", "denoise", "--noise-std", "nan", "--input", y, "--out", f("o.npy")],
         "--noise-std must be a finite number > 0"),
        (["restore", vae, "--task", "superres", "--factor", "1", "--input", y, "--out", f("o.npy")],
         "--factor must be an integer >= 2"),
        (["corrupt", "--dataset", "digits", "--task", "inpaint", "--mask-kind", "random", "--mask-seed", "-4",
          "--out", f("o.npy")], "--mask-seed must be an integer >= 0"),
        (["corrupt", "--dataset", "digits", "--task", "denoise", "--noise-std", "0.1", "--n", "0",
          "--out", f("o.npy")], "--n must be a positive integer"),
        (["compare", "--dataset", "moons", "--seeds", "0"], "--seeds must be a positive integer"),
        (["compare", "--dataset", "moons", "--budget-seconds", "nan"], "--budget-seconds must be a finite number"),
        (["compare", "--dataset", "moons", "--models", ","], "names no model"),
        # inputs
        (restore[:7] + [f("empty.npy")] + restore[8:], "holds no images"),
        (restore[:7] + [f("nan.npy")] + restore[8:], "NaN"),
        (restore[:7] + [f("objects.npy")] + restore[8:], "not a NumPy .npy array"),
        (restore[:7] + [f("words.npy")] + restore[8:], "must hold numbers"),
        (restore[:7] + [f("a-file.txt")] + restore[8:], "not a NumPy .npy array"),
        (restore[:7] + [f("missing.npy")] + restore[8:], "no such file"),
        (restore[:7] + [vae] + restore[8:], "is a folder"),
        (["restore", vae, "--task", "denoise", "--input", y, "--out", f("o.npy")], "needs a noise_std"),
        (["restore", vae, "--task", "inpaint", "--mask", y, "--input", y, "--out", f("o.npy")], "mask"),
        # names
        (["train", "vea", "--dataset", "digits"], "unknown model 'vea'"),
        (["train", "vae", "--dataset", "digitz"], "unknown dataset 'digitz'"),
        (["train", "vae", "--dataset", "moons"], "needs images"),
        (["train", "vae", "--dataset", "digits", "--depth", "3"], "has no option --depth"),
        (["train", "vae", "--dataset", "digits", "stray"], "unexpected argument 'stray'"),
        (["train", "vae"], "the following arguments are required: --dataset"),
        (["train", "vea", "--help"], "unknown model 'vea'"),
        (["compare", "--dataset", "digitz"], "unknown dataset 'digitz'"),
        (["corrupt", "--dataset", "moons", "--task", "denoise", "--noise-std", "0.1", "--out", f("o.npy")],
         "not a set of images"),
        (["sample"], "the following arguments are required: DIR"),
        (["bake"], "invalid choice: 'bake'"),
        (["eval", vae, "--split", "valid"], "invalid choice: 'valid'"),
        ([], "the following arguments are required: COMMAND"),
    ]


def test_a_table_of_mistakes_each_one_line_and_exit_2(files, capsys):
    def f(name):
        return str(files / name)
    for argv, needle in table(f):
        assert_one_line_exit_2(argv, capsys, needle)
    assert not os.path.exists(f("o.npy"))                  # nothing half-done was left behind


def test_a_missing_output_folder_is_created(files, capsys):
    out = files / "new" / "folder" / "samples.npy"
    assert main(["sample", str(files / "vae"), "--n", "3", "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 1, 8, 8)


def test_many_samples_are_drawn_in_chunks_into_one_file(files, monkeypatch):
    from minigen.cli import sample
    monkeypatch.setattr(sample, "CHUNK", 4)
    out = files / "chunked.npy"
    assert main(["sample", str(files / "vae"), "--n", "10", "--seed", "3", "--out", str(out)]) == 0
    chunked = np.load(out)
    assert chunked.shape == (10, 1, 8, 8) and chunked.dtype == np.float32
    run = mg.training.load_run(files / "vae")
    mg.manual_seed(3)
    expected = np.concatenate([run.recipe.sample(n) for n in (4, 4, 2)])
    np.testing.assert_array_equal(chunked, expected)


def test_a_read_only_folder_is_one_line(files, capsys):
    if os.geteuid() == 0:
        pytest.skip("root may write into read-only folders")
    folder = files / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert_one_line_exit_2(["sample", str(files / "vae"), "--out", str(folder / "s.npy")], capsys,
                               "permission denied")
    finally:
        folder.chmod(0o755)


def test_an_internal_error_is_one_line_with_status_1(files, capsys, monkeypatch):
    from minigen.models.vae import VAERecipe

    def broken(self, x, y=None):
        raise KeyError("a bug")
    monkeypatch.setattr(VAERecipe, "evaluate", broken)
    assert main(["eval", str(files / "vae")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error: KeyError" in err and "MINIGEN_TRACEBACK=1" in err
    monkeypatch.setenv("MINIGEN_TRACEBACK", "1")
    with pytest.raises(KeyError):
        main(["eval", str(files / "vae")])


def test_the_real_program_prints_no_traceback(files, tmp_path):
    for argv in (["eval", str(files / "truncated")], ["sample", str(files / "vae"), "--seed", "-1"],
                 ["train", "vae", "--dataset", "digits", "--lr", "nan"]):
        done = subprocess.run([sys.executable, "-m", "minigen", *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert os.listdir(tmp_path) == []                  # a refused command leaves no folder behind


def test_train_help_lists_the_model_options_with_defaults(capsys):
    assert run_cli(["train", "vae", "--help"]) == 0
    out = capsys.readouterr().out
    assert "options of model 'vae'" in out
    assert "--latent-dim INT" in out and " 16 " in out and "size of z" in out
    assert "--likelihood STR" in out and "bernoulli" in out
    assert run_cli(["train", "--help"]) == 0
    assert "models: ae, cgan" in capsys.readouterr().out


def test_no_output_file_is_left_when_sampling_fails(files, monkeypatch, capsys):
    from minigen.models.vae import VAERecipe
    calls = []

    def fails_on_the_second_chunk(self, n, label=None, steps=None):
        calls.append(n)
        if len(calls) == 2:
            raise ValueError("the sampler broke")
        return np.zeros((n, 1, 8, 8), np.float32)
    from minigen.cli import sample
    monkeypatch.setattr(sample, "CHUNK", 2)
    monkeypatch.setattr(VAERecipe, "sample", fails_on_the_second_chunk)
    out = files / "never.npy"
    assert_one_line_exit_2(["sample", str(files / "vae"), "--n", "5", "--out", str(out)], capsys, "the sampler broke")
    assert not out.exists() and not [p for p in os.listdir(files) if p.startswith(".never.npy")]


@pytest.fixture(autouse=True)
def _no_stray_runs(tmp_path, monkeypatch):
    """Commands that default to runs/... write into a temporary folder, not the repository."""
    monkeypatch.chdir(tmp_path)
    yield
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)
