"""A selected external program that is missing stops the run up front, with a message that
names the executable, the config key that selected it and how to get it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml

from resim import backends
from resim.backends import DELPHES, HERWIG, MADGRAPH, check
from resim.cli import main
from resim.errors import BackendMissingError

ENV_VARS = (MADGRAPH.env_var, HERWIG.env_var, DELPHES.env_var)


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    """No external program anywhere: an empty PATH and none of resim's variables."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return empty


def fake_program(directory, name):
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def config_selecting_all() -> dict:
    return {
        "run": {"seed": 1},
        "samples": {"qcd": {"process": "zjet_nunu", "backend": "madgraph"},
                    "higgs": {"process": "hz_bb_nunu", "backend": "embedded"}},
        "views": {"nominal": {"fork": "hard", "backend": "pythia"},
                  "herwig": {"fork": "hard", "backend": "herwig"}},
        "detector": {"backend": "delphes"},
    }


def test_every_selected_missing_program_gets_one_message(bare_env):
    messages = check(config_selecting_all())
    assert len(messages) == 3
    madgraph, herwig, delphes = messages
    for message, program, key in ((madgraph, MADGRAPH, "samples.qcd.backend"),
                                  (herwig, HERWIG, "views.herwig.backend"),
                                  (delphes, DELPHES, "detector.backend")):
        assert message.startswith(key)
        assert f"`{program.executable}`" in message
        assert program.conda_env in message and program.env_var in message
        assert "LCG view" in message and "export PATH" in message
    assert "samples.higgs" not in madgraph  # an embedded sample selects nothing


def test_keys_selecting_the_same_program_share_its_message(bare_env):
    config = config_selecting_all()
    config["views"]["herwig_seed"] = {"fork": "hard", "backend": "herwig"}
    herwig = [m for m in check(config) if "Herwig" in m]
    assert len(herwig) == 1
    assert herwig[0].startswith("views.herwig.backend, views.herwig_seed.backend:")


def test_embedded_defaults_select_nothing(bare_env, repo_root):
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    assert list(backends.selected(config)) == []
    assert check(config) == []


def test_programs_are_found_on_path_or_through_their_variables(bare_env, tmp_path, monkeypatch):
    fake_program(bare_env, "mg5_aMC")
    herwig_dir = tmp_path / "herwig" / "bin"
    herwig_dir.mkdir(parents=True)
    fake_program(herwig_dir, "Herwig")
    monkeypatch.setenv(HERWIG.env_var, str(herwig_dir.parent))  # a prefix: bin/ is searched
    delphes_exe = fake_program(tmp_path, "DelphesHepMC3")
    monkeypatch.setenv(DELPHES.env_var, str(delphes_exe))      # the executable itself
    assert check(config_selecting_all()) == []
    assert MADGRAPH.require("samples.qcd.backend") == bare_env / "mg5_aMC"
    assert HERWIG.locate() == herwig_dir / "Herwig"


def test_a_variable_pointing_nowhere_does_not_fall_back_to_path(bare_env, monkeypatch):
    fake_program(bare_env, "DelphesHepMC3")
    monkeypatch.setenv(DELPHES.env_var, "/nonexistent/delphes")
    with pytest.raises(BackendMissingError, match="detector.backend: selects Delphes"):
        DELPHES.require("detector.backend")


def test_non_executable_file_is_not_a_program(bare_env):
    (bare_env / "Herwig").write_text("not a program")
    assert HERWIG.locate() is None


def test_check_backends_command_exits_2_with_the_messages(bare_env, tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_selecting_all()))
    assert main(["check-backends", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()  # one error line per missing program, in the scripts' form
    assert len(lines) == 3 and all(line.startswith("resim check-backends: error: ")
                                   for line in lines)
    assert "`mg5_aMC`" in err and "`Herwig`" in err and "`DelphesHepMC3`" in err


def test_check_backends_command_passes_when_all_are_found(bare_env, tmp_path, capsys, monkeypatch):
    from resim.showers import herwig

    for name in ("mg5_aMC", "Herwig", "DelphesHepMC3"):
        fake_program(bare_env, name)
    # these fakes do nothing, so Herwig's self-check (tests/test_backend_herwig.py) is stubbed
    monkeypatch.setattr(herwig, "herwig_provenance", lambda exe: {"Herwig": "stub"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_selecting_all()))
    assert main(["check-backends", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Delphes, Herwig 7, MadGraph5_aMC@NLO found" in out and "self-check passed: Herwig stub" in out


def test_check_backends_fails_when_a_found_program_fails_its_self_check(bare_env, tmp_path, capsys):
    for name in ("mg5_aMC", "Herwig", "DelphesHepMC3"):
        fake_program(bare_env, name)  # Herwig prints nothing: no PDF, no version
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_selecting_all()))
    assert main(["check-backends", "--config", str(path)]) == 2
    assert "Herwig 7 (" in capsys.readouterr().err


def test_console_script_fails_fast_in_a_fresh_process(bare_env, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_selecting_all()))
    env = {**os.environ, "PATH": f"{bare_env}"}
    result = subprocess.run([sys.executable, "-m", "resim.cli", "check-backends", "--config", str(path)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "detector.backend: selects Delphes" in result.stderr
