"""LHE input: every bad file is named before a generator opens it; every generator's file reads.

Bad files are written here; good ones are the repository's fixtures (MadGraph, Pythia, LHEF3)
and hand-made files for an e+e- collider and each LHEF version, with and without weights.
"""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest

from fixtures_engine import engine_config, hard_files  # noqa: F401 (fixture)
from resim.errors import ConfigError, LHEError
from resim.lhe import check_lhe, count_events, provenance_block
from resim.provenance import check_hard_input, check_shard

INIT_PP = "<init>\n 2212 2212 6.5e3 6.5e3 0 0 0 0 3 1\n 1.0 0.1 1.0 1\n</init>\n"
EVENT_PP = """<event>
 4 1 1.0 100.0 0.0078 0.118
 21 -1 0 0 501 502 0 0 500 500 0 0 9
 21 -1 0 0 502 503 0 0 -500 500 0 0 9
 21 1 1 2 501 504 400 0 0 400 0 0 9
 21 1 1 2 504 503 -400 0 0 400 0 0 9
</event>
"""


def lhe_text(version="3.0", header="", init=INIT_PP, events=EVENT_PP) -> str:
    return (f'<LesHouchesEvents version="{version}">\n<header>\n{header}</header>\n{init}'
            f"{events}</LesHouchesEvents>\n")


def _write(tmp_path, name, content) -> object:
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


