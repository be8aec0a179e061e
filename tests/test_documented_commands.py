"""Every `minigen ...` command that README.md and the pages under docs/ show is run, and what the page
says it gives is checked.

Where a page shows commands:

- fenced code blocks and indented code blocks: every line that is a command (a console ``$ `` prompt
  is dropped; ``\\`` joins continued lines; a trailing ``# comment`` is dropped; ``a && b`` and
  ``a; b`` are two commands), as long as it starts with ``minigen`` or ``mpiexec ... minigen``;
- inline code spans that hold a whole command (``minigen train gan --dataset digits``), also when the
  span wraps across a line.

A synopsis (``minigen train MODEL --dataset NAME [--epochs N]``: placeholders in capitals, brackets or
alternatives) is not a command and is left out. A transcript line that follows a command and starts
with ``minigen X: error:`` says that the command fails: it must exit with status 2 and print that line.

What a page tells this test, in an HTML comment that the rendered page does not show::

    <!-- docs-test
    expect minigen eval runs/realnvp-moons: nll_nats - true_entropy_nats <= 0.02
    reduce minigen compare --dataset digits => --steps 20 --seeds 1
    skip mpiexec -f hosts: needs a hosts file that names other machines
    fails minigen train dcgan --dataset 8gaussians: needs square images
    -->

The tables of default runs that examples/defaults_report.py writes (docs/defaults.md, and the
``<!-- defaults: ... -->`` regions of other pages) are the report's: it runs their commands.

- ``expect COMMAND: CONDITION``: COMMAND (a ``minigen eval`` line, run after the page's own commands
  unless the page ran the same line) prints one JSON object; CONDITION, a Python expression over its
  keys, must hold. This is how "the quoted metric is in the stated range" is checked, at the page's
  budget.
- ``reduce PREFIX => FLAGS``: every command that starts with PREFIX runs with FLAGS instead of the
  flags of the same names (``--steps`` and ``--epochs`` replace each other): the cheaper run of a
  command whose numbers come from a longer one (the page says where those come from; a reduced
  command is checked for its exit status only, and an expect on it is refused).
- ``skip PREFIX: REASON``: a command this test cannot run anywhere (other machines).
- ``fails PREFIX: MESSAGE``: a command the prose shows failing (outside a transcript): it must exit
  with status 2 and print MESSAGE.

Commands needing what a machine may lack are skipped with the reason: ``--device cuda`` without a
GPU, ``mpiexec`` without the mpi extra.

All pages run in one working folder, README first, then the site's pages in the order of mkdocs.yml:
a command already run (the same words, after reductions) is not run again, and a ``train`` into a run
folder that exists starts afresh (the folder is removed first), as a reader who runs a page's
commands in order would do. Each page also runs alone (``-k vae.md``): every page trains what it uses.

    python -m pytest -m slow tests/test_documented_commands.py
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("info", "datasets", "train", "sample", "eval", "compare", "restore", "corrupt")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.[a-z]+)?$|[\[\]|]|\.\.\.|^<.*>$")
ANNOTATION = re.compile(r"<!--\s*docs-test\b(.*?)-->", re.S)
LENGTH_FLAGS = ("--steps", "--epochs")


# ---------------------------------------------------------------------------------- reading the pages
def pages() -> list:
    """README.md, then the pages of mkdocs.yml's nav in order (those that exist), then any other page."""
    nav = re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    ordered = [p for p in nav if (ROOT / "docs" / p).exists() and not p.startswith("api/")]
    others = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name not in ordered)
    return ["README.md"] + [f"docs/{p}" for p in ordered + others]


