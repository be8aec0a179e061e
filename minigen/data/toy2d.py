r"""Toy 2-D distributions: samplers, exact log-densities and mixture modes.

The layouts follow FFJORD's ``toy_data.py`` (Grathwohl et al., 2019), the standard set for flows and
diffusion on 2-D data; all of them live in roughly [-4, 4]^2. Every one is a curve or a set of
centres blurred by noise, so every one has a density we can evaluate:

8gaussians    FFJORD: 8 centres on a circle of radius 4/sqrt(2) = 2.83 at angles k*pi/4, std
              0.5/sqrt(2) = 0.354 (WGAN-GP's ring, widened so flows can fit it).
25gaussians   a 5x5 grid (the layout of WGAN-GP, Gulrajani et al., 2017) at FFJORD's scale: centres
              sqrt(2)*(i, j), i, j in {-2..2}, std sqrt(2)/8 = 0.177 (neighbours 8 std apart).
              Both mixtures weigh their components equally:
                  p(x) = (1/K) sum_k N(x; c_k, s^2 I).
checkerboard  uniform on the 8 dark squares (side 2) of a 4x4 board on [-4, 4)^2: square (i, j) =
              [2i, 2i+2) x [2j, 2j+2) is dark when i + j is even. p(x) = 1/32 there, 0 elsewhere
              (log p = -inf): the density is discontinuous at the square edges.
moons         two half circles of radius 2 (scikit-learn's make_moons, scaled by 2, shifted by
              (-1, -0.2)), t ~ U(0, pi), plus N(0, 0.2^2 I) noise; each moon has half the mass.
swissroll     (t cos t, t sin t) / 5 with t ~ U(1.5 pi, 4.5 pi), plus N(0, 0.2^2 I)
              (scikit-learn's make_swiss_roll with noise 1, the (x, z) plane, divided by 5).
2spirals      arm point r(t) = (-t cos t, t sin t) with t = 3 pi sqrt(u), u ~ U(0, 1) (so
              p(t) = 2t / (3 pi)^2), jittered by a uniform square U[0, 0.5]^2, the second arm the
              mirror image -(r + jitter), all divided by 3, plus N(0, 0.1^2 I).

For the curve sets the density is the noise kernel averaged along the curve,
    p(x) = sum_arms w_arm \int p(t) k(x - c_arm(t)) dt,
which has no closed form; ``log_density`` computes the integral over t by composite Gauss-Legendre
quadrature, 6 nodes on each stretch of curve one noise std long. The sum over the nodes is a
Gaussian mixture with one small component per node. Against 12 nodes per stretch the log-density
agrees to 1e-9 wherever log p > -20; far from the data (log p ~ -300 and below) the integrand's bump
narrows like std^2 / distance and the error grows to a few hundredths of a nat, still finite. For
2spirals the kernel k is the uniform square convolved with the Gaussian, a product over the two axes
of Phi((x - lo)/s) - Phi((x - hi)/s). Cost on one core: about 20 us a point for moons and swissroll,
0.15 ms a point for 2spirals.
"""
import numpy as np
from scipy.special import log_ndtr

NAMES = ("8gaussians", "25gaussians", "moons", "swissroll", "checkerboard", "2spirals")

_SQRT2 = np.sqrt(2.0)


def _ring_of_8():
    angles = np.arange(8) * np.pi / 4
    return 4 / _SQRT2 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.5 / _SQRT2


def _grid_of_25():
    i, j = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij")
    return _SQRT2 * np.stack([i.ravel(), j.ravel()], axis=1).astype(np.float64), _SQRT2 / 8


_MIXTURES = {"8gaussians": _ring_of_8, "25gaussians": _grid_of_25}


def _check_name(name):
    if name not in NAMES:
        raise ValueError(f"unknown 2-D dataset {name!r}; expected one of {', '.join(NAMES)}")


def modes(name):
    """The centres (K, 2) and the common std of a Gaussian-mixture dataset."""
    if name not in _MIXTURES:
        raise ValueError(f"modes: {name!r} is not a Gaussian mixture; "
                         f"expected one of {', '.join(_MIXTURES)}")
    centres, std = _MIXTURES[name]()
    return centres, float(std)


# ---------------------------------------------------------------------------------------- sampling

