"""Writers of the comparison report: DIR/results.json, DIR/report.md and DIR/report.html.

The HTML page is self-contained (figures embedded as base64 PNGs), so it can be mailed or opened
from anywhere. Each cell of the table is "mean ± std over the seeds"; "n/a" where the family does not
define the metric (a GAN has no likelihood); the first row is the data itself (real train vs test),
the floor a perfect model with the same number of samples would reach.
"""
from __future__ import annotations

import base64
import html
import json
import os

from .compare import METRICS

LIKELIHOOD_CONVENTION = {
    "image": (
        "NLL: bits per dimension on the test split, as each family's `evaluate()` defines it. "
        "Flows (realnvp, glow) and DDPM: pixels dequantised at the dataset's grey levels (17 for digits, "
        "256 for MNIST); flows give the exact -log p of the dequantised image, DDPM its variational bound "
        "with a discretised decoder; both bound -log P of the discrete image. VAE/CVAE: the IWAE bound "
        "(k = eval_k) with a Bernoulli decoder on binarised pixels, PixelCNN: exact -log P of binarised "
        "pixels. Binarised and dequantised numbers describe different discrete variables and are not "
        "comparable number for number. AE, VQ-VAE and the GANs define no likelihood: n/a."),
    "2d": (
        "NLL: nats per point on the test split (continuous density, no dequantisation): exact for flows, "
        "the variational bound for DDPM; the GANs define no likelihood: n/a. Its floor is the entropy of "
        "the true density, -mean log p(x) over the test points (minigen.data.toy2d.log_density)."),
}

SAMPLE_NOTES = {
    "image": (
        "Sample metrics use n samples per family against n held-out test images, on the features of the "
        "toolkit's classifier trained on this dataset (minigen.harnesses.features). Classifier FID compares "
        "models on this dataset only (not Inception-FID); precision/recall: k = 3 nearest neighbours; "
        "class entropy: of the classifier's labels of the samples, log2(10) = 3.32 bits when balanced; "
        "classifier confidence: the mean of its largest class probability (1 = every sample unmistakably "
        "some class); classes present: those given at least 1/5 of a fair share of the samples; "
        "memorisation ratio: median distance of a sample to its nearest training image over the same for "
        "test images (1 = like fresh data, near 0 = copies)."),
    "2d": (
        "Energy distance of n samples to n held-out points (its floor: train vs test points); for the "
        "Gaussian mixtures, modes captured (at least 1/5 of a fair share of samples within 3 std) and the "
        "share of samples within 3 std of a centre (minigen.metrics.modes)."),
}

COST_NOTE = ("Cost: parameters of every module of the family; training time (wall clock, including "
             "building the model) and optimisation steps; milliseconds per sample when drawing n (samplers "
             "with a step count, DDPM: DDIM with {sample_steps} steps); peak memory = the tracemalloc peak "
             "during training (host NumPy arrays and Python objects; not GPU memory).")


def _columns(results):
    present = set(results["floor"])
    for family in results["families"].values():
        present |= set(family["summary"])
    return [k for k in METRICS if k in present]


def _cell(summary, key):
    if key not in summary:
        return "n/a"
    fmt = METRICS[key][2]
    mean, std, n = summary[key]["mean"], summary[key]["std"], summary[key]["n"]
    return fmt.format(mean) + (f" ± {fmt.format(std)}" if n > 1 else "")


def table_rows(results):
    """(header, rows): the table as lists of strings, the data row first."""
    columns = _columns(results)
    header = ["family"] + [METRICS[k][0] for k in columns]
    floor = results["floor"]
    rows = [["data (train vs test)"] + [METRICS[k][2].format(floor[k]) if k in floor else ""
                                        for k in columns]]
    for name, family in results["families"].items():
        rows.append([name] + [_cell(family["summary"], k) for k in columns])
    return header, rows


