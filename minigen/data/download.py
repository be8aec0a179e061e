"""Image sets too large to ship: MNIST and Fashion-MNIST, downloaded once and checked by SHA-256.

Each set is four gzipped IDX files kept in its cache folder,

    $MINIGEN_DATA/<name>/        when the environment variable MINIGEN_DATA is set,
    ~/.cache/minigen/<name>/     otherwise.

A missing file is downloaded from the first mirror that answers, written to a temporary file in that
folder, checked against its published SHA-256 and only then renamed into place, so an interrupted or
corrupt download never looks like a good file. Without network, put the files there by hand (the
error message lists them with their URLs). The uncompressed IDX files (the same names without
``.gz``) are accepted too; no checksum is published for those, so they are checked by their shapes.
"""
import hashlib
import http.client
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import numpy as np

from .idx import read_idx

TIMEOUT_S = 60
SPLIT_FILES = {  # split -> (images, labels)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
IMAGE_SIDE = 28


@dataclass(frozen=True)
class Source:
    mirrors: tuple  # base URLs, tried in order; a file's URL is mirror + file name
    sha256: dict    # file name -> published SHA-256 of the .gz file
    credit: str     # licence and authors


SOURCES = {
    # SHA-256 as published with TensorFlow Datasets' checksums and many loaders built on them.
    "mnist": Source(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        sha256={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        credit="CC BY-SA 3.0; Y. LeCun, C. Cortes and C. J. C. Burges, the MNIST database"),
    "fashion-mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        sha256={
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        credit="MIT licence; H. Xiao, K. Rasul and R. Vollgraf, Zalando Research"),
}


class DataUnavailableError(FileNotFoundError):
    """A downloaded set's files are not in its cache folder and could not be fetched."""


def cache_dir(name):
    """The folder holding the IDX files of the downloaded set `name`."""
    root = os.environ.get("MINIGEN_DATA")
    return (Path(root) if root else Path.home() / ".cache" / "minigen") / name


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url, target, expected_sha256):
    """Fetch url into target through a temporary file, renamed only once its checksum is right."""
    print(f"minigen: downloading {url}", file=sys.stderr)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp, urlopen(url, timeout=TIMEOUT_S) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                tmp.write(block)
        got = sha256_of(tmp_name)
        if got != expected_sha256:
            raise ValueError(f"the download has SHA-256 {got}, expected {expected_sha256}")
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _unavailable_message(name, folder, missing, failures):
    source = SOURCES[name]
    lines = [f"{name}: could not download {', '.join(missing)}:"]
    lines += [f"  {url}: {reason}" for url, reason in failures]
    lines += [f"If there is no network, put these files in {folder}/ "
              f"(or set MINIGEN_DATA to a folder whose {name}/ subfolder holds them):"]
    lines += [f"  {file}  from {source.mirrors[0]}{file}  (SHA-256 {source.sha256[file]})"
              for file in source.sha256]
    return "\n".join(lines)


def _local_file(name, file):
    """The path of `file` in the cache folder, downloading it if it is not there."""
    source, folder = SOURCES[name], cache_dir(name)
    target = folder / file
    if target.exists():
        got = sha256_of(target)
        if got != source.sha256[file]:
            raise ValueError(f"{target}: SHA-256 is {got}, expected {source.sha256[file]}: "
                             f"the file is corrupt or not the published one; delete it and "
                             f"load again to download it anew")
        return target
    if target.with_suffix("").exists():  # the user unpacked it: checked by shape when read
        return target.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in source.mirrors:
        try:
            _download(mirror + file, target, source.sha256[file])
            return target
        except (OSError, http.client.HTTPException, ValueError) as err:
            failures.append((mirror + file, err))
    missing = [f for f in source.sha256 if not (folder / f).exists()]
    raise DataUnavailableError(_unavailable_message(name, folder, missing, failures))


def load_split(name, split):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of one split of a downloaded set."""
    image_file, label_file = SPLIT_FILES[split]
    images = read_idx(_local_file(name, image_file))
    labels = read_idx(_local_file(name, label_file))
    n = SPLIT_SIZES[split]
    if images.shape != (n, IMAGE_SIDE, IMAGE_SIDE) or images.dtype != np.uint8:
        raise ValueError(f"{name} {split}: expected images uint8 {(n, IMAGE_SIDE, IMAGE_SIDE)}, "
                         f"got {images.dtype} {images.shape}")
    if labels.shape != (n,) or labels.dtype != np.uint8 or labels.max() > 9:
        raise ValueError(f"{name} {split}: expected labels uint8 ({n},) in 0..9, "
                         f"got {labels.dtype} {labels.shape}")
    return images, labels
