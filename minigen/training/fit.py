"""Train a model quickly on arrays in memory: no run folder, no checkpoints, no log.

For a small model needed inside an evaluation or an experiment (the judge of a cGAN's labels, a
classifier on a subset of the data); ``train`` is the full loop with checkpoints and resume.
"""
import minigen as mg

from .. import backend
from ..data import DataLoader
from .config import dataset_info, make_config
from .registry import get


def fit(model, dataset, x, y, steps, seed=0, options=None, device="cpu", batch_size=None):
    """A Recipe of ``model`` trained for ``steps`` steps on (x, y), returned in eval mode."""
    recipe_cls = get(model)
    config = make_config(recipe_cls, dataset, seed, options)
    mg.manual_seed(seed)
    recipe = recipe_cls(config, dataset_info(dataset), backend.device(device))
    batch_size = min(batch_size or config.get("batch_size", 64), len(x))
    loader = DataLoader(x, y, batch_size=batch_size, shuffle=True, drop_last=True, seed=seed, device=device)
    recipe.train()
    step, epoch = 0, 0
    with mg.enable_grad():      # also when called under no_grad, e.g. from an evaluation (the cGAN's judge)
        while step < steps:
            for batch in loader.batches(epoch):
                recipe.train_step(batch, step)
                step += 1
                if step == steps:
                    break
            epoch += 1
    return recipe.eval()