def _moon_curves(t):
    """Outer and inner moon at parameter t in [0, pi], after FFJORD's x*2 + (-1, -0.2)."""
    outer = np.stack([2 * np.cos(t) - 1, 2 * np.sin(t) - 0.2], axis=-1)
    inner = np.stack([1 - 2 * np.cos(t), 0.8 - 2 * np.sin(t)], axis=-1)
    return outer, inner


def _swissroll_curve(t):
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=-1) / 5


def _spiral_arm(t):
    return np.stack([-t * np.cos(t), t * np.sin(t)], axis=-1)


def sample(name, n, rng):
    """n points (float32, shape (n, 2)) drawn with the numpy Generator rng."""
    _check_name(name)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"sample: rng must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(rng).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"sample: n must be an integer >= 0, got {n!r}")
    if name in _MIXTURES:
        centres, std = _MIXTURES[name]()
        x = centres[rng.integers(len(centres), size=n)] + std * rng.standard_normal((n, 2))
    elif name == "checkerboard":
        x1 = rng.uniform(-2, 2, n)
        x2 = rng.uniform(0, 1, n) - 2 * rng.integers(0, 2, n) + np.floor(x1) % 2
        x = 2 * np.stack([x1, x2], axis=1)
    elif name == "moons":
        outer, inner = _moon_curves(rng.uniform(0, np.pi, n))
        x = np.where(rng.integers(0, 2, (n, 1)) == 0, outer, inner)
        x = x + 0.2 * rng.standard_normal((n, 2))
    elif name == "swissroll":
        x = _swissroll_curve(rng.uniform(1.5 * np.pi, 4.5 * np.pi, n))
        x = x + 0.2 * rng.standard_normal((n, 2))
    else:  # 2spirals
        t = 3 * np.pi * np.sqrt(rng.uniform(0, 1, n))
        arm = _spiral_arm(t) + rng.uniform(0, 0.5, (n, 2))
        sign = np.where(rng.integers(0, 2, (n, 1)) == 0, 1.0, -1.0)
        x = sign * arm / 3 + 0.1 * rng.standard_normal((n, 2))
    return x.astype(np.float32)


# ------------------------------------------------------------------------------------ log-density

_CHUNK = 256  # points per block, so a (points, nodes) matrix stays a few MB
_GAUSS_POINTS = 6  # Gauss-Legendre nodes per quadrature panel
_NEGLIGIBLE = 50.0  # terms ~exp(-50) below the largest cannot move a float64 sum of a few thousand


def _logsumexp_rows(a):
    """log sum_j exp(a_ij) for each row i; a row of all -inf gives -inf."""
    top = a.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]


def _gaussian_mixture_log_density(x, centres, log_weights, std):
    """log sum_k w_k N(x; c_k, std^2 I) for x (n, 2), block by block over the points."""
    out = np.empty(len(x))
    log_norm = -np.log(2 * np.pi * std ** 2)  # 2-D isotropic Gaussian: 1 / (2 pi s^2)
    for start in range(0, len(x), _CHUNK):
        xb = x[start:start + _CHUNK]
        sq_dist = (xb[:, :1] - centres[:, 0]) ** 2 + (xb[:, 1:] - centres[:, 1]) ** 2
        out[start:start + _CHUNK] = _logsumexp_rows(log_weights - sq_dist / (2 * std ** 2))
    return out + log_norm


def _log_interval_mass(lo, hi):
    """log(Phi(hi) - Phi(lo)) for lo < hi, stable in both tails (works on the side where it is
    small)."""
    flip = lo + hi > 0  # both far right: Phi(hi) - Phi(lo) = Phi(-lo) - Phi(-hi)
    lo, hi = np.where(flip, -hi, lo), np.where(flip, -lo, hi)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log1p(-np.exp(log_lo - log_hi))


