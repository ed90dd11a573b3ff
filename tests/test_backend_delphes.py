"""Delphes adapter: the card it derives from the stock CMS card, the command line, the reader
of Delphes' ROOT output (on a file written here with Delphes' branch layout), and a real run
when Delphes is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot
import yaml

from resim.backends import DELPHES
from resim.detector import delphes as dl
from resim.errors import BackendMissingError, ConfigError, GeneratorError
from resim.contracts import CANDIDATE_FIELDS, PARTICLE_FIELDS, ViewBatch, make_event_id

# The parts of delphes_card_CMS.tcl the adapter touches, as the stock card writes them.
STOCK = """#######################################
# Order of execution of various modules
#######################################

set ExecutionPath {
  ParticlePropagator
  EFlowMerger
  TreeWriter
}

module Merger EFlowMerger {
# add InputArray InputArray
  add InputArray HCal/eflowTracks
  add InputArray ECal/eflowPhotons
  add InputArray HCal/eflowNeutralHadrons
  set OutputArray eflow
}

module TreeWriter TreeWriter {
# add Branch InputArray BranchName BranchClass
  add Branch Delphes/allParticles Particle GenParticle
  add Branch HCal/eflowTracks EFlowTrack Track
}
"""

# Candidates of three events as Delphes would write them: (PT, Eta, Phi, E, Charge, PID, D0, DZ).
EVENTS = [
    [(25.0, 0.1, 0.5, 25.1, 1, 211, 0.01, -0.02), (10.0, -0.3, 2.0, 10.5, 0, 22, 0.0, 0.0),
     (4.0, 1.2, -1.0, 7.2, 0, 0, 0.0, 0.0)],
    [],
    [(3.0, 2.1, 3.0, 12.4, -1, -11, -0.05, 0.3)],
]


def write_delphes_file(path, events=EVENTS, fields=CANDIDATE_FIELDS, extra=("P", "Mass")):
    """A ROOT file with Delphes' layout: tree "Delphes", jagged ``ParticleFlowCandidate.X``
    branches sharing the counter ``ParticleFlowCandidate_size``; floats float32, ints int32."""
    columns = {}
    for i, name in enumerate(CANDIDATE_FIELDS):
        dtype = np.int32 if name in ("Charge", "PID") else np.float32
        columns[name] = ak.values_astype(ak.Array([[c[i] for c in event] for event in events]), dtype)
    for name in extra:  # Delphes writes many more members; the reader must ignore them
        columns[name] = columns["E"]
    branches = {f"ParticleFlowCandidate.{name}": columns[name] for name in (*fields, *extra)}
    with uproot.recreate(path) as root_file:
        root_file.mktree("Delphes", {k: v.type.content for k, v in branches.items()},
                         counter_name=lambda _: "ParticleFlowCandidate_size")
        root_file["Delphes"].extend(branches)
    return path


def test_card_gets_a_seed_and_a_particle_flow_branch():
    card = dl.delphes_card(STOCK, seed=4242)
    assert card.count("set RandomSeed 4242") == 1
    writer = card[card.index("module TreeWriter"):]
    assert "  add Branch EFlowMerger/eflow ParticleFlowCandidate ParticleFlowCandidate" in writer
    # Everything of the stock card is still there, in order.
    stock_lines = [line for line in STOCK.splitlines() if line.strip()]
    card_lines = [line for line in card.splitlines() if line in stock_lines]
    assert card_lines == stock_lines


def test_card_replaces_a_seed_and_does_not_repeat_the_branch():
    once = dl.delphes_card(STOCK, seed=1)
    twice = dl.delphes_card(once, seed=2)
    assert "set RandomSeed 2" in twice and "set RandomSeed 1" not in twice
    assert twice.count("ParticleFlowCandidate ParticleFlowCandidate") == 1


def test_card_without_tree_writer_or_with_a_bad_seed_is_refused():
    with pytest.raises(ConfigError, match="no TreeWriter"):
        dl.delphes_card("set ExecutionPath { ParticlePropagator }\n", seed=1, source="my.tcl")
    with pytest.raises(ValueError, match="RandomSeed"):
        dl.delphes_card(STOCK, seed=0)


def test_command_line():
    assert dl.delphes_command("/opt/delphes/DelphesHepMC3", "c.tcl", "o.root", "i.hepmc3") == [
        "/opt/delphes/DelphesHepMC3", "c.tcl", "o.root", "i.hepmc3"]


def test_stock_card_is_found_beside_a_build_or_a_conda_prefix_or_in_delphes_cards(tmp_path):
    build = tmp_path / "delphes"
    (build / "cards").mkdir(parents=True)
    (build / "cards" / dl.STOCK_CARD).write_text(STOCK)
    exe = build / "DelphesHepMC3"
    exe.write_text("")
    assert dl.find_card(dl.STOCK_CARD, exe, environ={}) == build / "cards" / dl.STOCK_CARD
    conda_exe = tmp_path / "prefix" / "bin" / "DelphesHepMC3"
    conda_exe.parent.mkdir(parents=True)
    (tmp_path / "prefix" / "cards").mkdir()
    (tmp_path / "prefix" / "cards" / dl.STOCK_CARD).write_text(STOCK)
    assert dl.find_card(dl.STOCK_CARD, conda_exe, environ={}).parent == tmp_path / "prefix" / "cards"
    other = tmp_path / "mine"
    other.mkdir()
    (other / dl.STOCK_CARD).write_text(STOCK)
    assert dl.find_card(dl.STOCK_CARD, conda_exe, environ={"DELPHES_CARDS": str(other)}).parent == other
    with pytest.raises(ConfigError, match="detector.delphes.card: Delphes card 'nope.tcl' not found"):
        dl.find_card("nope.tcl", exe, environ={})


def test_reader_returns_the_candidates_event_by_event(tmp_path):
    path = write_delphes_file(tmp_path / "delphes.root")
    candidates = dl.read_candidates(path, n_events=3)
    assert ak.fields(candidates) == list(CANDIDATE_FIELDS)
    assert ak.num(candidates).tolist() == [3, 0, 1]
    assert candidates.PID.tolist() == [[211, 22, 0], [], [-11]]
    assert candidates.Charge.tolist() == [[1, 0, 0], [], [-1]]
    assert candidates.Charge.type.content.content.primitive == "int32"
    assert candidates.PT.type.content.content.primitive == "float64"
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(candidates.DZ)), [-0.02, 0, 0, 0.3], rtol=1e-6)
    np.testing.assert_allclose(candidates.E[0].tolist(), [25.1, 10.5, 7.2], rtol=1e-6)


def test_reader_names_a_missing_branch_and_a_wrong_event_count(tmp_path):
    path = write_delphes_file(tmp_path / "no-dz.root", fields=CANDIDATE_FIELDS[:-1])
    with pytest.raises(GeneratorError, match=r"ParticleFlowCandidate\.DZ"):
        dl.read_candidates(path)
    full = write_delphes_file(tmp_path / "ok.root")
    with pytest.raises(GeneratorError, match="wrote 3 events, 5 went in"):
        dl.read_candidates(full, n_events=5)
    with uproot.recreate(tmp_path / "other.root") as root_file:
        root_file["Events"] = {"x": np.zeros(3)}
    with pytest.raises(GeneratorError, match="no 'Delphes' tree"):
        dl.read_candidates(tmp_path / "other.root")


def test_missing_delphes_fails_with_its_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(DELPHES.env_var, raising=False)
    detector = dl.DelphesDetector({"backend": "delphes"})
    with pytest.raises(BackendMissingError, match="detector.backend: selects Delphes.*envs/delphes.yaml"):
        detector.simulate(jet_batch(1), seed=5, workdir=tmp_path)


def test_registered_as_the_delphes_detector():
    from resim.detector.registry import get_detector

    assert isinstance(get_detector({"detector": {"backend": "delphes"}}), dl.DelphesDetector)


def jet_batch(n_events: int, seed: int = 1) -> ViewBatch:
    """Collimated pions and photons around (eta, phi) = (0, 0), from the origin: a jet."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n_events):
        n = 60
        pt = rng.exponential(8.0, n) + 1.0
        eta, phi = rng.normal(0, 0.15, n), rng.normal(0, 0.15, n)
        pid = rng.choice([211, -211, 22], n)
        mass = np.where(pid == 22, 0.0, 0.13957)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
        charge = np.sign(pid) * (pid != 22)
        events.append({"px": px, "py": py, "pz": pz, "E": energy, "pid": pid, "charge": charge,
                       "vx": np.zeros(n), "vy": np.zeros(n), "vz": np.zeros(n)})
    particles = ak.zip({f: ak.Array([e[f].tolist() for e in events]) for f in PARTICLE_FIELDS})
    truth = ak.Array([[] for _ in range(n_events)])
    return ViewBatch("qcd", 0, "nominal", make_event_id(0, np.arange(n_events)), particles, truth)


