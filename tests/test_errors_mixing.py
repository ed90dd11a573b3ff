"""Every reader checks what a file says against what it is asked to do (issue 18, class 2):
paired files of two configs are never one training set, and validation jets are not training
jets unless the user says so (``--val-overlaps-train``)."""

from __future__ import annotations

import h5py
import pytest
import yaml

from fixtures_train import tiny_config, write_pairs
from train.cli import main as rs3l


@pytest.fixture
def setup(tmp_path):
    config = tiny_config(epochs=1, val_fraction=0.0)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    a = write_pairs(tmp_path / "a.h5", 64, seed=1, shard=0)
    b = write_pairs(tmp_path / "b.h5", 64, seed=2, shard=1)
    return tmp_path, a, b


def _pretrain(tmp_path, *args):
    return rs3l(["pretrain", "--config", str(tmp_path / "config.yaml"), "--out",
                 str(tmp_path / "run"), *map(str, args)])


def _one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_pretrain_refuses_files_of_two_configs(setup, capsys):
    tmp_path, a, b = setup
    with h5py.File(b, "r+") as f:
        f.attrs["config_hash"] = "other"
    assert _pretrain(tmp_path, a, b) == 2
    assert _one_line(capsys) == (f"rs3l pretrain: error: {b}: made with config other, but {a} "
                                 f"with config test")
    assert _pretrain(tmp_path, a, "--val", b) == 2  # nor as training and validation
    assert _one_line(capsys) == (f"rs3l pretrain: error: {b}: made with config other, but {a} "
                                 f"with config test")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_pretrain_refuses_validation_files_it_trains_on(setup, capsys):
    tmp_path, a, b = setup
    (tmp_path / "alias.h5").symlink_to(a)
    for val in (a, tmp_path / "alias.h5"):
        assert _pretrain(tmp_path, a, b, "--val", val) == 2
        line = _one_line(capsys)
        assert line.startswith(f"rs3l pretrain: error: {val}: the validation jets include "
                               f"sample 'toy' shard 0, which the training files hold too ({a})")
        assert "--val-overlaps-train" in line
    assert not (tmp_path / "run").exists()
    # the user who wants it says so
    assert _pretrain(tmp_path, a, b, "--val", a, "--val-overlaps-train") == 0
    assert (tmp_path / "run" / "last.pt").exists()


def test_finetune_refuses_validation_files_it_trains_on(setup, capsys):
    tmp_path, a, b = setup
    assert rs3l(["finetune", "--config", str(tmp_path / "config.yaml"), "--task", "h_vs_qcd",
                 "--mode", "supervised", "--out", str(tmp_path / "ft"), "--train", str(a),
                 str(b), "--val", str(b)]) == 2
    assert "the validation jets include sample 'toy' shard 1" in _one_line(capsys)
    assert not (tmp_path / "ft").exists()
