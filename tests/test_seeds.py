import numpy as np
import pytest

from resim.seeds import PYTHIA_SEED_MAX, SeedManifest, derive_seed


def test_same_inputs_same_seed():
    assert derive_seed(7, "qcd", 3, "nominal", "shower") == derive_seed(7, "qcd", 3, "nominal", "shower")


def test_every_key_changes_the_seed():
    base = derive_seed(7, "qcd", 3, "nominal", "shower")
    others = {
        derive_seed(8, "qcd", 3, "nominal", "shower"),
        derive_seed(7, "higgs", 3, "nominal", "shower"),
        derive_seed(7, "qcd", 4, "nominal", "shower"),
        derive_seed(7, "qcd", 3, "seed", "shower"),
        derive_seed(7, "qcd", 3, "nominal", "detector"),
    }
    assert base not in others and len(others) == 5


def test_seeds_in_pythia_range_and_spread():
    seeds = np.array([derive_seed(1, "s", shard, "v", "hard") for shard in range(2000)])
    assert seeds.min() >= 1 and seeds.max() <= PYTHIA_SEED_MAX
    assert len(np.unique(seeds)) == len(seeds)


def test_unknown_stream_is_an_error():
    with pytest.raises(ValueError, match="unknown random stream 'shwer'"):
        derive_seed(1, "s", 0, "v", "shwer")


def test_manifest_records_what_was_used(tmp_path):
    manifest = SeedManifest(global_seed=5, sample="qcd", shard=1)
    s = manifest.seed("fsr_up", "shower")
    manifest.write(tmp_path / "seeds.json")
    import json

    data = json.loads((tmp_path / "seeds.json").read_text())
    assert data["seeds"]["fsr_up"]["shower"] == s
    assert not list(tmp_path.glob(".*tmp"))


def test_atomic_outputs_follow_the_umask(tmp_path):
    import os

    from resim.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644


def test_event_keys_and_seeds_are_per_event():
    from resim.seeds import block_seed, event_keys, event_seeds

    keys = event_keys(12345, np.arange(100_000))
    assert len(np.unique(keys)) == 100_000  # no two events of a stream share a key
    assert np.array_equal(keys[[7, 3]], event_keys(12345, [7, 3]))  # alone = in a crowd
    assert not np.any(event_keys(12346, np.arange(1000)) == keys[:1000])
    seeds = event_seeds(12345, np.arange(100_000))
    assert seeds.min() >= 1 and seeds.max() <= PYTHIA_SEED_MAX
    # one seed per block, inside the program's range (Delphes: 1 ... 2**31 - 1)
    blocks = [block_seed(2**63 + 5, b, 2**31 - 1) for b in range(2000)]
    assert min(blocks) >= 1 and max(blocks) <= 2**31 - 1 and len(set(blocks)) == 2000


def test_counter_draws_are_uniform_independent_and_reproducible():
    from scipy import stats

    from resim.counter_random import normal, uniform
    from resim.seeds import event_keys

    key = np.repeat(event_keys(9, np.arange(2000)), 50)
    item = np.tile(np.arange(50), 2000)
    u, v = uniform(key, item, 1), uniform(key, item, 2)
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(stats.pearsonr(u, v)[0]) < 0.02  # two purposes: independent numbers
    assert abs(stats.pearsonr(u[:-1], u[1:])[0]) < 0.02  # neighbouring particles too
    assert stats.kstest(normal(key, item, 3), "norm").pvalue > 1e-3
    # the number of particle 17 of event 5 does not depend on what else is drawn
    assert uniform(key[[5 * 50 + 17]], [17], 1)[0] == u[5 * 50 + 17]
