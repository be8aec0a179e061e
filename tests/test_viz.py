"""minigen.viz: every plot writes a real PNG of a sensible size, draws what it says where it says, and
rejects bad input with a clear error."""
import json
import os
import subprocess
import sys

import matplotlib
import matplotlib.image
import numpy as np
import pytest

import minigen as mg
from minigen import viz
from minigen.viz.curves import moving_average

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    """The (height, width, RGBA) pixels of a PNG, after checking that it is one."""
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels


def brightness(pixels):
    return pixels[..., :3].mean(axis=-1)


# ---------------------------------------------------------------------------------------- image_grid

@pytest.mark.parametrize("shape", [(16, 8, 8), (16, 1, 8, 8), (16, 3, 8, 8)])
def test_image_grid_writes_a_png_for_gray_and_rgb(tmp_path, shape):
    path = viz.image_grid(np.random.rand(*shape), tmp_path / "grid.png", title="samples")
    assert path == str(tmp_path / "grid.png")
    height, width, _ = read_png(path).shape
    assert 500 < width < 1600 and 500 < height < 1600       # a 4 x 4 grid: about square, readable
    assert abs(height / width - 1) < 0.2


def test_image_grid_nrow_is_thumbnails_per_row(tmp_path):
    height, width, _ = read_png(viz.image_grid(np.random.rand(16, 8, 8), tmp_path / "g.png", nrow=8)).shape
    assert 3.0 < width / height < 5.0                        # 8 x 2 thumbnails


def test_image_grid_clips_to_unit_range_and_shows_gray_as_gray(tmp_path, caplog):
    dark = brightness(read_png(viz.image_grid(-np.ones((9, 1, 8, 8)), tmp_path / "dark.png")))
    light = brightness(read_png(viz.image_grid(5 * np.ones((9, 8, 8)), tmp_path / "light.png")))
    assert dark.mean() < 0.2 and light.mean() > 0.95
    viz.image_grid(np.random.uniform(-1, 2, (4, 3, 8, 8)), tmp_path / "rgb.png")
    assert "Clipping" not in caplog.text                    # clipped by us, not by a matplotlib warning