BAD = {
    "missing.lhe": (None, "LHE file not found"),
    "empty.lhe": ("", "not an LHE file: the file is empty"),
    "blank.lhe": ("\n  \n\n", "not an LHE file: the file is empty"),
    "binary.lhe": (bytes(range(256)) * 8, "not an LHE file: binary data"),
    "text.lhe": ("hello\n" * 30, r"not an LHE file \(no <LesHouchesEvents> tag"),
    "hepmc.lhe": ("HepMC::Version 3.02.06\nHepMC::Asciiv3-START_EVENT_LISTING\n",
                  "not an LHE file"),
    "corrupt.lhe.gz": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"garbage" * 40,
                       "not an LHE file: broken or truncated gzip data"),
    "cut.lhe.gz": (gzip.compress(lhe_text().encode())[:12],
                   "not an LHE file: broken or truncated gzip data"),
    "no_events.lhe": (lhe_text(events=""), "holds no events"),
    "no_events_cut.lhe": (lhe_text(events="").replace("</LesHouchesEvents>\n", ""),
                          "holds no events.*truncated"),
    "no_init.lhe": (lhe_text(init=""), "no <init> block"),
    "bad_beams.lhe": (lhe_text(init="<init>\n proton proton 6500 6500\n</init>\n"),
                      r"<init>, line 5: beam line needs IDBMUP1"),
    "nlo_groups.lhe": (lhe_text(events=f"<eventgroup nreal='1'>\n{EVENT_PP}</eventgroup>\n"),
                       r"line 8: <eventgroup> \(an NLO event with counter-events\) is not "
                       r"supported"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_file_is_named_before_any_generator(tmp_path, name):
    content, words = BAD[name]
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    with pytest.raises(LHEError, match=words) as error:
        check_lhe(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_a_directory_is_not_an_lhe_file(tmp_path):
    with pytest.raises(LHEError, match=f"{tmp_path}: a directory, not an LHE file"):
        check_lhe(tmp_path)


def test_the_streaming_reader_names_bad_files_too(tmp_path):
    for name in ("binary.lhe", "corrupt.lhe.gz", "empty.lhe", "nlo_groups.lhe"):
        path = _write(tmp_path, name, BAD[name][0])
        with pytest.raises(LHEError, match=BAD[name][1]):
            count_events(path)


def _ee_events(n: int, seed: int = 1) -> str:
    """e+ e- -> Z -> u ubar at the Z pole, isotropic (a lepton collider's LHE, by hand)."""
    rng = np.random.default_rng(seed)
    half, events = 91.1876 / 2, []
    for _ in range(n):
        cos, phi = rng.uniform(-1, 1), rng.uniform(0, 2 * math.pi)
        sin = math.sqrt(1 - cos * cos)
        p = (half * sin * math.cos(phi), half * sin * math.sin(phi), half * cos)
        rows = [(11, -1, 0, 0, 0, 0, 0, 0, half, half, 0),
                (-11, -1, 0, 0, 0, 0, 0, 0, -half, half, 0),
                (23, 2, 1, 2, 0, 0, 0, 0, 0, 2 * half, 2 * half),
                (2, 1, 3, 3, 501, 0, *p, half, 0), (-2, 1, 3, 3, 0, 501, *(-x for x in p), half, 0)]
        lines = [" ".join(f"{v:.10e}" if isinstance(v, float) else str(v) for v in row) + " 0. 9."
                 for row in rows]
        events.append("<event>\n 5 1 1.0 91.1876 0.0078 0.13\n" + "\n".join(lines)
                      + "\n</event>\n")
    return "".join(events)


INIT_EE = "<init>\n 11 -11 45.5938 45.5938 0 0 0 0 3 1\n 4.1e4 1.0 1.0 1\n</init>\n"
WEIGHTS_HEADER = ("<initrwgt>\n<weightgroup name='scale'>\n<weight id='1'> muR=1 </weight>\n"
                  "<weight id='2'> muR=2 </weight>\n</weightgroup>\n</initrwgt>\n")


def _with_weights(events: str) -> str:
    block = "<rwgt>\n<wgt id='1'> 1.0 </wgt>\n<wgt id='2'> 0.9 </wgt>\n</rwgt>\n"
    return events.replace("</event>", block + "</event>")


GOOD = {
    "ee_v1.lhe": ("1.0", "", INIT_EE, _ee_events(6)),
    "ee_v2.lhe": ("2.0", "", INIT_EE, _ee_events(6)),
    "ee_v3_weights.lhe": ("3.0", WEIGHTS_HEADER, INIT_EE, _with_weights(_ee_events(6))),
    "pp_v1.lhe": ("1.0", "", INIT_PP, EVENT_PP * 6),
    "pp_v3_weights.lhe.gz": ("3.0", WEIGHTS_HEADER, INIT_PP, _with_weights(EVENT_PP * 6)),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_every_collider_and_lhef_version_showers(tmp_path, name):
    from resim.forks import run_views

    text = lhe_text(*GOOD[name])
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    head = check_lhe(path)
    assert head.version == GOOD[name][0] and head.provenance is None
    assert head.beams == ((11, -11) if name.startswith("ee") else (2212, 2212))
    views = next(run_views(engine_config(views={"nominal": {"fork": "hard"}}), "qcd", 0, path,
                           "nominal", batch_size=6))
    assert views["nominal"].info["failed"] == 0
    assert len(views["nominal"]) == 6


def test_every_fixture_passes_the_check(fixture_lhe_files):
    for path in fixture_lhe_files:
        head = check_lhe(path)
        assert head.beams == (2212, 2212) and head.provenance is None, path.name


def _resim_lhe(tmp_path, sample, shard, name="0.lhe"):
    header = provenance_block(sample, shard, "0123456789abcdef")
    return _write(tmp_path, name, lhe_text(header=header))


def test_the_hard_stage_names_its_sample_and_shard(hard_files):
    head = check_lhe(hard_files["higgs"], "higgs", 0)
    assert head.provenance["sample"] == "higgs" and head.provenance["shard"] == "0"
    assert len(head.provenance["config_hash"]) == 16


def test_an_lhe_file_of_another_sample_or_shard_is_refused(tmp_path):
    config = engine_config()
    path = _resim_lhe(tmp_path, "qcd", 1)
    assert check_hard_input(config, "qcd", 1, path).provenance["shard"] == "1"
    with pytest.raises(LHEError, match=f"{path}: resim hard wrote it for sample 'qcd' shard 1, "
                                       f"but this job is sample 'qcd' shard 0"):
        check_hard_input(config, "qcd", 0, path)
    with pytest.raises(LHEError, match="for sample 'qcd' shard 1, but this job is sample 'higgs'"):
        check_hard_input(config, "higgs", 0, path)
    # another generator's file names no job: any job may shower it
    other = _write(tmp_path, "mg.lhe", lhe_text())
    assert check_hard_input(config, "higgs", 0, other).provenance is None


def test_a_shard_outside_the_samples_range_is_refused():
    config = engine_config()  # qcd has 2 shards
    check_shard(config, "qcd", 1)
    for shard in (2, -1):
        with pytest.raises(ConfigError, match=rf"shard {shard} is outside the range of sample "
                                              r"'qcd': samples.qcd.shards = 2 \(shards 0..1\)"):
            check_shard(config, "qcd", shard)
    with pytest.raises(ConfigError, match="samples.ttbar: unknown sample"):
        check_shard(config, "ttbar", 0)


@pytest.mark.parametrize("case", ["shard", "origin", "binary", "missing", "no-events"])
def test_simulate_refuses_a_wrong_input_in_one_line(tmp_path, capsys, case):
    from resim import cli

    config = tmp_path / "config.yaml"
    config.write_text("run: {seed: 1, events_per_shard: 1}\nsamples: {qcd: {process: zjet_nunu, "
                      "shards: 2}}\nviews: {nominal: {fork: hard}}\n")
    lhe, shard = _resim_lhe(tmp_path, "qcd", 1), 1
    words = {"shard": "shard 2 is outside the range of sample 'qcd': samples.qcd.shards = 2",
             "origin": f"{lhe}: resim hard wrote it for sample 'qcd' shard 1, but this job is "
                       f"sample 'qcd' shard 0",
             "binary": "not an LHE file: binary data", "missing": "LHE file not found",
             "no-events": "the LHE file holds no events"}[case]
    if case == "shard":
        shard = 2
    elif case == "origin":
        shard = 0
    elif case == "binary":
        lhe = _write(tmp_path, "bin.lhe", bytes(range(256)))
    elif case == "missing":
        lhe = tmp_path / "nope.lhe"
    else:
        lhe = _write(tmp_path, "empty.lhe", lhe_text(events=""))
    out = tmp_path / "views" / "qcd" / f"{shard}.h5"
    code = cli.main(["simulate", "--config", str(config), "--sample", "qcd", "--shard",
                     str(shard), "--lhe", str(lhe), "--out", str(out)])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("resim simulate: error: ")
    assert words in lines[0]
    assert not out.parent.exists()
