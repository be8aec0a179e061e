"""The model registry: each model family plugs into the trainer and the command line here.

A family is a subclass of ``Recipe`` decorated with ``@register("name")``::

    @register("classifier")
    class ClassifierRecipe(Recipe):
        default_config = {"arch": "mlp", "lr": 1e-3, "batch_size": 64, "epochs": 20}

        def __init__(self, config, info, device):        # build: modules and optimizers
            ...
        def train_step(self, batch, step):               # one update -> {"loss": float, ...}
            ...

``minigen train classifier --dataset digits --arch cnn`` then finds it by name; every key of
``default_config`` can be set from the command line as ``--key value``. docs/training.md walks through
the classifier as the worked example.
"""
from __future__ import annotations

import numpy as np


class UsageError(Exception):
    """A mistake in what was asked (unknown model, unsupported dataset, bad option): the command line
    prints it as one line, without a traceback."""


class Recipe:
    """How to build, train, sample and evaluate one model family.

    Class attributes say what the family can do; the command line checks them before calling in:

    - ``default_config``: hyperparameters, each overridable as ``--key value`` (the value's type is
      taken from the default). ``epochs`` sets the default length of a run; ``batch_size`` and ``lr``
      are the usual others.
    - ``generative``: ``sample`` draws new data (False for a plain classifier).
    - ``conditional``: ``sample(n, label=K)`` draws from class K.
    - ``sampler_steps``: ``sample(n, steps=S)`` takes a number of sampling steps (DDIM).
    - ``drop_last``: drop the last short batch of each epoch (the trainer's DataLoader).
    - ``data_kinds`` and ``needs_labels``: the datasets it trains on ("image", "2d"; labelled or not),
      which ``supports`` and ``requirement`` read.

    The instance is the training state: ``__init__(config, info, device)`` builds the modules and
    optimizers and keeps them as attributes; the default ``state_dict`` saves every attribute that has
    a ``state_dict`` (modules, optimizers, schedulers, EMAs), so most families never write one.
    """

    name = ""
    default_config: dict = {}
    generative = True
    conditional = False
    sampler_steps = False
    drop_last = True

    # ----------------------------------------------------------------------------- what it accepts
    data_kinds = ("image", "2d")     # the kinds of dataset (data.datasets() records) it trains on
    needs_labels = False             # class-conditional and discriminative families need labels

    @classmethod
    def supports(cls, info) -> bool:
        """Whether the family can train on the dataset described by ``info`` (a data.datasets() record).
        Override it for further conditions (an image size the architecture cannot take)."""
        return info.kind in cls.data_kinds and (bool(info.num_classes) or not cls.needs_labels)

    @classmethod
    def requirement(cls) -> str:
        """What kind of dataset the family needs, in words, for error messages."""
        kinds = " or ".join({"image": "images", "2d": "2-D points"}[k] for k in cls.data_kinds)
        return f"labelled {kinds}" if cls.needs_labels else kinds

    # ----------------------------------------------------------------------------- the four verbs
    def __init__(self, config: dict, info, device):
        self.config = config
        self.info = info
        self.device = device

    def train_step(self, batch, step: int) -> dict:
        """One optimisation step on ``batch`` (x, y); returns scalar metrics as floats, ``loss`` first."""
        raise NotImplementedError(f"{type(self).__name__} must define train_step(batch, step)")

    def sample(self, n: int, label=None, steps=None):
        """``n`` new data points as a float32 NumPy array in data space (images (n, C, H, W) in [0, 1]).

        The caller seeds the generator (``mg.manual_seed``) before calling.
        """
        raise UsageError(f"'{self.name}' is not a generative model: it has no samples to draw")

    def evaluate(self, x, y=None) -> dict:
        """Metrics on the data ``x`` (NumPy, data space) with labels ``y`` (or None): a dict of floats."""
        raise NotImplementedError(f"{type(self).__name__} must define evaluate(x, y)")

    def save_figure(self, path, x, y=None) -> bool:
        """Draw the end-of-training figure (``samples.png``) using held-out data ``x, y`` for reference;
        returns False when the family draws nothing. The default draws samples: an image grid, one row
        per class for conditional models, or a scatter plot for 2-D data."""
        if not self.generative:
            return False
        from .. import viz
        if len(self.info.shape) == 1:
            viz.scatter_2d(self.sample(1000), path, reference=x[:1000], title=f"{self.name} samples")
        elif self.conditional:
            classes = range(self.info.num_classes)
            images = np.concatenate([self.sample(8, label=k) for k in classes])
            viz.image_grid(images, path, nrow=8, title=f"{self.name} samples, one row per class")
        else:
            viz.image_grid(self.sample(64), path, title=f"{self.name} samples")
        return True

    # ----------------------------------------------------------------------------- state
    def _stateful(self):
        return {name: value for name, value in vars(self).items()
                if hasattr(value, "state_dict") and hasattr(value, "load_state_dict")}

    def state_dict(self) -> dict:
        return {name: value.state_dict() for name, value in self._stateful().items()}

    def load_state_dict(self, state: dict) -> None:
        stateful = self._stateful()
        if set(state) != set(stateful):
            raise ValueError(f"{self.name}: checkpoint holds {sorted(state)}, the model has "
                             f"{sorted(stateful)}")
        for name, value in stateful.items():
            value.load_state_dict(state[name])

    def modules(self):
        from ..nn import Module
        return [value for value in vars(self).values() if isinstance(value, Module)]

    def train(self, mode: bool = True):
        """Put every module in training mode (dropout on, batch-norm batch statistics) or not."""
        for module in self.modules():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def learning_rate(self):
        """The current learning rate of the first optimizer, for the metrics log (None if none)."""
        for value in vars(self).values():
            groups = getattr(value, "param_groups", None)
            if groups:
                return float(groups[0]["lr"])
        return None


# ---------------------------------------------------------------------------------- the registry
_RECIPES: dict[str, type] = {}
RESERVED_KEYS = {"model", "dataset", "seed", "steps", "device"}   # written into config by the trainer


def register(name: str):
    """Class decorator: make a Recipe subclass available as ``minigen train NAME``."""
    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Recipe)):
            raise TypeError(f"register({name!r}) decorates a Recipe subclass, got {cls!r}")
        if name in _RECIPES and _RECIPES[name] is not cls:
            raise ValueError(f"a model named {name!r} is already registered ({_RECIPES[name].__name__})")
        taken = RESERVED_KEYS & set(cls.default_config)
        if taken:
            raise ValueError(f"register({name!r}): default_config may not use {sorted(taken)}: the trainer "
                             "sets those itself (rename the option, e.g. 'depth' for a number of layers)")
        cls.name = name
        _RECIPES[name] = cls
        return cls
    return decorate


def _load_models():
    from .. import models  # noqa: F401  (importing the model files runs their @register)


def names() -> list:
    _load_models()
    return sorted(_RECIPES)


def get(name: str) -> type:
    """The Recipe class registered as ``name``."""
    _load_models()
    if name not in _RECIPES:
        raise UsageError(f"unknown model {name!r}; available: {', '.join(sorted(_RECIPES))}")
    return _RECIPES[name]
