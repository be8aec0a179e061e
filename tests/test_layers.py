"""Lower layers never import higher ones: every import in every module of minigen, checked against the
one statement of the layer order, ``minigen.LAYERS``.

An import counts wherever it stands (at the top of a file or inside a function), relative or absolute.
``import minigen as mg`` imports the package's front door, which itself imports many layers; for it the
attributes the module actually uses (``mg.tensor``, ``mg.nn``, ``mg.viz``) are resolved to where they
are defined, and each is checked like an import of that module.
"""
import ast
import pathlib
import re

import minigen as mg

ROOT = pathlib.Path(mg.__file__).parent
LAYER_OF = {name: level for level, names in enumerate(mg.LAYERS) for name in names}

# Known upward imports, each to be removed by the work that owns its file; the test fails when one of
# them is gone (so this list only shrinks) as well as when a new one appears.
#   The engine (lead, issue 14's engine part): Tensor.to() and the backward's sum_to import ops lazily.
KNOWN_UPWARD = set()


# ------------------------------------------------------------------------------------ the checker
def module_name(path):
    """minigen/models/vae.py -> minigen.models.vae; minigen/models/__init__.py -> minigen.models."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(dotted):
    """The layer index of a dotted module name (minigen.models.vae -> models), None for the package
    itself (the front door) and for anything outside minigen."""
    parts = dotted.split(".")
    if parts[0] != "minigen" or len(parts) == 1:
        return None
    if parts[1] not in LAYER_OF:
        raise AssertionError(f"{dotted}: minigen.{parts[1]} is in no layer of minigen.LAYERS; add it there")
    return LAYER_OF[parts[1]]


def defined_in(name):
    """Where the front door's attribute ``name`` comes from: a module's dotted name, or None for plain
    values (``mg.float32``, ``mg.__version__``, ``mg.LAYERS``)."""
    value = getattr(mg, name)
    if isinstance(value, type(mg)):
        return value.__name__
    return getattr(value, "__module__", None) if callable(value) else None


def imports(source, dotted, is_package):
    """(line, imported module's dotted name) for every import in ``source``, the text of ``dotted``."""
    package = dotted if is_package else dotted.rpartition(".")[0]
    tree = ast.parse(source)
    found, front_door_aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "minigen":
                    front_door_aliases.add(alias.asname or "minigen")
                elif alias.name.startswith("minigen."):
                    found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("minigen"):
                continue
            for alias in node.names:
                if target == "minigen":          # from minigen import nn / Tensor / __version__
                    where = defined_in(alias.name) if hasattr(mg, alias.name) else f"minigen.{alias.name}"
                    if where:
                        found.append((node.lineno, where))
                elif (ROOT.parent / (target.replace(".", "/") + f"/{alias.name}.py")).exists() or \
                        (ROOT.parent / target.replace(".", "/") / alias.name).is_dir():
                    found.append((node.lineno, f"{target}.{alias.name}"))
                else:
                    found.append((node.lineno, target))
    for node in ast.walk(tree):          # mg.X where mg is the front door
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in front_door_aliases and hasattr(mg, node.attr):
            where = defined_in(node.attr)
            if where:
                found.append((node.lineno, where))
    return found


def violations(source, dotted, is_package=False):
    """'module:line imports target (layer a above layer b)' for each import that goes up."""
    own = layer(dotted)
    if own is None:
        return []
    bad = []
    for line, target in imports(source, dotted, is_package):
        theirs = layer(target)
        if theirs is not None and theirs > own:
            bad.append((f"{dotted} -> {target}", f"{dotted}:{line} imports {target} "
                        f"({'/'.join(mg.LAYERS[theirs])} is above {'/'.join(mg.LAYERS[own])})"))
    return bad


def every_module():
    return sorted(p for p in ROOT.rglob("*.py") if "_files" not in p.parts)


# ------------------------------------------------------------------------------------ the tests
def test_no_module_imports_a_higher_layer():
    bad = []
    for path in every_module():
        bad += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    new = [message for key, message in bad if key not in KNOWN_UPWARD]
    assert new == [], "\n".join(new)
    assert {key for key, _ in bad} == KNOWN_UPWARD, "a known upward import is gone: drop it from KNOWN_UPWARD"


def test_every_package_and_module_is_in_a_layer():
    top = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
           if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert top - set(LAYER_OF) == set(), "add these to minigen.LAYERS"


def test_the_checker_catches_an_upward_import():
    # a metric that imported a family, or a family that imported the harnesses, would be caught in
    # each form an import can take
    assert violations("from minigen.models import vae\n", "minigen.metrics.codes")
    assert violations("from ..harnesses import compare\n", "minigen.models.vae")
    assert violations("import minigen.training\n", "minigen.models.vae")
    assert violations("from .. import training\n", "minigen.recipe.base")
    assert violations("import minigen as mg\nmg.viz.image_grid(x, 'a.png')\n", "minigen.data.pixels")
    assert violations("from minigen import models\n", "minigen.data", is_package=True)
    # and leaves downward ones alone
    assert not violations("import minigen as mg\nfrom minigen import nn\nx = mg.tensor(1)\n", "minigen.models.vae")
    assert not violations("from ..recipe import Recipe\nfrom . import checks\n", "minigen.models.vae")


def test_the_documented_order_is_the_checked_one():
    """minigen/__init__.py's docstring and the README's table list the layers in LAYERS' order."""
    listed = re.findall(r"^    ([a-z_]+(?:, [a-z_]+)*) {2,}", mg.__doc__, re.M)
    assert [tuple(names.split(", ")) for names in listed] == [n for n in mg.LAYERS if n != ("cli", "__main__")] \
        + [("cli",)]
    readme = (ROOT.parent / "README.md").read_text()
    table = re.findall(r"^\| `minigen/([a-z_]+)`", readme, re.M)
    order = [name for names in mg.LAYERS for name in names]
    assert table == sorted(table, key=order.index), "README's layer table is out of order"
    present = {name for name in order if (ROOT / name).is_dir()}
    assert present <= set(table), f"README's layer table misses {sorted(present - set(table))}"
