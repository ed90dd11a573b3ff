"""Herwig 7 adapter: the .in file and command lines it writes, the event numbering that keeps
views aligned when Herwig drops an event, reading HepMC3 back (files written by resim's own
exporter), and the whole open/shower/close cycle against a stand-in program that follows
Herwig's file contract. A real Herwig run when it is installed."""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import textwrap
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from resim.backends import HERWIG
from resim.errors import BackendMissingError, ConfigError, GeneratorError, LHEError
from resim.contracts import PARTICLE_FIELDS, ViewBatch, make_event_id
from resim.contracts import LHEBatch
from resim.showers.registry import get_shower
from resim.hepmc import write_hepmc3
from resim.lhe import count_events, iter_events, truth_array
from resim.seeds import SeedManifest
from resim.showers import herwig as hw
from resim.showers.records import ChargeTable


def in_lines(**overrides) -> list[str]:
    args = dict(lhe="/w/events.lhe", hepmc="/w/events.hepmc3", run_name="view", nevents=40,
                seed=987654, settings=hw.HerwigSettings())
    args.update(overrides)
    return hw.herwig_input(**args).splitlines()


def test_input_reads_the_lhe_and_writes_hepmc3_in_gev_and_mm():
    lines = in_lines()
    assert {"set LHEReader:FileName /w/events.lhe", "set LHEReader:AllowedToReOpen Yes",
            "insert LHEHandler:LesHouchesReaders 0 LHEReader",
            "set /Herwig/Generators/EventGenerator:EventHandler /Herwig/EventHandlers/LHEHandler",
            } <= set(lines)
    hepmc = ["create ThePEG::HepMCFile HepMCFile HepMCAnalysis.so", "set HepMCFile:PrintEvent 40",
             "set HepMCFile:Format GenEvent", "set HepMCFile:Units GeV_mm",
             "set HepMCFile:Filename /w/events.hepmc3",
             "insert EventGenerator:AnalysisHandlers 0 HepMCFile"]
    assert set(hepmc) <= set(lines)
    assert lines.index(hepmc[0]) < lines.index(hepmc[-1])
    # an object is created before anything refers to it
    assert lines.index("create ThePEG::Cuts /Herwig/Cuts/NoCuts") < lines.index("set LHEReader:Cuts /Herwig/Cuts/NoCuts")
    assert lines[-1] == "saverun view EventGenerator"


def test_input_keeps_views_aligned_with_the_lhe():
    # Events are numbered by the LHE's <event num> tags, and varying weights stop the handler
    # from skipping file events at random.
    assert {"set LHEHandler:EventNumbering LHE", "set LHEHandler:WeightOption VarNegWeight",
            "set EventGenerator:NumberOfEvents 40",
            "set EventGenerator:RandomNumberGenerator:Seed 987654"} <= set(in_lines())


def test_isr_and_mpi_follow_the_shower_section_and_the_view():
    shower = {"tune": "CP5", "isr": False, "mpi": True}
    settings = hw.herwig_settings("herwig", shower, {})
    assert settings == hw.HerwigSettings(isr=False, mpi=True)
    lines = in_lines(settings=settings)
    assert "set /Herwig/Shower/ShowerHandler:DoISR No" in lines
    assert "set /Herwig/Shower/ShowerHandler:MPIHandler NULL" not in lines
    view = hw.herwig_settings("herwig_isr", shower, {"isr": True, "mpi": False})
    lines = in_lines(settings=view)
    assert "set /Herwig/Shower/ShowerHandler:DoISR Yes" in lines
    assert "set /Herwig/Shower/ShowerHandler:MPIHandler NULL" in lines


def test_repository_settings_come_last_so_they_win():
    settings = hw.herwig_settings("herwig", {}, {"/Herwig/Shower/AlphaQCDFSR:AlphaMZ": 0.126})
    lines = in_lines(settings=settings)
    assert lines[-2] == "set /Herwig/Shower/AlphaQCDFSR:AlphaMZ 0.126"


