"""The CP5 tune is CP5: every Pythia that uses it runs on the tune's PDF, and minimum bias made
with it has the charged multiplicity CMS measures.

CMS, Phys. Lett. B 751 (2015) 143: inelastic pp at 13 TeV, dN_ch/deta at |eta| < 0.5 =
5.49 +- 0.17 for primary charged particles (any pT; decay products of particles with
c*tau > 1 cm are not primaries, so K0S and Lambda count as undecayed, and neutral: left out).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from resim.config import validate
from resim.hard.pythia import pdf_used
from resim.pileup.pool import Pool, generate_pool, pool_settings
from resim.showers.pythia import view_settings

CMS_DNDETA = 5.49
POOL_EVENTS = 2500  # statistical error ~0.13 on dN/deta, well inside the 10 % window


@pytest.fixture(scope="module")
def config(repo_root):
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["pileup"] = {"mu": 50, "pool_events": POOL_EVENTS}
    return validate(config)


def charged_dndeta(path) -> tuple[float, float]:
    """Charged particles per unit of pseudorapidity at |eta| < 0.5, per event, and its error."""
    pool = Pool([path])
    c = pool.columns
    pt = np.hypot(c["px"], c["py"])
    eta = np.arcsinh(c["pz"] / pt)
    central = (c["charge"] != 0) & (np.abs(eta) < 0.5)
    per_event = np.add.reduceat(central.astype(np.int64), pool.offsets[:-1])
    per_event[pool.counts == 0] = 0
    return per_event.mean(), per_event.std() / np.sqrt(len(per_event))


@pytest.mark.parametrize("who", ["view", "rehad", "dark", "pool"])
def test_every_cp5_pythia_runs_on_nnpdf31(config, who):
    dark = {"process": "dijet_dark", "shards": 1, "pt_range": [400.0, 600.0], "eta_max": 0.1}
    settings = {
        "view": lambda: view_settings(config, config["views"]["vincia"]),
        "rehad": lambda: view_settings(config, {"fork": "shower", "parent": "nominal"}),
        "dark": lambda: view_settings({**config, "samples": {"dark": dark}}, {}, "dark"),
        "pool": lambda: pool_settings(config, 1),
    }[who]()
    assert "NNPDF3.1" in pdf_used(settings)


def test_pool_takes_the_views_shower_settings(config):
    config = copy.deepcopy(config)
    config["shower"]["settings"] = {"StringZ:aLund": 0.7, "PartonLevel:MPI": False}
    settings = pool_settings(config, 1)
    assert "StringZ:aLund = 0.7" in settings
    # minimum bias keeps its MPI whatever the hard views do
    assert settings.index("PartonLevel:MPI = on") > settings.index("PartonLevel:MPI = off")


@pytest.mark.slow
def test_minimum_bias_multiplicity_matches_cms(config, tmp_path):
    generate_pool(config, 0, tmp_path / "cp5.h5")
    value, error = charged_dndeta(tmp_path / "cp5.h5")
    assert abs(value - CMS_DNDETA) < 0.10 * CMS_DNDETA, (value, error)

    # the same MPI parameters on Pythia's default PDF (NNPDF2.3 LO, alpha_s 0.130): 1.4x too many
    default_pdf = copy.deepcopy(config)
    default_pdf["shower"]["settings"] = {"PDF:pSet": 13}
    generate_pool(default_pdf, 0, tmp_path / "nnpdf23.h5")
    wrong, _ = charged_dndeta(tmp_path / "nnpdf23.h5")
    assert wrong > 1.25 * CMS_DNDETA, wrong


def effective(settings: list[str]) -> dict[str, str]:
    """Pythia's view of a settings list: the last value of each key wins."""
    out = {}
    for line in settings:
        key, _, value = line.partition("=")
        out[key.strip().lower()] = value.strip().lower()
    return out


@pytest.mark.parametrize("preset", ["config.yaml", "config/laptop-study.yaml"])
def test_other_shower_view_changes_what_vincia_needs_only(repo_root, preset):
    """The other-shower view differs from nominal in the shower model and in what Vincia needs
    (docs/engine.md, "Views"): its ISR module, which holds the initial-final antennae every beam-connected
    jet radiates through, with the purely initial-state antennae off; and MPI off. The tune, the
    PDF, the long-lived particles and the FSR settings are nominal's."""
    config = validate(yaml.safe_load((repo_root / preset).read_text()))
    nominal = effective(view_settings(config, config["views"]["nominal"]))
    other = effective(view_settings(config, config["views"]["vincia"]))
    changed = {key for key in nominal.keys() | other.keys() if nominal.get(key) != other.get(key)}
    assert changed == {"partonshowers:model", "partonlevel:isr", "vincia:doii",
                       "partonlevel:mpi"}, changed
    assert other["vincia:doii"] == "off" and other["partonlevel:isr"] == "on"
