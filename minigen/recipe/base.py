"""The Recipe: what a model family defines so that training, sampling, evaluation and every harness
can use it without knowing its name.

A family is a subclass of ``Recipe`` decorated with ``@register("name")`` (registry.py)::

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

Besides the four verbs (train_step, sample, evaluate, save_figure), a family may answer what the
harnesses ask of it; each of these raises a UsageError naming the family unless the family defines it:

    features(x)              a representation of the data, for linear probes and sample metrics
    anomaly_scores(x, ...)   {score name: (N,) scores}, higher = more unusual (harnesses/anomaly.py)
    restoration_prior()      what minigen.restore restores images with: a generator x = g(z) for MAP
                             in its latent space, or a guided diffusion process
"""
from __future__ import annotations

import numpy as np

from ..data import pixels


class UsageError(ValueError):
    """A mistake in what was asked (unknown model, unsupported dataset, bad option): the command line
    prints it as one line, without a traceback. A ValueError, so code that checks arguments the usual
    way catches it too."""


# what the options every family reads the same way set (``minigen train MODEL --help``)
COMMON_OPTION_HELP = {"lr": "learning rate", "batch_size": "examples per step",
                      "epochs": "passes over the training set (unless --steps is given)"}


class Recipe:
    """How to build, train, sample and evaluate one model family.

    Class attributes say what the family can do; the command line checks them before calling in:

    - ``default_config``: hyperparameters, each overridable as ``--key value`` (the value's type is
      taken from the default). ``epochs`` sets the default length of a run; ``batch_size`` and ``lr``
      are the usual others. ``option_help`` may describe them in a few words (``minigen train MODEL
      --help`` lists them).
    - ``dataset_defaults``: the defaults that depend on the data, ``{kind or dataset name: {key:
      value}}``. One setting rarely fits 20,000 2-D points, 1,437 8x8 digits and 4,000 28x28 MNIST
      images alike (the same epochs are 3x the steps on mnist-5k as on digits, each on 12x the
      pixels), so a family declares, for instance, ``{"2d": {"batch_size": 256}, "mnist-5k":
      {"epochs": 25}}``. The config of a run is ``default_config``, updated with the entry for the
      dataset's kind ("2d", "image"), then with the one for its name, then with the options asked for
      (recipe/config.py: family_defaults, make_config); ``config.json`` records the result and
      ``minigen train MODEL --help`` shows both levels.
    - ``generative``: ``sample`` draws new data (False for a plain classifier).
    - ``conditional``: ``sample(n, label=K)`` draws from class K. A family whose config has a
      ``conditional`` option takes it from there.
    - ``sampler_steps``: ``sample(n, steps=S)`` takes a number of sampling steps (DDIM).
    - ``guided``: ``sample(n, ..., guidance=w)`` takes a classifier-free guidance weight.
    - ``condition_kind``: what ``sample(n, condition=c)`` draws from, for families that generate from
      a condition other than a class: "image" (c: conditions (n, *info.condition_shape) in [0, 1]) or
      "text" (c: a prompt, or one per sample); None for the others.
    - ``drop_last``: drop the last short batch of each epoch (the training loop's DataLoader).
    - ``image_space``: how the family's networks see images, "data" (in [0, 1], as loaded) or
      "symmetric" (in [-1, 1]: tanh generators, diffusion); ``to_model_space`` and ``to_data_space``
      map between the two (minigen.data.pixels). A family with another space overrides them.
    - ``data_kinds`` and ``needs_labels``: the datasets it trains on ("image", "2d"; labelled or not),
      which ``supports`` and ``requirement`` read.
    - ``preview_images``, ``preview_per_class`` and ``preview_steps``: the size of the figure drawn
      after training (``samples.png``) and the sampler steps it uses, so that a slow sampler (1000
      ancestral steps, a pixel-by-pixel prior) does not cost more than the training it shows:
      DDPM previews with a few DDIM steps, autoregressive priors draw a smaller grid. ``minigen
      sample`` keeps the full samplers.

    The instance is the training state: ``__init__(config, info, device)`` builds the modules and
    optimizers and keeps them as attributes; the default ``state_dict`` saves every attribute that has
    a ``state_dict`` (modules, optimizers, schedulers, EMAs), so most families never write one.
    """

    name = ""
    default_config: dict = {}
    dataset_defaults: dict = {}
    option_help: dict = {}
    generative = True
    conditional = False
    sampler_steps = False
    guided = False
    condition_kind = None
    drop_last = True
    image_space = "data"
    preview_images = 64               # samples.png: images of an unconditional family
    preview_per_class = 8             # ... or per class of a conditional one
    preview_steps = None              # sampler steps for it (None: sample()'s own default)

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
        kinds = " or ".join({"image": "images", "2d": "2-D points", "paired": "paired images (condition, target)",
                             "captioned": "captioned images"}[k] for k in cls.data_kinds)
        return f"labelled {kinds}" if cls.needs_labels else kinds

    # ----------------------------------------------------------------------------- the four verbs
    def __init__(self, config: dict, info, device):
        self.config = config
        self.info = info
        self.device = device
        if "conditional" in config:          # class-conditioning as an option of the family
            self.conditional = bool(config["conditional"])
        if (self.conditional or self.needs_labels) and not info.num_classes:
            asked = "conditional=true" if "conditional" in config else f"'{self.name}'"
            raise ValueError(f"{asked} needs a labelled dataset; {info.name} has no labels")

    def train_step(self, batch, step: int) -> dict:
        """One optimisation step on ``batch`` (x, y); returns scalar metrics as floats, ``loss`` first."""
        raise NotImplementedError(f"{type(self).__name__} must define train_step(batch, step)")

    def sample(self, n: int, label=None, steps=None):
        """``n`` new data points as a float32 NumPy array in data space (images (n, C, H, W) in [0, 1]).

        A family with a ``condition_kind`` also takes ``condition=`` (its conditions or prompts), and a
        ``guided`` one ``guidance=``. The caller seeds the generator (``mg.manual_seed``) before calling.
        """
        raise UsageError(f"'{self.name}' is not a generative model: it has no samples to draw")

    def evaluate(self, x, y=None) -> dict:
        """Metrics on the data ``x`` (NumPy, data space) with labels ``y`` (or None): a dict of floats."""
        raise NotImplementedError(f"{type(self).__name__} must define evaluate(x, y)")

    def save_figure(self, path, x, y=None) -> bool:
        """Draw the end-of-training figure (``samples.png``) using held-out data ``x, y`` for reference;
        returns False when the family draws nothing. The default draws samples (``picture``): an image
        grid, one row per class for conditional models, or a scatter plot over the data for 2-D data."""
        if not self.generative:
            return False
        steps = self.preview_steps
        if len(self.info.shape) == 1:
            self.picture(self.sample(1000, steps=steps), path, reference=x[:1000])
        elif self.conditional:
            k = self.preview_per_class
            images = np.concatenate([self.sample(k, label=c, steps=steps) for c in range(self.info.num_classes)])
            self.picture(images, path, nrow=k, title=f"{self.name} samples, one row per class")
        else:
            self.picture(self.sample(self.preview_images, steps=steps), path)
        return True

    def picture(self, samples, path, reference=None, nrow=None, title=None) -> str:
        """Samples (NumPy, data space) as a PNG at ``path``: a grid of images (``nrow`` per row), or 2-D
        points scattered over ``reference`` data. What ``save_figure`` and ``minigen sample --out
        FILE.png`` draw with."""
        from .. import viz
        title = title or f"{self.name} samples"
        if len(self.info.shape) == 1:
            return viz.scatter_2d(samples, path, reference=reference, title=title)
        return viz.image_grid(samples, path, nrow=nrow, title=title)

    def preview_sampler(self) -> str:
        """How ``save_figure`` draws, in words, for the line ``train`` prints about its cost."""
        return f"{self.preview_steps} sampler steps" if self.preview_steps else "the family's sampler"

    # ----------------------------------------------------------------------------- data and model space
    def to_model_space(self, x):
        """Data (a Tensor in data space) as the networks see it; 2-D points are used as they are."""
        return pixels.to_symmetric(x) if self._symmetric_images() else x

    def to_data_space(self, x):
        """The inverse of ``to_model_space``: the networks' output back in data space."""
        return pixels.from_symmetric(x) if self._symmetric_images() else x

    def _symmetric_images(self):
        if self.image_space not in ("data", "symmetric"):
            raise ValueError(f"{type(self).__name__}.image_space must be 'data' or 'symmetric', got "
                             f"{self.image_space!r}")
        return self.image_space == "symmetric" and self.info.kind != "2d"     # images, or image targets

    # ----------------------------------------------------------------------------- labels to sample with
    def sample_labels(self, n: int, label=None):
        """The class labels (n,) to draw ``n`` samples with, on the recipe's device: ``label`` for all of
        them, or classes 0, 1, ..., K-1 in turn when no label is given (a class-balanced draw). None for
        an unconditional family, which refuses a label."""
        from .. import ops
        if not self.conditional:
            if label is not None:
                trained = " (it was trained without labels)" if "conditional" in self.config else ""
                raise UsageError(f"'{self.name}' is not class-conditional{trained}, so it cannot sample "
                                 f"label {label!r}")
            return None
        classes = self.info.num_classes
        if label is None:
            return ops.tensor(np.arange(n) % classes, dtype="int64", device=self.device)
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < classes:
            raise UsageError(f"label must be an integer class in [0, {classes}), got {label!r}")
        return ops.full((n,), int(label), dtype="int64", device=self.device)

    # ----------------------------------------------------------------------------- what harnesses ask
    def features(self, x):
        """A representation of NumPy data ``x``, (N, F) float NumPy, in eval mode: for linear probes and
        the sample metrics of the comparison harness."""
        raise UsageError(f"'{self.name}' defines no features (a representation of the data)")

    @classmethod
    def anomaly_score_names(cls) -> tuple:
        """The names of the scores ``anomaly_scores`` returns; empty when the family defines none."""
        return ()

    def anomaly_scores(self, x, seed=0, batch_size=500) -> dict:
        """{score name: (N,) float64 NumPy} for NumPy data ``x`` in data space: each family's natural
        measure of "unusual", higher = more anomalous. ``seed`` fixes everything random in a score (the
        caller has also reseeded minigen's generator with it)."""
        raise UsageError(f"'{self.name}' defines no anomaly score")

    def restoration_prior(self):
        """The prior ``minigen.restore`` restores images with: an object with ``restore(operator, y, *,
        steps, restarts, lr, fit_std) -> x`` (restore.LatentGenerator: MAP in the latent space of a
        generator x = g(z); restore.GuidedDiffusion: the diffusion's guided reverse process)."""
        raise UsageError(f"'{self.name}' cannot restore images: restoration needs a generator x = g(z) "
                         "(vae, gan, dcgan, wgan-gp, realnvp, glow) or a diffusion model (ddpm)")

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
        return self.train(mode=False)

    def learning_rate(self):
        """The current learning rate of the first optimizer, for the metrics log (None if none)."""
        for value in vars(self).values():
            groups = getattr(value, "param_groups", None)
            if groups:
                return float(groups[0]["lr"])
        return None