def test_settings_as_a_list_are_repository_commands():
    settings = hw.herwig_settings("herwig", {"isr": False}, ["set /Herwig/Shower/ShowerHandler:DoFSR Yes"])
    assert settings == hw.HerwigSettings(isr=False, mpi=True,
                                         commands=("set /Herwig/Shower/ShowerHandler:DoFSR Yes",))


def test_a_pythia_setting_in_a_herwig_view_names_its_key():
    with pytest.raises(ConfigError, match=r"views\.herwig\.settings\.TimeShower:renormMultFac"):
        hw.herwig_settings("herwig", {}, {"TimeShower:renormMultFac": 0.5})


def test_commands_read_then_run_with_events_and_seed():
    read, run = hw.herwig_commands("/opt/herwig/bin/Herwig", "view.in", "view", 40, 987654)
    assert read == ["/opt/herwig/bin/Herwig", "read", "view.in"]
    assert run == ["/opt/herwig/bin/Herwig", "run", "view.run", "-N", "40", "-s", "987654", "-d", "0"]


def test_numbered_lhe_copy_tags_every_event_and_stays_readable(fixture_lhe_files, tmp_path):
    for source in fixture_lhe_files:
        target = tmp_path / (source.name.split(".")[0] + ".numbered.lhe")
        n = hw.number_lhe_events(source, target)
        assert n == count_events(source) > 0
        text = target.read_text()
        tags = re.findall(r"<event num> (\d+) </event num>", text)
        # MadGraph's merging records would become weights that break Herwig's HepMC output
        assert "<clus" not in text and "<scales" not in text and "<mgrwt" not in text
        assert [int(x) for x in tags] == list(range(1, n + 1))
        original, numbered = list(iter_events(source)), list(iter_events(target))
        assert len(numbered) == n
        for a, b in zip(original, numbered):
            np.testing.assert_array_equal(a.momenta, b.momenta)


def test_truncated_lhe_is_an_lhe_error(tmp_path, fixture_lhe_files):
    gz = next(p for p in fixture_lhe_files if p.suffix == ".gz")
    broken = tmp_path / "broken.lhe.gz"
    broken.write_bytes(gz.read_bytes()[:2000])
    with pytest.raises(LHEError, match="broken.lhe.gz"):
        hw.number_lhe_events(broken, tmp_path / "out.lhe")


def particles_batch(n_events: int, numbers: list[int]) -> ViewBatch:
    """Events of known particles; ``numbers`` are the HepMC3 event numbers to write (1-based
    LHE indices, as Herwig numbers them). Some come from a displaced vertex (a K0S decay)."""
    rng = np.random.default_rng(5)
    events = []
    for k in range(n_events):
        n = 5 + k
        px, py, pz = rng.normal(0, 20, (3, n))
        pid = rng.choice([211, -211, 22, 2212], n)
        mass = np.select([np.abs(pid) == 211, pid == 2212], [0.13957, 0.93827], 0.0)
        vertex = np.zeros((3, n))
        vertex[:, :2] = [[1.5, 1.5], [-0.5, -0.5], [12.0, 12.0]]  # two pions from one vertex
        events.append({"px": px, "py": py, "pz": pz, "E": np.sqrt(px**2 + py**2 + pz**2 + mass**2),
                       "pid": pid, "charge": np.sign(pid) * (pid != 22).astype(float),
                       "vx": vertex[0], "vy": vertex[1], "vz": vertex[2]})
    particles = ak.zip({f: ak.Array([e[f].tolist() for e in events]) for f in PARTICLE_FIELDS})
    return ViewBatch("qcd", 0, "herwig", make_event_id(0, np.array(numbers)), particles,
                     ak.Array([[] for _ in range(n_events)]))


def charge_table() -> ChargeTable:
    import pythia8mc

    return ChargeTable(pythia8mc.Pythia("", False).particleData)


