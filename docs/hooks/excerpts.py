"""Code excerpts pulled from the source at build time (an MkDocs hook, ``hooks:`` in mkdocs.yml).

A page asks for the code that computes an equation with a line of its own::

    @excerpt minigen/models/vae.py::VAE.elbo
    @excerpt minigen/diffusion/samplers.py::ddim_step
    @excerpt minigen/models/vae.py::LIKELIHOODS

The reference is a file (relative to the repository root) and a qualified name inside it: a class,
a function, a method (``Class.method``, nested as deep as the code is) or a module-level constant.
The hook finds it with ``ast`` and puts its source, decorators and docstring included, into the page
as a Python code block titled with the reference and numbered with the file's own line numbers. The
source files need no markers, and an edit to the code shows on the page at the next build.

Where a whole function is too coarse, a marked region can be used instead::

    @excerpt minigen/some/file.py#region-name

with the region between two comment lines in the source, ``# excerpt: region-name`` and
``# end excerpt: region-name`` (the marker lines themselves are left out).

The directive may be indented (inside an admonition, a list item or a content tab); the block keeps
that indentation. A missing file, name or region is logged as a warning that names the page and the
reference, so ``mkdocs build --strict`` fails on it; without ``--strict`` the page shows a warning box
in its place.

Only the standard library is used, so the functions below are unit-tested without MkDocs installed
(``tests/test_docs_excerpts.py``).
"""
import ast
import logging
import os
import re
import textwrap
from dataclasses import dataclass

# The hook's logger sits under "mkdocs", whose handler counts warnings for --strict.
log = logging.getLogger("mkdocs.hooks.excerpts")

DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)@excerpt[ \t]+(?P<ref>\S+)[ \t]*$", re.M)
REGION_START = "# excerpt: {}"
REGION_END = "# end excerpt: {}"


class ExcerptError(LookupError):
    """A reference that does not resolve: the message says what is missing and where."""


@dataclass(frozen=True)
class Excerpt:
    path: str            # as written in the reference, relative to the root
    name: str            # the qualified name or "#region"
    first_line: int      # 1-based line number of the first line shown
    code: str            # dedented source


def split_reference(ref):
    """``"path::Qual.name"`` -> (path, "Qual.name", None); ``"path#region"`` -> (path, None, "region")."""
    if "::" in ref:
        path, name = ref.split("::", 1)
        if not path or not name or not all(part.isidentifier() for part in name.split(".")):
            raise ExcerptError(f"bad reference {ref!r}: expected FILE::Name.name or FILE#region")
        return path, name, None
    if "#" in ref:
        path, region = ref.split("#", 1)
        if not path or not region:
            raise ExcerptError(f"bad reference {ref!r}: expected FILE::Name.name or FILE#region")
        return path, None, region
    raise ExcerptError(f"bad reference {ref!r}: expected FILE::Name.name or FILE#region")


def _read(root, path):
    full = os.path.normpath(os.path.join(root, path))
    if os.path.isabs(path) or not full.startswith(os.path.normpath(root) + os.sep):
        raise ExcerptError(f"{path}: the file must be a relative path inside the repository")
    if not os.path.isfile(full):
        raise ExcerptError(f"{path}: no such file")
    with open(full, encoding="utf-8") as handle:
        return handle.read()


def _definitions(body):
    """name -> nodes defined directly in a module or class body (defs, classes, assignments)."""
    found = {}
    for node in body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        for name in names:
            found.setdefault(name, []).append(node)
    return found


def find_definition(source, name, path="<source>"):
    """(first line, last line), 1-based and inclusive, of the qualified ``name`` in ``source``.

    Decorators are included. A name defined more than once at the same level (a property and its
    setter) spans from the first definition to the last.
    """
    body = ast.parse(source, filename=path).body
    nodes, walked = None, []
    for part in name.split("."):
        candidates = _definitions(body).get(part)
        if not candidates:
            where = f"{'.'.join(walked)}" if walked else "the module"
            raise ExcerptError(f"{path}: no class, function or constant named {part!r} in {where}")
        walked.append(part)
        nodes = candidates
        body = getattr(candidates[0], "body", [])
    first = min(min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) for n in nodes)
    last = max(n.end_lineno for n in nodes)
    return first, last


def find_region(source, region, path="<source>"):
    """(first line, last line) between the lines ``# excerpt: region`` and ``# end excerpt: region``."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == REGION_START.format(region)]
    ends = [i for i, line in enumerate(lines) if line.strip() == REGION_END.format(region)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] <= starts[0] + 1:
        raise ExcerptError(f"{path}: no region {region!r} (expected one line "
                           f"{REGION_START.format(region)!r} and, below it, one line "
                           f"{REGION_END.format(region)!r})")
    return starts[0] + 2, ends[0]


def resolve(root, ref):
    """The ``Excerpt`` a reference points at, or ``ExcerptError`` saying what is missing."""
    path, name, region = split_reference(ref)
    source = _read(root, path)
    if name is not None:
        first, last = find_definition(source, name, path)
    else:
        first, last = find_region(source, region, path)
    lines = source.splitlines()[first - 1:last]
    return Excerpt(path, name or f"#{region}", first, textwrap.dedent("\n".join(lines)))


def render(excerpt, indent=""):
    """The Markdown for one excerpt: a titled, line-numbered Python block in a ``div.excerpt``."""
    longest = max((len(m) for m in re.findall(r"`+", excerpt.code)), default=0)
    fence = "`" * max(3, longest + 1)
    title = f"{excerpt.path} :: {excerpt.name}" if not excerpt.name.startswith("#") else \
        f"{excerpt.path} {excerpt.name}"
    ref = excerpt.path + (excerpt.name if excerpt.name.startswith("#") else "::" + excerpt.name)
    block = [f'<div class="excerpt" data-ref="{ref}" markdown>', "",
             f'{fence}python title="{title}" linenums="{excerpt.first_line}"',
             *excerpt.code.splitlines(), fence, "", "</div>"]
    return "\n".join(indent + line if line else line for line in block)


def expand(markdown, root, page="<page>"):
    """Replace every ``@excerpt`` line of ``markdown``; returns (new markdown, list of error messages).

    Lines inside fenced code blocks are left alone, so a page can show the directive itself.
    """
    errors, out, fence = [], [], None
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        opening = re.match(r"(`{3,}|~{3,})", stripped)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and stripped.startswith(fence) and not stripped[len(fence):].strip():
            fence = None
        match = DIRECTIVE.match(line) if fence is None else None
        if not match:
            out.append(line)
            continue
        indent, ref = match.group("indent"), match.group("ref")
        try:
            out.append(render(resolve(root, ref), indent))
        except (ExcerptError, SyntaxError, OSError) as error:
            message = f"{page}: @excerpt {ref}: {error}"
            errors.append(message)
            out.append(f'{indent}!!! failure "Missing code excerpt"\n{indent}    `{ref}`: {error}')
    return "\n".join(out), errors


# --- MkDocs hook events ------------------------------------------------------------------------

def on_page_markdown(markdown, page, config, files):
    root = os.path.dirname(os.path.abspath(config.config_file_path))
    markdown, errors = expand(markdown, root, page.file.src_uri)
    for message in errors:
        log.warning(message)
    return markdown
