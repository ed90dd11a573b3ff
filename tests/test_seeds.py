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