def test_hepmc3_from_the_projects_exporter_reads_back_in_lhe_order(tmp_path):
    # Herwig delivered LHE events 1, 2, 4 and 5 (it vetoed the third): the reader must put
    # each at its LHE index and report the third as failed.
    batch = particles_batch(4, numbers=[1, 2, 4, 5])
    path = tmp_path / "herwig.hepmc3"
    write_hepmc3(batch, path)
    events = hw.HerwigEvents(path, charge_table())
    first, failed_first = events.take([0, 1])
    rest, failed_rest = events.take([2, 3, 4])
    assert failed_first.tolist() == [False, False] and failed_rest.tolist() == [True, False, False]
    got = ak.concatenate([first, rest[1:]])
    assert ak.fields(got) == list(PARTICLE_FIELDS)
    assert len(rest[0]) == 0
    for field in PARTICLE_FIELDS:
        np.testing.assert_allclose(ak.to_numpy(ak.flatten(got[field])),
                                   ak.to_numpy(ak.flatten(batch.particles[field])), atol=1e-9)
    assert ak.to_numpy(ak.flatten(got.pid)).dtype == np.int32


def test_events_the_cascade_skips_are_passed_over(tmp_path):
    # The cascade asks a view only for the events that kept a jet in every view before it:
    # here the second and the fourth of five.
    batch = particles_batch(5, numbers=[1, 2, 3, 4, 5])
    path = tmp_path / "herwig.hepmc3"
    write_hepmc3(batch, path)
    events = hw.HerwigEvents(path, charge_table())
    first, failed_first = events.take([1])
    second, failed_second = events.take([3])
    assert not failed_first.any() and not failed_second.any()
    assert ak.num(first).tolist() == [6] and ak.num(second).tolist() == [8]
    np.testing.assert_allclose(ak.to_numpy(second[0].px), ak.to_numpy(batch.particles[3].px))


def test_asking_for_an_event_again_is_an_error(tmp_path):
    path = tmp_path / "herwig.hepmc3"
    write_hepmc3(particles_batch(3, numbers=[1, 2, 3]), path)
    events = hw.HerwigEvents(path, charge_table())
    events.take([0, 1])
    with pytest.raises(GeneratorError, match="LHE event 2 asked for after event 2"):
        events.take([1])


# A stand-in for the Herwig executable that follows its file contract: ``read X.in`` saves a
# run file named by ``saverun``; ``run X.run -N n -s seed`` reads the LHE named in it and writes
# HepMC3 where the HepMCFile analysis points, numbering events by their <event num> tags.
# It "vetoes" the events numbered in $STAND_IN_VETO (default: the second), as Herwig does with
# events it cannot shower, and makes up for them as Herwig does, by reopening the file: the
# first events come again, numbered 1, 2, ..., after the last one.
STAND_IN = textwrap.dedent("""\
    #!{python}
    import os, re, sys, pathlib
    import numpy as np
    args = sys.argv[1:]
    if args[0] == "--version":
        print("Herwig 7.3.0 (stand-in)"); print("ThePEG 2.3.0 (stand-in)"); sys.exit(0)
    text = pathlib.Path(args[1]).read_text()
    if args[0] == "read" and "saverun" not in text:  # the self-check: PDF names and a PDF value
        for line in text.splitlines():
            if line.startswith("get "):
                print(os.environ.get("STAND_IN_PDF", "StandInPDF"))
            elif line.startswith("do "):
                print(" " + " ".join(["0.5"] * 13))
        sys.exit(0)
    if args[0] == "read":
        run = re.search(r"^saverun (\\S+) ", text, re.M).group(1)
        pathlib.Path(run + ".run").write_text(text); sys.exit(0)
    from resim.lhe import iter_events
    from resim.hepmc import event_record
    import pyhepmc
    lhe = re.search(r"LHEReader:FileName (\\S+)", text).group(1)
    out = re.search(r"HepMCFile:Filename (\\S+)", text).group(1)
    numbers = [int(n) for n in re.findall(r"<event num> (\\d+) </event num>", pathlib.Path(lhe).read_text())]
    n_max = int(args[args.index("-N") + 1])
    veto = {int(n) for n in os.environ.get("STAND_IN_VETO", "2").split(",")}
    kept = [(n, e) for n, e in zip(numbers, iter_events(lhe)) if n not in veto][:n_max]
    with pyhepmc.io.WriterAscii(out) as writer:
        for number, event in kept + kept[:n_max - len(kept)]:
            final = event.status == 1
            cols = dict(px=event.momenta[final, 0], py=event.momenta[final, 1], pz=event.momenta[final, 2],
                        E=event.momenta[final, 3], pid=event.pid[final])
            cols.update(vx=np.zeros(final.sum()), vy=np.zeros(final.sum()), vz=np.zeros(final.sum()))
            writer.write(event_record(number, cols))
    """)


