"""An output never replaces an input: every command refuses, naming both, before it reads or
writes anything (issue 18, class 1). Sameness is judged by the file: relative paths, ``./``,
symlinks and hard links all name the same input."""

from __future__ import annotations

import os

import pytest

from resim import cli as resim_cli
from train import cli as rs3l_cli

CONTENT = b"the user's own data"


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A config, an LHE file, two data files and a backbone run folder, all with fixed bytes;
    the working directory is ``tmp_path`` so relative paths can be tried."""
    monkeypatch.chdir(tmp_path)
    for name in ("config.yaml", "0.lhe.gz", "a.h5", "b.h5"):
        (tmp_path / name).write_bytes(CONTENT)
    (tmp_path / "backbone").mkdir()
    (tmp_path / "backbone" / "checkpoint.pt").write_bytes(CONTENT)
    (tmp_path / "backbone" / "metrics.json").write_bytes(CONTENT)
    os.symlink(tmp_path / "a.h5", tmp_path / "link.h5")
    os.link(tmp_path / "b.h5", tmp_path / "hard.h5")
    return tmp_path


def _untouched(root):
    for path in root.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == CONTENT, path
    assert not [p.name for p in root.rglob(".*.tmp")]


JOB = ["--config", "config.yaml", "--sample", "qcd", "--shard", "0"]

CASES = {
    "merge: --out one of the files": (resim_cli, ["merge", "--out", "a.h5", "a.h5", "b.h5"], "a.h5"),
    "merge: through ./": (resim_cli, ["merge", "--out", "./b.h5", "a.h5", "b.h5"], "b.h5"),
    "merge: a symlink to an input": (resim_cli, ["merge", "--out", "link.h5", "a.h5", "b.h5"], "a.h5"),
    "merge: a hard link": (resim_cli, ["merge", "--out", "hard.h5", "a.h5", "b.h5"], "b.h5"),
    "pair: --out the view file": (resim_cli, ["pair", *JOB, "--out", "a.h5", "a.h5"], "a.h5"),
    "simulate: --out the LHE file": (
        resim_cli, ["simulate", *JOB, "--lhe", "0.lhe.gz", "--out", "0.lhe.gz"], "0.lhe.gz"),
    "simulate: --out the config": (
        resim_cli, ["simulate", *JOB, "--lhe", "0.lhe.gz", "--out", "config.yaml"], "config.yaml"),
    "hard: --out the config": (resim_cli, ["hard", *JOB, "--out", "config.yaml"], "config.yaml"),
    "views: --out the LHE file": (
        resim_cli, ["views", *JOB, "--lhe", "0.lhe.gz", "--out", "0.lhe.gz"], "0.lhe.gz"),
    "pileup-pool: --out the config": (
        resim_cli, ["pileup-pool", "--config", "config.yaml", "--shard", "0", "--out",
                    "config.yaml"], "config.yaml"),
    "finetune: --out the backbone's folder": (
        rs3l_cli, ["finetune", "--config", "config.yaml", "--task", "top", "--mode", "fixed",
                   "--backbone", "backbone/checkpoint.pt", "--out", "backbone", "--train", "a.h5",
                   "--val", "b.h5"], "backbone/checkpoint.pt"),
    "evaluate: --out the backbone's folder": (
        rs3l_cli, ["evaluate", "--config", "config.yaml", "--task", "top", "--out", "backbone/",
                   "--backbone", "backbone/checkpoint.pt", "--test", "a.h5", "--val", "b.h5"],
        "backbone/checkpoint.pt"),
    "anomaly: --out the backbone's folder": (
        rs3l_cli, ["anomaly", "--config", "config.yaml", "--backbone", "backbone/checkpoint.pt",
                   "--train", "a.h5", "--val", "a.h5", "--test", "a.h5", "--dark", "d", "b.h5",
                   "--out", "backbone"], "backbone/checkpoint.pt"),
    "summary: --out the config": (
        rs3l_cli, ["summary", "--config", "config.yaml", "--splits", "a.h5", "--pretrain",
                   "backbone/metrics.json", "--out", "config.yaml"], "config.yaml"),
    "pretrain: --out a data file": (
        rs3l_cli, ["pretrain", "--config", "config.yaml", "--out", "a.h5", "a.h5"], "a.h5"),
}


@pytest.mark.parametrize("case", CASES)
def test_an_output_that_is_an_input_is_refused(files, case, capsys):
    module, argv, victim = CASES[case]
    assert module.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{module.build_parser().prog} {argv[0]}: error: output ")
    assert victim in err[0] and ("is the input" in err[0] or "is the folder of" in err[0])
    _untouched(files)


def test_hard_statistics_beside_the_lhe_must_not_be_an_input(files, capsys):
    """``resim hard --out x.lhe.gz`` also writes ``x.json``: a config named x.json is safe."""
    (files / "x.json").write_bytes(CONTENT)
    assert resim_cli.main(["hard", "--config", "x.json", "--sample", "s", "--shard", "0",
                           "--out", "x.lhe.gz"]) == 2
    assert "output x.json is the input x.json" in capsys.readouterr().err
    _untouched(files)


def test_a_different_file_of_the_same_name_elsewhere_is_fine(tmp_path):
    """Sameness is the file, not the name: out/a.h5 is not a.h5."""
    from resim.cliutil import same_file

    (tmp_path / "out").mkdir()
    (tmp_path / "a.h5").write_bytes(CONTENT)
    assert not same_file(tmp_path / "out" / "a.h5", tmp_path / "a.h5")
    assert same_file(tmp_path / "out" / ".." / "a.h5", tmp_path / "a.h5")
