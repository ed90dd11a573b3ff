"""Pile-up: the minimum-bias pool, the per-event overlay, CHS and the ``pileup`` fork, tested
with physics: jets grow with mu, CHS removes charged pile-up, vertices spread as configured."""

from __future__ import annotations

import copy

import awkward as ak
import numpy as np
import pytest
import yaml
from fixtures_dataset import pythia_batch

from resim.config import validate
from resim.dataset.simulate import _Reconstruction
from resim.errors import ConfigError
from resim.pileup.overlay import SHARED, PileUp, max_interactions, stream_view
from resim.pileup.pool import Pool, generate_pool
from resim.seeds import SeedManifest

POOL_EVENTS = 260  # > max_interactions(150) = 229


@pytest.fixture(scope="module")
def config(repo_root):
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["views"] = {"nominal": {"fork": "hard"},
                       "repu": {"fork": "pileup", "parent": "nominal"}}
    config["dataset"]["view_order"] = None
    config["jets"]["eta_max"] = 2.5  # every recoiling parton's jet
    config["pileup"] = {"mu": 150, "pool_events": POOL_EVENTS}
    return validate(config)


@pytest.fixture(scope="module")
def pool(config, tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "0.h5"
    generate_pool(config, 0, path)
    return [path]


def with_pileup(config, **section):
    config = copy.deepcopy(config)
    config["pileup"].update(section)
    return config


def reconstruct(config, pool, batch):
    return _Reconstruction(config, SeedManifest(1, "qcd", 0), None, pool)(batch)


@pytest.fixture(scope="module")
def batch():
    return pythia_batch("zj", 40)


@pytest.fixture(scope="module")
def jets(config, pool, batch):
    """Matched jets of the same 40 Z+jet events at mu = 0, 50, 150 and at 150 with CHS."""
    out = {}
    for name, section in (("0", {"mu": 0}), ("50", {"mu": 50}), ("150", {"mu": 150}),
                          ("150 chs", {"mu": 150, "mitigation": "chs"})):
        rows, _ = reconstruct(with_pileup(config, **section), pool, batch)
        out[name] = rows
    return out


def test_pool_is_minimum_bias(pool):
    p = Pool(pool)
    assert len(p) == POOL_EVENTS
    charged = p.columns["charge"] != 0
    eta = np.arcsinh(p.columns["pz"] / np.hypot(p.columns["px"], p.columns["py"]))
    central = charged & (np.abs(eta) < 0.5)
    # LHC 13 TeV inelastic: dN_ch/deta ~ 5-6 at eta = 0 (ALICE, ATLAS, CMS)
    assert 3.5 < central.sum() / len(p) / 1.0 < 8.0
    assert not np.isin(np.abs(p.columns["pid"]), (12, 14, 16)).any()


def test_jet_mass_and_constituents_grow_with_mu(jets):
    mass = {k: jets[k]["jet"][:, 3].mean() for k in ("0", "50", "150")}
    count = {k: jets[k]["jet"][:, 5].mean() for k in ("0", "50", "150")}
    assert mass["0"] < mass["50"] < mass["150"]
    assert count["0"] < count["50"] < count["150"]
    assert jets["0"]["pileup"].sum() == 0 and jets["150"]["pileup"].sum() > 0


def test_chs_removes_charged_pileup_and_restores_the_mass(jets):
    def charged_pileup(rows):
        charge = rows["constituents"][:, :, 4]
        return int(((rows["pileup"] == 1) & (charge != 0)).sum())

    assert charged_pileup(jets["150 chs"]) < 0.1 * charged_pileup(jets["150"])
    mass = {k: float(np.median(jets[k]["jet"][:, 3])) for k in ("0", "150", "150 chs")}
    assert abs(mass["150 chs"] - mass["0"]) < abs(mass["150"] - mass["0"])


def test_vertices_spread_as_configured(config, pool, batch):
    pileup = PileUp(with_pileup(config, sigma_z_mm=30.0)["pileup"], pool)
    overlaid = pileup.overlay(batch, 12345, pileup.primary_z(99, batch.event_id)).particles
    pu = overlaid[overlaid.pileup == 1]
    # a pool event's particles share its vertex shift; prompt ones sit at the pool's origin
    prompt = ak.flatten(pu.vz[(abs(pu.vx) < 0.05) & (abs(pu.vy) < 0.05)])
    assert abs(np.std(ak.to_numpy(prompt)) / 30.0 - 1) < 0.1
    n = ak.to_numpy(ak.num(pu, axis=1))
    assert n.mean() > 100 * 0.5  # ~150 interactions, dozens of particles each, after the cone


def test_primary_vertex_moves_the_hard_event_and_dz_is_measured_from_it(config, pool, batch):
    pileup = PileUp(with_pileup(config, sigma_z_mm=40.0)["pileup"], pool)
    ids = np.arange(4000, dtype=np.int64)
    z = pileup.primary_z(4242, ids)
    assert abs(np.mean(z)) < 3 * 40 / np.sqrt(len(z)) and abs(np.std(z) / 40.0 - 1) < 0.05
    assert np.array_equal(pileup.primary_z(4242, ids[7:9]), z[7:9])  # per event, any batch
    shift = pileup.primary_z(4242, batch.event_id)
    overlaid = pileup.overlay(batch, 777, shift).particles
    hard = overlaid[overlaid.pileup == 0]
    assert np.allclose(ak.to_numpy(ak.flatten(hard.vz - batch.particles.vz)),
                       np.repeat(shift, ak.to_numpy(ak.num(hard, axis=1))))
    # reconstructed: the hard event's charged candidates sit at DZ ~ 0 (the primary vertex),
    # pile-up ones spread over the beam spot
    from resim.detector import get_detector

    at_vertex = _with_ids(batch, overlaid)
    candidates = pileup.subtract(get_detector(config).simulate(at_vertex, 5), shift)
    charged = candidates[candidates.Charge != 0]
    dz_hard = ak.to_numpy(ak.flatten(charged.DZ[charged.IsPU == 0]))
    dz_pu = ak.to_numpy(ak.flatten(charged.DZ[charged.IsPU == 1]))
    assert np.median(np.abs(dz_hard)) < 0.1 and np.median(np.abs(dz_pu)) > 10


def _with_ids(batch, particles):
    return type(batch)(batch.sample, batch.shard, batch.view, batch.event_id, particles,
                       batch.truth)


def test_same_seed_same_overlay_whatever_the_batch(config, pool, batch):
    pileup = PileUp(config["pileup"], pool)
    z = pileup.primary_z(99, batch.event_id)
    whole = pileup.overlay(batch, 777, z).particles
    assert ak.array_equal(pileup.overlay(batch, 777, z).particles, whole)
    part = type(batch)(batch.sample, batch.shard, batch.view, batch.event_id[5:9],
                       batch.particles[5:9], batch.truth[5:9])
    assert ak.array_equal(pileup.overlay(part, 777, pileup.primary_z(99, part.event_id)).particles,
                          whole[5:9])
    assert not ak.array_equal(pileup.overlay(batch, 778, z).particles.vz, whole.vz)


def test_pileup_fork_draws_new_pileup_and_keeps_the_event(config, pool, batch):
    specs = config["views"]
    assert stream_view(specs, "nominal") == SHARED and stream_view(specs, "repu") == "repu"
    manifest = SeedManifest(1, "qcd", 0)
    pileup = PileUp(config["pileup"], pool)
    z = pileup.primary_z(manifest.seed(SHARED, "vertex"), batch.event_id)
    nominal = pileup.overlay(batch, manifest.seed(stream_view(specs, "nominal"), "pileup"), z)
    other = pileup.overlay(batch, manifest.seed(stream_view(specs, "repu"), "pileup"), z)
    hard = [p[p.pileup == 0] for p in (nominal.particles, other.particles)]
    assert ak.array_equal(hard[0], hard[1])  # the hard event, at its vertex, untouched
    pu = [p[p.pileup == 1] for p in (nominal.particles, other.particles)]
    assert not ak.array_equal(pu[0].vz, pu[1].vz)  # other pile-up


@pytest.mark.parametrize("section, words", [
    ({"mu": -1}, "pileup.mu"),
    ({"sigma_z_mm": -5}, "pileup.sigma_z_mm"),
    ({"mu": 150, "pool_events": 100}, "pileup.pool_events: 100 pool events"),
    ({"mitigation": "puppi"}, "pileup.mitigation"),
])
def test_bad_pileup_settings_name_the_key(repo_root, section, words):
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["pileup"] = section
    with pytest.raises(ConfigError, match=words):
        validate(config)


def test_pool_size_bound():
    assert max_interactions(0) == 0
    assert 200 < max_interactions(150) < 240  # mu + ~6 sigma