@pytest.fixture
def stand_in_herwig(tmp_path, monkeypatch):
    exe = tmp_path / "bin" / "Herwig"
    exe.parent.mkdir()
    exe.write_text(STAND_IN.replace("{python}", sys.executable))
    exe.chmod(0o755)
    monkeypatch.setenv(HERWIG.env_var, str(exe))
    return exe


def herwig_config() -> dict:
    return {"run": {"seed": 11}, "shower": {"tune": "CP5", "isr": False, "mpi": True},
            "views": {"nominal": {"fork": "hard", "backend": "pythia"},
                      "herwig": {"fork": "hard", "backend": "herwig"}}}


def lhe_batch(events: list) -> LHEBatch:
    return LHEBatch(events, make_event_id(0, np.array([e.index for e in events])), truth_array(events))


def test_shower_cycle_keeps_views_aligned_when_herwig_drops_an_event(stand_in_herwig, fixture_lhe_files):
    lhe = next(p for p in fixture_lhe_files if "madgraph-2.2.1" in p.name)
    events = list(iter_events(lhe))[:6]
    config = herwig_config()
    manifest = SeedManifest(11, "qcd", 0)
    shower = get_shower("herwig")(config, "herwig", config["views"]["herwig"], manifest)
    shower.open(lhe)
    workdir = shower._workdir.name
    first = shower.shower(lhe_batch(events[:3]))
    second = shower.shower(lhe_batch(events[3:]))
    shower.close()
    assert first.failed.tolist() == [False, True, False] and second.failed.tolist() == [False] * 3
    assert len(first.particles[1]) == 0
    for branch, chunk in ((first, events[:3]), (second, events[3:])):
        for k, event in enumerate(chunk):
            if not branch.failed[k]:
                np.testing.assert_allclose(ak.to_numpy(branch.particles[k].px),
                                           event.momenta[event.status == 1, 0])
    assert first.info["seed"] == manifest.seeds["herwig"]["shower"]
    assert first.info["shower_failed"] == 1 and first.info["isr"] is False
    assert first.info["versions"] == {"Herwig": "7.3.0 (stand-in)", "ThePEG": "2.3.0 (stand-in)",
                                      "LHAPDF": "unknown"}
    assert first.info["pdf"] == "StandInPDF"  # Herwig's default, as its self-check reads it
    assert not os.path.exists(workdir)


def first_events(fixture_lhe_files, n: int, tmp_path) -> Path:
    """An LHE file of the first ``n`` events of MadGraph's Z + jets fixture (10,000 events)."""
    source = next(p for p in fixture_lhe_files if "madgraph-2.2.1" in p.name)
    head, *blocks = gzip.open(source, "rt").read().split("<event>")
    lhe = tmp_path / f"first-{n}.lhe"
    lhe.write_text("<event>".join([head, *blocks[:n - 1], blocks[n - 1].split("</event>")[0]])
                   + "</event>\n</LesHouchesEvents>\n")
    return lhe


def test_refill_after_the_last_events_were_dropped_is_not_read(stand_in_herwig, fixture_lhe_files,
                                                              monkeypatch, tmp_path):
    # Herwig drops the last two events and re-showers events 1 and 2 of the re-opened file to
    # make up for them: those come back numbered 1 and 2 after event 4, are repeats, not the
    # events 5 and 6 of the view, and are not an ordering error.
    monkeypatch.setenv("STAND_IN_VETO", "5,6")
    # a file of six events, so that the dropped ones are its last
    lhe = first_events(fixture_lhe_files, 6, tmp_path)
    events = list(iter_events(lhe))
    assert len(events) == 6
    config = herwig_config()
    shower = get_shower("herwig")(config, "herwig", config["views"]["herwig"], SeedManifest(11, "qcd", 0))
    shower.open(lhe)
    assert [e.event_number for e, _ in hw.iter_hepmc3(next(Path(shower._workdir.name).glob("*.hepmc3")))] \
        == [1, 2, 3, 4, 1, 2]  # the stand-in wrote what Herwig writes
    first = shower.shower(lhe_batch(events[:3]))
    second = shower.shower(lhe_batch(events[3:]))
    shower.close()
    assert first.failed.tolist() == [False] * 3 and second.failed.tolist() == [False, True, True]
    assert second.info["shower_failed"] == 2
    assert ak.num(second.particles).tolist()[1:] == [0, 0]


