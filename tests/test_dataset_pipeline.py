"""The dataset stage on the engine's real output: resim hard -> run_views -> simulate -> pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from resim.cli import main
from resim.config import load_config
from resim.dataset.reader import PairedDataset
from resim.contracts import JET_FIELDS, LABEL_CODE


def write_config(repo_root: Path, tmp: Path, events: int, samples: dict) -> Path:
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["run"]["events_per_shard"] = events
    config["samples"] = samples
    config["views"] = {"nominal": {"fork": "hard", "backend": "pythia"},
                       "seed": {"fork": "hard", "backend": "pythia"},
                       "hadron": {"fork": "hadron", "parent": "nominal"}}
    config["dataset"]["view_order"] = None  # the views' own order
    config["finetune"]["tasks"] = {}  # one sample: no tagger to train
    config["jets"].update(pt_min=300.0)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def sample(process: str) -> dict:
    return {"process": process, "backend": "embedded", "shards": 1, "pt_range": [400.0, 600.0],
            "eta_max": 0.1}


def test_cli_chain_on_engine_views(repo_root, tmp_path):
    from resim.hard import generate

    cfg_path = write_config(repo_root, tmp_path, 40, {"higgs": sample("hz_bb_nunu")})
    config = load_config(cfg_path)
    lhe = tmp_path / "hard" / "0.lhe.gz"
    generate(config, "higgs", 0, lhe)
    views = tmp_path / "views" / "0.h5"
    assert main(["simulate", "--config", str(cfg_path), "--sample", "higgs", "--shard", "0",
                 "--lhe", str(lhe), "--out", str(views)]) == 0
    paired = tmp_path / "dataset" / "0.h5"
    assert main(["pair", "--config", str(cfg_path), "--sample", "higgs", "--shard", "0",
                 "--out", str(paired), str(views)]) == 0
    ds = PairedDataset(paired)
    assert ds.views == ["nominal", "seed", "hadron"] and len(ds) > 0
    assert set(ds.labels.tolist()) == {LABEL_CODE["H_bb"]}
    cut = ds.attrs["cutflow"]
    assert all(f["events"] == 40 for f in cut["views"].values())
    assert cut["views"]["nominal"]["skipped"] == 0 and cut["views"]["seed"]["skipped"] > 0
    assert cut["pairing"]["candidates"] == sum(cut["pairing"]["lost"].values()) + len(ds)
    seeds = ds.attrs["seeds"]["seeds"]
    assert set(seeds["nominal"]) == {"shower", "detector"} and set(seeds["hadron"]) == {"detector"}
    assert seeds["hadron"]["detector"] != seeds["nominal"]["detector"]
    # the hadron fork: same particles, so the same hard object and a close jet
    nominal, hadron = ds.read("nominal", slice(None)).jet, ds.read("hadron", slice(None)).jet
    assert np.all(np.abs(nominal[:, 1] - hadron[:, 1]) < 0.1)


@pytest.mark.slow
def test_w_jet_mass_peak_on_the_engines_wz_sample(repo_root, tmp_path):
    from resim.dataset.simulate import jets_config, process_view
    from resim.detector import get_detector
    from resim.forks import run_views
    from resim.hard import generate

    config = load_config(write_config(repo_root, tmp_path, 300, {"wz": sample("wz_qq_nunu")}))
    config["views"] = {"nominal": config["views"]["nominal"]}
    lhe = tmp_path / "wz.lhe.gz"
    generate(config, "wz", 0, lhe)
    detector, cfg = get_detector(config), jets_config(config)
    masses = []
    for group in run_views(config, "wz", 0, lhe, "nominal", batch_size=100):
        rows, _ = process_view(group["nominal"], detector, 1, cfg)
        sel = (rows["status"] == 0) & (rows["label"] == LABEL_CODE["W_qq"])
        masses.append(rows["jet"][sel, JET_FIELDS.index("mass")])
    mass = np.concatenate(masses)
    assert len(mass) > 80
    peak = np.median(mass[(mass > 40) & (mass < 140)])
    assert abs(peak - 80.4) <= 8, peak
