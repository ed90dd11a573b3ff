"""Any LHE file a generator writes showers or gets one line (issue 18, class 6).

tests/data/lhe-optional/ holds files written here to the layout of two writers the repository's
other fixtures do not cover: Sherpa's LHEF output for e+e- -> jets (no ``version`` on the root
tag, ``<event trials='...'>``, AQEDUP = AQCDUP = -1, a run card in the header) and an LHEF 3
file with every optional part the standard allows (XML comments in ``<init>`` and in events,
attributes on ``<event>``, ``<generator>``, ``<weights>``, ``<scales>``, ``<rwgt>``, ``#``
lines). Pythia refuses both as they are; resim gives it a normalised copy.
"""

from __future__ import annotations

import gzip
import os
import shutil

import numpy as np
import pytest

from fixtures_engine import engine_config
from resim.errors import LHEError
from resim.lhe import check_lhe, iter_events, read_truth

OPTIONAL = {"sherpa-3-ee-jets.lhe": (20, (11, -11), "?"),
            "lhef3-optional-parts.lhe": (6, (2212, 2212), "3.0")}


@pytest.fixture
def optional(repo_root):
    return repo_root / "tests" / "data" / "lhe-optional"


@pytest.mark.parametrize("name", OPTIONAL)
def test_every_part_the_standard_allows_reads(optional, name):
    events, beams, version = OPTIONAL[name]
    head = check_lhe(optional / name)
    assert head.beams == beams and head.version == version
    read = list(iter_events(optional / name))
    assert len(read) == events and all(len(e.pid) == 4 for e in read)
    assert len(read_truth(optional / name)) == events


def _shower(path, n):
    from resim.forks import run_views

    config = engine_config(views={"nominal": {"fork": "hard"}, "seed": {"fork": "hard"}})
    views = next(run_views(config, "qcd", 0, path, None, batch_size=n))
    return views


@pytest.mark.parametrize("name", OPTIONAL)
def test_every_writers_file_showers(optional, name):
    n = OPTIONAL[name][0]
    views = _shower(optional / name, n)
    assert views["nominal"].info["failed"] == 0 and len(views["nominal"]) == n


def test_a_path_with_spaces_showers(optional, tmp_path):
    """Pythia cuts the file name of Beams:LHEF at the first space; it gets a link instead."""
    folder = tmp_path / "my events"
    folder.mkdir()
    source = optional / "lhef3-optional-parts.lhe"
    path = folder / "run 1.lhe.gz"
    path.write_bytes(gzip.compress(source.read_bytes()))
    plain = _shower(source, 6)["nominal"]
    spaced = _shower(path, 6)["nominal"]
    assert np.array_equal(plain.event_id, spaced.event_id)
    assert not [p for p in tmp_path.rglob("*") if "resim-lhe" in str(p)]


def test_a_pipe_is_named_and_not_waited_on(tmp_path):
    fifo = tmp_path / "events.lhe"
    os.mkfifo(fifo)  # nobody writes it: opening it would wait forever
    with pytest.raises(LHEError, match=f"{fifo}: not a regular file \\(a pipe or process "
                                       f"substitution\\?\\); the LHE file is read several times"):
        check_lhe(fifo)


@pytest.mark.parametrize("change, words", [
    (("+4.0929200258e+02 -3.0845760170e+02 +2.7568569025e+01 +5.1325048604e+02",
      "+4.0929200258e+02 -3.0845760170e+02 +2.7568569025e+01 -5.1325048604e+02"),
     "event 0 (line 20): particle 3 has negative energy E = -513.25 GeV"),
    (("+4.0929200258e+02 -3.0845760170e+02 +2.7568569025e+01 +5.1325048604e+02",
      "+1e300 -3.0845760170e+02 +2.7568569025e+01 +1e300"),
     "event 0 (line 20): particle 3 has a momentum of 1e+300 GeV, more than the beams' 13000 GeV"),
    (("+4.0929200258e+02 -3.0845760170e+02 +2.7568569025e+01 +5.1325048604e+02",
      "+4.0929200258e+02 -3.0845760170e+02 +2.7568569025e+01 +1.0e+02"),
     "event 0 (line 20): particle 3 has |p| = 513.25 GeV > E = 100 GeV (faster than light)"),
])
def test_impossible_events_are_named(optional, tmp_path, change, words):
    text = (optional / "lhef3-optional-parts.lhe").read_text()
    assert change[0] in text
    path = tmp_path / "bad.lhe"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(LHEError) as err:
        list(iter_events(path))
    assert str(err.value) == f"{path}: {words}"


def test_simulate_of_a_bad_event_is_one_line(optional, tmp_path, capsys):
    from resim.cli import main

    text = (optional / "lhef3-optional-parts.lhe").read_text()
    bad = tmp_path / "bad.lhe"
    bad.write_text(text.replace("+5.1325048604e+02 +0.0", "-5.1325048604e+02 +0.0", 1))
    config = tmp_path / "c.yaml"
    shutil.copy(optional.parents[2] / "config" / "tiny.yaml", config)
    assert main(["simulate", "--config", str(config), "--sample", "qcd", "--shard", "0",
                 "--lhe", str(bad), "--out", str(tmp_path / "v.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"resim simulate: error: {bad}: event 0 (line 20): particle 3 "
                              f"has negative energy")
    assert not (tmp_path / "v.h5").exists()