def test_numbers_going_back_end_the_events(tmp_path):
    path = tmp_path / "herwig.hepmc3"
    write_hepmc3(particles_batch(5, numbers=[1, 3, 4, 1, 2]), path)
    particles, failed = hw.HerwigEvents(path, charge_table()).take([0, 1, 2, 3, 4, 5])
    assert failed.tolist() == [False, True, False, False, True, True]
    assert ak.num(particles).tolist() == [5, 0, 6, 7, 0, 0]


def test_a_view_pdf_sets_every_proton_pdf_of_herwig():
    settings = hw.herwig_settings("herwig", {}, {"pdf": "NNPDF23_lo_as_0130_qed"})
    assert settings.pdf == "NNPDF23_lo_as_0130_qed"
    lines = in_lines(settings=settings)
    assert {f"set /Herwig/Partons/{obj}:PDFName NNPDF23_lo_as_0130_qed"
            for obj in ("HardLOPDF", "ShowerLOPDF", "MPIPDF", "RemnantPDF")} <= set(lines)
    assert not any("PDFName" in line for line in in_lines())


def test_check_backends_runs_herwigs_self_check(stand_in_herwig, tmp_path, capsys, monkeypatch):
    from resim.backends import cli

    config = tmp_path / "herwig.yaml"
    config.write_text("views:\n  herwig: {fork: hard, backend: herwig}\n")
    monkeypatch.setattr(cli, "load_config", lambda path: herwig_config())
    assert cli.run(argparse.Namespace(config=str(config))) == 0
    out = capsys.readouterr().out
    assert "Herwig 7 (" in out and "self-check passed: Herwig 7.3.0 (stand-in), ThePEG 2.3.0 (stand-in)" in out
    assert "Herwig PDF StandInPDF" in out
    # a PDF set that does not evaluate (here: no values at all) fails the check
    stand_in_herwig.write_text(STAND_IN.replace("{python}", sys.executable)
                               .replace('print(" " + " ".join(["0.5"] * 13))', 'pass'))
    hw.herwig_provenance.cache_clear()
    assert cli.run(argparse.Namespace(config=str(config))) == 2
    assert "fails its self-check" in capsys.readouterr().err


def test_dataset_provenance_names_herwig_thepeg_lhapdf_and_the_pdf(stand_in_herwig):
    from resim.dataset.provenance import run_versions

    got = run_versions(herwig_config())
    assert {k: got[k] for k in ("Herwig", "ThePEG", "LHAPDF", "Herwig PDF")} == {
        "Herwig": "7.3.0 (stand-in)", "ThePEG": "2.3.0 (stand-in)", "LHAPDF": "unknown",
        "Herwig PDF": "StandInPDF"}


