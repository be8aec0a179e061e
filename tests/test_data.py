import functools
import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest

import minigen as mg
from minigen import data
from minigen.data import download, toy2d
from minigen.data.datasets import _read_bundled

TOY = toy2d.NAMES


# ----------------------------------------------------------------------------------- 2-D samplers

@pytest.mark.parametrize("name", TOY)
def test_sample_is_seeded_float32_n_by_2(name):
    a = toy2d.sample(name, 500, np.random.default_rng(3))
    b = toy2d.sample(name, 500, np.random.default_rng(3))
    c = toy2d.sample(name, 500, np.random.default_rng(4))
    assert a.shape == (500, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert toy2d.sample(name, 0, np.random.default_rng(0)).shape == (0, 2)


def test_sample_rejects_bad_arguments():
    with pytest.raises(ValueError, match="8gaussians, 25gaussians"):
        toy2d.sample("circles", 10, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        toy2d.sample("moons", 10, 0)
    with pytest.raises(ValueError, match="n must be"):
        toy2d.sample("moons", -1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        toy2d.log_density("moons", np.zeros((3, 3)))


def _grid(lo, hi, step):
    centres = np.arange(lo, hi, step) + step / 2
    gx, gy = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


@pytest.mark.parametrize("name", TOY)
def test_density_integrates_to_one(name):
    # Every set lies inside [-4.5, 4.5]^2 up to < 1e-6 of its mass; a grid step of the smallest
    # noise std (0.1) integrates these smooth densities to far better than the tolerance.
    step = 0.1
    mass = np.exp(toy2d.log_density(name, _grid(-4.5, 4.5, step))).sum() * step ** 2
    assert mass == pytest.approx(1.0, abs=2e-6)


HIST_EDGES = np.arange(-4.5, 4.5 + 0.125, 0.25)


@functools.lru_cache(maxsize=None)
def _bin_masses(name, sub=4):
    """The density's mass in each histogram bin, from sub x sub midpoints per bin."""
    width = HIST_EDGES[1] - HIST_EDGES[0]
    fine = np.exp(toy2d.log_density(name, _grid(HIST_EDGES[0], HIST_EDGES[-1], width / sub)))
    k = len(HIST_EDGES) - 1
    return fine.reshape(k, sub, k, sub).sum(axis=(1, 3)) * (width / sub) ** 2


def _histogram_misfit(name, points):
    """Chi-square per degree of freedom between a histogram of the points and the density's bin
    masses: about 1 (within ~0.2 here) when the points follow the density."""
    counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=[HIST_EDGES, HIST_EDGES])
    expected = _bin_masses(name) * len(points)
    used = expected >= 5
    return ((counts[used] - expected[used]) ** 2 / expected[used]).sum() / used.sum()


@pytest.mark.parametrize("name", TOY)
def test_density_matches_histogram_of_samples(name):
    points = toy2d.sample(name, 100_000, np.random.default_rng(11))
    assert _histogram_misfit(name, points) < 1.4


@pytest.mark.parametrize("name", TOY)
def test_histogram_check_rejects_a_slightly_wrong_density(name):
    points = toy2d.sample(name, 100_000, np.random.default_rng(11)) * 1.03
    assert _histogram_misfit(name, points) > 1.4


@pytest.mark.parametrize("name", ["moons", "swissroll", "2spirals"])
def test_curve_quadrature_is_converged(name, monkeypatch):
    rng = np.random.default_rng(5)
    points = np.concatenate([toy2d.sample(name, 300, rng), rng.uniform(-4, 4, (300, 2))])
    coarse = toy2d.log_density(name, points)
    monkeypatch.setattr(toy2d, "_GAUSS_POINTS", 12)
    fine = toy2d.log_density(name, points)
    where_data_is = fine > -20
    np.testing.assert_allclose(coarse[where_data_is], fine[where_data_is], atol=1e-7)
    assert np.isfinite(coarse).all()


def test_curve_density_stays_finite_far_away():
    far = np.array([[30.0, -30.0], [0.0, 50.0]])
    for name in ("moons", "swissroll", "2spirals"):
        log_p = toy2d.log_density(name, far)
        assert np.isfinite(log_p).all() and (log_p < -1000).all()


def test_checkerboard_is_uniform_on_dark_squares_and_zero_elsewhere():
    log_p = toy2d.log_density("checkerboard", np.array(
        [[-3.0, -3.0], [-1.0, -1.0], [1.0, 1.0], [3.0, -1.0],  # dark: floor(x/2) + floor(y/2) even
         [-3.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [3.0, 1.0],   # light
         [4.5, 0.5], [0.0, -4.2]]))                            # off the board
    np.testing.assert_allclose(log_p[:4], -np.log(32.0))
    assert np.isneginf(log_p[4:]).all()
    samples = toy2d.sample("checkerboard", 10_000, np.random.default_rng(0))
    assert np.isfinite(toy2d.log_density("checkerboard", samples)).all()


def test_modes_of_the_mixtures():
    centres, std = toy2d.modes("8gaussians")
    assert centres.shape == (8, 2) and std == pytest.approx(0.5 / np.sqrt(2))
    np.testing.assert_allclose(np.hypot(*centres.T), 4 / np.sqrt(2))
    centres, std = toy2d.modes("25gaussians")
    assert centres.shape == (25, 2) and std == pytest.approx(np.sqrt(2) / 8)
    assert len(np.unique(np.round(centres, 6), axis=0)) == 25
    points = toy2d.sample("25gaussians", 5000, np.random.default_rng(0))
    nearest = np.linalg.norm(points[:, None] - centres, axis=-1).min(axis=1)
    assert (nearest < 5 * std).all()
    with pytest.raises(ValueError, match="not a Gaussian mixture"):
        toy2d.modes("moons")


# --------------------------------------------------------------------------------- dataset table

def test_dataset_table_names_and_kinds():
    records = data.datasets()
    assert [r.name for r in records] == [*TOY, "digits", "mnist-5k", "mnist", "fashion-mnist",
                                         "edges2digits", "edges2mnist-5k", "lowres2digits", "lowres2mnist-5k",
                                         "masked2digits", "masked2mnist-5k", "captioned-digits", "captioned-mnist-5k"]
    assert data.info("mnist").shape == (1, 28, 28) and data.info("mnist").n_train == 60_000
    assert data.info("moons").kind == "2d" and data.info("moons").num_classes is None
    with pytest.raises(ValueError, match="digits, mnist-5k"):
        data.info("cifar10")
    with pytest.raises(ValueError, match="train, test"):
        data.load("digits", split="valid")


@pytest.mark.parametrize("name", ["digits", "mnist-5k", "moons"])
def test_load_agrees_with_info(name):
    record = data.info(name)
    for split, n in (("train", record.n_train), ("test", record.n_test)):
        x, y = data.load(name, split)
        assert x.shape == (n, *record.shape) and x.dtype == np.float32
        if record.num_classes is None:
            assert y is None
        else:
            assert y.shape == (n,) and y.dtype == np.int64
            assert set(np.unique(y)) == set(range(record.num_classes))


def test_2d_splits_are_fixed_and_different():
    train, _ = data.load("swissroll", "train")
    test, _ = data.load("swissroll", "test")
    np.testing.assert_array_equal(train, data.load("swissroll", "train")[0])
    assert not np.allclose(train[:len(test)], test)


# -------------------------------------------------------------------------------- bundled images

@pytest.mark.parametrize("name, max_value", [("digits", 16), ("mnist-5k", 255)])
def test_bundled_pixels_are_the_stored_integers_scaled_to_unit_range(name, max_value):
    x, _ = data.load(name, "train")
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x * max_value, np.round(x * max_value), atol=1e-4)


@pytest.mark.parametrize("file, n", [("digits.npz", 1797), ("mnist5k.npz", 5000)])
def test_bundled_splits_are_disjoint_and_cover_everything(file, n):
    arrays = _read_bundled(file)
    train, test = arrays["train_idx"], arrays["test_idx"]
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    assert arrays["x"].dtype == np.uint8 and len(arrays["x"]) == n


def test_bundled_classes_are_stratified():
    for split, per_class in (("train", 400), ("test", 100)):
        assert (np.bincount(data.load("mnist-5k", split)[1], minlength=10) == per_class).all()
    train = np.bincount(data.load("digits", "train")[1], minlength=10)
    test = np.bincount(data.load("digits", "test")[1], minlength=10)
    assert train.sum() == 1437 and test.sum() == 360
    assert (np.abs(test - 0.2 * (train + test)) < 1).all()  # each class's 20 %, rounded


def test_bundled_split_order_mixes_classes():
    _, y = data.load("mnist-5k", "train")
    assert len(np.unique(y[:100])) == 10  # the raw rows are sorted by label


# ------------------------------------------------------------------------------------ IDX reader

def _idx_bytes(array, type_code):
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype, code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                         (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, code, gz):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    raw = _idx_bytes(array, code)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    got = data.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("mangle, message", [
    (lambda raw: raw[:-1], "truncated"),
    (lambda raw: raw[:6], "truncated IDX header"),
    (lambda raw: raw + b"\x00", "trailing bytes"),
    (lambda raw: b"\x08\x03" + raw[2:], "not an IDX file"),
    (lambda raw: raw[:2] + b"\x07" + raw[3:], "not an IDX file"),
    (lambda raw: b"", "empty file"),
])
def test_read_idx_rejects_bad_files(tmp_path, mangle, message):
    path = tmp_path / "bad"
    path.write_bytes(mangle(_idx_bytes(np.zeros((4, 3), np.uint8), 0x08)))
    with pytest.raises(ValueError, match=message):
        data.read_idx(path)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    packed = gzip.compress(_idx_bytes(np.arange(3000, dtype=np.int32).reshape(30, 100), 0x0C))
    cut, flipped = tmp_path / "cut.gz", tmp_path / "flipped.gz"
    cut.write_bytes(packed[:len(packed) // 2])
    middle = len(packed) // 2
    flipped.write_bytes(packed[:middle] + bytes([packed[middle] ^ 0xFF]) + packed[middle + 1:])
    for path in (cut, flipped):
        with pytest.raises(ValueError, match="gzip"):
            data.read_idx(path)


# ------------------------------------------------------------------------------------- downloads

N_TRAIN, N_TEST = 6, 4


def _fake_files(seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images, labels = download.SPLIT_FILES[split]
        arrays[images] = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        arrays[labels] = rng.integers(0, 10, n).astype(np.uint8)
    return {file: gzip.compress(_idx_bytes(a, 0x08)) for file, a in arrays.items()}, arrays


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """mnist served by two fake mirrors (the first one down), with the fake files' checksums."""
    files, arrays = _fake_files()
    source = download.Source(mirrors=("http://down.example/", "http://up.example/"),
                             sha256={f: hashlib.sha256(b).hexdigest() for f, b in files.items()},
                             credit="test")
    monkeypatch.setitem(download.SOURCES, "mnist", source)
    monkeypatch.setattr(download, "SPLIT_SIZES", {"train": N_TRAIN, "test": N_TEST})
    monkeypatch.setenv("MINIGEN_DATA", str(tmp_path))
    served = {"http://up.example/" + f: b for f, b in files.items()}
    requests = []

    def urlopen(url, timeout):
        requests.append((url, timeout))
        if url not in served:
            raise urllib.error.URLError("no route to host")
        return io.BytesIO(served[url])

    monkeypatch.setattr(download, "urlopen", urlopen)
    return {"files": files, "arrays": arrays, "served": served, "requests": requests,
            "folder": tmp_path / "mnist"}


def test_download_verifies_caches_and_loads(fake_mnist):
    x, y = data.load("mnist", "train")
    images, labels = download.SPLIT_FILES["train"]
    np.testing.assert_array_equal(x[:, 0], fake_mnist["arrays"][images] / np.float32(255))
    np.testing.assert_array_equal(y, fake_mnist["arrays"][labels])
    assert x.shape == (N_TRAIN, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert sorted(p.name for p in fake_mnist["folder"].iterdir()) == sorted([images, labels])
    assert all(timeout is not None for _, timeout in fake_mnist["requests"])
    fake_mnist["served"].clear()  # offline from now on: the cache must be enough
    np.testing.assert_array_equal(data.load("mnist", "train")[1], y)


def test_downloaded_file_with_wrong_checksum_is_refused(fake_mnist):
    for url in fake_mnist["served"]:
        fake_mnist["served"][url] = gzip.compress(b"not the published file")
    with pytest.raises(data.DataUnavailableError, match="SHA-256"):
        data.load("mnist", "test")
    assert list(fake_mnist["folder"].iterdir()) == []  # nothing kept, not even a .part file


def test_placed_file_with_wrong_checksum_is_refused(fake_mnist):
    folder = fake_mnist["folder"]
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"something else"))
    with pytest.raises(ValueError, match="expected .*delete it"):
        data.load("mnist", "test")


def test_no_network_message_names_the_folder_files_and_urls(fake_mnist):
    fake_mnist["served"].clear()
    with pytest.raises(data.DataUnavailableError) as raised:
        data.load("mnist", "train")
    message = str(raised.value)
    assert str(fake_mnist["folder"]) in message and "MINIGEN_DATA" in message
    for file in download.SOURCES["mnist"].sha256:
        assert f"http://down.example/{file}" in message


def test_files_placed_by_hand_are_used_offline(fake_mnist):
    fake_mnist["served"].clear()
    folder = fake_mnist["folder"]
    folder.mkdir()
    for file, packed in fake_mnist["files"].items():
        if file.startswith("t10k-images"):  # unpacked by the user: accepted, checked by shape
            (folder / file[:-3]).write_bytes(gzip.decompress(packed))
        else:
            (folder / file).write_bytes(packed)
    x, y = data.load("mnist", "test")
    np.testing.assert_array_equal(y, fake_mnist["arrays"]["t10k-labels-idx1-ubyte.gz"])
    assert x.shape == (N_TEST, 1, 28, 28)


def test_idx_file_of_the_wrong_shape_is_refused(fake_mnist, monkeypatch):
    monkeypatch.setattr(download, "SPLIT_SIZES", {"train": N_TRAIN + 1, "test": N_TEST})
    with pytest.raises(ValueError, match=r"expected images uint8 \(7, 28, 28\)"):
        data.load("mnist", "train")


def test_published_checksums_are_distinct_sha256_digests():
    digests = [d for s in download.SOURCES.values() for d in s.sha256.values()]
    assert len(set(digests)) == 8
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in digests)


# ------------------------------------------------------------------------------------ DataLoader

def _epoch_indices(loader, epoch, start=0):
    return [xb.numpy().astype(int).ravel().tolist() for xb, _ in loader.batches(epoch, start)]


def test_every_example_once_per_epoch():
    x = np.arange(103, dtype=np.float32)[:, None]
    loader = data.DataLoader(x, batch_size=10, seed=1)
    assert len(loader) == 11
    batches = _epoch_indices(loader, 0)
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert sorted(sum(batches, [])) == list(range(103))


def test_drop_last_drops_only_the_short_batch():
    x = np.arange(103, dtype=np.float32)[:, None]
    loader = data.DataLoader(x, batch_size=10, drop_last=True, seed=1)
    batches = _epoch_indices(loader, 2)
    assert len(loader) == 10 and [len(b) for b in batches] == [10] * 10
    assert len(set(sum(batches, []))) == 100


def test_order_is_a_function_of_seed_and_epoch():
    x = np.arange(50, dtype=np.float32)[:, None]
    a, b = data.DataLoader(x, batch_size=7, seed=3), data.DataLoader(x, batch_size=7, seed=3)
    assert _epoch_indices(a, 4) == _epoch_indices(b, 4)
    assert _epoch_indices(a, 4) != _epoch_indices(a, 5)
    assert _epoch_indices(a, 4) != _epoch_indices(data.DataLoader(x, batch_size=7, seed=4), 4)
    unshuffled = data.DataLoader(x, batch_size=7, shuffle=False)
    assert sum(_epoch_indices(unshuffled, 9), []) == list(range(50))


def test_resume_mid_epoch_replays_the_tail():
    x = np.arange(64, dtype=np.float32)[:, None]
    y = np.arange(64) * 10
    loader = data.DataLoader(x, y, batch_size=5, seed=7)
    full = list(loader.batches(3))
    tail = list(loader.batches(3, start=6))
    assert len(tail) == len(full) - 6
    for (xa, ya), (xb, yb) in zip(full[6:], tail):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert list(loader.batches(3, start=len(loader))) == []


def test_plain_iteration_advances_the_epoch():
    x = np.arange(40, dtype=np.float32)[:, None]
    loader = data.DataLoader(x, batch_size=8, seed=2)
    first = [xb.numpy().ravel().tolist() for xb, _ in loader]
    assert loader.epoch == 1
    assert first == _epoch_indices(loader, 0)
    next(iter(loader))  # abandoned early: still claims epoch 1
    assert loader.epoch == 2
    loader.set_epoch(0)
    assert [xb.numpy().ravel().tolist() for xb, _ in loader] == first


def test_batches_are_tensors_on_the_device(device):
    x = np.random.default_rng(0).random((12, 1, 2, 2)).astype(np.float32)
    y = np.arange(12, dtype=np.int64)
    xb, yb = next(iter(data.DataLoader(x, y, batch_size=5, device=device)))
    assert isinstance(xb, mg.Tensor) and isinstance(yb, mg.Tensor)
    assert xb.shape == (5, 1, 2, 2) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert str(xb.device).startswith(device) and str(yb.device).startswith(device)
    xb, yb = next(iter(data.DataLoader(x, batch_size=5, device=device)))
    assert yb is None


def test_loader_rejects_bad_arguments():
    x = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(x, batch_size=0)
    with pytest.raises(ValueError, match=r"one entry per example of x \(10\)"):
        data.DataLoader(x, np.zeros(9))
    with pytest.raises(TypeError, match="NumPy array"):
        data.DataLoader([[0.0, 1.0]])
    with pytest.raises(ValueError, match="no batches"):
        data.DataLoader(x, batch_size=11, drop_last=True)
    loader = data.DataLoader(x, batch_size=3)
    with pytest.raises(ValueError, match=r"start must be a batch index in 0..4"):
        loader.batches(0, start=5)
    with pytest.raises(ValueError, match="epoch"):
        loader.batches(-1)
    with pytest.raises(ValueError, match="epoch"):
        loader.set_epoch(1.5)
