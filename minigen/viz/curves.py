"""Training curves from the metrics a run logs (``metrics.jsonl``: one JSON object per logged step).

Smoothing is a centred moving average over a window of 2k + 1 logged points, k = smooth // 2,

    y~_i = mean(y_j : |j - i| <= k_i),   k_i = min(k, i, n - 1 - i),

narrowed symmetrically near the ends, so the smoothed curve neither lags behind the raw one nor bends
a trend at its ends (the very first and last points are drawn unsmoothed). The raw curve stays
underneath, faint, so spikes are still visible.
"""
import json
import math
import numbers
import os

import numpy as np
from matplotlib.ticker import MaxNLocator

from ._common import expect_int, new_figure, plot_style, save

PANEL_COLORS = ["#2f6db5", "#d1495b", "#2a9d8f", "#e08e0b", "#7b5ea7", "#5c677d", "#c06c84", "#3d8361"]


BOOKKEEPING = ("epoch", "time")      # logged by the trainer with every record; not curves of training


def loss_curves(metrics, path, keys=None, title=None, smooth=0):
    """Plot each numeric metric against "step", one panel per key, to the PNG ``path``; return the path.

    metrics: path of a metrics.jsonl file, or a list of dicts; every record needs a "step".
    keys:    the metrics to plot, in this order (default: every numeric key in the order they first
             appear, except the trainer's bookkeeping, "step", "epoch" and "time"). A key may be missing
             from some records (e.g. logged less often).
    smooth:  moving-average window in logged points (0 or 1: no smoothing; capped at a fifth of each
             series, so sparse metrics are drawn raw).
    """
    caller = "loss_curves"
    records = _read_records(metrics, caller)
    smooth = expect_int(smooth, caller, "smooth", 0)
    keys = _pick_keys(records, keys, caller)

    ncols = 1 if len(keys) <= 3 else 2 if len(keys) <= 8 else 3
    nrows = math.ceil(len(keys) / ncols)
    with plot_style():
        fig = new_figure(6.5 if ncols == 1 else 4.2 * ncols, 0.4 + 2.1 * nrows)
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        for i, key in enumerate(keys):
            steps, values = _series(records, key)
            _draw_panel(axes[i], key, steps, values, smooth, PANEL_COLORS[i % len(PANEL_COLORS)])
            if i + ncols >= len(keys):                 # lowest panel of its column: label the step axis
                axes[i].set_xlabel("step")
                axes[i].tick_params(labelbottom=True)
        for ax in axes[len(keys):]:
            ax.remove()
        if title:
            fig.suptitle(title)
        return save(fig, path)


def _draw_panel(ax, key, steps, values, smooth, color):
    # A window wider than a fifth of the series flattens it into a line that says nothing.
    window = min(smooth, len(values) // 5)
    marker = "o" if len(values) <= 30 else None          # sparse series (eval metrics): show the points
    if window > 1:
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(steps, moving_average(values, window), color=color, linewidth=1.6)
    else:
        ax.plot(steps, values, color=color, linewidth=1.3, marker=marker, markersize=3)
    # A loss that falls over orders of magnitude is unreadable on a linear axis; percentiles, so a
    # few values near zero in a noisy positive metric do not switch it to log.
    if len(values) and values.min() > 0:
        low, high = np.percentile(values, [5, 95])
        if high / low >= 100:
            ax.set_yscale("log")
    ax.set_title(key, loc="left", fontweight="bold")
    if len(values):
        ax.set_title(f"last {values[-1]:.4g}", loc="right", fontsize=8, color="#666666")
    else:
        ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center", color="#666666")
    ax.grid(True)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def moving_average(values, smooth):
    """Centred moving average over 2k + 1 points, k = smooth // 2, narrowed symmetrically at the ends."""
    n = len(values)
    i = np.arange(n)
    half = np.minimum(smooth // 2, np.minimum(i, n - 1 - i))
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return (cumulative[i + half + 1] - cumulative[i - half]) / (2 * half + 1)


def _read_records(metrics, caller):
    if isinstance(metrics, (str, os.PathLike)):
        records = []
        with open(metrics) as f:
            for line_number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{caller}: {os.fspath(metrics)} line {line_number} is not JSON: "
                                     f"{e}") from None
    else:
        records = list(metrics)
    if not records:
        raise ValueError(f"{caller}: no metrics to plot (empty file or list)")
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not _is_number(record.get("step")):
            raise ValueError(f"{caller}: expected every record to be a dict with a numeric 'step', "
                             f"record {i} is {record!r}")
    return records


def _pick_keys(records, keys, caller):
    numeric = list(dict.fromkeys(k for r in records for k, v in r.items() if k != "step" and _is_number(v)))
    if keys is None:
        metrics = [k for k in numeric if k not in BOOKKEEPING] or numeric
        if not metrics:
            raise ValueError(f"{caller}: the records hold no numeric metric besides 'step'")
        return metrics
    keys = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in keys if k not in numeric]
    if missing or not keys:
        raise ValueError(f"{caller}: no numeric values for keys {missing or keys}; "
                         f"the records have {numeric}")
    return keys


def _series(records, key):
    """(steps, values) of the records that hold a finite number under ``key``, sorted by step."""
    logged = [r for r in records if _is_number(r.get(key))]
    steps = np.array([r["step"] for r in logged], dtype=np.float64)
    values = np.array([r[key] for r in logged], dtype=np.float64)
    order = np.argsort(steps, kind="stable")      # a resumed run may log a step twice: keep file order
    steps, values = steps[order], values[order]
    finite = np.isfinite(values)
    return steps[finite], values[finite]


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
