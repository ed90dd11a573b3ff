"""MadGraph adapter: the cards it writes, the command line, how it recognises a failed run
(MadGraph exits 0 on failure), and a real run when MadGraph is installed."""

from __future__ import annotations

import gzip
import os

import awkward as ak
import numpy as np
import pytest

from resim.backends import MADGRAPH
from resim.errors import BackendMissingError, ConfigError, GeneratorError
from resim.hard import madgraph as mg
from resim.lhe import read_truth
from resim.seeds import SeedManifest

ZJET = {"process": "zjet_nunu", "backend": "madgraph", "pt_range": [400.0, 600.0], "eta_max": 0.1}
HZ = {"process": "hz_bb_nunu", "backend": "madgraph", "pt_range": [400.0, 600.0], "eta_max": 0.1}


def lhe_text(n_events: int, xsec: float = 0.0301) -> str:
    """A MadGraph-shaped LHE file: header, <init> (beams, then XSECUP XERRUP XMAXUP LPRUP)."""
    event = ("<event>\n 4 1 +3.0e-02 1.2e+03 7.5e-03 1.0e-01\n"
             " 21 -1 0 0 501 502 0 0 +4.0e+02 4.0e+02 0 0 9\n"
             " 21 -1 0 0 502 503 0 0 -4.0e+02 4.0e+02 0 0 9\n"
             " 23 1 1 2 0 0 +4.5e+02 0 0 4.6e+02 91.2 0 9\n"
             " 21 1 1 2 501 503 -4.5e+02 0 0 4.5e+02 0 0 9\n</event>\n")
    return ("<LesHouchesEvents version=\"3.0\">\n<header>\n</header>\n<init>\n"
            "2212 2212 6.500000e+03 6.500000e+03 0 0 247000 247000 -4 1\n"
            f"{xsec:e} 2.877422e-04 {xsec:e} 1\n"
            "<generator name='MadGraph5_aMC@NLO' version='3.5.7'>please cite 1405.0301 </generator>\n"
            "</init>\n" + event * n_events + "</LesHouchesEvents>\n")


def write_run(procdir, n_events, decayed=False):
    lhe = mg.events_file(procdir, decayed)
    lhe.parent.mkdir(parents=True)
    with gzip.open(lhe, "wt") as handle:
        handle.write(lhe_text(n_events))
    return lhe


def test_proc_card_writes_the_process_offline():
    card = mg.proc_card(mg.sample_process("qcd", ZJET), "/work/proc")
    lines = card.splitlines()
    assert lines[0] == "set auto_update 0"
    assert "import model sm" in lines
    assert "generate p p > z j, z > vl vl~" in lines
    assert lines.index("define vl = ve vm vt") < lines.index("generate p p > z j, z > vl vl~")
    assert lines[-1] == "output /work/proc -nojpeg"


def test_jet_window_cuts_the_light_jet():
    settings = mg.run_settings("qcd", ZJET, nevents=50, iseed=12345)
    assert settings["nevents"] == 50 and settings["iseed"] == 12345
    assert (settings["ptj"], settings["ptjmax"], settings["etaj"]) == (400.0, 600.0, 0.1)
    assert settings["ebeam1"] + settings["ebeam2"] == 13000.0
    assert settings["use_syst"] is False
    assert "pt_min_pdg" not in settings


def test_resonance_window_cuts_the_undecayed_higgs_and_madspin_decays_it():
    # MadGraph cuts final-state particles only: the Higgs must leave the matrix element
    # undecayed for pt_min_pdg to act on it.
    process = mg.sample_process("higgs", HZ)
    assert process.lines == ("generate p p > h z",)  # no decay chain: the Higgs is final
    settings = mg.run_settings("higgs", HZ, nevents=10, iseed=7)
    assert settings["pt_min_pdg"] == {25: 400.0} and settings["pt_max_pdg"] == {25: 600.0}
    assert settings["eta_max_pdg"] == {25: 0.1}
    assert "ptj" not in settings and "etaj" not in settings
    spin = mg.madspin_card(process, seed=7)
    assert spin.splitlines()[0] == "set seed 7"
    assert "decay h > b b~" in spin and "decay z > vl vl~" in spin
    assert spin.splitlines()[-1] == "launch"
    assert mg.madspin_card(mg.sample_process("qcd", ZJET), seed=7) is None


def test_launch_card_answers_both_questions_in_order():
    settings = mg.run_settings("higgs", HZ, nevents=10, iseed=7)
    card = mg.launch_card("/w/proc", settings, nb_core=2, madspin="/w/madspin_card.dat").splitlines()
    assert card[:4] == ["set auto_update 0", "set nb_core 2", "set run_mode 2", "launch /w/proc -n run_01"]
    assert card[4:6] == ["madspin=ON", "done"]
    assert "set run_card iseed 7" in card
    assert "set run_card pt_min_pdg {25: 400.0}" in card
    assert "set run_card use_syst False" in card
    assert card[-2:] == ["/w/madspin_card.dat", "done"]
    plain = mg.launch_card("/w/proc", {"nevents": 5}).splitlines()
    assert plain[4:] == ["done", "set run_card nevents 5", "done"]


