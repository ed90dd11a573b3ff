"""One error style for every console script: a user error is exit 2 and one line on stderr;
``-v`` (before or after the sub-command) adds the traceback; a bug keeps its traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from resim import cli, cliutil
from resim.errors import ConfigError

GOOD_CONFIG = ("run: {seed: 1, events_per_shard: 10}\nsamples: {qcd: {process: zjet_nunu}}\n"
               "views: {nominal: {fork: hard}}\n")


def run_resim(argv, capsys, main=cli.main):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.splitlines()


def _config(tmp_path, text=GOOD_CONFIG):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case, words", [
    ("missing", "config file {path} does not exist"),
    ("directory", "{path}: Is a directory"),
    ("yaml", "config file {path}, line 2, column 8: not valid YAML: expected ',' or '}}'"),
    ("binary", "config file {path} is not a text file (binary data)"),
    ("schema", "{path} is not valid: run.events_per_shard: 0 is less than the minimum of 1; "
               "samples.qcd.shards: 'two' is not of type 'integer'"),
])
def test_a_bad_config_is_one_line(tmp_path, capsys, case, words):
    path = {"missing": tmp_path / "nope.yaml", "directory": tmp_path}.get(case)
    if case == "binary":
        path = tmp_path / "config.yaml"
        path.write_bytes(bytes(range(128, 256)))
    elif case == "yaml":
        path = _config(tmp_path, "run: {seed: 1\n  views: [\n")
    elif case == "schema":
        path = _config(tmp_path, GOOD_CONFIG.replace("events_per_shard: 10", "events_per_shard: 0")
                       .replace("zjet_nunu}", "zjet_nunu, shards: two}"))
    out = tmp_path / "hard" / "0.lhe.gz"
    code, lines = run_resim(["hard", "--config", path, "--sample", "qcd", "--shard", 0,
                             "--out", out], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"resim hard: error: {words.format(path=path)}")
    assert not out.parent.exists()


def test_an_unwritable_output_is_one_line_naming_it(tmp_path, capsys):
    (tmp_path / "results").write_text("a file where a directory should be")
    out = tmp_path / "results" / "hard" / "0.lhe.gz"
    code, lines = run_resim(["hard", "--config", _config(tmp_path), "--sample", "qcd",
                             "--shard", 0, "--out", out], capsys)
    assert code == 2 and lines == [f"resim hard: error: cannot write {out}: "
                                   f"{tmp_path / 'results'} is a file, not a directory"]


def test_a_bad_command_line_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["merge", "--out"])
    lines = capsys.readouterr().err.splitlines()
    assert exit_.value.code == 2 and len(lines) == 1
    assert lines[0].startswith("resim merge: error: argument --out: expected one argument")


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_before_or_after_the_command_shows_the_traceback(tmp_path, capsys, where):
    missing = tmp_path / "missing.h5"
    argv = ["inspect", missing]
    argv = ["-v", *argv] if where == "before" else [*argv[:1], "-v", *argv[1:]]
    code, lines = run_resim(argv, capsys)
    assert code == 2 and lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == f"resim inspect: error: {missing}: no such dataset file"
    code, lines = run_resim(["inspect", missing], capsys)
    assert code == 2 and lines == [f"resim inspect: error: {missing}: no such dataset file"]


def test_a_bug_keeps_its_traceback():
    parser = cliutil.Parser(prog="resim")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("boom").set_defaults(func=lambda args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cliutil.run(parser, ["boom"])


def test_a_multi_line_message_becomes_one_line():
    assert cliutil.one_line("c.yaml is not valid:\n  a: bad\n  b: worse\n") == \
        "c.yaml is not valid: a: bad; b: worse"
    assert cliutil.one_line("one line") == "one line"


def test_the_console_scripts_write_exactly_one_line(tmp_path):
    """Through the installed scripts, logging set up as in a workflow job."""
    missing = tmp_path / "nope.yaml"
    for script, argv in (("resim", ["check-backends", "--config", missing]),
                         ("rs3l", ["summary", "--config", missing, "--out", tmp_path / "s.md",
                                  "--splits", "test.h5", "--pretrain", "metrics.json"])):
        done = subprocess.run([sys.executable, "-c", f"import sys; from {_module(script)} import "
                               f"main; sys.exit(main())", *map(str, argv)],
                              capture_output=True, text=True)
        assert done.returncode == 2, (script, done.stderr)
        assert done.stderr.splitlines() == [
            f"{script} {argv[0]}: error: config file {missing} does not exist"], script


def _module(script: str) -> str:
    return {"resim": "resim.cli", "rs3l": "train.cli"}[script]


def test_a_resim_error_is_exit_2_for_any_command():
    parser = cliutil.Parser(prog="rs3l")
    sub = parser.add_subparsers(dest="command")

    def fail(args: argparse.Namespace) -> int:
        raise ConfigError("pretrain.lr: must be positive")

    sub.add_parser("pretrain").set_defaults(func=fail, verbose=False)
    assert cliutil.run(parser, ["pretrain"]) == 2


def test_evaluate_names_a_path_that_is_not_there(tmp_path, capsys):
    from train.cli import main as rs3l

    config = Path(__file__).resolve().parents[1] / "config.yaml"
    missing = tmp_path / "finetune" / "fixed-0"  # a typo in a model folder, say
    code = rs3l(["evaluate", "--config", str(config), "--task", "h_vs_qcd", "--out",
                 str(tmp_path / "out"), "--test", str(tmp_path), "--val", str(missing)])
    assert code == 2 and capsys.readouterr().err.splitlines() == [
        f"rs3l evaluate: error: {missing}: no such file or directory"]
    assert not (tmp_path / "out").exists()
