"""The shared feature extractor of the sample-quality metrics: the toolkit's classifier.

    phi(x) = Classifier(...).features(x)          the penultimate layer, (N, F)
    label(x) = argmax_k logits_k(x)              used for the class-histogram entropy

One classifier per dataset, trained once with ``minigen.training.train("classifier", ...)`` and kept
in a run folder (``CACHE/classifier-DATASET``); later calls load it from there. Every model on the
dataset is then judged through the same eyes, which is all a Frechet distance on these features
promises: values compare models on one dataset, not across datasets or with Inception-FID numbers.
"""
from __future__ import annotations

import io
import os

import numpy as np

from minigen import training
from minigen.ops import softmax


class FeatureExtractor:
    """Features and predicted labels of images, from a classifier trained on their dataset."""

    def __init__(self, run):
        self.run = run
        self.recipe = run.recipe
        self.dataset = run.config["dataset"]

    @classmethod
    def for_dataset(cls, dataset, cache_dir="runs/features", device="cpu", epochs=None, seed=0,
                    arch="cnn"):
        """The extractor of ``dataset``: loaded from ``cache_dir`` or trained there (quietly) first."""
        info = training.dataset_info(dataset)
        if info.kind != "image" or not info.num_classes:
            raise ValueError(f"FeatureExtractor: needs a labelled image dataset, got {dataset!r} "
                             f"({info.kind}, num_classes={info.num_classes})")
        out = os.path.join(os.fspath(cache_dir), f"classifier-{dataset}")
        if os.path.exists(os.path.join(out, training.CHECKPOINT)):
            return cls(training.load_run(out, device=device))
        run = training.train("classifier", dataset, out=out, epochs=epochs, device=device, seed=seed,
                             options={"arch": arch}, stream=io.StringIO())
        run.recipe.eval()
        return cls(run)

    def _check(self, x):
        expected = tuple(self.recipe.info.shape)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"FeatureExtractor({self.dataset}): expected images of shape "
                             f"(N, {', '.join(map(str, expected))}), got {x.shape}")
        return x

    def features(self, x, batch_size=500):
        """phi(x) as a float64 NumPy array (N, F)."""
        return self.recipe.features(self._check(x), batch_size)

    def predict(self, x):
        """The classifier's label for each image, (N,) int64."""
        return self.recipe.logits(self._check(x)).argmax(axis=1).numpy().astype(np.int64)

    def probabilities(self, x):
        """p(k | x), the classifier's softmax, (N, K) float64."""
        return softmax(self.recipe.logits(self._check(x)), axis=1).numpy().astype(np.float64)

    def accuracy(self, x, y):
        return float((self.predict(x) == np.asarray(y)).mean())
