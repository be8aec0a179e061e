r"""A linear probe measures how linearly separable the classes are in a representation z(x): multinomial
logistic regression on the standardised features, z' = (z - mean) / std (train-split statistics),

    p(y = k | z) = softmax(W z' + b)_k,   min_{W,b} -1/n sum_i log p(y_i | z_i) + lambda ||W||^2

fitted by full-batch Adam and scored by test accuracy                            (linear_probe)
"""
import numpy as np

from .. import nn, ops, optim
from ..autograd import no_grad
from ..backend import manual_seed


def linear_probe(z_train, y_train, z_test, y_test, steps=500, lr=0.05, weight_decay=1e-3, seed=0):
    """Test accuracy of a linear softmax classifier trained on the features ``z_train`` (N, F) with
    labels ``y_train`` (NumPy), then applied to ``z_test``; F may differ between representations."""
    z_train, z_test = np.asarray(z_train, np.float64), np.asarray(z_test, np.float64)
    if z_train.ndim != 2 or z_test.ndim != 2 or z_train.shape[1] != z_test.shape[1]:
        raise ValueError(f"linear_probe: features must be (N, F) arrays with the same F, got "
                         f"{z_train.shape} and {z_test.shape}")
    if len(z_train) != len(y_train) or len(z_test) != len(y_test):
        raise ValueError(f"linear_probe: {len(z_train)} and {len(z_test)} feature rows but "
                         f"{len(y_train)} and {len(y_test)} labels")
    # a constant feature (a code never used, a blank pixel) has std 0: leave it at 0, not inf
    mean, std = z_train.mean(0), z_train.std(0) + 1e-6
    z_train, z_test = (z_train - mean) / std, (z_test - mean) / std
    manual_seed(seed)
    probe = nn.Linear(z_train.shape[1], int(max(y_train.max(), y_test.max())) + 1)
    optimizer = optim.Adam(probe.parameters(), lr=lr)
    z, y = ops.tensor(z_train.astype(np.float32)), ops.tensor(np.asarray(y_train, np.int64))
    for _ in range(steps):
        loss = (nn.functional.cross_entropy(probe(z), y) + weight_decay * (probe.weight ** 2).sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with no_grad():
        predicted = probe(ops.tensor(z_test.astype(np.float32))).argmax(axis=1).numpy()
    return float((predicted == np.asarray(y_test)).mean())
