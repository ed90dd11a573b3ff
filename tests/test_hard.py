"""Hard scatter (resim hard): embedded Pythia at process level -> filtered LHE."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures_engine import engine_config, hard_files  # noqa: F401 (fixture)

from resim.cli import main
from resim.errors import ConfigError
from resim.hard import generate, stats_path
from resim.hard.processes import PROCESSES, channel_schedule
from resim.lhe import iter_events, read_truth


def _pt_eta(px, py, pz):
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt)


def test_qcd_events_pass_the_window_and_stats_are_written(hard_files):
    path = hard_files["qcd"]
    truth = read_truth(path)
    assert len(truth) == 40
    partons = truth[abs(truth.pid) != 23]
    assert np.all(np.asarray([len(p) for p in partons.pid.tolist()]) == 1)  # one recoiling parton
    pt, eta = _pt_eta(*(np.asarray(partons[k][:, 0]) for k in ("px", "py", "pz")))
    assert np.all((pt >= 400) & (pt <= 600)) and np.all(abs(eta) < 0.1)
    stats = json.loads(stats_path(path).read_text())
    assert stats["events"] == 40 and 0.0 < stats["filter_efficiency"] < 0.5  # |eta| < 0.1 is rare
    assert stats["tried"] >= 40 / stats["filter_efficiency"] - 1e-6
    assert stats["cross_section_pb"] > 0 and stats["versions"]["pythia8mc"]
    assert stats["seeds"]["seeds"]["hard.zjet"]["hard"] > 0


def test_higgs_keeps_its_decay_to_b_quarks(hard_files):
    truth = read_truth(hard_files["higgs"])
    higgs = truth[truth.pid == 25]
    assert all(len(h) == 1 for h in higgs.pid.tolist())
    daughters = higgs.daughters[:, 0]
    assert sorted(set(map(tuple, (sorted(d) for d in daughters.pid.tolist())))) == [(-5, 5)]
    # the daughters add up to the Higgs
    for k in ("px", "py", "pz", "E"):
        assert np.allclose(np.sum(np.asarray(daughters[k].tolist()), axis=1), higgs[k][:, 0], atol=1e-6)


def test_same_seed_same_file_other_shard_other_events(tmp_path, hard_files):
    config = engine_config()
    generate(config, "qcd", 0, tmp_path / "again.lhe.gz")
    generate(config, "qcd", 1, tmp_path / "other.lhe.gz")
    # Same bytes, gzip header and statistics included (written at another time, other path).
    assert (tmp_path / "again.lhe.gz").read_bytes() == hard_files["qcd"].read_bytes()
    assert stats_path(tmp_path / "again.lhe.gz").read_text() == stats_path(hard_files["qcd"]).read_text()
    other = [e.momenta for e in iter_events(tmp_path / "other.lhe.gz")]
    assert not np.array_equal(other[0], next(iter_events(hard_files["qcd"])).momenta)


@pytest.mark.parametrize("process, tagged", [("wz_qq_nunu", 24), ("dijet_qgtau", None)])
def test_other_processes(tmp_path, process, tagged):
    samples = {"s": {"process": process, "pt_range": [400.0, 600.0] if tagged else [100.0, None],
                     "eta_max": 0.1 if tagged else 3.0}}
    config = engine_config(samples=samples, run={"seed": 1, "events_per_shard": 21})
    generate(config, "s", 0, tmp_path / "s.lhe.gz")
    events = list(iter_events(tmp_path / "s.lhe.gz"))
    truth = read_truth(tmp_path / "s.lhe.gz")
    if tagged:  # W -> q q'
        w = truth[abs(truth.pid) == 24]
        assert all(len(x) == 1 for x in w.pid.tolist())
        assert all(len(d) == 2 and all(1 <= abs(q) <= 5 for q in d) for d in w.daughters.pid[:, 0].tolist())
    else:  # yields 3 : 3 : 1, both objects within pT > 100, |eta| < 3
        assert np.bincount([e.process_id for e in events]).tolist() == [0, 9, 9, 3]
        legs = truth[abs(truth.pid) != 23]  # the tau pair comes with its gamma*/Z
        assert all(len(x) == 2 for x in legs.pid.tolist())
        flat = {k: np.asarray(legs[k].tolist()).ravel() for k in ("px", "py", "pz")}
        pt, eta = _pt_eta(flat["px"], flat["py"], flat["pz"])
        assert np.all(pt > 100) and np.all(abs(eta) < 3)
        taus = [e for e in events if e.process_id == 3]
        assert all(sorted(abs(e.pid[e.status == 1])) == [15, 15] for e in taus)


def test_channel_schedule_interleaves_in_proportion():
    order = channel_schedule([3.0, 3.0, 1.0], 14)
    assert np.bincount(order).tolist() == [6, 6, 2]
    assert np.bincount(order[:7]).tolist() == [3, 3, 1]


@pytest.mark.parametrize("change, words", [
    ({"samples": {"qcd": {"process": "zjet_nunu", "backend": "pythi"}}},
     "samples.qcd.backend: unknown hard-scatter backend 'pythi'"),
    ({"samples": {"qcd": {"process": "zjets"}}}, "samples.qcd.process: unknown process 'zjets'"),
    ({"samples": {"qcd": {"process": "zjet_nunu", "settings": ["PhaseSpace:pTHatMinn = 5"]}}},
     "samples.qcd.settings: Pythia refused the setting 'PhaseSpace:pTHatMinn = 5'"),
])
def test_bad_config_is_named_and_writes_nothing(tmp_path, change, words):
    # the config's validation (resim.checks) names the key before generate starts
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(".", r"\.")):
        generate(engine_config(**change), "qcd", 0, tmp_path / "x.lhe.gz")
    assert list(tmp_path.iterdir()) == []


def test_unknown_sample_and_shard(tmp_path):
    with pytest.raises(ConfigError, match="samples.ttbar: unknown sample"):
        generate(engine_config(), "ttbar", 0, tmp_path / "x.lhe.gz")
    with pytest.raises(ConfigError, match="shard 5 is outside 0..1"):
        generate(engine_config(), "qcd", 5, tmp_path / "x.lhe.gz")


def test_cli(tmp_path, capsys):
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(engine_config(run={"seed": 3, "events_per_shard": 5})))
    out = tmp_path / "hard" / "qcd" / "1.lhe.gz"
    assert main(["hard", "--config", str(config), "--sample", "qcd", "--shard", "1", "--out", str(out)]) == 0
    assert len(list(iter_events(out))) == 5 and (tmp_path / "hard" / "qcd" / "1.json").is_file()
    assert main(["hard", "--config", str(config), "--sample", "top", "--shard", "0", "--out", str(out)]) == 2
    assert "samples.top: unknown sample" in capsys.readouterr().err


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_process_generates(tmp_path, process):
    dijet = process.startswith("dijet") or process == "ditau"
    spec = {"process": process, "pt_range": [100.0, 1000.0] if dijet else [400.0, 600.0],
            "eta_max": 3.0 if dijet else 0.1}
    config = engine_config(samples={"s": spec}, run={"seed": 2, "events_per_shard": 3})
    stats = generate(config, "s", 0, tmp_path / "s.lhe.gz")
    assert stats["events"] == 3 == len(read_truth(tmp_path / "s.lhe.gz"))
