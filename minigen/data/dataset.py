"""TensorDataset: examples as rows of arrays, with or without labels, for a DataLoader.

    dataset = mg.data.TensorDataset(x, y)        # NumPy arrays or Tensors, one row per example
    x_i, y_i = dataset[i]                         # one example (NumPy)
    loader = mg.data.DataLoader(dataset, batch_size=64, seed=0)
    for xb, yb in loader: ...                      # Tensors, as with DataLoader(x, y)

Tensors are copied to host NumPy arrays (the DataLoader moves each batch to its device).
"""
import numpy as np

from .. import backend
from ..autograd import Tensor


class TensorDataset:
    """Arrays with one row per example: inputs x and, optionally, labels y (or more arrays)."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array (the inputs x)")
        converted = []
        for i, array in enumerate(arrays):
            if isinstance(array, Tensor):
                array = backend.to_numpy(array.data)
            if not isinstance(array, np.ndarray) or array.ndim < 1:
                raise TypeError(f"TensorDataset: array {i} must be a NumPy array or Tensor with a leading "
                                f"example axis, got {type(array).__name__} {getattr(array, 'shape', '')}")
            converted.append(array)
        lengths = {len(a) for a in converted}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset: the arrays hold different numbers of examples: "
                             f"{[len(a) for a in converted]}")
        self.arrays = tuple(converted)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __repr__(self):
        return f"TensorDataset({', '.join(str(a.shape) for a in self.arrays)})"