def test_image_grid_draws_rgb_channels_and_rows_in_order(tmp_path):
    image = np.zeros((1, 3, 8, 8))
    image[0, 0, :4] = 1.0                                    # top half red
    image[0, 2, 4:] = 1.0                                    # bottom half blue
    pixels = read_png(viz.image_grid(image, tmp_path / "rgb.png"))
    height, width, _ = pixels.shape
    np.testing.assert_allclose(pixels[height // 4, width // 2, :3], [1, 0, 0], atol=0.05)
    np.testing.assert_allclose(pixels[3 * height // 4, width // 2, :3], [0, 0, 1], atol=0.05)


def test_image_grid_takes_tensors_labels_and_makes_folders(tmp_path):
    images = mg.tensor(np.random.rand(6, 1, 8, 8).astype("float32"))
    path = viz.image_grid(images, tmp_path / "a" / "b" / "grid.png", labels=list("abcdef"), nrow=3)
    read_png(path)


@pytest.mark.parametrize("shape, message", [
    ((4, 5, 8, 8), r"C in \{1, 3\}"),
    ((4, 8, 8, 3), "channels come before height and width"),
    ((8, 8), r"\(N, H, W\)"),
    ((0, 1, 8, 8), "N >= 1"),
])
def test_image_grid_rejects_bad_shapes(tmp_path, shape, message):
    with pytest.raises(ValueError, match=message):
        viz.image_grid(np.zeros(shape), tmp_path / "bad.png")


def test_image_grid_rejects_bad_arguments(tmp_path):
    images = np.random.rand(4, 8, 8)
    with pytest.raises(ValueError, match="one label per image"):
        viz.image_grid(images, tmp_path / "g.png", labels=["a"])
    with pytest.raises(ValueError, match="nrow"):
        viz.image_grid(images, tmp_path / "g.png", nrow=0)
    with pytest.raises(ValueError, match=r"\.png"):
        viz.image_grid(images, tmp_path / "g.jpg")
    images[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        viz.image_grid(images, tmp_path / "g.png")


# ---------------------------------------------------------------------------------------- loss_curves

def write_metrics(path, records):
    with open(path, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return path


def training_log(n=200):
    rng = np.random.default_rng(0)
    records = [{"step": s, "loss": float(3 * np.exp(-s / 50) + 0.1 * rng.random()), "lr": 1e-3}
               for s in range(n)]
    for record in records[::20]:
        record["val_loss"] = record["loss"] + 0.2                # logged less often
    return records


def test_loss_curves_reads_a_metrics_file(tmp_path):
    path = write_metrics(tmp_path / "metrics.jsonl", training_log())
    one = read_png(viz.loss_curves(path, tmp_path / "one.png", keys=["loss"], smooth=10))
    three = read_png(viz.loss_curves(path, tmp_path / "three.png", title="run", smooth=10))
    assert one.shape[1] > 600 and one.shape[0] > 200
    assert three.shape[0] > 2 * one.shape[0]                  # one panel per key, stacked


def test_loss_curves_takes_a_list_of_dicts_and_a_single_key(tmp_path):
    read_png(viz.loss_curves(training_log(), tmp_path / "c.png", keys="val_loss"))


def test_loss_curves_lays_out_many_keys_in_columns(tmp_path):
    records = [{"step": s, **{f"m{k}": float(s * k) for k in range(5)}} for s in range(30)]
    height, width, _ = read_png(viz.loss_curves(records, tmp_path / "c.png")).shape
    assert width > height                                     # 5 panels: 2 columns x 3 rows


def test_loss_curves_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"no numeric values for keys \['acc'\].*'loss'"):
        viz.loss_curves(training_log(), tmp_path / "c.png", keys=["acc"])
    with pytest.raises(ValueError, match="record 1"):
        viz.loss_curves([{"step": 0, "loss": 1.0}, {"loss": 2.0}], tmp_path / "c.png")
    with pytest.raises(ValueError, match="no numeric metric"):
        viz.loss_curves([{"step": 0, "note": "hi"}], tmp_path / "c.png")
    with pytest.raises(ValueError, match="no metrics"):
        viz.loss_curves([], tmp_path / "c.png")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 0, "loss": 1}\n\n{"step": 1, "loss": \n')
    with pytest.raises(ValueError, match="line 3 is not JSON"):
        viz.loss_curves(bad, tmp_path / "c.png")


def test_moving_average_is_centred_and_narrows_symmetrically_at_the_ends():
    np.testing.assert_allclose(moving_average(np.full(10, 2.0), 5), 2.0)
    line = np.arange(10.0)
    np.testing.assert_allclose(moving_average(line, 5), line)          # no lag, no bent ends
    np.testing.assert_allclose(moving_average(np.array([0.0, 3, 0, 0, 6, 0]), 5), [0, 1, 1.8, 1.8, 2, 0])


# ---------------------------------------------------------------------------------------- 2-D points

def test_scatter_2d_with_and_without_reference(tmp_path):
    points, data = np.random.randn(500, 2), mg.tensor(np.random.randn(1000, 2))
    height, width, _ = read_png(viz.scatter_2d(points, tmp_path / "s.png", reference=data, title="t")).shape
    assert 500 < width < 1200 and 500 < height < 1200
    read_png(viz.scatter_2d(points, tmp_path / "plain.png", labels=("model", "data")))


def test_scatter_2d_rejects_points_that_are_not_n_by_2(tmp_path):
    with pytest.raises(ValueError, match=r"points of shape \(N, 2\), got shape \(10, 3\)"):
        viz.scatter_2d(np.zeros((10, 3)), tmp_path / "s.png")
    with pytest.raises(ValueError, match=r"reference of shape \(N, 2\)"):
        viz.scatter_2d(np.zeros((10, 2)), tmp_path / "s.png", reference=np.zeros(10))
    with pytest.raises(ValueError, match="labels"):
        viz.scatter_2d(np.zeros((10, 2)), tmp_path / "s.png", labels=("only one",))


def corner_log_density(points):
    """log p: uniform on the lower-left corner [-4, -2]^2 of the default bounds, zero elsewhere."""
    inside = (points[:, 0] < -2) & (points[:, 1] < -2)
    return np.where(inside, np.log(1 / 4), -np.inf)


def test_density_heatmap_puts_mass_where_the_density_is(tmp_path):
    pixels = read_png(viz.density_heatmap(corner_log_density, tmp_path / "d.png", resolution=64))
    height, width, _ = pixels.shape
    heatmap = pixels[:, : int(0.75 * width), :3]                                # leave out the colour bar
    bright = (brightness(heatmap) > 0.8) & ~np.all(heatmap > 0.95, axis=-1)    # but not the white page
    rows, cols = np.nonzero(bright)
    assert cols.mean() < 0.4 * width and rows.mean() > 0.55 * height          # lower left


def test_density_heatmap_grid_convention_matches_precomputed(tmp_path):
    """A precomputed grid whose [i, j] holds log p(x_j, y_i) draws the same picture as the callable."""
    def log_density(points):
        return -0.5 * ((points[:, 0] - 1) ** 2 + 4 * (points[:, 1] + 1) ** 2)
    xs = ys = np.linspace(-4, 4, 50)
    grid_x, grid_y = np.meshgrid(xs, ys)
    table = log_density(np.stack([grid_x.ravel(), grid_y.ravel()], 1)).reshape(50, 50)
    from_callable = read_png(viz.density_heatmap(log_density, tmp_path / "a.png", resolution=50))
    from_table = read_png(viz.density_heatmap(table, tmp_path / "b.png"))
    np.testing.assert_allclose(from_callable, from_table, atol=1e-2)


def test_density_heatmap_with_data_has_two_panels(tmp_path):
    alone = read_png(viz.density_heatmap(corner_log_density, tmp_path / "a.png", resolution=32))
    beside = read_png(viz.density_heatmap(corner_log_density, tmp_path / "b.png", resolution=32,
                                          data=np.random.randn(300, 2), title="flow"))
    assert beside.shape[1] > 1.7 * alone.shape[1]


def test_density_heatmap_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"returned shape \(10,\) for 400 points"):
        viz.density_heatmap(lambda p: np.zeros(10), tmp_path / "d.png", resolution=20)
    with pytest.raises(ValueError, match="NaN or infinite"):
        viz.density_heatmap(lambda p: np.full(len(p), np.nan), tmp_path / "d.png", resolution=20)
    with pytest.raises(ValueError, match="2-D grid"):
        viz.density_heatmap(np.zeros(10), tmp_path / "d.png")
    with pytest.raises(ValueError, match="x_min < x_max"):
        viz.density_heatmap(np.zeros((4, 4)), tmp_path / "d.png", bounds=(1, -1, -1, 1))
    with pytest.raises(ValueError, match=r"data of shape \(N, 2\)"):
        viz.density_heatmap(np.zeros((4, 4)), tmp_path / "d.png", data=np.zeros((5, 3)))


def test_latent_scatter_classes_get_a_legend_values_a_colour_bar(tmp_path):
    z = np.random.randn(300, 2)
    classes = read_png(viz.latent_scatter(z, np.arange(300) % 10, tmp_path / "c.png", title="z"))
    values = read_png(viz.latent_scatter(z, np.random.rand(300), tmp_path / "v.png"))
    names = read_png(viz.latent_scatter(z, np.array(["cat", "dog", "fox"])[np.arange(300) % 3],
                                        tmp_path / "n.png"))
    for pixels in (classes, values, names):
        assert 600 < pixels.shape[1] < 1200


def test_latent_scatter_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="PCA"):
        viz.latent_scatter(np.zeros((10, 8)), np.zeros(10), tmp_path / "z.png")
    with pytest.raises(ValueError, match="one label per code"):
        viz.latent_scatter(np.zeros((10, 2)), np.zeros(9), tmp_path / "z.png")
    with pytest.raises(ValueError, match="at most 20"):
        viz.latent_scatter(np.zeros((30, 2)), np.array([f"c{i}" for i in range(30)]), tmp_path / "z.png")


# ---------------------------------------------------------------------------------------- latent_manifold

@pytest.mark.parametrize("channels", [None, 1, 3])
def test_latent_manifold_places_each_image_at_its_code(tmp_path, channels):
    seen = []

    def decode(z):
        """White where z_1 > 0 and z_2 > 0 (upper right of the plane), black elsewhere."""
        seen.append(z)
        on = ((z[:, 0] > 0) & (z[:, 1] > 0)).astype(np.float32)
        shape = (len(z), 6, 6) if channels is None else (len(z), channels, 6, 6)
        return on.reshape(-1, *[1] * (len(shape) - 1)) * np.ones(shape, np.float32)

    pixels = read_png(viz.latent_manifold(decode, tmp_path / "m.png", bounds=(-2, 2), n=8))
    codes = seen[0]
    assert codes.shape == (64, 2) and codes.dtype == np.float32
    assert codes.min() == -2 and codes.max() == 2
    height, width, _ = pixels.shape
    h, w = height // 10, width // 10                          # patches well inside the plane's quadrants
    upper_right = brightness(pixels[int(2.5 * h):int(3.5 * h), int(6.5 * w):int(7.5 * w)])
    lower_left = brightness(pixels[int(6.5 * h):int(7.5 * h), int(3.0 * w):int(4.0 * w)])
    assert upper_right.mean() > 0.9 and lower_left.mean() < 0.3


def test_latent_manifold_rejects_bad_decoders(tmp_path):
    with pytest.raises(ValueError, match="decode returned 3 images for 16 codes"):
        viz.latent_manifold(lambda z: np.zeros((3, 1, 4, 4)), tmp_path / "m.png", n=4)
    with pytest.raises(ValueError, match=r"decoded images of shape"):
        viz.latent_manifold(lambda z: np.zeros((len(z), 2, 4, 4)), tmp_path / "m.png", n=4)
    with pytest.raises(TypeError, match="callable"):
        viz.latent_manifold(np.zeros((16, 4, 4)), tmp_path / "m.png", n=4)
    with pytest.raises(ValueError, match="lo < hi"):
        viz.latent_manifold(lambda z: np.zeros((len(z), 4, 4)), tmp_path / "m.png", bounds=(3, -3))


# ---------------------------------------------------------------------------------------- trajectory

def test_trajectory_of_images_is_one_row(tmp_path):
    frames = [np.random.rand(4, 1, 8, 8) for _ in range(4)]
    height, width, _ = read_png(viz.trajectory(frames, tmp_path / "t.png",
                                               titles=["t=3", "t=2", "t=1", "t=0"])).shape
    assert 3.0 < width / height < 5.0


def test_trajectory_of_points_wraps_into_balanced_rows(tmp_path):
    frames = [np.random.randn(200, 2) * (1 + k) for k in range(10)]
    height, width, _ = read_png(viz.trajectory(frames, tmp_path / "t.png")).shape
    assert 1.8 < width / height < 2.8                         # 2 rows of 5


def test_trajectory_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="one kind"):
        viz.trajectory([np.zeros((5, 2)), np.zeros((5, 8, 8))], tmp_path / "t.png")
    with pytest.raises(ValueError, match="one title per frame"):
        viz.trajectory([np.zeros((5, 2))], tmp_path / "t.png", titles=["a", "b"])
    with pytest.raises(ValueError, match="at least one frame"):
        viz.trajectory([], tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"frame 1 of shape \(N, 2\)"):
        viz.trajectory([np.zeros((5, 2)), np.zeros((5, 3))], tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"frame 0 of shape \(N, H, W\)"):
        viz.trajectory([np.zeros((5, 4, 8, 8))], tmp_path / "t.png")


# ---------------------------------------------------------------------------------------- no side effects

def test_plots_leave_matplotlib_global_state_alone(tmp_path):
    def settings():   # every rcParam but "backend", whose lookup itself may import pyplot
        return {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    before = settings()
    viz.scatter_2d(np.random.randn(50, 2), tmp_path / "s.png")
    viz.loss_curves(training_log(20), tmp_path / "c.png")
    assert settings() == before


def test_plotting_never_imports_pyplot(tmp_path):
    code = ("import sys, numpy as np; from minigen import viz; "
            f"viz.image_grid(np.random.rand(4, 8, 8), {str(tmp_path / 'g.png')!r}); "
            f"viz.scatter_2d(np.random.randn(20, 2), {str(tmp_path / 's.png')!r}); "
            "print('matplotlib.pyplot' in sys.modules)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_loss_curves_leave_out_the_trainers_bookkeeping_by_default():
    from minigen.viz.curves import _pick_keys
    records = [{"step": 1, "epoch": 0, "loss": 0.5, "lr": 1e-3, "time": 0.1},
               {"step": 2, "epoch": 0, "loss": 0.4, "lr": 1e-3, "time": 0.2}]
    assert _pick_keys(records, None, "loss_curves") == ["loss", "lr"]
    assert _pick_keys(records, ["time"], "loss_curves") == ["time"]          # still there when asked for
    assert _pick_keys([{"step": 1, "epoch": 0}], None, "loss_curves") == ["epoch"]   # nothing else to show