def test_missing_herwig_fails_when_the_view_is_built(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(HERWIG.env_var, raising=False)
    config = herwig_config()
    with pytest.raises(BackendMissingError, match=r"views\.herwig\.backend: selects Herwig 7.*envs/herwig.yaml"):
        hw.HerwigShower(config, "herwig", config["views"]["herwig"], SeedManifest(11, "qcd", 0))


def test_herwig_view_cannot_feed_a_hadronisation_fork(stand_in_herwig):
    config = herwig_config()
    with pytest.raises(ConfigError, match="views.herwig: Herwig views cannot be the parent"):
        hw.HerwigShower(config, "herwig", config["views"]["herwig"], SeedManifest(11, "qcd", 0),
                        keep_partons=True)


@pytest.mark.backend
@pytest.mark.slow
def test_real_herwig_showers_an_lhe_file(fixture_lhe_files, tmp_path):
    if HERWIG.locate() is None:
        pytest.skip(f"Herwig 7 not installed (set {HERWIG.env_var} or put Herwig on PATH)")
    lhe = first_events(fixture_lhe_files, 20, tmp_path)
    events = list(iter_events(lhe))
    config = herwig_config()
    shower = hw.HerwigShower(config, "herwig", config["views"]["herwig"], SeedManifest(11, "qcd", 0))
    shower.open(lhe)
    first, second = shower.shower(lhe_batch(events[:10])), shower.shower(lhe_batch(events[10:]))
    shower.close()
    for branch in (first, second):
        delivered = ~branch.failed
        assert delivered.sum() >= 8
        assert (ak.to_numpy(ak.num(branch.particles[delivered])) > 10).all()  # showered, hadronised
        pid = np.abs(ak.to_numpy(ak.flatten(branch.particles.pid)))
        assert not np.isin(pid, [1, 2, 3, 4, 5, 6, 21]).any() and (pid == 211).any()  # hadrons
    versions = first.info["versions"]
    assert set(versions) == {"Herwig", "ThePEG", "LHAPDF"} and first.info["pdf"]


def run_comparison(tmp_path, events: int) -> tuple[int, dict]:
    """benchmarks/compare_herwig.py on ``events`` hard events per sample: exit status, numbers."""
    import json
    import subprocess

    out = tmp_path / "compare.json"
    result = subprocess.run([sys.executable, "benchmarks/compare_herwig.py", "--events", str(events),
                             "--json", str(out)], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True)
    assert out.is_file(), result.stdout + result.stderr
    return result.returncode, json.loads(out.read_text())


@pytest.mark.slow
def test_comparison_with_pythia_runs_both_views_on_the_same_events(stand_in_herwig, tmp_path):
    # The stand-in hands back the LHE's partons: only the plumbing and Pythia's side are real.
    status, numbers = run_comparison(tmp_path, 40)
    assert set(numbers["rows"]) == {"higgs", "qcd"}
    assert numbers["provenance"]["Herwig"] == "7.3.0 (stand-in)"
    for sample in ("higgs", "qcd"):
        assert numbers["rows"][sample]["nominal"]["jets"] == numbers["rows"][sample]["herwig"]["jets"] > 10
    pythia = {text: ok for text, ok in numbers["checks"].items() if text.startswith("nominal:")}
    assert len(pythia) == 2 and all(pythia.values())
    assert status == sum(not ok for ok in numbers["checks"].values())


@pytest.mark.backend
@pytest.mark.slow
def test_real_herwig_against_pythia_on_the_same_events(tmp_path):
    """H and QCD jets at hadron level: the expectations of compare_herwig.expectations (the
    literature establishes no Herwig-vs-Pythia direction for Herwig >= 7.1: two-pronged,
    m_H-peaked H jets in both)."""
    if HERWIG.locate() is None:
        pytest.skip(f"Herwig 7 not installed (set {HERWIG.env_var} or put Herwig on PATH)")
    status, numbers = run_comparison(tmp_path, 200)
    assert status == 0, numbers["checks"]


@pytest.mark.backend
@pytest.mark.slow
def test_without_isr_herwig_beam_remnants_form_heavy_clusters():
    """Why a Herwig event without MPI is as busy as with it (docs/backends.md): with ISR off the
    beam remnants and the hard process meet in clusters of hundreds of GeV or more, whose
    fission makes most of the event; an initial-state shower bridges the gap with partons, and
    the remnant clusters are ordinary hadronisation clusters again."""
    if HERWIG.locate() is None:
        pytest.skip(f"Herwig 7 not installed (set {HERWIG.env_var} or put Herwig on PATH)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from herwig_clusters import measure

    columns = measure(HERWIG.locate(), 20)
    bare, with_isr = columns["ISR off, MPI off"], columns["ISR on, MPI off"]
    assert bare["  mass median [GeV]"] > 50 > with_isr["  mass median [GeV]"]
    assert bare["from remnant clusters"] > 0.7 * bare["particles"]
    assert with_isr["from remnant clusters"] < 0.5 * with_isr["particles"]
    assert bare["particles"] > 1.5 * with_isr["particles"]