def command_line(results):
    parts = [f"minigen compare --dataset {results['dataset']}"]
    budget = results["budget"]
    parts.append(f"--steps {budget['steps']}" if "steps" in budget
                 else f"--budget-seconds {budget['seconds']:g}")
    parts.append(f"--seeds {len(results['seeds'])}")
    if results.get("models"):
        parts.append(f"--models {','.join(results['models'])}")
    if results["device"] != "cpu":
        parts.append(f"--device {results['device']}")
    return " ".join(parts)


def _notes(results):
    notes = [f"{name} skipped: {reason}" for name, reason in results["skipped"].items()]
    for name, family in results["families"].items():
        notes += [f"{name}: {note}" for note in family["notes"]]
    return notes


def markdown(results):
    header, rows = table_rows(results)
    budget = results["budget"]
    lines = [f"# minigen compare: {results['dataset']}", "",
             f"    {command_line(results)}", "",
             f"Budget per family and seed: {_budget(budget)}; seeds {results['seeds']}; "
             f"{results['n_samples']} samples per family; device {results['device']}. "
             "Cells: mean ± standard deviation over the seeds.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", LIKELIHOOD_CONVENTION[_kind(results)], "", SAMPLE_NOTES[_kind(results)], "",
              _cost_note(results)]
    notes = _notes(results)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    figures = [(name, kind, path) for name, family in results["families"].items()
               for kind, path in family["figures"].items()]
    if figures:
        lines += ["", "## Figures (seed 0)", ""]
        lines += [f"![{name} {kind}]({os.path.relpath(path, results['out'])})" for name, kind, path in figures]
    return "\n".join(lines) + "\n"


def _budget(budget):
    return f"{budget['steps']} steps" if "steps" in budget else f"{budget['seconds']:g} s of wall clock"


def _cost_note(results):
    return COST_NOTE.format(sample_steps=results["sample_steps"])


def _kind(results):
    return "image" if results["kind"] == "image" else "2d"


def _embedded(path):
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(os.path.basename(path))}">'


def html_page(results):
    header, rows = table_rows(results)
    esc = html.escape
    table = ["<table>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    table += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows]
    table.append("</table>")
    figures = []
    for name, family in results["families"].items():
        images = "".join(_embedded(path) for path in family["figures"].values() if os.path.exists(path))
        if images:
            figures.append(f"<h3>{esc(name)}</h3><div class='row'>{images}</div>")
    notes = "".join(f"<li>{esc(n)}</li>" for n in _notes(results))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>minigen compare: {esc(results['dataset'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 90em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tr:nth-child(2) {{ background: #eef; }}
.row img {{ max-width: 32em; margin: 0.3em; border: 1px solid #ddd; }}
code {{ background: #f4f4f4; padding: 0.1em 0.3em; }}
</style></head><body>
<h1>minigen compare: {esc(results['dataset'])}</h1>
<p><code>{esc(command_line(results))}</code></p>
<p>Budget per family and seed: {esc(_budget(results['budget']))}; seeds {esc(str(results['seeds']))};
{results['n_samples']} samples per family; device {esc(results['device'])}.
Cells: mean ± standard deviation over the seeds.</p>
{''.join(table)}
<p>{esc(LIKELIHOOD_CONVENTION[_kind(results)])}</p>
<p>{esc(SAMPLE_NOTES[_kind(results)])}</p>
<p>{esc(_cost_note(results))}</p>
{'<h2>Notes</h2><ul>' + notes + '</ul>' if notes else ''}
<h2>Samples and training curves (seed 0)</h2>
{''.join(figures)}
</body></html>
"""


def write_reports(results, out):
    """Write results.json, report.md and report.html into ``out``; returns their paths."""
    os.makedirs(out, exist_ok=True)
    results = {**results, "out": os.fspath(out)}
    paths = {name: os.path.join(out, name) for name in ("results.json", "report.md", "report.html")}
    with open(paths["results.json"], "w") as f:
        json.dump({**results, "command": command_line(results)}, f, indent=2)
    with open(paths["report.md"], "w") as f:
        f.write(markdown(results))
    with open(paths["report.html"], "w") as f:
        f.write(html_page(results))
    return paths