def _strip_comment(line: str) -> str:
    """``line`` without a trailing shell comment (a # after whitespace, outside quotes) or a description
    set off by three or more spaces (a synopsis: ``minigen info      versions, devices``)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif (ch == "#" and (i == 0 or line[i - 1].isspace())) or line.startswith("   ", i):
            return line[:i].rstrip()
    return line.rstrip()


def _split_chain(line: str) -> list:
    return [part.strip() for part in re.split(r"\s*(?:&&|;)\s*", line) if part.strip()]


def is_command(text: str) -> bool:
    """A whole minigen command line: ``minigen SUB ...`` or ``mpiexec ... minigen SUB ...`` with what SUB
    needs (a dataset, a run folder) and no placeholders; not a mention of a subcommand by name."""
    try:
        words = shlex.split(text)
    except ValueError:
        return False
    if any(PLACEHOLDER.search(word) for word in words[1:]):
        return False
    if words[:1] == ["mpiexec"]:
        words = words[words.index("minigen"):] if "minigen" in words else []
    if len(words) < 2 or words[0] != "minigen" or words[1] not in SUBCOMMANDS:
        return False
    if words[1] in ("train", "compare", "corrupt"):
        return "--dataset" in words
    if words[1] in ("sample", "eval", "restore"):
        return len(words) > 2 and not words[2].startswith("-")
    return True


def code_lines(text: str):
    """(line number, text, following output lines) of each line of the page's code blocks."""
    lines = text.splitlines()
    fenced, blank_before, out = False, True, []
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append((number, line.strip()))
        elif line.startswith("    ") and blank_before and not line.lstrip().startswith(("-", "*", "|")):
            out.append((number, line.strip()))
            continue                 # an indented block goes on while its lines stay indented
        blank_before = not line.strip() or (blank_before and line.startswith("    "))
    return out


DEFAULTS_REGION = re.compile(r"<!-- defaults: .*?<!-- /defaults -->", re.S)


def commands(text: str) -> list:
    """[(line, command, expected error or None)] of a page, in the page's order (module docstring).
    The tables that examples/defaults_report.py writes into a page (``<!-- defaults: ... -->``) are
    left out: their commands are the report's, measured there and checked against the pages'
    conditions by test_what_the_pages_expect_of_a_default_run_holds_in_the_defaults_table."""
    text = DEFAULTS_REGION.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found = []
    block = code_lines(text)
    i = 0
    while i < len(block):
        number, line = block[i]
        while line.endswith("\\") and i + 1 < len(block):         # a continued line
            i += 1
            line = line[:-1].rstrip() + " " + block[i][1]
        i += 1
        line = _strip_comment(line[2:] if line.startswith("$ ") else line)
        error = None
        if i < len(block) and re.match(r"minigen [a-z]+: error: ", block[i][1]):
            error = block[i][1].split(": error: ", 1)[1]
        for part in _split_chain(line):
            if is_command(part):
                found.append((number, part, error))
    prose = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    prose = "\n".join("" if line.startswith("    ") else line for line in prose.splitlines())
    for match in re.finditer(r"`([^`]+)`", prose):
        span = " ".join(match.group(1).split())
        for part in _split_chain(span):
            if is_command(part):
                found.append((prose.count("\n", 0, match.start()) + 1, part, None))
    return sorted(found, key=lambda item: item[0])


def annotations(text: str) -> dict:
    """{"expect": [(command, condition)], "reduce": [(prefix, flags)], "skip": [(prefix, reason)],
    "fails": [(prefix, message)]}."""
    notes = {"expect": [], "reduce": [], "skip": [], "fails": []}
    for block in ANNOTATION.findall(text):
        for raw in block.strip().splitlines():
            line = raw.strip()
            if not line:
                continue
            kind, _, rest = line.partition(" ")
            if kind == "expect" and ": " in rest:
                command, condition = rest.split(": ", 1)
                notes["expect"].append((command.strip(), condition.strip()))
            elif kind == "reduce" and " => " in rest:
                prefix, flags = rest.split(" => ", 1)
                notes["reduce"].append((prefix.strip(), flags.strip()))
            elif kind in ("skip", "fails") and ": " in rest:
                prefix, reason = rest.split(": ", 1)
                notes[kind].append((prefix.strip(), reason.strip()))
            else:
                raise ValueError(f"docs-test annotation not understood: {line!r} (expect COMMAND: CONDITION, "
                                 "reduce PREFIX => FLAGS, skip PREFIX: REASON, fails PREFIX: MESSAGE)")
    return notes


def reduced(command: str, flags: str) -> str:
    """``command`` with ``flags`` in place of the flags of the same names (module docstring)."""
    words, new = shlex.split(command), shlex.split(flags)
    names = {w for w in new if w.startswith("--")}
    if names & set(LENGTH_FLAGS):
        names |= set(LENGTH_FLAGS)
    kept, i = [], 0
    while i < len(words):
        if words[i] in names:
            i += 2 if i + 1 < len(words) and not words[i + 1].startswith("--") else 1
            continue
        kept.append(words[i])
        i += 1
    return shlex.join(kept + new)


