"""The comparison report opened in a real headless browser (Debian's ``chromium``).

A report can be valid HTML and still show nothing: a base64 image that does not decode, a table the
browser drops. So the page the harness wrote is loaded by Chromium, a probe script appended to a copy
of it reports what the browser actually laid out (decoded images with their pixel sizes, table cells),
and a screenshot is taken and checked for the table's ink and the plots' colours.

``.ci/run`` installs chromium when it is missing; where it cannot be installed, the test is skipped
with that reason.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from minigen.harnesses import compare, report

PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const check = {
    images: images.length,
    decoded: images.filter(im => im.complete && im.naturalWidth > 0).length,
    smallest_width: Math.min(...images.map(im => im.naturalWidth)),
    table_rows: document.querySelectorAll("table tr").length,
    table_cells: Array.from(document.querySelectorAll("table td")).map(td => td.textContent),
  };
  const pre = document.createElement("pre");
  pre.id = "render-check";
  pre.textContent = JSON.stringify(check);
  document.body.appendChild(pre);
});
</script>
"""


def find_browser():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless(browser, *args):
    """Run the browser headless; root needs --no-sandbox, and there is no GPU or display."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--virtual-time-budget=30000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def render_check(browser, page):
    """What the probe script saw after the page's load event; a second try if the browser dumped the
    DOM before it (seen once on a machine under heavy load)."""
    for attempt in range(2):
        dom = headless(browser, "--dump-dom", f"file://{page}")
        found = re.search(r'<pre id="render-check">(.*?)</pre>', dom.stdout, re.S)
        if dom.returncode == 0 and found:
            return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    raise AssertionError(f"the probe script did not report (exit status {dom.returncode}): "
                         f"{dom.stderr[-1500:]} {dom.stdout[-500:]}")


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    results = compare.compare("8gaussians", models=["gan", "planar"], steps=3, seeds=1, out=out,
                              n_samples=200, log=lambda line: None)
    return report.write_reports(results, out)["report.html"], results


def test_report_renders_in_headless_chromium(report_page, tmp_path):
    browser = find_browser()
    if browser is None:
        pytest.skip("no chromium on this machine: .ci/run installs Debian's chromium "
                    "(apt-get install chromium); without it the report cannot be rendered")
    page, results = report_page
    probed = tmp_path / "probed.html"
    probed.write_text(open(page).read().replace("</body>", PROBE + "</body>"))

    check = render_check(browser, probed)
    figures = sum(len(family["figures"]) for family in results["families"].values())
    assert figures >= 4                                   # a scatter and a loss curve per family
    assert check["images"] == figures and check["decoded"] == figures
    assert check["smallest_width"] >= 200                 # real plots, not broken-image icons
    assert check["table_rows"] == 1 + 1 + len(results["families"])   # header, the data floor, families
    assert {"gan", "planar", "n/a"} <= set(check["table_cells"])

    shot = tmp_path / "report.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1280,3200", f"file://{page}")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from matplotlib import image
    pixels = image.imread(shot)[..., :3]                  # floats in [0, 1]
    ink = int((pixels.max(axis=2) < 0.5).sum())                       # dark: text and table rules
    colour = int((pixels.max(axis=2) - pixels.min(axis=2) > 0.3).sum())   # saturated: points, curves
    print(f"screenshot: {ink} dark and {colour} coloured pixels")
    assert ink > 20_000, f"the screenshot is nearly blank ({ink} dark pixels)"
    assert colour > 1_500, f"hardly any coloured plot pixels in the screenshot ({colour})"
    if os.environ.get("MINIGEN_SCREENSHOT"):                # where to keep it, to look at
        shutil.copy(shot, os.environ["MINIGEN_SCREENSHOT"])