@pytest.mark.backend
def test_real_delphes_run_on_the_projects_hepmc3(tmp_path):
    if DELPHES.locate() is None:
        pytest.skip(f"Delphes not installed (set {DELPHES.env_var} or put DelphesHepMC3 on PATH)")
    pytest.importorskip("resim.hepmc", reason="the engine's HepMC3 exporter is not in this tree")
    batch = jet_batch(5)
    detector = dl.DelphesDetector({"backend": "delphes"})
    first = detector.simulate(batch, seed=11, workdir=tmp_path)
    assert len(first) == 5 and ak.fields(first) == list(CANDIDATE_FIELDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # its work directory is gone
    # A CMS-like detector sees the jet: charged candidates are the input pions (some lost to
    # tracking inefficiency), and the visible pT is kept within the calorimeter resolution.
    charged = first[first.Charge != 0]
    assert set(np.unique(ak.to_numpy(ak.flatten(charged.PID)))) <= {211, -211}
    pt_in = ak.sum(np.hypot(batch.particles.px, batch.particles.py), axis=1)
    pt_out = ak.sum(first.PT, axis=1)
    np.testing.assert_allclose(ak.to_numpy(pt_out), ak.to_numpy(pt_in), rtol=0.3)
    # Same seed, same candidates; another seed smears differently.
    again = detector.simulate(batch, seed=11, workdir=tmp_path)
    assert ak.to_list(again) == ak.to_list(first)
    other = detector.simulate(batch, seed=12, workdir=tmp_path)
    assert ak.to_list(other) != ak.to_list(first)


def test_blocks_follow_the_event_index_not_the_batch():
    ids = make_event_id(3, np.array([5, 99, 100, 150, 250, 7]))
    blocks = dl.event_blocks(ids, 100)
    assert [b for b, _ in blocks] == [0, 1, 2]
    assert [p.tolist() for _, p in blocks] == [[0, 1, 5], [2, 3], [4]]


def test_block_events_must_be_a_positive_integer():
    with pytest.raises(ConfigError, match="detector.delphes.block_events"):
        dl.DelphesDetector({"delphes": {"block_events": 0}})


@pytest.mark.backend
def test_real_delphes_seeds_per_block_any_64_bit_stream_seed(tmp_path):
    if DELPHES.locate() is None:
        pytest.skip(f"Delphes not installed (set {DELPHES.env_var} or put DelphesHepMC3 on PATH)")
    batch = jet_batch(6)
    detector = dl.DelphesDetector({"backend": "delphes", "delphes": {"block_events": 3}})
    seed = 2**64 - 12345  # a detector stream seed far beyond Delphes' RandomSeed range
    whole = detector.simulate(batch, seed=seed, workdir=tmp_path)
    # the same events in two batches of one block each: the same candidates
    halves = [detector.simulate(ViewBatch(batch.sample, batch.shard, batch.view,
                                          batch.event_id[s], batch.particles[s], batch.truth[s]),
                                seed=seed, workdir=tmp_path) for s in (slice(0, 3), slice(3, 6))]
    assert ak.to_list(ak.concatenate(halves)) == ak.to_list(whole)


@pytest.mark.backend
def test_workflow_simulate_command_runs_real_delphes(repo_root, tmp_path):
    """``resim hard`` and ``resim simulate`` as the workflow calls them (relative paths, run
    from the work folder) on a tiny config with ``detector.backend: delphes``."""
    if DELPHES.locate() is None:
        pytest.skip(f"Delphes not installed (set {DELPHES.env_var} or put DelphesHepMC3 on PATH)")
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["run"]["events_per_shard"] = 20
    config["samples"] = {"qcd": {"process": "zjet_nunu", "shards": 1,
                                 "pt_range": [400.0, 600.0], "eta_max": 0.1}}
    config["views"] = {"nominal": {"fork": "hard", "backend": "pythia"}}
    config["detector"] = {"backend": "delphes", "delphes": {"block_events": 10}}
    config["dataset"] = {}
    config["finetune"]["tasks"] = {}  # H vs QCD needs the higgs sample this config leaves out
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    resim = shutil.which("resim", path=str(Path(sys.executable).parent)) or "resim"

    def run(*args):
        result = subprocess.run([resim, *args], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run("hard", "--config", "config.yaml", "--sample", "qcd", "--shard", "0",
        "--out", "results/hard/qcd/0.lhe.gz")
    for out in ("results/views/qcd/0.h5", "again/0.h5"):
        run("simulate", "--config", "config.yaml", "--sample", "qcd", "--shard", "0",
            "--lhe", "results/hard/qcd/0.lhe.gz", "--out", out)
    with h5py.File(tmp_path / "results/views/qcd/0.h5") as f, \
            h5py.File(tmp_path / "again/0.h5") as g:
        jets = f["views/nominal/jet"][:]
        assert len(jets) > 5 and np.all(jets[:, 0] > 0)  # QCD jets seen through Delphes
        assert '"delphes"' in str(f.attrs["detector"])
        assert "Delphes" in str(f.attrs["versions"])
        np.testing.assert_array_equal(jets, g["views/nominal/jet"][:])  # same seeds, same jets
    assert not any(p.name.startswith("delphes-") for p in tmp_path.rglob("*"))  # no litter
