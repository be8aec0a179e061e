"""The paired image -> image sets and the captioned text -> image sets: built deterministically, each
condition and caption what its formula says (minigen.data.paired, minigen.data.captions)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
from minigen import data, restore
from minigen.data import captions, paired


# --------------------------------------------------------------------------------- paired: the conditions
def test_sobel_edges_of_a_step_is_the_formula():
    y = np.zeros((1, 1, 6, 6), np.float32)
    y[0, 0, 1:5, 3:] = 1.0                            # a block: edges where its 3x3 neighbourhood changes
    grey = np.pad(y[0, 0].astype(np.float64), 1)
    g_c = np.zeros((6, 6))
    g_r = np.zeros((6, 6))
    for r in range(6):
        for c in range(6):
            window = grey[r:r + 3, c:c + 3]
            g_c[r, c] = (window * paired.SOBEL_C).sum()
            g_r[r, c] = (window * paired.SOBEL_R).sum()
    magnitude = np.hypot(g_c, g_r)
    np.testing.assert_allclose(paired.sobel_edges(y)[0, 0], magnitude / magnitude.max(), atol=1e-6)
    edges = paired.sobel_edges(y)[0, 0]
    assert edges.max() == pytest.approx(1.0) and (edges[:, :2] == 0).all()      # nothing far from the block
    assert (paired.sobel_edges(np.zeros((2, 1, 8, 8))) == 0).all()              # no edges, no NaN


def test_lowres_condition_is_the_superres_operator_of_restore():
    y = data.load("mnist-5k", "test")[0][:5]
    x = paired.block_means(y, 4)
    with mg.no_grad():
        expected = restore.make_operator("superres", factor=4).apply(mg.tensor(y)).numpy()
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert x.shape == (5, 1, 7, 7)
    with pytest.raises(ValueError, match="do not split into 3x3 blocks"):
        paired.block_means(y, 3)


def test_masks_hide_one_square_of_half_the_side_inside_the_image():
    masks = paired.random_masks(200, 8, 8, np.random.default_rng(0))
    assert set(np.unique(masks)) == {0.0, 1.0}
    assert ((1 - masks).sum(axis=(1, 2, 3)) == 16).all()
    for m in masks[:, 0]:
        rows, cols = np.nonzero(m == 0)
        assert rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3      # one 4x4 square
    tops = [np.nonzero(m[0] == 0)[0].min() for m in masks]
    assert set(tops) == set(range(5))                                           # every position reached


@pytest.mark.parametrize("name", list(paired.names()))
def test_paired_sets_agree_with_their_record_and_base(name):
    record = data.info(name)
    for split, n in (("train", record.n_train), ("test", record.n_test)):
        x, y = data.load(name, split)
        assert x.shape == (n, *record.condition_shape) and x.dtype == np.float32
        assert y.shape == (n, *record.shape) and y.dtype == np.float32
        np.testing.assert_array_equal(y, data.load(record.base, split)[0])
        assert 0 <= x.min() and x.max() <= 1


def test_paired_sets_are_reproducible_and_the_masked_condition_is_the_formula():
    x, y = data.load("masked2digits", "train")
    np.testing.assert_array_equal(x, data.load("masked2digits", "train")[0])
    m = x[:, 1:]
    np.testing.assert_array_equal(x[:, :1], m * y)
    assert set(np.unique(m)) == {0.0, 1.0}
    x_test, _ = data.load("masked2digits", "test")
    assert not np.array_equal(x_test[:, 1], x[:len(x_test), 1])                 # other masks for test
    again, _ = paired.make_pairs("masked", y, seed=paired.seed("masked2digits", "train"))
    np.testing.assert_array_equal(again, x)


def test_as_conditions_accepts_one_or_many_and_names_what_it_expected():
    info = data.info("lowres2digits")
    one = np.full((4, 4), 0.5, np.float32)
    assert paired.as_conditions(one, info).shape == (1, 1, 4, 4)
    assert paired.as_conditions(one[None], info, n=3).shape == (3, 1, 4, 4)
    with pytest.raises(ValueError, match=r"lowres2digits conditions have shape \(1, 4, 4\).*got shape \(1, 1, 8, 8\)"):
        paired.as_conditions(np.zeros((1, 1, 8, 8)), info)
    with pytest.raises(ValueError, match="NaN"):
        paired.as_conditions(np.full((4, 4), np.nan), info)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        paired.as_conditions(np.full((4, 4), 255.0), info)
    with pytest.raises(ValueError, match="3 samples asked for with 2 conditions"):
        paired.as_conditions(np.zeros((2, 1, 4, 4)), info, n=3)
    with pytest.raises(ValueError, match="holds no conditions"):
        paired.as_conditions(np.zeros((0, 1, 4, 4)), info)
    with pytest.raises(ValueError, match=r"masked2digits conditions have shape \(2, 8, 8\)"):
        paired.as_conditions(np.zeros((8, 8)), data.info("masked2digits"))


def test_lift_is_nearest_neighbour_and_target_digits_are_found():
    x = mg.tensor(np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2))
    np.testing.assert_array_equal(paired.lift(x, (1, 4, 4)).numpy()[0, 0],
                                  [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    assert paired.lift(x, (1, 2, 2)) is x
    y, labels = data.load("digits", "test")
    found = paired.target_digits("digits", np.concatenate([y[:20], np.full((1, 1, 8, 8), 0.123, np.float32)]))
    np.testing.assert_array_equal(found, [*labels[:20], -1])


# --------------------------------------------------------------------------------- captions: properties
def test_measure_recovers_ink_slant_and_width_of_drawn_strokes():
    h = 28
    upright = np.zeros((1, 1, h, h))
    upright[0, 0, 4:24, 12:15] = 1.0                               # a bar 3 pixels wide
    m = captions.measure(upright)
    assert m["ink"][0] == pytest.approx(60 / h ** 2)
    assert m["slant"][0] == pytest.approx(0.0, abs=1e-12)
    assert m["width"][0] == pytest.approx(np.sqrt((3 ** 2 - 1) / 12))  # std of 3 equally spaced columns
    for shear in (0.25, -0.4):                                      # c = 13 + shear (13 - r): leans right for shear > 0
        leaning = np.zeros((1, 1, h, h))
        for r in range(4, 24):
            leaning[0, 0, r, int(round(13 + shear * (13 - r)))] = 1.0
        assert captions.measure(leaning)["slant"][0] == pytest.approx(shear, abs=0.03)
    assert captions.measure(np.zeros((1, 1, 8, 8)))["slant"][0] == 0.0   # no ink: no NaN


@pytest.mark.parametrize("base", captions.BASES)
def test_thickness_and_width_words_split_each_class_in_thirds(base):
    x, labels = data.load(base, "train")
    words = captions.describe(x, labels, base)
    measured = captions.measure(x)
    for k in range(10):
        mine = [w for w, label in zip(words, labels) if label == k]
        for prop, low, high, value in (("thickness", "thin", "thick", "ink"), ("width", "narrow", "wide", "width")):
            counts = {word: sum(w[prop] == word for w in mine) for word in (low, "", high)}
            assert all(abs(c / len(mine) - 1 / 3) < 0.02 for c in counts.values()), (k, prop, counts)
            kind = np.array([w[prop] for w in mine])
            values = measured[value][labels == k]
            assert values[kind == high].min() > values[kind == ""].max() >= values[kind == ""].min() > values[kind == low].max()
    slant = measured["slant"]
    kinds = np.array([w["slant"] for w in words])
    assert (slant[kinds == "right"] > 0.15).all() and (slant[kinds == "left"] < -0.15).all()
    assert (np.abs(slant[kinds == "upright"]) < 0.05).all()


def test_phrasings_are_the_documented_templates():
    words = {"thickness": "thin", "width": "wide", "slant": "right"}
    assert captions.phrasings(7, words) == ["a thin slanted seven", "7, slanted to the right, thin strokes",
                                            "a wide seven leaning right", "the digit seven"]
    assert captions.phrasings(4, {"thickness": "thin", "width": "", "slant": "left"})[0] == "a thin slanted four"
    plain = captions.phrasings(8, {"thickness": "", "width": "", "slant": ""})
    assert plain == ["an eight", "8", "an eight", "the digit eight"]
    assert captions.phrasings(1, {"thickness": "", "width": "narrow", "slant": "upright"})[:3] == \
        ["an upright one", "1, upright", "a narrow one"]


@pytest.mark.parametrize("name", list(captions.names()))
def test_captioned_sets_are_deterministic_and_every_caption_names_its_digit(name):
    record = data.info(name)
    tokens, y = data.load(name, "test")
    assert tokens.shape == (record.n_test, *record.condition_shape) and tokens.dtype == np.int64
    np.testing.assert_array_equal(tokens, data.load(name, "test")[0])
    np.testing.assert_array_equal(y, data.load(record.base, "test")[0])
    labels = data.load(record.base, "test")[1]
    for image_tokens, label in zip(tokens[:200], labels[:200]):
        for t in image_tokens:
            words = captions.decode(t).split()
            assert words and (captions.DIGIT_WORDS[label] in words or str(label) in words)
            np.testing.assert_array_equal(captions.encode(captions.decode(t)), t)


def test_prompts_errors_name_the_problem_and_the_vocabulary():
    np.testing.assert_array_equal(captions.encode("A thin, slanted FOUR"), captions.encode("a thin slanted four"))
    with pytest.raises(ValueError, match="holds no words"):
        captions.encode("")
    with pytest.raises(ValueError, match="holds no words"):
        captions.encode("  ,, ")
    with pytest.raises(ValueError, match=r"unknown words 'small', 'blue' in the prompt .*the vocabulary is: a an the"):
        captions.encode("a small blue four")
    with pytest.raises(ValueError, match="has 13 words; at most 12"):
        captions.encode(" ".join(["seven"] * 13))
    with pytest.raises(TypeError, match="a prompt is a string"):
        captions.encode(7)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(captions.VOCABULARY[1:]), min_size=1, max_size=captions.MAX_WORDS))
def test_encode_decode_round_trip(words):
    text = " ".join(words)
    ids = captions.encode(text)
    assert ids.shape == (captions.MAX_WORDS,) and (ids[len(words):] == 0).all() and (ids[:len(words)] > 0).all()
    assert captions.decode(ids) == text


def test_evaluation_prompts_cover_every_digit_and_kind():
    texts, digits, kinds = captions.evaluation_prompts(2)
    assert len(texts) == 10 * len(captions.EVALUATION_PROMPTS) * 2
    assert texts[:3] == ["a zero", "a zero", "a thick zero"] and kinds[2] == "thick"
    assert "7, slanted to the right" in texts and set(np.unique(digits)) == set(range(10))
    for text in texts:
        captions.encode(text)                                    # every word known
