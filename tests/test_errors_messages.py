"""Messages a person can act on (issue 18, class 7): paths with spaces work, a failed Pythia
says why in a line, a checkpoint of another network says so, one error line per missing
program, no prefix twice, no note on every job about a setting nobody chose, plain --help."""

from __future__ import annotations

import logging

import pytest
import torch
import yaml

from fixtures_eval import write_backbone
from resim import cli as resim_cli
from resim.cliutil import sub_parsers
from resim.errors import GeneratorError
from train import cli as rs3l_cli

TINY = {"run": {"seed": 3, "events_per_shard": 6, "batch_size": 6},
        "samples": {"qcd": {"process": "zjet_nunu", "shards": 1}},
        "views": {"nominal": {"fork": "hard"}}, "jets": {"pt_min": 100.0, "eta_max": 2.5}}


def _one_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_simulate_takes_paths_with_spaces(repo_root, tmp_path, capsys):
    folder = tmp_path / "my run"
    folder.mkdir()
    (folder / "the config.yaml").write_text(yaml.safe_dump(TINY))
    lhe = folder / "hard events.lhe"
    lhe.write_bytes((repo_root / "tests/data/lhe-optional/lhef3-optional-parts.lhe").read_bytes())
    out = folder / "view file.h5"
    assert resim_cli.main(["simulate", "--config", str(folder / "the config.yaml"), "--sample",
                           "qcd", "--shard", "0", "--lhe", str(lhe), "--out", str(out)]) == 0
    assert out.exists()


def test_a_failed_pythia_says_why_in_a_line(tmp_path):
    from resim.hard.pythia import new_pythia

    with pytest.raises(GeneratorError) as err:
        new_pythia(["Beams:frameType = 4", f"Beams:LHEF = {tmp_path / 'gone.lhe'}"],
                   "views.nominal (LHE file gone.lhe)")
    message = str(err.value)
    assert message == ("views.nominal (LHE file gone.lhe): Pythia's init() failed: Abort from "
                       "BeamSetup::initFrame: Les Houches Event File not found")


@pytest.mark.parametrize("change, words", [
    ({"network": "particlenet"}, "holds a network this resim cannot build ('particlenet'): "
                                 "unknown network 'particlenet'"),
    ({"k": 4, "edgeconv_layers": 9}, "its weights do not fit its dgcnn network"),
])
def test_a_checkpoint_of_another_network_says_so(repo_root, tmp_path, capsys, change,
                                                  words):
    path = write_backbone(tmp_path / "backbone.pt")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["model_config"] = {**checkpoint["model_config"], **change}
    torch.save(checkpoint, path)
    (tmp_path / "c.yaml").write_text((repo_root / "config" / "tiny.yaml").read_text())
    assert rs3l_cli.main(["finetune", "--config", str(tmp_path / "c.yaml"), "--task",
                          "h_vs_qcd", "--mode", "fixed", "--backbone", str(path), "--out",
                          str(tmp_path / "ft"), "--train", "a.h5", "--val", "b.h5"]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"rs3l finetune: error: checkpoint {path}") and words in line
    assert "pretrain.model" not in line


@pytest.mark.parametrize("script, argv", [
    (resim_cli, ["views", "--config", "{config}", "--sample", "qcd", "--shard", "0", "--lhe",
                 "x.lhe"]),
])
def test_no_prefix_twice(tmp_path, capsys, script, argv):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(TINY))
    assert script.main([a.format(config=tmp_path / "c.yaml") for a in argv]) == 2
    line = _one_line(capsys)
    prog = f"{script.build_parser().prog} {argv[0]}"
    assert line.count(prog) == 1 and line.count("error:") == 1, line


def test_no_note_on_every_job_about_an_unchosen_setting(caplog):
    """The default tune's PDF note is for the curious (-v), not for every job's log."""
    from resim.config import validate
    from resim.dataset.provenance import versions

    with caplog.at_level(logging.INFO):
        recorded = versions(validate(dict(TINY)))
    assert "pythia8mc PDF" in recorded
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


@pytest.mark.parametrize("script", [resim_cli, rs3l_cli], ids=["resim", "rs3l"])
def test_help_is_plain_text(script, capsys):
    parser = script.build_parser()
    for command in [parser, *sub_parsers(parser)]:
        text = command.format_help()
        for markup in ("``", ":mod:", ":func:", ":class:", "`"):
            assert markup not in text, f"{command.prog}: {markup} in --help"
