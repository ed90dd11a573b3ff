"""MadGraph through the workflow (issue 18, class 8): a workflow job has the project's virtual
environment first on PATH (resim_workflow.startup.expose_console_scripts), and MadGraph's
``#!/usr/bin/env python3`` then ran on resim's Python, which lacks ``six``: every ``hard`` job
failed. MadGraph is not installed here; a stand-in with MadGraph's shebang, its first import
(``six``) and its file contract (the proc card's ``output``, the launch card's
``Events/run_01/unweighted_events.lhe.gz``) runs ``resim hard`` under a job's PATH.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resim.backends import check

VENV_BIN = str(Path(sys.executable).parent)

STAND_IN = r'''#!/usr/bin/env python3
import six  # MadGraph's first import: its Python must have it
import gzip, re, sys
from pathlib import Path

script = Path(sys.argv[sys.argv.index("-f") + 1])
text = script.read_text()
if text.strip() == "exit":
    sys.exit(0)
output = re.search(r"^output (\S+)", text, re.M)
if output:
    (script.parent / output.group(1)).mkdir()
    sys.exit(0)
procdir = re.search(r"^launch (\S+) -n (\S+)", text, re.M)
n = int(re.search(r"set run_card nevents (\d+)", text).group(1))
events = script.parent / procdir.group(1) / "Events" / procdir.group(2)
events.mkdir(parents=True)
event = ("<event>\n 4 1 +3.0e-02 4.5e+02 7.5e-03 1.0e-01\n"
         " 21 -1 0 0 501 502 0 0 +4.6e+02 4.6e+02 0 0 9\n"
         " 21 -1 0 0 502 503 0 0 -4.6e+02 4.6e+02 0 0 9\n"
         " 23 1 1 2 0 0 +4.5e+02 0 0 4.591e+02 91.2 0 9\n"
         " 21 1 1 2 501 503 -4.5e+02 0 0 4.5e+02 0 0 9\n</event>\n")
with gzip.open(events / "unweighted_events.lhe.gz", "wt") as out:
    out.write("<LesHouchesEvents version=\"3.0\">\n<header>\n</header>\n<init>\n"
              "2212 2212 6.5e+03 6.5e+03 0 0 247000 247000 -4 1\n3.0e-02 2.9e-04 3.0e-02 1\n"
              "<generator name='MadGraph5_aMC@NLO' version='3.5.7'>stand-in</generator>\n"
              "</init>\n" + event * n + "</LesHouchesEvents>\n")
'''


def _job_env(tmp_path, mg5) -> dict:
    """The environment of a workflow job: the venv's bin first on PATH, then the system's."""
    return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(tmp_path),
            "RESIM_MG5_AMC": str(mg5), "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
            "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture
def stand_in(tmp_path):
    path = tmp_path / "bin" / "mg5_aMC"
    path.parent.mkdir()
    path.write_text(STAND_IN)
    path.chmod(0o755)
    env = _job_env(tmp_path, path)
    system_has_six = subprocess.run(["/usr/bin/env", "python3", "-c", "import six"],
                                    env={"PATH": "/usr/bin:/bin"}).returncode == 0
    venv_lacks_six = subprocess.run([sys.executable, "-c", "import six"]).returncode != 0
    if not (system_has_six and venv_lacks_six):
        pytest.skip("needs a system python3 with six and a project venv without it")
    # the failure the workflow met: the stand-in started under a job's PATH as it is
    bare = subprocess.run([str(path), "-f", "x"], env=env, capture_output=True, text=True)
    assert "No module named 'six'" in bare.stderr
    return path, env


def test_resim_hard_runs_madgraph_under_a_workflow_jobs_path(stand_in, tmp_path):
    path, env = stand_in
    config = {"run": {"seed": 1, "events_per_shard": 5},
              "samples": {"qcd": {"process": "zjet_nunu", "backend": "madgraph",
                                  "pt_range": [400.0, 600.0], "eta_max": 0.1}},
              "views": {"nominal": {"fork": "hard"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "resim.cli", "hard", "--config", "c.yaml",
                             "--sample", "qcd", "--shard", "0", "--out", "hard/0.lhe.gz"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    stats = yaml.safe_load((tmp_path / "hard" / "0.json").read_text())
    assert stats["events"] == 5 and stats["versions"]["MadGraph5_aMC@NLO"] == "3.5.7"
    assert sorted(p.name for p in (tmp_path / "hard").iterdir()) == ["0.json", "0.lhe.gz"]


def test_a_failed_attempt_leaves_no_scratch_folder(stand_in, tmp_path):
    path, env = stand_in
    path.write_text(STAND_IN.replace("sys.exit(0)\nprocdir", "print('Command \"launch\" "
                                     "interrupted with error:'); print('MadGraph5Error : "
                                     "compilation of the matrix element failed for P1_gg_zg')"
                                     "\nsys.exit(0)\nprocdir", 1))
    config = {"run": {"seed": 1, "events_per_shard": 5},
              "samples": {"qcd": {"process": "zjet_nunu", "backend": "madgraph"}},
              "views": {"nominal": {"fork": "hard"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "resim.cli", "hard", "--config", "c.yaml",
                             "--sample", "qcd", "--shard", "0", "--out", "hard/0.lhe.gz"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    # MadGraph's message from its first words, not cut at the front
    assert errors == ["resim hard: error: MadGraph failed: Command \"launch\" interrupted with "
                      "error: MadGraph5Error : compilation of the matrix element failed for "
                      "P1_gg_zg"]
    assert not (tmp_path / "hard").exists() or list((tmp_path / "hard").iterdir()) == []


def test_check_backends_runs_each_programs_own_check(stand_in, tmp_path, monkeypatch):
    path, env = stand_in
    delphes = tmp_path / "bin" / "DelphesHepMC3"
    delphes.write_text("#!/bin/sh\necho 'DelphesHepMC3: error while loading shared libraries: "
                       "libDelphes.so: cannot open shared object file' >&2\nexit 127\n")
    delphes.chmod(0o755)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RESIM_DELPHES_DIR", str(delphes))
    config = {"samples": {"qcd": {"backend": "madgraph"}}, "views": {},
              "detector": {"backend": "delphes"}}
    assert check(config) == [
        f"detector.backend: selects Delphes, found at {delphes}, but it does not run: "
        f"`{delphes}` exited 127: DelphesHepMC3: error while loading shared libraries: "
        f"libDelphes.so: cannot open shared object file"]


def test_paired_files_record_who_made_the_hard_events(stand_in, tmp_path, repo_root):
    """The hard-scatter backend and its version reach the view and paired files; with Delphes
    as the detector the files say its impact parameters are Delphes' (not the embedded 'cms')."""
    from resim.dataset.provenance import detector_record, hard_record

    test_resim_hard_runs_madgraph_under_a_workflow_jobs_path(stand_in, tmp_path)
    config = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert hard_record(config, "qcd", tmp_path / "hard" / "0.lhe.gz") == {
        "backend": "madgraph", "versions": {"MadGraph5_aMC@NLO": "3.5.7"}}
    # an LHE file from elsewhere: its <generator> tag
    other = repo_root / "tests" / "data" / "lhe-optional" / "lhef3-optional-parts.lhe"
    config["samples"]["qcd"]["backend"] = "embedded"
    assert hard_record(config, "qcd", other) == {"backend": "embedded",
                                                 "versions": {"handwritten": "1.0"}}
    assert detector_record({"detector": {"backend": "delphes", "impact_parameters": "cms"}}) == \
        {"backend": "delphes", "impact_parameters": "delphes"}
    assert detector_record({"detector": {"backend": "embedded", "impact_parameters": "cms"}}) == \
        {"backend": "embedded", "impact_parameters": "cms"}


@pytest.mark.parametrize("batch, block, backend, events", [
    (150, 100, "delphes", 200), (50, 100, "delphes", 100), (200, 100, "delphes", 200),
    (150, 100, "embedded", 150)])
def test_delphes_batches_hold_whole_blocks(repo_root, batch, block, backend, events):
    """A batch holding part of a Delphes block would start the block's random stream again
    for the rest of it: batches are rounded up to whole blocks."""
    from resim.config import validate
    from resim.dataset.simulate import batch_events

    config = yaml.safe_load((repo_root / "config" / "tiny.yaml").read_text())
    config["detector"] = {"backend": backend, "delphes": {"block_events": block}}
    config["run"]["batch_size"] = batch
    assert batch_events(validate(config)) == events
