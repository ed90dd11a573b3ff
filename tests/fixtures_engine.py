"""Engine test fixtures: a small config and hard-scatter LHE files generated once per session."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from resim.config import validate
from resim.hard import generate

ENGINE_CONFIG = {
    "run": {"seed": 4242, "events_per_shard": 40},
    "samples": {
        "qcd": {"process": "zjet_nunu", "shards": 2, "pt_range": [400.0, 600.0], "eta_max": 0.1},
        "higgs": {"process": "hz_bb_nunu", "shards": 1, "pt_range": [400.0, 600.0], "eta_max": 0.1},
    },
    "shower": {"tune": "CP5", "isr": False, "mpi": True},
    "views": {
        "nominal": {"fork": "hard", "backend": "pythia"},
        "seed": {"fork": "hard", "backend": "pythia"},
        "fsr_up": {"fork": "hard", "settings": {"TimeShower:renormMultFac": 0.5}},
        "fsr_down": {"fork": "hard", "settings": {"TimeShower:renormMultFac": 2.0}},
        "vincia": {"fork": "hard", "settings": {"PartonShowers:model": 2, "PartonLevel:ISR": True,
                                                "Vincia:doII": False, "PartonLevel:MPI": False}},
        "rehad_a": {"fork": "shower", "parent": "nominal"},
        "rehad_b": {"fork": "shower", "parent": "nominal", "settings": {"StringZ:aLund": 0.8}},
        "redetect": {"fork": "hadron", "parent": "rehad_a"},
    },
}


def engine_config(**changes) -> dict:
    """A validated copy of ENGINE_CONFIG; ``changes`` replace whole sections."""
    config = copy.deepcopy(ENGINE_CONFIG)
    config.update(copy.deepcopy(changes))
    return validate(config)


@pytest.fixture(scope="session")
def hard_files(tmp_path_factory) -> dict[str, Path]:
    """qcd shard 0 and higgs shard 0 LHE files of ENGINE_CONFIG (40 events each)."""
    out = tmp_path_factory.mktemp("hard")
    config = engine_config()
    files = {}
    for sample in ("qcd", "higgs"):
        files[sample] = out / sample / "0.lhe.gz"
        generate(config, sample, 0, files[sample])
    return files
