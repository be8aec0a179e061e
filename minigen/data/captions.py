r"""Captions for the bundled digits, written from each image's label and measured properties: the
text -> image sets ``captioned-digits`` and ``captioned-mnist-5k``.

Three properties are measured on every image y (pixels y[r, c] in [0, 1], rows r top to bottom),
from its ink and the ink's first and second moments (``measure``):

    ink     = mean_{r,c} y[r, c]                                   how much ink: thick strokes use more
    r0, c0  = the ink-weighted mean row and column
    mu_rr, mu_rc, mu_cc = the ink-weighted (co)variances of row and column about (r0, c0)
    slant   = -mu_rc / mu_rr                                       columns moved per row up; > 0 leans right
    width   = sqrt(mu_cc - mu_rc^2 / mu_rr)                        the column spread once the slant is removed

(slant is the shear that deskewing would undo: c' = c + slant (r - r0) leaves the digit upright;
``width`` is the column spread of that upright digit, in pixels.) Both image sets are normalised to
a fixed height (MNIST's 20-pixel box, UCI's 32-pixel one), so a digit's "size" varies only in its
width; that is the size measured.

Words (``describe``):

    thickness   "thin" / "thick": ink in the lowest / highest third of the digit's class
    width       "narrow" / "wide": width in the lowest / highest third of its class
    slant       "slanted to the left" / "to the right": slant < -0.15 / > 0.15 (about 8.5 degrees);
                "upright": |slant| < 0.05; between, no word

The thirds are per class (a thick one has less ink than a thin eight) and are taken from the base
set's training split, for both splits. Slant is judged on one scale for all classes, since a lean is
seen the same way whatever the digit. Each image gets four phrasings (``PHRASINGS``), each naming the
digit and some of its properties; a property in its middle third is not mentioned:

    0  "{a} {thick|thin} {slanted|upright} {word}"              a thin slanted four
    1  "{numeral}, {slanted to the left|right | upright}, {thick|thin} strokes"   7, slanted to the right, thin strokes
    2  "{a} {wide|narrow} {word} leaning {left|right}"          a wide two leaning left
    3  "the digit {word}"                                       the digit nine

Everything is a function of the pixels and the label: no random draw, so the sets are the same on
every machine. ``load`` returns (tokens, y): the phrasings as token ids (N, 4, MAX_WORDS) int64,
0 = padding, in the order of ``VOCABULARY``, and the images y (the base set's, in its order).
"""
from __future__ import annotations

import functools
import re

import numpy as np

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SLANT_SLANTED, SLANT_UPRIGHT = 0.15, 0.05
MAX_WORDS = 12
PHRASINGS = 4
BASES = ("digits", "mnist-5k")
PAD = "<pad>"

# every word a caption can hold; id 0 is the padding that fills a caption up to MAX_WORDS words
VOCABULARY = (PAD, "a", "an", "the", "digit", "thick", "thin", "strokes", "slanted", "upright", "to",
              "left", "right", "leaning", "wide", "narrow") + DIGIT_WORDS + tuple(str(k) for k in range(10))
WORD_ID = {word: i for i, word in enumerate(VOCABULARY)}


def names():
    """{dataset name: base} for the captioned sets."""
    return {f"captioned-{base}": base for base in BASES}