def test_lhapdf_set_and_extra_run_card_settings():
    spec = {**ZJET, "madgraph": {"lhaid": 261000, "run_card": {"dynamical_scale_choice": 3}}}
    settings = mg.run_settings("qcd", spec, nevents=10, iseed=1)
    assert settings["pdlabel"] == "lhapdf" and settings["lhaid"] == 261000
    assert settings["dynamical_scale_choice"] == 3


def test_process_given_as_madgraph_lines():
    spec = {"process": "anything", "madgraph": {"process": "generate p p > t t~", "decays": ["decay t > w+ b"],
                                                "cut_pdg": 6}}
    process = mg.sample_process("tt", spec)
    assert process.lines == ("generate p p > t t~",) and process.cut_pdg == 6
    assert "decay t > w+ b" in mg.madspin_card(process, 3)


def test_unknown_process_or_option_names_the_config_key():
    with pytest.raises(ConfigError, match=r"samples\.dijets\.process: 'dijet_qgtau'"):
        mg.sample_process("dijets", {"process": "dijet_qgtau"})
    with pytest.raises(ConfigError, match=r"samples\.qcd\.madgraph: unknown keys \['nevents'\]"):
        mg.run_settings("qcd", {**ZJET, "madgraph": {"nevents": 3}}, 10, 1)


def test_command_line_runs_a_script_without_questions():
    assert mg.mg5_command("/opt/mg5/bin/mg5_aMC", "/w/launch.mg5") == ["/opt/mg5/bin/mg5_aMC", "-f", "/w/launch.mg5"]


@pytest.mark.parametrize("log_line", [
    'Command "import /w/proc_card.mg5" interrupted in sub-command:\n"generate p p > zz j" with error:\n'
    "InvalidCmd : No particle zz in model",
    "Survey return zero cross section.\n   Typical reasons are the following:",
    "Zero result detected: See https://cp3.irmp.ucl.ac.be/projects/madgraph/wiki/FAQ-General-14",
    'Command "launch /w/proc -n run_01" interrupted with error:\nMadGraph5Error : compilation failed',
])
def test_failure_in_the_log_is_an_error_although_madgraph_exited_0(tmp_path, log_line):
    lhe = write_run(tmp_path / "work" / "proc", 50)  # even with an events file present
    with pytest.raises(GeneratorError, match="MadGraph failed"):
        mg.check_run(lhe, "INFO: Running Survey\n" + log_line + "\nquit\n", 50)


def test_a_program_that_stops_says_why(tmp_path):
    # MadGraph stops like this when its Python lacks `six`; the reason must reach the user
    program = tmp_path / "mg5_aMC"
    program.write_text("#!/bin/sh\necho 'INFO: starting'\necho 'madgraph requires the six module.'"
                       "\nexit 1\n")
    program.chmod(0o755)
    with pytest.raises(GeneratorError, match=r"exited 1 on card\.mg5: INFO: starting madgraph "
                                             r"requires the six module\.$"):
        mg._run_script(program, tmp_path / "card.mg5", "launch\n", tmp_path / "mg5.log")


def test_missing_events_file_is_an_error(tmp_path):
    lhe = mg.events_file(tmp_path / "work" / "proc", decayed=False)
    with pytest.raises(GeneratorError, match="wrote no"):
        mg.check_run(lhe, "INFO: Done\nquit\n", 50)


def test_short_events_file_is_an_error(tmp_path):
    lhe = write_run(tmp_path / "work" / "proc", 7)
    with pytest.raises(GeneratorError, match="wrote 7 events, 50 were asked"):
        mg.check_run(lhe, "INFO: Done\n", 50)


def test_successful_run_statistics(tmp_path):
    lhe = write_run(tmp_path / "work" / "proc", 3, decayed=True)
    assert lhe.parent.name == "run_01_decayed_1"
    stats = mg.check_run(lhe, "INFO: Done\nquit\n", 3)
    assert stats == {"events": 3, "cross_section_pb": 0.0301, "cross_section_error_pb": 2.877422e-04,
                     "version": "3.5.7"}


def test_missing_madgraph_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(MADGRAPH.env_var, raising=False)
    config = {"run": {"seed": 1, "events_per_shard": 10}, "samples": {"qcd": ZJET}}
    out = tmp_path / "hard" / "qcd" / "0.lhe.gz"
    with pytest.raises(BackendMissingError, match=r"samples\.qcd\.backend: selects MadGraph5_aMC@NLO"):
        mg.madgraph_backend(config, "qcd", 0, out, SeedManifest(1, "qcd", 0))
    assert not out.parent.exists() or not any(out.parent.iterdir())


