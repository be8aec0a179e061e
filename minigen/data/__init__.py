"""Data: toy 2-D distributions, bundled and downloaded image sets, and a replayable DataLoader.

    x, y = minigen.data.load("mnist-5k", split="train")    # NumPy arrays in data space
    loader = minigen.data.DataLoader(x, y, batch_size=64, seed=0, device="cpu")
    for xb, yb in loader: ...                                # minigen Tensors
    loader = minigen.data.DataLoader(minigen.data.TensorDataset(x, y), batch_size=64)   # the same

See datasets.py for the sets and their sources, toy2d.py for the 2-D densities, loader.py for the
batch order, download.py for the cache folder of MNIST and Fashion-MNIST, pixels.py for pixel levels
and the spaces the families model them in (symmetric, binarised, dequantised), paired.py and
captions.py for the image -> image and text -> image sets built from the bundled digits.
"""
from . import captions, paired, pixels, toy2d
from .datasets import DatasetInfo, datasets, info, load
from .download import DataUnavailableError
from .idx import read_idx
from .dataset import TensorDataset
from .loader import DataLoader

__all__ = ["load", "datasets", "info", "DatasetInfo", "DataLoader", "TensorDataset", "pixels", "toy2d", "paired",
           "captions", "read_idx", "DataUnavailableError"]
