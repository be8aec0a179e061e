"""mg.save / mg.load: round trips of nested dicts, atomic writes, refusal of pickle and foreign files."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import minigen as mg
from minigen import io


def _same(a, b):
    """Deep equality where arrays must match in dtype, shape and values."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


def test_round_trip_of_a_nested_dict(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "model": {"fc1.weight": rng.standard_normal((3, 4)).astype(np.float32),
                  "fc1.bias": np.zeros(3, np.float64), "steps": np.array(7, np.int64)},
        "optimizer": {"state": {"0": {"m": rng.standard_normal(5), "step": 3}},
                      "param_groups": [{"lr": 1e-3, "betas": [0.9, 0.999], "params": [0, 1],
                                        "nesterov": False, "name": None}]},
        "list of arrays": [np.arange(3, dtype=np.uint8), "text", 2.5, np.array([True, False])],
        "empty": {}, "nothing": [], "nan": float("nan"), "big int": 2**100, "unicode": "ünï",
    }
    path = tmp_path / "ckpt.npz"
    mg.save(obj, path)
    assert _same(obj, mg.load(path))


def test_tensors_are_stored_as_numpy_arrays(tmp_path, device):
    weight = mg.randn(2, 3, device=device, requires_grad=True)
    mg.save({"w": weight, "x": mg.arange(4, device=device)}, tmp_path / "t.npz")
    back = mg.load(tmp_path / "t.npz")
    assert isinstance(back["w"], np.ndarray) and back["w"].dtype == np.float32
    np.testing.assert_array_equal(back["w"], weight.numpy())
    np.testing.assert_array_equal(back["x"], np.arange(4))


def test_module_state_dict_round_trip(tmp_path):
    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.ReLU(), mg.nn.Linear(3, 2))
    mg.save(model.state_dict(), tmp_path / "m.npz")
    other = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.ReLU(), mg.nn.Linear(3, 2))
    other.load_state_dict(mg.load(tmp_path / "m.npz"))
    x = mg.randn(5, 4)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())


def test_header_is_readable_without_the_arrays(tmp_path):
    path = tmp_path / "h.npz"
    mg.save({"w": np.ones(3)}, path, header={"model": "vae", "config": {"lr": 0.001, "dims": [2, 3]}})
    header = io.read_header(path)
    assert header["model"] == "vae" and header["config"] == {"lr": 0.001, "dims": [2, 3]}
    assert header["format_version"] == io.FORMAT_VERSION and header["minigen_version"] == mg.__version__


@pytest.mark.parametrize("bad, message", [
    ({"x": object()}, "cannot store a object"),
    ({1: np.ones(2)}, "keys must be strings"),
    ({"x": np.array([{}, 1], dtype=object)}, "dtype object"),
    ({"a/b": np.ones(1), "a": {"b": np.ones(1)}}, "same stored name"),
])
def test_bad_trees_are_refused_by_name(tmp_path, bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        mg.save(bad, tmp_path / "bad.npz")
    assert not os.path.exists(tmp_path / "bad.npz")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(3)}, path)
    before = path.read_bytes()

    def write_half_then_crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", write_half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        mg.save({"w": np.arange(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    monkeypatch.undo()
    np.testing.assert_array_equal(mg.load(path)["w"], np.arange(3))


def test_a_keyboard_interrupt_mid_write_also_cleans_up(tmp_path, monkeypatch):
    def interrupted(file, **arrays):
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"w": np.arange(3)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_a_write_removes_the_temporaries_of_killed_writers_and_no_others(tmp_path):
    host = socket.gethostname()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                  # a process id that no longer runs
    stale = tmp_path / f".ckpt.npz.{gone.pid}-{host}.abc123.tmp"
    live = tmp_path / f".ckpt.npz.{os.getpid()}-{host}.def456.tmp"       # a writer still at work
    elsewhere = tmp_path / f".ckpt.npz.{gone.pid}-another-host.ghi789.tmp"   # cannot be checked
    other_file = tmp_path / f".other.npz.{gone.pid}-{host}.jkl012.tmp"       # not this file's
    for path in (stale, live, elsewhere, other_file):
        path.write_bytes(b"half a zip")
    mg.save({"w": np.arange(3)}, tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", live.name, elsewhere.name, other_file.name])


def test_pickled_entries_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    mg.save({"w": np.arange(3)}, path)
    header = np.load(path)["__minigen__"]
    np.savez(path, __minigen__=header, w=np.array([{"code": "here"}], dtype=object))  # pickled
    with pytest.raises(ValueError, match="contains pickled objects; minigen never loads pickle"):
        mg.load(path)


def test_foreign_and_newer_files_are_refused_clearly(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.ones(2))
    with pytest.raises(ValueError, match="not one written by minigen"):
        mg.load(plain)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a minigen .npz file"):
        mg.load(text)
    newer = tmp_path / "newer.npz"
    meta = {"format": "minigen", "format_version": io.FORMAT_VERSION + 1, "minigen_version": "9.0",
            "header": {}, "tree": {}}
    np.savez(newer, __minigen__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(ValueError, match="upgrade minigen"):
        mg.load(newer)
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "missing.npz")


def test_save_and_load_need_no_cupy(tmp_path):
    """On a machine without CuPy nothing in io tries to import it."""
    if "cupy" in sys.modules:
        pytest.skip("CuPy is loaded in this process")
    mg.save({"w": mg.ones(2)}, tmp_path / "c.npz")
    mg.load(tmp_path / "c.npz")
    assert "cupy" not in sys.modules
