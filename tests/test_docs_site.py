"""The documentation site, built in strict mode and read in a real headless browser (Debian's chromium).

The build (``mkdocs build --strict``) already fails on a broken link, a code excerpt that does not
resolve, or a docstring the API reference cannot render. What it cannot see is the page a reader gets:
whether MathJax typeset every equation (a typo in the LaTeX shows as an error box, an unshipped font
as tofu), whether each family page shows its code, and whether opening a page sends a request
anywhere. So the built pages are opened in Chromium, driven through the DevTools protocol over a pipe
(standard library only), which logs every request a page makes; a probe script then reports what the
browser laid out. The browser also runs behind a proxy that refuses everything, so a page that did
ask for a CDN would get nothing, and the log says which URL it asked for.

Needs the docs extra (``pip install ".[docs]"``), MathJax fetched by a first build (it comes from the npm
registry, and a test reaches no network) and chromium; without any of them the tests are skipped and
say how to get it. ``.ci/run`` provides all three.
"""
import importlib.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
MATHJAX = ROOT / "docs" / "hooks" / "node_modules" / "mathjax"

# Each family page and the engine page, with references it must show (a few per page, enough to
# tell that the excerpts are the code of that page's equations).
FAMILY_PAGES = {
    "engine.html": ["minigen/autograd/engine.py::_topological_order", "minigen/autograd/engine.py::run_backward",
                    "minigen/ops/math.py::Softplus", "minigen/autograd/gradcheck.py::gradcheck",
                    "minigen/ops/norm.py::_gradients", "minigen/ops/conv.py::Conv2dWeight",
                    "minigen/ops/logprob.py::NormalLogProb", "minigen/optim/adam.py::Adam._update"],
    "vae.html": ["minigen/models/vae.py::VAE.elbo", "minigen/distributions/normal.py::Normal.rsample",
                 "minigen/distributions/kl.py::kl_divergence", "minigen/models/vae.py::VAE.iwae"],
    "vqvae.html": ["minigen/models/vqvae.py::straight_through", "minigen/models/vqvae.py::VQVAE.loss",
                   "minigen/models/pixelcnn.py::causal_mask"],
    "gan.html": ["minigen/models/adversarial.py::discriminator_loss", "minigen/models/wgan_gp.py::gradient_penalty",
                 "minigen/models/adversarial.py::AdversarialRecipe.train_step"],
    "flows.html": ["minigen/flows/core.py::Flow.log_prob", "minigen/flows/coupling.py::AffineCoupling",
                   "minigen/flows/planar.py::Planar.forward"],
    "diffusion.html": ["minigen/diffusion/schedules.py::NoiseSchedule.q_sample", "minigen/models/ddpm.py::DDPM.loss",
                       "minigen/diffusion/samplers.py::ddim_step"],
    "conditional.html": ["minigen/models/pix2pix.py::pix2pix_generator_loss",
                         "minigen/models/conditional_ddpm.py::ImageToImageDDPMRecipe.training_pair",
                         "minigen/nn/text.py::TextEncoder.forward", "minigen/data/captions.py::measure"],
}
OTHER_PAGES = ["index.html", "comparison.html", "generative-vs-discriminative.html", "applications.html",
               "training.html", "api/autograd.html"]

