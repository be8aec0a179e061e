"""Ship MathJax into the site at build time, so that the math renders offline (an MkDocs hook).

The pages' LaTeX (``$...$`` and ``$$...$$``, marked up by pymdownx.arithmatex) is typeset in the
browser by MathJax 3. This hook adds the one component the pages load, ``tex-chtml-full.js`` (every TeX
extension in one file, so it never asks for another at run time), and the web fonts it uses to the
site as ``assets/mathjax/...``, next to ``javascripts/mathjax-config.js``. Nothing is fetched from a
CDN when a page opens, and nothing of MathJax is committed to this repository.

Where MathJax comes from: the MathJax team's own release on the npm registry, ``mathjax@3.2.2``,
pinned with its SHA-512 in ``docs/hooks/package-lock.json``. The first build runs
``npm ci --prefix docs/hooks`` (about 6 MB, once; npm checks the hash) into ``docs/hooks/node_modules``
(ignored by git); later builds reuse it. So building the docs needs Node's ``npm`` once, besides
``pip install ".[docs]"``. Why not a PyPI package: the only MathJax 3 on PyPI is a Django app
(``django-static-mathjax``) that installs a 43 MB top-level module named ``mathjax`` and whose files
differ from the official release; KaTeX and the build-time renderers on PyPI bundle their own Node
binaries or fetch npm packages themselves.
"""
import json
import os
import shutil
import subprocess

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "node_modules", "mathjax")
COMPONENT = "tex-chtml-full.js"
FONTS = "output/chtml/fonts/woff-v2"
TARGET = "assets/mathjax"


def locked_version():
    with open(os.path.join(HERE, "package-lock.json"), encoding="utf-8") as handle:
        return json.load(handle)["packages"]["node_modules/mathjax"]["version"]


def installed_version():
    try:
        with open(os.path.join(PACKAGE, "package.json"), encoding="utf-8") as handle:
            return json.load(handle)["version"]
    except (OSError, ValueError, KeyError):
        return None


def fetch():
    """``npm ci`` in docs/hooks: exactly the locked MathJax, checked against its hash."""
    npm = shutil.which("npm")
    if npm is None:
        raise PluginError("MathJax is missing and npm is not installed: the docs ship MathJax from the npm "
                          "registry (docs/hooks/package-lock.json). Install Node.js with npm (Debian: "
                          "apt-get install npm), then build again")
    done = subprocess.run([npm, "ci", "--prefix", HERE, "--ignore-scripts", "--no-audit", "--no-fund"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise PluginError(f"npm ci --prefix docs/hooks could not fetch MathJax (it needs the npm registry "
                          f"once):\n{done.stderr[-2000:]}")


def mathjax_root():
    """The folder holding MathJax's es5 build, fetched first when it is missing or not the locked version."""
    wanted = locked_version()
    if installed_version() != wanted:
        fetch()
    root = os.path.join(PACKAGE, "es5")
    if installed_version() != wanted or not os.path.isfile(os.path.join(root, COMPONENT)):
        raise PluginError(f"npm ci ran, but docs/hooks/node_modules/mathjax is not MathJax {wanted} "
                          f"with es5/{COMPONENT}")
    return root


def on_files(files, config):
    root = mathjax_root()
    wanted = [COMPONENT] + [f"{FONTS}/{name}" for name in sorted(os.listdir(os.path.join(root, FONTS)))]
    for relative in wanted:
        files.append(File.generated(config, f"{TARGET}/{relative}",
                                    abs_src_path=os.path.join(root, relative)))
    # MathJax is Apache-2.0: its licence travels with the copy
    files.append(File.generated(config, f"{TARGET}/LICENSE", abs_src_path=os.path.join(PACKAGE, "LICENSE")))
    return files