# ---------------------------------------------------------------------------------- the parser, checked
PAGE = """
Run it:

```console
$ minigen train vae --dataset digits --steps 5 \\
    --latent-dim 2 && minigen eval runs/vae-digits   # the bound
$ minigen sample runs/classifier-digits --n 16
minigen sample: error: 'classifier' is not a generative model
minigen train MODEL --dataset NAME [--epochs N]
pip install . && python examples/x.py
```

Or in prose: `minigen train gan --dataset 8gaussians
--steps 40`, and `minigen sample DIR --n N` is a synopsis.

    minigen compare --dataset moons --steps 500   # indented block

<!-- docs-test
expect minigen eval runs/vae-digits: nll_nats < 40
reduce minigen compare --dataset moons => --steps 5 --seeds 1
skip minigen train gan: a reason
-->
"""


def test_commands_are_read_from_blocks_transcripts_and_prose():
    found = commands(PAGE)
    assert [command for _, command, _ in found] == [
        "minigen train vae --dataset digits --steps 5 --latent-dim 2", "minigen eval runs/vae-digits",
        "minigen sample runs/classifier-digits --n 16", "minigen train gan --dataset 8gaussians --steps 40",
        "minigen compare --dataset moons --steps 500"]
    assert found[2][2] == "'classifier' is not a generative model"
    assert found[0][2] is None and found[0][0] == 5
    notes = annotations(PAGE)
    assert notes["expect"] == [("minigen eval runs/vae-digits", "nll_nats < 40")]
    assert notes["skip"] == [("minigen train gan", "a reason")]
    assert reduced("minigen compare --dataset moons --steps 500", "--steps 5 --seeds 1") == \
        "minigen compare --dataset moons --steps 5 --seeds 1"
    assert reduced("minigen train ddpm --dataset mnist-5k", "--epochs 1") == "minigen train ddpm --dataset mnist-5k --epochs 1"
    assert reduced("minigen train ddpm --dataset x --steps 9 --lr 1", "--epochs 1") == \
        "minigen train ddpm --dataset x --lr 1 --epochs 1"
    with pytest.raises(ValueError, match="not understood"):
        annotations("<!-- docs-test\nexpect without a colon\n-->")


def test_every_page_states_its_checks_in_a_form_this_test_reads():
    """Every page's annotations parse, name commands the page shows, and every page has commands."""
    total = 0
    for page in pages():
        text = (ROOT / page).read_text()
        shown = [command for _, command, _ in commands(text)]
        total += len(shown)
        notes = annotations(text)
        for prefix, _ in notes["reduce"] + notes["skip"] + notes["fails"]:
            assert any(c.startswith(prefix) for c in shown), f"{page}: no command starts with {prefix!r}"
        for command, condition in notes["expect"]:
            compile(condition, page, "eval")
            assert is_command(command) and command.startswith("minigen eval"), (page, command)
    assert total > 50


def defaults_table() -> dict:
    """{"FAMILY/DATASET": {metric: value}} of the runs that docs/defaults.md reports (the JSON that
    examples/defaults_report.py writes at its end), {} if the page has none."""
    page = ROOT / "docs" / "defaults.md"
    found = re.search(r"<!-- defaults-values\n(.*?)\n-->", page.read_text(), re.S) if page.exists() else None
    return json.loads(found.group(1)) if found else {}


def test_what_the_pages_expect_of_a_default_run_holds_in_the_defaults_table():
    """A condition that a page states for a run with the defaults (`minigen eval runs/F-D` after the
    page's `minigen train F --dataset D` with no other flag) holds for the row of docs/defaults.md: the
    pages quote the table, and a condition that the measured run does not meet, or one stated for a
    default run that the table lacks, fails here, in the fast suite."""
    table = defaults_table()
    assert table, "docs/defaults.md has no measured rows (python examples/defaults_report.py writes them)"
    checked, failures = 0, []
    for page in pages():
        text = (ROOT / page).read_text()
        shown = {command for _, command, _ in commands(text)}
        for command, condition in annotations(text)["expect"]:
            folder = shlex.split(command)[2]
            for train in shown:
                words = shlex.split(train)
                if words[1] != "train" or _out_folder(words) != folder:
                    continue
                key = f"{words[2]}/{words[words.index('--dataset') + 1]}"
                if len(words) != 5:                            # not a default run
                    continue
                if key not in table:
                    failures.append(f"{page}: {command}: the page states {condition!r} for the default run "
                                    f"{key}, which docs/defaults.md has not measured "
                                    f"(python examples/defaults_report.py --only {key})")
                    continue
                checked += 1
                if not eval(condition, {"__builtins__": {}, "abs": abs, "min": min, "max": max}, dict(table[key])):
                    failures.append(f"{page}: {command}: {condition} does not hold for {key} in docs/defaults.md")
    assert not failures, "\n".join(failures)
    assert checked >= 5


