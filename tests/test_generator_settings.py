"""Generator settings every Pythia view shares: long-lived particles reach the detector, and the
PDF in use is named (hard stage statistics, dataset files, log)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pythia8mc
import yaml

from resim.config import validate
from resim.dataset.provenance import versions
from resim.hard import generate
from resim.hard.pythia import pdf_used
from resim.showers.pythia import view_settings


def final_state_ids(settings: list[str], n_events: int = 20) -> tuple[np.ndarray, int]:
    """|PDG id| of the final-state particles of QCD events and how many K0S / Lambda decayed."""
    pythia = pythia8mc.Pythia("", False)
    for line in ("Print:quiet = on", "Beams:eCM = 13000", "HardQCD:all = on",
                 "PhaseSpace:pTHatMin = 200", "Random:setSeed = on", "Random:seed = 7", *settings):
        assert pythia.readString(line), line
    assert pythia.init()
    ids, decayed = [], 0
    for _ in range(n_events):
        assert pythia.next()
        for i in range(pythia.event.size()):
            particle = pythia.event[i]
            if particle.isFinal():
                ids.append(particle.idAbs())
            elif particle.idAbs() in (310, 3122) and particle.daughter1() > 0:
                decayed += 1
    return np.array(ids), decayed


@pytest.mark.parametrize("tune", ["CP5", "default"])
def test_k0s_and_lambda_reach_the_detector(tune):
    config = {"shower": {"tune": tune}}
    ids, decayed = final_state_ids(view_settings(config, {}))
    # c tau: K0S 26.8 mm, Lambda 78.9 mm, both above tau0Max = 10 mm; pi0 (25 nm) still decays
    assert decayed == 0 and (ids == 310).sum() > 10 and (ids == 3122).sum() > 2
    assert (ids == 111).sum() == 0


def test_shower_settings_can_let_them_decay():
    config = {"shower": {"settings": {"ParticleDecays:limitTau0": False}}}
    ids, decayed = final_state_ids(view_settings(config, {}))
    assert decayed > 10 and (ids == 310).sum() == 0


def test_pdf_is_named_as_pythia_documents_it():
    # Pythia 8.3's PDF:pSet default is 13 (NNPDF2.3 QCD+QED LO, alpha_s(M_Z) = 0.130)
    assert pdf_used([]) == "PDF:pSet = 13 (NNPDF2.3 QCD+QED LO alpha_s(M_Z) = 0.130)"
    assert "NNPDF3.1" in pdf_used(["PDF:pSet = 20"])


def test_hard_stats_and_dataset_versions_record_the_pdf(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["run"]["events_per_shard"] = 3
    config["shower"]["settings"] = {"PDF:pSet": 20}
    config = validate(config)
    stats = generate(config, "higgs", 0, tmp_path / "h.lhe.gz")
    assert stats["pdf"].startswith("PDF:pSet = 13 (NNPDF2.3")  # the hard process: Pythia's own
    written = json.loads((tmp_path / "h.json").read_text())
    assert written["pdf"] == stats["pdf"]
    assert versions(config)["pythia8mc PDF"].startswith("PDF:pSet = 20 (NNPDF3.1")