# --------------------------------------------------------------------------------- measured properties
def measure(y):
    """{"ink", "slant", "width"}: (N,) float64 arrays for images y (N, 1, H, W) in [0, 1] (module
    docstring). An image with no ink has slant 0 and width 0."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 4 or y.shape[1] != 1:
        raise ValueError(f"measure: expected one-channel images (N, 1, H, W), got shape {y.shape}")
    image = y[:, 0]
    h, w = image.shape[1:]
    rows, cols = np.mgrid[0:h, 0:w]
    mass = image.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)

    def mean(f):
        return (image * f).sum(axis=(1, 2)) / safe

    r0, c0 = mean(rows), mean(cols)
    dr, dc = rows[None] - r0[:, None, None], cols[None] - c0[:, None, None]
    mu_rr, mu_rc, mu_cc = mean(dr * dr), mean(dr * dc), mean(dc * dc)
    safe_rr = np.where(mu_rr > 0, mu_rr, 1.0)
    slant = np.where(mu_rr > 0, -mu_rc / safe_rr, 0.0)
    width = np.sqrt(np.maximum(mu_cc - mu_rc ** 2 / safe_rr, 0.0))
    return {"ink": image.mean(axis=(1, 2)), "slant": slant, "width": width}


@functools.lru_cache(maxsize=None)
def thresholds(base):
    """{"ink": (10, 2), "width": (10, 2)}: per class, the 1/3 and 2/3 quantiles of the property over
    the training images of ``base`` (what "thin"/"thick" and "narrow"/"wide" are measured against)."""
    from .datasets import load
    x, labels = load(base, "train")
    measured = measure(x)
    return {name: np.array([np.quantile(measured[name][labels == k], [1 / 3, 2 / 3]) for k in range(10)])
            for name in ("ink", "width")}


def describe(y, labels, base):
    """The words of each image: a list of dicts {"thickness", "width", "slant"}, each a word or ""
    (the middle third; for slant, between upright and slanted)."""
    measured, limits = measure(y), thresholds(base)
    labels = np.asarray(labels)

    def third(name, low, high):
        lo, hi = limits[name][labels, 0], limits[name][labels, 1]
        value = measured[name]
        return np.where(value < lo, low, np.where(value > hi, high, ""))

    slant = measured["slant"]
    slant_word = np.where(slant < -SLANT_SLANTED, "left", np.where(slant > SLANT_SLANTED, "right",
                          np.where(np.abs(slant) < SLANT_UPRIGHT, "upright", "")))
    thickness, width = third("ink", "thin", "thick"), third("width", "narrow", "wide")
    return [{"thickness": str(a), "width": str(b), "slant": str(c)} for a, b, c in zip(thickness, width, slant_word)]


# --------------------------------------------------------------------------------- phrasings
def _article(next_word):
    return "an" if next_word[0] in "aeiu" else "a"     # "an eight", "an upright", but "a one"


def _join(*parts, separator=" "):
    return separator.join(part for part in parts if part)


def phrasings(label, words):
    """The PHRASINGS captions of one image of class ``label`` with property ``words`` (describe)."""
    word, numeral = DIGIT_WORDS[label], str(label)
    thickness, width, slant = words["thickness"], words["width"], words["slant"]
    slant_adjective = {"left": "slanted", "right": "slanted", "upright": "upright"}.get(slant, "")
    slant_phrase = {"left": "slanted to the left", "right": "slanted to the right", "upright": "upright"}.get(slant, "")
    noun_phrase = _join(thickness, slant_adjective, word)
    wide_phrase = _join(width, word, f"leaning {slant}" if slant in ("left", "right") else "")
    return [
        _join(_article(noun_phrase), noun_phrase),
        _join(numeral, slant_phrase, f"{thickness} strokes" if thickness else "", separator=", "),
        _join(_article(wide_phrase), wide_phrase),
        f"the digit {word}",
    ]


def captions(y, labels, base):
    """The captions of images y (N, 1, H, W) with their labels: a list of N lists of PHRASINGS strings."""
    return [phrasings(int(label), words) for label, words in zip(labels, describe(y, labels, base))]


def load(name, split):
    """(tokens (N, PHRASINGS, MAX_WORDS) int64, y (N, 1, H, W) float32) of the captioned set ``name``."""
    from .datasets import load as load_images
    base = names()[name]
    y, labels = load_images(base, split)
    tokens = np.stack([np.stack([encode(text) for text in image_captions])
                       for image_captions in captions(y, labels, base)])
    return tokens, y


# --------------------------------------------------------------------------------- words <-> token ids
def tokenize(text):
    """The words of ``text``: lower-cased runs of letters and digits ("7, Thin" -> ["7", "thin"])."""
    if not isinstance(text, str):
        raise TypeError(f"a prompt is a string, got {type(text).__name__}")
    return re.findall(r"[a-z0-9]+", text.lower())


def encode(text, max_words=MAX_WORDS):
    """Token ids (max_words,) int64 of ``text``, padded with 0. A ValueError for an empty prompt, too
    many words, or a word outside VOCABULARY (the message lists the vocabulary)."""
    words = tokenize(text)
    if not words:
        raise ValueError(f"the prompt {text!r} holds no words; describe a digit, e.g. \"a thin slanted four\"")
    unknown = [word for word in words if word not in WORD_ID]
    if unknown:
        listed = ", ".join(repr(w) for w in dict.fromkeys(unknown))
        raise ValueError(f"unknown word{'s' if len(unknown) > 1 else ''} {listed} in the prompt {text!r}; "
                         f"the vocabulary is: {' '.join(VOCABULARY[1:])}")
    if len(words) > max_words:
        raise ValueError(f"the prompt {text!r} has {len(words)} words; at most {max_words} fit")
    ids = np.zeros(max_words, dtype=np.int64)
    ids[:len(words)] = [WORD_ID[word] for word in words]
    return ids


def decode(ids):
    """The text of token ids (padding dropped)."""
    return " ".join(VOCABULARY[int(i)] for i in np.asarray(ids).ravel() if int(i) != 0)


def encode_all(texts, max_words=MAX_WORDS):
    """Token ids (len(texts), max_words) int64 of several prompts (``encode`` each)."""
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 0:
        raise ValueError("no prompt given")
    return np.stack([encode(text, max_words) for text in texts])


# the prompts ``minigen eval`` draws from: one per digit and kind, the kind naming the property asked for
EVALUATION_PROMPTS = {"": "a {word}", "thick": "a thick {word}", "thin": "a thin {word}",
                      "left": "{numeral}, slanted to the left", "right": "{numeral}, slanted to the right"}


def evaluation_prompts(per_prompt):
    """(texts, digits, kinds): every EVALUATION_PROMPTS template for every digit, ``per_prompt`` times
    each; digits (N,) int64 and kinds (N,) str say what each text asks for."""
    texts, digits, kinds = [], [], []
    for k in range(10):
        for kind, template in EVALUATION_PROMPTS.items():
            texts += [template.format(word=DIGIT_WORDS[k], numeral=k)] * per_prompt
            digits += [k] * per_prompt
            kinds += [kind] * per_prompt
    return texts, np.array(digits, dtype=np.int64), np.array(kinds)
