"""tau decays (seed 001 §3): the shared-shower presets keep only decays with 1 or 3 charged
hadrons, and a re-hadronised twin decays each tau through the channel its partner took."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from fixtures_engine import engine_config

from resim.forks import ViewChain
from resim.hard import generate
from resim.seeds import event_seeds
from resim.showers.pythia import PartonEvents
from resim.showers.tau_decays import _table, hadronic_settings, tau_channels

N_EVENTS = 150
LEPTONIC = {2, 3}  # tau -> nu_tau e nu_e, nu_tau mu nu_mu in Pythia's table


def tau_config(tau_decays: str) -> dict:
    return engine_config(
        samples={"tau": {"process": "ditau", "shards": 1, "pt_range": [100.0, None],
                         "eta_max": 2.5}},
        run={"seed": 77, "events_per_shard": N_EVENTS},
        shower={"tune": "CP5", "isr": False, "mpi": True, "tau_decays": tau_decays},
        views={"nominal": {"fork": "hard"}, "rehad": {"fork": "shower", "parent": "nominal"}})


@pytest.fixture(scope="module")
def lhe(tmp_path_factory):
    path = tmp_path_factory.mktemp("ditau") / "0.lhe.gz"
    generate(tau_config("all"), "tau", 0, path)
    return path


def run_pair(config, lhe):
    """The nominal and re-hadronised branches of every event, and the chain (still open)."""
    chain = ViewChain(config, "tau", 0, lhe, None, ["nominal", "rehad"])
    chain.__enter__()
    batch = next(chain.batches(N_EVENTS))
    nominal = chain.run("nominal", batch, None)
    return chain, batch, nominal, chain.run("rehad", batch, nominal)


def channels_taken(taus: list) -> list[int]:
    return [c for event in taus if event for c in event.values()]


def test_hadronic_channels_are_the_one_and_three_prong_ones():
    off = {int(line.split(":")[1]) for line in hadronic_settings()}
    table = _table()
    # leptonic and 5-prong channels off, whatever an eta or omega does; every 1-/3-prong one on
    assert LEPTONIC <= off
    assert all(5 in table[i][1] or table[i][1] == {0} for i in off)
    assert all(table[i][1] <= {1, 3} for i in range(len(table)) if i not in off)
    # the hadronic channels kept carry 64.3 % of the decays minus the 5-prong 0.1 %
    kept = sum(1 for i in range(len(table)) if i not in off)
    assert kept == len(table) - len(off) >= 30


@pytest.mark.slow
def test_shared_shower_twin_keeps_the_partners_tau_decays(lhe):
    chain, batch, nominal, rehad = run_pair(tau_config("hadronic"), lhe)
    try:
        taus = nominal.partons.taus
        taken = channels_taken(taus)
        assert len(taken) > 1.5 * N_EVENTS  # two taus per event, most of them found
        assert not LEPTONIC & set(taken)
        assert rehad.info["tau_events"] == sum(1 for t in taus if t) > 0
        assert rehad.info["tau_events_same_channels"] == rehad.info["tau_events"]

        # the same parton-level events hadronised without the partner's channels redraw them,
        # as the twin did before: the same channel for ~20 % of taus (independent draws)
        hadroniser = chain.forks["rehad"].hadroniser
        free = PartonEvents(list(nominal.partons), nominal.partons.owner)
        seeds = event_seeds(chain.forks["rehad"].seed, [e.index for e in batch.events])
        records, _ = hadroniser.hadronise(free, seeds)
        redrawn = tau_channels(records)
        pairs = [(taus[i][t], redrawn[i][t]) for i in range(N_EVENTS)
                 if taus[i] and redrawn[i] for t in taus[i] if t in redrawn[i]]
        assert np.mean([a == b for a, b in pairs]) < 0.6
    finally:
        chain.__exit__(None, None, None)


@pytest.mark.slow
def test_all_decays_by_default_and_leptonic_ones_are_common(lhe):
    chain, _, nominal, _ = run_pair(tau_config("all"), lhe)
    try:
        taken = channels_taken(nominal.partons.taus)
        leptonic = np.isin(taken, list(LEPTONIC)).mean()
        assert 0.25 < leptonic < 0.45  # 35 % in the PDG table
    finally:
        chain.__exit__(None, None, None)


@pytest.mark.parametrize("preset", ["config/shared-shower.yaml", "config/shared-shower-small.yaml"])
def test_shared_shower_presets_keep_hadronic_decays(repo_root, preset):
    config = yaml.safe_load((repo_root / preset).read_text())
    assert config["shower"]["tau_decays"] == "hadronic"