PROBE = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const article = document.querySelector("article") || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, mjx-container, script").forEach(e => e.remove());
  const text = prose.textContent;
  const images = Array.from(article.querySelectorAll("img"));
  return {
    mathjax: window.MathJax && MathJax.version || null,
    marked: article.querySelectorAll(".arithmatex").length,
    typeset: article.querySelectorAll(".arithmatex mjx-container").length,
    errors: Array.from(article.querySelectorAll("mjx-merror")).map(e => e.getAttribute("data-mjx-error") || e.textContent),
    raw: ["$$", "\\frac", "\\(", "\\[", "\\mathcal"].filter(s => text.includes(s)),
    excerpts: Array.from(article.querySelectorAll("div.excerpt"))
      .filter(d => (d.querySelector("pre") || {textContent: ""}).textContent.trim().length > 0)
      .map(d => d.dataset.ref),
    images: images.length,
    decoded: images.filter(im => im.complete && im.naturalWidth > 0).length,
  };
})()
"""


def find_browser():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def docs_extra_missing():
    return [name for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "pymdownx")
            if importlib.util.find_spec(name.split(".")[0]) is None
            or (name == "mkdocstrings_handlers.python" and importlib.util.find_spec(name) is None)]


def mathjax_fetched():
    """The build fetches MathJax from the npm registry the first time (docs/hooks/mathjax.py); a test
    must not reach the network, so it uses the copy a build already fetched, or is skipped."""
    try:
        package = json.loads((MATHJAX / "package.json").read_text())
        locked = json.loads((ROOT / "docs" / "hooks" / "package-lock.json").read_text())
    except (OSError, ValueError):
        return False
    return package.get("version") == locked["packages"]["node_modules/mathjax"]["version"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = docs_extra_missing()
    if missing:
        pytest.skip(f"the docs extra is not installed ({', '.join(missing)} missing): "
                    'pip install ".[docs]" to build and check the documentation site')
    if not mathjax_fetched():
        pytest.skip("MathJax has not been fetched yet: build the site once (mkdocs build, which runs "
                    "npm ci --prefix docs/hooks; .ci/run does) and run the tests again")
    out = tmp_path_factory.mktemp("docs") / "site"
    started = time.perf_counter()
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    print(f"mkdocs build --strict: {time.perf_counter() - started:.1f} s")
    assert built.returncode == 0, f"the strict build failed:\n{built.stdout[-3000:]}\n{built.stderr[-6000:]}"
    return out


class DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe: JSON messages ending in NUL, the
    commands written to the browser's fd 3, the answers and events read from its fd 4."""

    def __init__(self, browser, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        self.log = open(os.path.join(profile, "chromium.log"), "wb")
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                   f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-extensions", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                   "--window-size=1280,1000", "about:blank"]

        def pipe_ends_to_3_and_4():            # in the child, before exec: where Chromium looks for them
            read_end = os.dup(to_browser_r)     # the lowest free fd: if 3 is free, this is 3 ...
            write_end = os.dup(from_browser_w)  # ... so this one is never 3, and survives the next line
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)               # dup2 leaves 3 and 4 inheritable; all else is not (PEP 446)

        self.process = subprocess.Popen(command, close_fds=False, preexec_fn=pipe_ends_to_3_and_4,
                                        stdout=self.log, stderr=self.log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer, self.next_id, self.events = b"", 0, []

    def _messages(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                yield json.loads(raw)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                with open(self.log.name, errors="replace") as log:
                    raise RuntimeError(f"chromium closed the DevTools pipe: {log.read()[-3000:]}")
            self.buffer += chunk

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        for reply in self._messages(timeout):
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method, timeout=60):
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        for event in self._messages(timeout):
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        self.log.close()


def local(url):
    parsed = urlparse(url)
    return parsed.scheme in ("file", "data", "blob", "about") or parsed.hostname in ("localhost", "127.0.0.1", "::1")


@pytest.fixture(scope="module")
def rendered(site, tmp_path_factory):
    """What the browser showed on every checked page, and every URL each page requested."""
    browser = find_browser()
    if browser is None:
        pytest.skip("no chromium on this machine: .ci/run installs Debian's chromium "
                    "(apt-get install chromium); without it the built pages cannot be opened")
    tools = DevTools(browser, tmp_path_factory.mktemp("chromium-profile"))
    pages = {}
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tools.send("Network.enable", session=session)
        tools.send("Page.enable", session=session)
        for page in list(FAMILY_PAGES) + OTHER_PAGES:
            tools.events.clear()
            tools.send("Page.navigate", {"url": (site / page).as_uri()}, session=session)
            tools.wait_for("Page.loadEventFired")
            probe = tools.send("Runtime.evaluate", {"expression": PROBE, "awaitPromise": True,
                                                    "returnByValue": True}, session=session)
            assert "exceptionDetails" not in probe, f"{page}: the probe failed: {probe['exceptionDetails']}"
            requested = [e["params"]["request"]["url"] for e in tools.events
                         if e.get("method") == "Network.requestWillBeSent"]
            pages[page] = {**probe["result"]["value"], "requested": requested}
    finally:
        tools.close()
    return pages


def test_the_strict_build_ships_mathjax_and_every_page(site):
    for page in list(FAMILY_PAGES) + OTHER_PAGES:
        assert (site / page).is_file(), f"{page} was not built"
    assert (site / "assets" / "mathjax" / "tex-chtml-full.js").is_file()
    assert list((site / "assets" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    html = (site / "vae.html").read_text()
    assert 'data-ref="minigen/models/vae.py::VAE.elbo"' in html
    assert '<span class="nf">elbo</span>' in html          # the source, read at build time and highlighted
    # every @excerpt line of every page became an excerpt block (not, say, a code block showing the HTML)
    for source in (ROOT / "docs").glob("*.md"):
        asked = sum(1 for line in source.read_text().splitlines() if line.strip().startswith("@excerpt "))
        built = (site / source.with_suffix(".html").name).read_text()
        assert built.count('<div class="excerpt"') == asked, f"{source.name}: {asked} excerpts asked for"
        assert '&lt;div class="excerpt"' not in built, f"{source.name}: an excerpt rendered as text"


def test_no_page_sends_a_request_off_the_machine(rendered):
    for page, seen in rendered.items():
        assert seen["requested"], f"{page}: the request log is empty (is the DevTools log working?)"
        outside = [url for url in seen["requested"] if not local(url)]
        assert not outside, f"{page} asked for {outside}"
    # MathJax's script and its web fonts came from the site itself
    requested = [url for seen in rendered.values() for url in seen["requested"]]
    assert any(url.endswith("assets/mathjax/tex-chtml-full.js") for url in requested)
    assert any(url.endswith(".woff") and url.startswith("file:") for url in requested)


def test_every_equation_is_typeset(rendered):
    for page, seen in rendered.items():
        assert seen["mathjax"], f"{page}: MathJax did not load"
        assert seen["typeset"] == seen["marked"], \
            f"{page}: {seen['marked'] - seen['typeset']} of {seen['marked']} equations were not typeset"
        assert not seen["errors"], f"{page}: MathJax could not typeset: {seen['errors'][:5]}"
        assert not seen["raw"], f"{page}: raw LaTeX left in the text: {seen['raw']}"
    for page in FAMILY_PAGES:
        assert rendered[page]["typeset"] >= 8, f"{page}: only {rendered[page]['typeset']} equations"


def test_each_family_page_shows_its_code(rendered):
    for page, refs in FAMILY_PAGES.items():
        shown = rendered[page]["excerpts"]
        assert len(shown) >= 3, f"{page}: {len(shown)} code excerpts"
        missing = [ref for ref in refs if ref not in shown]
        assert not missing, f"{page} does not show {missing} (it shows {shown})"


def test_figures_load(rendered):
    for page, seen in rendered.items():
        assert seen["decoded"] == seen["images"], f"{page}: {seen['images'] - seen['decoded']} images did not load"
    for page in ("vae.html", "vqvae.html", "gan.html", "flows.html", "diffusion.html"):
        assert rendered[page]["images"] >= 3, f"{page}: {rendered[page]['images']} figures"
