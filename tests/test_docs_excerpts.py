"""The docs' @excerpt hook (docs/hooks/excerpts.py): references resolve to exactly the source they name,
and a reference that does not resolve fails the strict build, naming the page and the reference.

The hook uses only the standard library, so all but the last test run without the docs extra.
"""
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("excerpts", ROOT / "docs" / "hooks" / "excerpts.py")
excerpts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(excerpts)

SOURCE = textwrap.dedent('''\
    """A module."""
    SCALE = 2.0


    def top(x):
        """Doubles."""
        return SCALE * x


    class Outer:
        LIMIT: int = 3

        @staticmethod
        def method(x):
            return x + 1

        @property
        def value(self):
            return self._v

        @value.setter
        def value(self, v):
            self._v = v

        class Inner:
            def deep(self):
                # excerpt: the-core
                y = 1
                z = y + 1
                # end excerpt: the-core
                return z


    def fenced():
        """Shows a fence: ```python``` and ````four````."""
    ''')


@pytest.fixture
def root(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    return tmp_path


def lines_of(text):
    return text.splitlines()


def test_a_function_with_its_docstring_and_its_line_numbers(root):
    got = excerpts.resolve(root, "pkg/mod.py::top")
    assert got.first_line == 5
    assert lines_of(got.code) == ["def top(x):", '    """Doubles."""', "    return SCALE * x"]


def test_methods_nested_classes_and_decorators(root):
    got = excerpts.resolve(root, "pkg/mod.py::Outer.method")
    assert got.first_line == 13                         # the decorator's line
    assert lines_of(got.code) == ["@staticmethod", "def method(x):", "    return x + 1"]   # dedented
    deep = excerpts.resolve(root, "pkg/mod.py::Outer.Inner.deep")
    assert lines_of(deep.code)[0] == "def deep(self):" and lines_of(deep.code)[-1] == "    return z"


def test_a_property_and_its_setter_come_together(root):
    got = excerpts.resolve(root, "pkg/mod.py::Outer.value")
    assert lines_of(got.code)[0] == "@property" and lines_of(got.code)[-1] == "    self._v = v"


def test_constants_module_and_class_level(root):
    assert excerpts.resolve(root, "pkg/mod.py::SCALE").code == "SCALE = 2.0"
    assert excerpts.resolve(root, "pkg/mod.py::Outer.LIMIT").code == "LIMIT: int = 3"


def test_a_marked_region_without_its_markers(root):
    got = excerpts.resolve(root, "pkg/mod.py#the-core")
    assert lines_of(got.code) == ["y = 1", "z = y + 1"] and got.first_line == 28


@pytest.mark.parametrize("ref, says", [
    ("pkg/nope.py::top", "pkg/nope.py: no such file"),
    ("pkg/mod.py::bottom", "no class, function or constant named 'bottom' in the module"),
    ("pkg/mod.py::Outer.missing", "named 'missing' in Outer"),
    ("pkg/mod.py::Outer.Inner.deep.more", "named 'more' in Outer.Inner.deep"),
    ("pkg/mod.py#no-such-region", "no region 'no-such-region'"),
    ("pkg/mod.py", "bad reference"),
    ("pkg/mod.py::1bad", "bad reference"),
    ("../outside.py::x", "inside the repository"),
])
def test_what_does_not_resolve_says_what_is_missing(root, ref, says):
    with pytest.raises(excerpts.ExcerptError, match=None) as error:
        excerpts.resolve(root, ref)
    assert says in str(error.value)


def test_expand_replaces_directives_keeps_indentation_and_leaves_fences_alone(root):
    page = "\n".join(["Text.", "", "@excerpt pkg/mod.py::top", "", "- item", "",
                      "    @excerpt pkg/mod.py::SCALE", "", "```", "@excerpt pkg/mod.py::nothing", "```"])
    out, errors = excerpts.expand(page, root, "page.md")
    assert errors == []
    assert '<div class="excerpt" data-ref="pkg/mod.py::top" markdown>' in out
    assert '    <div class="excerpt" data-ref="pkg/mod.py::SCALE" markdown>' in out
    assert '    ```python title="pkg/mod.py :: SCALE" linenums="2"' in out
    assert "@excerpt pkg/mod.py::nothing" in out         # inside a fenced block: shown, not resolved


def test_a_fence_longer_than_any_backtick_run_in_the_source(root):
    out, _ = excerpts.expand("@excerpt pkg/mod.py::fenced", root)
    assert '`````python title=' in out and out.rstrip().splitlines()[-3] == "`````"


def test_errors_name_the_page_and_the_reference(root):
    out, errors = excerpts.expand("@excerpt pkg/mod.py::gone", root, "families/vae.md")
    assert len(errors) == 1
    assert errors[0].startswith("families/vae.md: @excerpt pkg/mod.py::gone: ")
    assert "Missing code excerpt" in out


def test_every_reference_in_the_docs_resolves():
    """The same check the strict build makes, without MkDocs: each @excerpt of docs/*.md resolves."""
    problems = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        _, errors = excerpts.expand(page.read_text(), ROOT, page.name)
        problems += errors
    assert not problems, "\n".join(problems)


def test_the_strict_build_fails_on_a_missing_excerpt(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip('MkDocs is not installed: pip install ".[docs]"')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Page\n\n@excerpt pkg/gone.py::f\n")
    (tmp_path / "mkdocs.yml").write_text(
        f"site_name: t\nhooks:\n  - {ROOT / 'docs' / 'hooks' / 'excerpts.py'}\n")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode != 0
    assert "index.md: @excerpt pkg/gone.py::f: pkg/gone.py: no such file" in built.stderr