# ---------------------------------------------------------------------------------- running them
def _environment():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def _argv(command: str) -> list:
    words = shlex.split(command)
    at = words.index("minigen")
    if words[0] == "mpiexec":
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        return [mpiexec, *words[1:at], sys.executable, "-m", "minigen", *words[at + 1:]]
    return [sys.executable, "-m", "minigen", *words[at + 1:]]


def _out_folder(words: list) -> str | None:
    """The run folder a ``train`` command writes (its --out, or runs/MODEL-DATASET)."""
    at = words.index("minigen")
    if words[at + 1] != "train":
        return None
    if "--out" in words:
        return words[words.index("--out") + 1]
    return os.path.join("runs", f"{words[at + 2]}-{words[words.index('--dataset') + 1]}")


def _cannot_run(command: str, notes) -> str | None:
    for prefix, reason in notes["skip"]:
        if command.startswith(prefix):
            return reason
    words = shlex.split(command)
    if "--device" in words and words[words.index("--device") + 1].startswith("cuda"):
        import minigen as mg
        if not mg.cuda.is_available():
            return "needs a CUDA GPU with CuPy"
    if words[0] == "mpiexec" and not (importlib_find("mpi4py") and shutil.which(
            "mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])):
        return "needs the mpi extra (pip install \".[mpi]\")"
    return None


def importlib_find(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


class Workspace:
    """The one working folder of the session, with what was run in it."""

    def __init__(self, path):
        self.path = path
        self.done = {}                 # command -> (exit status, stdout, stderr)

    def run(self, command, timeout=None):
        if command in self.done:
            return self.done[command]
        words = shlex.split(command)
        out = _out_folder(words)
        if out and "--resume" not in words and os.path.isdir(self.path / out):
            shutil.rmtree(self.path / out)            # a fresh run, as the page shows it
        proc = subprocess.run(_argv(command), cwd=self.path, env=_environment(), capture_output=True,
                              text=True, timeout=timeout)
        self.done[command] = (proc.returncode, proc.stdout, proc.stderr)
        return self.done[command]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return Workspace(tmp_path_factory.mktemp("documented-commands"))


@pytest.mark.slow
@pytest.mark.parametrize("page", pages())
def test_the_commands_of_the_page_do_what_it_says(page, workspace, capsys):
    text = (ROOT / page).read_text()
    notes = annotations(text)
    failures, skipped, ran = [], [], []
    for line, command, error in commands(text):
        reason = _cannot_run(command, notes)
        if reason:
            skipped.append(f"{page}:{line}: {command} ({reason})")
            continue
        for prefix, message in notes["fails"]:
            if command.startswith(prefix):
                error = message
        actual = command
        for prefix, flags in notes["reduce"]:
            if command.startswith(prefix):
                actual = reduced(command, flags)
        status, stdout, stderr = workspace.run(actual)
        ran.append(actual)
        where = f"{page}:{line}: {actual}"
        if error is not None:
            if status != 2 or error not in stderr:
                failures.append(f"{where}: expected exit 2 and {error!r}, got {status}: {stderr[-500:]}")
        elif status != 0:
            failures.append(f"{where}: exit {status}: {stderr[-800:]}")
    for command, condition in notes["expect"]:
        if any(prefix and command.startswith(prefix) for prefix, _ in notes["reduce"]):
            failures.append(f"{page}: expect on a reduced command ({command}): check the full one or none")
            continue
        status, stdout, stderr = workspace.run(command)
        if status != 0:
            failures.append(f"{page}: {command}: exit {status}: {stderr[-800:]}")
            continue
        metrics = json.loads(stdout.strip().splitlines()[-1])
        names = {k: v for k, v in metrics.items()}
        try:
            ok = eval(condition, {"__builtins__": {}, "abs": abs, "min": min, "max": max}, names)
        except Exception as e:                      # a key the output lacks: a failure, named
            ok, condition = False, f"{condition} ({type(e).__name__}: {e})"
        if not ok:
            shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
            failures.append(f"{page}: {command}: {condition} does not hold: {shown}")
    with capsys.disabled():
        print(f"\n{page}: {len(ran)} commands run, {len(notes['expect'])} checks, {len(skipped)} skipped")
        for line in skipped:
            print(f"  skipped {line}")
    assert not failures, "\n".join(failures)
