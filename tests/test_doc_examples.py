"""The examples of README.md and of every documentation page (docs/**/*.md) run, so that they
cannot drift from the code.

A fenced block runs when the line before its fence is a marker (an HTML comment, invisible on
GitHub):

- ``<!-- test: run -->`` (python): executed, in a directory holding a small ``results/`` tree
  (paired HDF5 files in the dataset schema), so that examples opening results work;
- ``<!-- test: module NAME -->`` (python): the source of module NAME, as a user saves it, imported
  as NAME (relative imports and registration decorators work);
- ``<!-- test: pytest -->`` (python): a test file; every ``test_*`` function is called;
- ``<!-- test: config -->`` (yaml): a fragment merged into ``config.yaml`` (``<!-- test: config
  PRESET -->``: into that file, e.g. ``config/rs3l-paper.yaml``), which must pass the checks the
  workflow makes when it parses a config.

The marked blocks of one section (a file's heading) run in order, in one test, and share what
they register. Every ``bash`` block is checked without marks: each ``resim``/``rs3l``/``snakemake``
command line must parse (sub-command, options, required arguments), each ``python <script>.py``
or ``scripts/<script>`` line may only use options its ``--help`` lists. Dotted names of
``resim``/``train`` quoted in the text must exist.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
#: README and the site's pages
DOCS = [REPO / "README.md"] + sorted((REPO / "docs").rglob("*.md"))
MARK = re.compile(r"^<!--\s*test:\s*(run|module|pytest|config)\b\s*(\S*)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")
HEADING = re.compile(r"^#{1,3} (.+)$")


@dataclass
class Block:
    file: str                 # relative to the repository
    section: str
    lang: str
    code: str
    line: int                 # of the first code line, for messages
    kind: str | None = None   # the marker's kind, None if unmarked
    arg: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def doc_blocks(path: Path) -> list[Block]:
    name = str(path.relative_to(REPO))
    blocks, section, fence, previous = [], "top", None, ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = FENCE.match(line)
        if fence is None and match:
            mark = MARK.match(previous.strip())
            fence = Block(name, section, match[1], "", number + 1,
                          *(mark.groups() if mark else (None, "")))
        elif fence is not None and line.startswith("```"):
            blocks.append(fence)
            fence = None
        elif fence is not None:
            fence.code += line + "\n"
        elif HEADING.match(line):
            section = HEADING.match(line)[1]
        previous = line
    assert fence is None, f"{name}: a fenced block is not closed"
    return blocks


BLOCKS = [block for path in DOCS for block in doc_blocks(path)]
SECTIONS = list(dict.fromkeys((b.file, b.section) for b in BLOCKS if b.kind))


def test_every_python_and_yaml_example_is_marked():
    unmarked = [b.where for b in BLOCKS if b.lang in ("python", "yaml") and not b.kind]
    assert not unmarked, f"mark these blocks (see tests/test_doc_examples.py): {unmarked}"
    assert {"run", "module", "pytest", "config"} <= {b.kind for b in BLOCKS}
    # a marker that does not match the pattern would silently skip its block
    assert not [f"{path}:{number}" for path in DOCS
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if line.startswith("<!-- test") and not MARK.match(line.strip())]


# ---------------------------------------------------------------------------------------------
# marked python and yaml blocks


@pytest.fixture(scope="module")
def results_tree(tmp_path_factory) -> Path:
    """A working directory with results/dataset/<sample>/<shard>.h5 and <split>.h5."""
    from fixtures_train import write_pairs

    root = tmp_path_factory.mktemp("examples")
    (root / "results" / "dataset" / "higgs").mkdir(parents=True)
    write_pairs(root / "results" / "dataset" / "higgs" / "0.h5", 64)
    write_pairs(root / "results" / "dataset" / "pretrain.h5", 1000, seed=1)
    return root


@contextlib.contextmanager
def registries_restored():
    """Plug-ins a section registers are forgotten afterwards (other tests see the real set)."""
    from resim.detector.registry import DETECTORS
    from resim.forks.registry import FORKS
    from resim.showers.registry import SHOWERS
    from resim.hard.registry import BACKENDS

    registries = (FORKS, SHOWERS, BACKENDS, DETECTORS)
    for registry in registries:
        registry.names()  # import the real plug-ins first: restoring must not drop them
    saved = {registry: dict(registry.entries) for registry in registries}
    try:
        yield
    finally:
        for registry, entries in saved.items():
            registry.entries.clear()
            registry.entries.update(entries)
        for block in BLOCKS:
            if block.kind == "module":
                sys.modules.pop(block.arg, None)


def merged(base: dict, fragment: dict) -> dict:
    """``base`` with ``fragment`` on top: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in fragment.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def run_block(block: Block) -> None:
    where = block.where
    code = compile(block.code, where, "exec") if block.lang == "python" else None
    if block.kind == "run":
        exec(code, {"__name__": "__readme__"})
    elif block.kind == "module":
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(block.arg, None))
        module.__file__ = where
        sys.modules[block.arg] = module
        exec(code, module.__dict__)
    elif block.kind == "pytest":
        namespace = {"__name__": "__readme_test__"}
        exec(code, namespace)
        tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
        assert tests, f"{where}: no test_* function"
        for test in tests:
            test()
    elif block.kind == "config":
        from resim_workflow import runs, splits
        from resim.config import load_config, validate

        # what the workflow checks at parse time (workflow/rules/common.smk)
        base = load_config(REPO / (block.arg or "config.yaml"))
        config = validate(merged(base, yaml.safe_load(block.code)), source=where)
        splits.split_shards(config)
        runs.views(config)