@pytest.mark.backend
@pytest.mark.slow
def test_real_madgraph_run_is_reproducible_and_respects_the_window(tmp_path):
    if MADGRAPH.locate() is None:
        pytest.skip(f"MadGraph not installed (set {MADGRAPH.env_var} or put mg5_aMC on PATH)")
    config = {"run": {"seed": 3, "events_per_shard": 10}, "samples": {"qcd": ZJET}}
    manifest = SeedManifest(3, "qcd", 0)
    stats = mg.madgraph_backend(config, "qcd", 0, tmp_path / "a.lhe.gz", manifest)
    assert stats["events"] == 10 and stats["cross_section_pb"] > 0
    assert stats["seeds"]["iseed"] == manifest.seeds[mg.HARD_VIEW]["hard"]
    assert sorted(os.listdir(tmp_path)) == ["a.lhe.gz"]  # work directory cleaned up
    truth = read_truth(tmp_path / "a.lhe.gz")
    partons = truth[(abs(truth.pid) <= 5) | (truth.pid == 21)]
    pt = ak.to_numpy(ak.flatten(np.hypot(partons.px, partons.py)))
    eta = np.arcsinh(ak.to_numpy(ak.flatten(partons.pz)) / pt)
    assert len(pt) == 10  # one recoiling parton per event
    assert ((pt >= 400.0) & (pt <= 600.0)).all() and (np.abs(eta) <= 0.1).all()
    mg.madgraph_backend(config, "qcd", 0, tmp_path / "b.lhe.gz", SeedManifest(3, "qcd", 0))
    assert (tmp_path / "a.lhe.gz").read_bytes() == (tmp_path / "b.lhe.gz").read_bytes()


def higgs_event(pz: float, pt: float = 450.0, mass: float = 125.0) -> str:
    """An HZ event (H along x with the given pz), decayed lines omitted."""
    energy = np.sqrt(pt ** 2 + pz ** 2 + mass ** 2)
    return ("<event>\n 3 1 +3.0e-02 1.2e+03 7.5e-03 1.0e-01\n"
            " 2 -1 0 0 501 0 0 0 +5.0e+02 5.0e+02 0 0 9\n"
            " -2 -1 0 0 0 501 0 0 -5.0e+02 5.0e+02 0 0 9\n"
            f" 25 2 1 2 0 0 {pt:+.9e} 0 {pz:+.9e} {energy:.9e} {mass} 0 9\n"
            "<mgrwt>\n</mgrwt>\n</event>\n")


def test_resonance_eta_is_cut_on_pseudorapidity_after_madgraph():
    # MadGraph's eta_max_pdg cuts the rapidity: a 450 GeV Higgs at y = 0.099 has eta = 0.1027
    m_t = np.hypot(450.0, 125.0)
    passes_y_only = m_t * np.sinh(0.099)
    assert abs(np.arcsinh(passes_y_only / m_t)) < 0.1 < abs(np.arcsinh(passes_y_only / 450.0))
    pz = [10.0, passes_y_only, -20.0, -passes_y_only, 30.0, 5.0]
    text = ("<LesHouchesEvents>\n<init>\n</init>\n" + "".join(map(higgs_event, pz))
            + "</LesHouchesEvents>\n")
    kept_text, kept, looked = mg.eta_filter(text, 25, 0.1, nevents=3)
    assert (kept, looked) == (3, 5)  # events 1 and 3 fail, the 3rd pass is the 5th event
    assert kept_text.count("<event>") == 3 and kept_text.endswith("</LesHouchesEvents>\n")
    assert kept_text.startswith("<LesHouchesEvents>\n<init>\n</init>\n<event>")
    for z in (10.0, -20.0, 30.0):
        assert f"{z:+.9e}" in kept_text
    assert f"{passes_y_only:+.9e}" not in kept_text and "+5.000000000e+00" not in kept_text
    _, kept, looked = mg.eta_filter(text, 25, 0.1, nevents=10)
    assert (kept, looked) == (4, 6)


def test_eta_window_applies_to_resonances_only():
    assert mg.eta_window(HZ, mg.sample_process("higgs", HZ)) == (25, 0.1)
    assert mg.eta_window(ZJET, mg.sample_process("qcd", ZJET)) is None  # massless partons
    assert mg.eta_window({"process": "hz_bb_nunu"}, mg.sample_process("higgs", HZ)) is None


@pytest.mark.backend
@pytest.mark.slow
def test_real_madgraph_higgs_window_is_a_pseudorapidity_window(tmp_path):
    if MADGRAPH.locate() is None:
        pytest.skip(f"MadGraph not installed (set {MADGRAPH.env_var} or put mg5_aMC on PATH)")
    config = {"run": {"seed": 5, "events_per_shard": 20}, "samples": {"higgs": HZ}}
    stats = mg.madgraph_backend(config, "higgs", 0, tmp_path / "h.lhe.gz",
                                SeedManifest(5, "higgs", 0))
    assert stats["events"] == 20 and 0.5 < stats["filter_efficiency"] <= 1.0
    truth = read_truth(tmp_path / "h.lhe.gz")
    higgs = truth[truth.pid == 25]
    pt = ak.to_numpy(ak.flatten(np.hypot(higgs.px, higgs.py)))
    eta = np.arcsinh(ak.to_numpy(ak.flatten(higgs.pz)) / pt)
    assert len(eta) == 20 and (np.abs(eta) < 0.1).all() and ((pt >= 400) & (pt <= 600)).all()