def _box_gaussian_mixture_log_density(x, lows, width, log_weights, std):
    """log sum_k w_k k(x - lows_k), k = uniform square [0, width]^2 convolved with N(0, std^2 I).

    Per axis k is (Phi((x - lo) / std) - Phi((x - lo - width) / std)) / width. Phi is costly, so
    only the squares near each point are evaluated: a square whose squared distance to x exceeds
    the nearest one's by 2 std^2 * _NEGLIGIBLE adds less than exp(-_NEGLIGIBLE) of the largest term.
    """
    out = np.empty(len(x))
    for start in range(0, len(x), _CHUNK):
        xb = x[start:start + _CHUNK]
        sq_gap = 0.0
        for axis in range(2):  # squared distance from each point to each square
            below = lows[:, axis] - xb[:, axis:axis + 1]
            sq_gap = sq_gap + np.maximum(below, 0) ** 2 + np.maximum(-below - width, 0) ** 2
        near = sq_gap <= sq_gap.min(axis=1, keepdims=True) + 2 * std ** 2 * _NEGLIGIBLE
        rows, cols = np.nonzero(near)  # row-major: each point's kept squares are contiguous
        offset = (xb[rows] - lows[cols]) / std
        log_terms = log_weights[cols] + _log_interval_mass(offset - width / std, offset).sum(-1)
        # log-sum-exp over each point's run of terms (every point keeps at least its nearest)
        starts = np.searchsorted(rows, np.arange(len(xb)))
        top = np.maximum.reduceat(log_terms, starts)
        out[start:start + _CHUNK] = top + np.log(np.add.reduceat(np.exp(log_terms - top[rows]),
                                                                 starts))
    return out - 2 * np.log(width)


def _quadrature_nodes(a, b, max_speed, spacing):
    """Composite Gauss-Legendre nodes t and weights dt on [a, b]: panels along which the curve moves
    at most `spacing`, _GAUSS_POINTS nodes per panel. Exact for polynomials of degree
    < 2 * _GAUSS_POINTS on each panel, it has no O(h^2) error at the curve's ends, where a midpoint
    rule would lose ~1e-2 nats."""
    panels = int(np.ceil((b - a) * max_speed / spacing))
    edges = np.linspace(a, b, panels + 1)
    unit_nodes, unit_weights = np.polynomial.legendre.leggauss(_GAUSS_POINTS)  # on [-1, 1]
    half = (edges[1:] - edges[:-1])[:, None] / 2
    t = (edges[:-1, None] + half * (unit_nodes + 1)).ravel()
    return t, (half * unit_weights).ravel()


def _curve_log_density(name, x):
    if name == "moons":
        std = 0.2
        t, dt = _quadrature_nodes(0, np.pi, max_speed=2, spacing=std)
        log_w = np.log(0.5 * dt / np.pi)  # p(moon) * p(t) * dt
        return _gaussian_mixture_log_density(x, np.concatenate(_moon_curves(t)),
                                             np.concatenate([log_w, log_w]), std)
    if name == "swissroll":
        std = 0.2
        a, b = 1.5 * np.pi, 4.5 * np.pi
        t, dt = _quadrature_nodes(a, b, max_speed=np.hypot(1, b) / 5, spacing=std)
        return _gaussian_mixture_log_density(x, _swissroll_curve(t), np.log(dt / (b - a)), std)
    # 2spirals: the jitter square of the first arm is [r/3, r/3 + 1/6]^2, of the mirrored arm
    # [-r/3 - 1/6, -r/3]^2.
    std, width, t_max = 0.1, 0.5 / 3, 3 * np.pi
    t, dt = _quadrature_nodes(0, t_max, max_speed=np.hypot(1, t_max) / 3, spacing=std)
    log_w = np.log(0.5 * 2 * t / t_max ** 2 * dt)  # p(arm) * p(t) * dt
    arm = _spiral_arm(t) / 3
    lows = np.concatenate([arm, -arm - width])
    return _box_gaussian_mixture_log_density(x, lows, width, np.concatenate([log_w, log_w]), std)


def _checkerboard_log_density(x):
    i, j = np.floor(x[:, 0] / 2), np.floor(x[:, 1] / 2)
    on_board = ((x >= -4) & (x < 4)).all(axis=1)
    dark = on_board & ((i + j) % 2 == 0)
    return np.where(dark, -np.log(32.0), -np.inf)


def log_density(name, x):
    """Exact log p(x) (float64, shape (n,)) for points x of shape (n, 2); -inf where p = 0."""
    _check_name(name)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"log_density: expected points of shape (n, 2), got {x.shape}")
    if name in _MIXTURES:
        centres, std = _MIXTURES[name]()
        log_weights = np.full(len(centres), -np.log(len(centres)))
        return _gaussian_mixture_log_density(x, centres, log_weights, std)
    if name == "checkerboard":
        return _checkerboard_log_density(x)
    return _curve_log_density(name, x)