@pytest.mark.parametrize("section", SECTIONS, ids=[f"{f}:{s}" for f, s in SECTIONS])
def test_marked_examples_run(section, results_tree, monkeypatch):
    monkeypatch.chdir(results_tree)
    with registries_restored():
        for block in (b for b in BLOCKS if (b.file, b.section) == section and b.kind):
            run_block(block)


# ---------------------------------------------------------------------------------------------
# command lines of the bash blocks


def command_lines() -> list[tuple[str, list[str]]]:
    """(file:line, argv) of every command in a bash block (continuations joined, comments and
    leading VAR=value assignments dropped)."""
    out = []
    for block in (b for b in BLOCKS if b.lang == "bash"):
        pending, start = "", block.where
        for offset, line in enumerate(block.code.splitlines()):
            if not pending:
                start = f"{block.file}:{block.line + offset}"
            stripped = line.split(" #")[0].rstrip() if not line.lstrip().startswith("#") else ""
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            argv = shlex.split(pending + stripped, comments=True)
            pending = ""
            while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
                argv = argv[1:]
            if argv:
                out.append((start, argv))
    return out


COMMANDS = command_lines()


def parse_with(parser, argv: list[str], where: str, capsys) -> None:
    try:
        parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: {shlex.join(argv)}: {capsys.readouterr().err.strip()}")


def test_console_script_lines_parse(capsys):
    from resim.cli import build_parser as resim_parser
    from train.cli import build_parser as rs3l_parser

    parsers = {"resim": resim_parser(), "rs3l": rs3l_parser()}
    checked = [(line, argv) for line, argv in COMMANDS if argv[0] in parsers]
    assert len(checked) >= 10
    for line, argv in checked:
        parse_with(parsers[argv[0]], argv[1:], line, capsys)


def test_snakemake_lines_parse(capsys):
    from snakemake.cli import get_argument_parser

    parser = get_argument_parser()
    checked = [(line, argv) for line, argv in COMMANDS if Path(argv[0]).name == "snakemake"]
    assert len(checked) >= 8
    for line, argv in checked:
        parse_with(parser, argv[1:], line, capsys)


def script_lines() -> list[tuple[str, str, list[str]]]:
    """(file:line, script, its arguments) of every ``python x.py`` and ``scripts/x`` line."""
    out = []
    for line, argv in COMMANDS:
        if Path(argv[0]).name.startswith("python") and argv[1].endswith(".py"):
            out.append((line, argv[1], argv[2:]))
        elif argv[0].startswith("scripts/"):
            out.append((line, argv[0], argv[1:]))
    return out


def test_script_lines_use_options_the_script_has():
    scripts = script_lines()
    assert {script.startswith("scripts/") for _, script, _ in scripts} == {True, False}
    for line, script, args in scripts:
        command = [sys.executable] * script.endswith(".py") + [str(REPO / script)]
        help_text = subprocess.run(command + ["--help"], cwd=REPO, capture_output=True, text=True,
                                   timeout=300, check=True).stdout
        for option in (a.split("=")[0] for a in args if a.startswith("--")):
            assert option in help_text, f"{line}: {script} has no {option}"


# ---------------------------------------------------------------------------------------------
# names quoted in the text


def quoted_names() -> list[str]:
    text = "\n".join(re.sub(r"```.*?```", "", path.read_text(), flags=re.S) for path in DOCS)
    return sorted(set(re.findall(r"`((?:resim|train)\.[A-Za-z_][\w.]*)", text)))


@pytest.mark.parametrize("name", quoted_names())
def test_quoted_names_exist(name):
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            assert hasattr(obj, attribute), f"the documentation quotes `{name}`: no {attribute!r}"
            obj = getattr(obj, attribute)
        return
    pytest.fail(f"the documentation quotes `{name}`: no such module")
