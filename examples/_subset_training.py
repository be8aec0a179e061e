"""Train any registered family on arrays in memory (a labelled subset, all classes but one), by the
training loop of ``minigen train`` without a run folder (``minigen.training.fit``).

``minigen.training.train`` reads a dataset by name; the application examples need a part of one.
"""
import numpy as np

from minigen import training


def balanced_subset(x, y, per_class, seed):
    """``per_class`` examples of each class, drawn without replacement."""
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.choice(np.flatnonzero(y == k), per_class, replace=False)
                            for k in np.unique(y)])
    return x[index], y[index]


def train_recipe(model, dataset, x, y, steps, seed, options=None, device="cpu"):
    """A Recipe of ``model`` trained for ``steps`` steps on (x, y), in eval mode."""
    np.random.seed(seed)
    return training.fit(model, dataset, x, y, steps, seed, options, device)


def classifier_accuracy(dataset, x, y, x_test, y_test, steps, seed, arch="mlp"):
    """Test accuracy of the toolkit's classifier trained on (x, y) for ``steps`` steps."""
    recipe = train_recipe("classifier", dataset, x, y, steps, seed, {"arch": arch})
    return recipe.evaluate(x_test, y_test)["accuracy"]
