r"""What the image -> image families share (pix2pix.py, and ddpm-img2img in conditional_ddpm.py):
conditions in, the end-of-training figure, and the metrics of ``minigen eval``.

Both are trained on a paired set of minigen.data.paired, pairs (x, y) of a condition and its target,
and both translate: y_hat = a draw given x. ``minigen eval`` translates the conditions of the test
split and compares each y_hat with its truth y (minigen.metrics.conditional.translation_scores): PSNR,
SSIM and L1 against y, and the share of outputs that an independent classifier puts in the true
digit's class. The classifier (the judge) is a CNN trained on the base set's real training images
only (classifier.reference_classifier), never on a model's output.
"""
from minigen.data import paired
from minigen.metrics.conditional import translation_scores
from minigen.recipe import UsageError

from .classifier import reference_classifier

JUDGE = {"arch": "cnn", "steps": 300}      # the digit classifier: 99.4 % on digits, 97 % on mnist-5k


def conditions_for(recipe, n, condition):
    """The conditions (n, *condition_shape) to draw n translations from (NumPy float32): one condition
    repeated n times, or exactly n conditions."""
    if condition is None:
        raise UsageError(f"'{recipe.name}' translates a condition into an image: give the conditions "
                         f"(minigen sample DIR --condition FILE.npy or FILE.png; in Python, sample(n, "
                         f"condition=x) with x of shape (n, {', '.join(map(str, recipe.info.condition_shape))}))")
    return paired.as_conditions(condition, recipe.info, n)


def judge(recipe):
    """classify(images) -> digits, trained on the base set of the recipe's dataset."""
    return reference_classifier(recipe.info.base, recipe.device, steps=JUDGE["steps"], arch=JUDGE["arch"])


def translation_metrics(recipe, x, y, batch_size=250, **sample_options):
    """The scores of translations of the conditions x against the targets y (NumPy, data space), drawn
    ``batch_size`` at a time with ``recipe.sample(n, condition=..., **sample_options)``."""
    outputs = [recipe.sample(len(x[i:i + batch_size]), condition=x[i:i + batch_size], **sample_options)
               for i in range(0, len(x), batch_size)]
    return translation_scores(y, outputs, paired.target_digits(recipe.info.base, y), judge(recipe))


def save_translation_figure(recipe, path, x, y, columns=8, rows=3, **sample_options):
    """``rows`` groups of three rows: conditions, translations, truth, for the first test pairs."""
    from minigen import viz
    x, y = x[:columns * rows], y[:columns * rows]
    y_hat = recipe.sample(len(x), condition=x, **sample_options)
    viz.image_grid(paired.figure_rows(x, y_hat, y, columns), path, nrow=columns,
                   title=f"{recipe.name} on {recipe.info.name}: condition / output / truth")
    return True
