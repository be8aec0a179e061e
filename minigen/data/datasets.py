"""Every dataset by name: what it is, where it comes from, and its arrays in data space.

    load(name, split) -> (x, y)
        images   x float32 (N, 1, H, W) in [0, 1] (digits: value / 16, MNIST-like: value / 255),
                 y int64 (N,) class labels; the record's ``levels`` is the number of pixel values
                 (17 for digits, 256 for the MNIST sets): x = k / (levels - 1), k = 0..levels-1
        2-D      x float32 (N, 2), y None: a fixed sample of the distribution, drawn with a seed
                 derived from (name, split) so train and test differ and never change
        paired   x float32 (N, *condition_shape) the conditions, y float32 (N, 1, H, W) the targets:
                 pairs (x, y) for image -> image models, G(x) ~ y (pix2pix's notation; paired.py)
        captioned  x int64 (N, 4, 12) four phrasings per image as token ids, y float32 (N, 1, H, W)
                 the images: text -> image (captions.py)

For the paired and captioned kinds, ``y`` is what a model generates and ``x`` what it is given; the
record's ``shape`` is one target's, ``condition_shape`` one condition's, and ``base`` the image set
the targets are (in its order and split, so its labels say which digit each target is).

Three kinds of source:
  2-D sets      sampled from minigen.data.toy2d (train 20,000 / test 5,000 points)
  bundled       digits and mnist-5k, uint8 archives inside the package (minigen/data/_files, built
                by tools/build_bundled_data.py, with fixed stratified splits), read with
                importlib.resources, so they work offline
  downloaded    mnist and fashion-mnist, fetched once into a cache folder (minigen.data.download)
  built         from a bundled set: the paired tasks edges2B, lowres2B, masked2B and the captioned
                sets captioned-B for B = digits, mnist-5k (paired.py, captions.py)
"""
import zlib
from dataclasses import dataclass
from importlib import resources

import numpy as np

from . import captions, download, paired, toy2d

SPLITS = ("train", "test")
TOY_SIZES = {"train": 20_000, "test": 5_000}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str          # "image", "2d", "paired" (image -> image) or "captioned" (text -> image)
    shape: tuple       # of one example: (C, H, W) or (2,); of one target for paired and captioned sets
    num_classes: int | None
    n_train: int
    n_test: int
    source: str
    levels: int | None = None    # images: how many evenly spaced values a pixel takes, k / (levels - 1)
    condition_shape: tuple | None = None   # paired, captioned: one condition x (an image; token ids)
    base: str | None = None      # paired, captioned: the image set the targets y come from


_TOY_SOURCES = {
    "8gaussians": "ring of 8 Gaussians, radius 2.83, std 0.354 (FFJORD)",
    "25gaussians": "5x5 grid of Gaussians, spacing 1.41, std 0.177 (WGAN-GP layout)",
    "moons": "two half circles of radius 2 plus N(0, 0.2^2) noise (FFJORD)",
    "swissroll": "2-D swiss roll plus N(0, 0.2^2) noise (FFJORD)",
    "checkerboard": "uniform on 8 squares of a 4x4 board on [-4, 4]^2 (FFJORD)",
    "2spirals": "two interleaved spirals plus noise (FFJORD)",
}
DOWNLOADED_MAX_VALUE = 255   # 8-bit pixels
_BUNDLED = {  # name -> (file in _files, largest pixel value)
    "digits": ("digits.npz", 16),
    "mnist-5k": ("mnist5k.npz", 255),
}


def _infos():
    infos = [DatasetInfo(name, "2d", (2,), None, TOY_SIZES["train"], TOY_SIZES["test"],
                         f"sampled: {_TOY_SOURCES[name]}; exact log-density in minigen.data.toy2d")
             for name in toy2d.NAMES]
    infos += [
        DatasetInfo("digits", "image", (1, 8, 8), 10, 1437, 360,
                    "bundled: UCI optical recognition of handwritten digits, 1,797 images; "
                    "CC BY 4.0, E. Alpaydin and C. Kaynak", levels=_BUNDLED["digits"][1] + 1),
        DatasetInfo("mnist-5k", "image", (1, 28, 28), 10, 4000, 1000,
                    "bundled: 5,000 MNIST images, 500 per class; "
                    "CC BY-SA 3.0, Y. LeCun, C. Cortes and C. J. C. Burges", levels=_BUNDLED["mnist-5k"][1] + 1),
    ]
    infos += [DatasetInfo(name, "image", (1, 28, 28), 10, download.SPLIT_SIZES["train"],
                          download.SPLIT_SIZES["test"],
                          f"downloaded once into {download.cache_dir(name)}, SHA-256 checked; "
                          f"{download.SOURCES[name].credit}", levels=DOWNLOADED_MAX_VALUE + 1)
              for name in download.SOURCES]
    bundled = {record.name: record for record in infos if record.name in _BUNDLED}
    for name, (task, base) in paired.names().items():
        b = bundled[base]
        infos.append(DatasetInfo(name, "paired", b.shape, None, b.n_train, b.n_test,
                                 f"built from {base}: {paired.TASK_WORDS[task]} (minigen.data.paired)",
                                 levels=b.levels, base=base,
                                 condition_shape=paired.condition_shape(task, b.shape, paired.BASES[base])))
    for name, base in captions.names().items():
        b = bundled[base]
        infos.append(DatasetInfo(name, "captioned", b.shape, None, b.n_train, b.n_test,
                                 f"built from {base}: {captions.PHRASINGS} captions per image from its label, "
                                 "ink, slant and width (minigen.data.captions)", levels=b.levels, base=base,
                                 condition_shape=(captions.PHRASINGS, captions.MAX_WORDS)))
    return infos


def datasets():
    """An info record for every dataset, 2-D first, then bundled, then downloaded images, then the
    paired and captioned sets built from the bundled ones."""
    return _infos()


def info(name):
    """The info record of one dataset."""
    by_name = {record.name: record for record in _infos()}
    if name not in by_name:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(by_name)}")
    return by_name[name]


def _read_bundled(file):
    with (resources.files(__package__) / "_files" / file).open("rb") as f:
        with np.load(f, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}


def load(name, split="train"):
    """(x, y) NumPy arrays of one split of a dataset, in data space (see the module docstring)."""
    record = info(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {name}; expected one of {', '.join(SPLITS)}")
    if record.kind == "paired":
        return paired.pairs(name, load(record.base, split)[0], split)
    if record.kind == "captioned":
        return captions.load(name, split)
    if record.kind == "2d":
        rng = np.random.default_rng(zlib.crc32(f"{name}/{split}".encode()))
        return toy2d.sample(name, TOY_SIZES[split], rng), None
    if name in _BUNDLED:
        file, max_value = _BUNDLED[name]
        arrays = _read_bundled(file)
        index = arrays[f"{split}_idx"]
        pixels, labels = arrays["x"][index], arrays["y"][index]
    else:
        pixels, labels = download.load_split(name, split)
        max_value = DOWNLOADED_MAX_VALUE
    x = pixels[:, None].astype(np.float32) / np.float32(max_value)
    return x, labels.astype(np.int64)
