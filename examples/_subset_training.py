"""Train any registered family on arrays in memory (a labelled subset, all classes but one), through the
same Recipe API the trainer uses: build from the config, then ``train_step`` over shuffled batches.

``minigen.training.train`` reads a dataset by name; the application examples need a part of one.
"""
import numpy as np

import minigen as mg
from minigen import backend, data, training


def balanced_subset(x, y, per_class, seed):
    """``per_class`` examples of each class, drawn without replacement."""
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.choice(np.flatnonzero(y == k), per_class, replace=False)
                            for k in np.unique(y)])
    return x[index], y[index]


def train_recipe(model, dataset, x, y, steps, seed, options=None, device="cpu"):
    """A Recipe of ``model`` trained for ``steps`` steps on (x, y), in eval mode."""
    recipe_cls = training.get(model)
    config = training.make_config(recipe_cls, dataset, seed, options)
    mg.manual_seed(seed)
    np.random.seed(seed)
    recipe = recipe_cls(config, training.dataset_info(dataset), backend.device(device))
    batch_size = min(config.get("batch_size", 64), len(x))
    loader = data.DataLoader(x, y, batch_size=batch_size, shuffle=True, drop_last=True, seed=seed,
                             device=device)
    recipe.train()
    step, epoch = 0, 0
    while step < steps:
        for batch in loader.batches(epoch):
            recipe.train_step(batch, step)
            step += 1
            if step == steps:
                break
        epoch += 1
    return recipe.eval()


def classifier_accuracy(dataset, x, y, x_test, y_test, steps, seed, arch="mlp"):
    """Test accuracy of the toolkit's classifier trained on (x, y) for ``steps`` steps."""
    recipe = train_recipe("classifier", dataset, x, y, steps, seed, {"arch": arch})
    return recipe.evaluate(x_test, y_test)["accuracy"]
