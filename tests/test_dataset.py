"""Paired HDF5: pipeline, cut-flows, pairing, reproducibility, atomicity, errors, merge, CLI."""

from __future__ import annotations

import dataclasses
import filecmp
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from fixtures_dataset import pythia_batch

from resim.cli import main
from resim.dataset.merge import merge_files
from resim.dataset.pair import pair_files
from resim.dataset.reader import PairedDataset
from resim.contracts import CONSTITUENT_FIELDS, JET_FIELDS, MAX_CONSTITUENTS, PARTON_FIELDS
from resim.dataset.simulate import simulate_views
from resim.errors import DatasetError
from resim.features import particle_features

N_EVENTS, BATCH = 120, 40
GROUPS = {"nominal": ["nominal", "seed", "hadron"], "fsr_up": ["fsr_up"]}


def make_config(repo_root: Path) -> dict:
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["views"] = {"nominal": {"fork": "hard", "backend": "pythia"},
                       "seed": {"fork": "hard", "backend": "pythia"},
                       "hadron": {"fork": "hadron", "parent": "nominal"},
                       "fsr_up": {"fork": "hard", "backend": "pythia",
                                  "settings": {"TimeShower:renormMultFac": 0.5}}}
    config["dataset"]["view_order"] = None  # the views' own order
    config["jets"]["eta_max"] = 1.5  # enough pairs from 120 events
    config["jets"]["pt_min"] = 350.0
    return config


def view_batches(views: list[str]):
    """Stand-in for resim.forks.run_views: the hard-fork views differ by Pythia seed,
    the hadron fork reuses nominal's particles (only the detector seed differs)."""
    showers = {"nominal": (1, ()), "seed": (2, ()), "hadron": (1, ()),
               "fsr_up": (3, ("TimeShower:renormMultFac = 0.5",))}
    full = {v: pythia_batch("hz", N_EVENTS, *showers[v]) for v in views}
    for start in range(0, N_EVENTS, BATCH):
        sl = slice(start, start + BATCH)
        yield {v: dataclasses.replace(b, view=v, event_id=b.event_id[sl],
                                      particles=b.particles[sl], truth=b.truth[sl])
               for v, b in full.items()}


def build(config: dict, outdir: Path) -> Path:
    files = []
    for root, views in GROUPS.items():
        out = outdir / "views" / f"{root}.h5"
        simulate_views(config, "higgs", 0, out, view_batches(views))
        files.append(out)
    paired = outdir / "dataset" / "0.h5"
    pair_files(config, "higgs", 0, files, paired)
    return paired


@pytest.fixture(scope="module")
def config(repo_root) -> dict:
    return make_config(repo_root)


@pytest.fixture(scope="module")
def paired(config, tmp_path_factory) -> Path:
    return build(config, tmp_path_factory.mktemp("ds"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_schema_layout(paired):
    ds = PairedDataset(paired)
    assert ds.views == ["nominal", "seed", "hadron", "fsr_up"] and len(ds) > 10
    jets = ds.read("hadron", slice(None))
    assert jets.constituents.shape == (len(ds), MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS))
    assert jets.constituents.dtype == np.float32 and jets.n_constituents.dtype == np.int16
    assert jets.jet.shape == (len(ds), len(JET_FIELDS))
    assert ds.parton.shape == (len(ds), len(PARTON_FIELDS))
    assert set(ds.label_names[c] for c in ds.labels) == {"H_bb"}
    for key in ("schema_version", "views", "view_settings", "seeds", "config_hash", "versions",
                "cutflow", "label_names"):
        assert key in ds.attrs
    seeds = ds.attrs["seeds"]["seeds"]
    assert seeds["hadron"]["detector"] != seeds["nominal"]["detector"]
    with h5py.File(paired) as f:
        ds_ = f["views/nominal/constituents"]
        assert ds_.chunks[1:] == (MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS))
        assert ds_.compression == "gzip"
        assert "pairing" in f["cutflow"].attrs
    # selected jets pass the selection in every view (require_all_views)
    for view in ds.views:
        jet = ds.read(view, slice(None)).jet
        assert np.all(jet[:, 0] > 350) and np.all(np.abs(jet[:, 1]) < 1.5)
        assert np.all(jet[:, 3] > 10)


def test_cutflow_closes(paired):
    cut = PairedDataset(paired).attrs["cutflow"]
    for view, flow in cut["views"].items():
        assert flow["events"] == N_EVENTS
        assert flow["objects"] == sum(flow["lost"].values()) + flow["jets"], view
        assert flow["objects"] + flow["ignored"] == 2 * N_EVENTS  # H and Z per event
    pairing = cut["pairing"]
    assert pairing["candidates"] == cut["views"]["nominal"]["jets"]
    assert pairing["candidates"] == sum(pairing["lost"].values()) + pairing["pairs"]
    assert pairing["pairs"] == len(PairedDataset(paired))


def test_pairing_rejections_do_not_depend_on_view_order(config, paired, tmp_path):
    """``lost`` charges the first view in order that drops a jet (the first view takes the
    most); ``rejected`` counts, per view, the nominal jets that view drops on its own."""
    files = [paired.parent.parent / "views" / f"{root}.h5" for root in GROUPS]
    reordered = {**config, "views": dict(reversed(config["views"].items()))}
    status = {}
    for path in files:
        with h5py.File(path) as f:
            for view, g in f["views"].items():
                key = g["event_id"][:] * 2048 + g["truth_index"][:]
                status[view] = dict(zip(key.tolist(), g["status"][:].tolist()))
    nominal = [k for k, s in status["nominal"].items() if s == 0]
    flows = []
    for cfg, out in ((config, paired), (reordered, tmp_path / "reordered.h5")):
        if out != paired:
            pair_files(cfg, "higgs", 0, files, out)
        ds = PairedDataset(out)
        flows.append(ds.attrs["cutflow"]["pairing"])
        first = ds.views[1]  # the first view after nominal
        assert flows[-1]["lost"][first] == sum(flows[-1]["rejected"][first].values())
        # each lost jet is charged to the first view, in this file's order, that drops it
        expected = dict.fromkeys(ds.views[1:], 0)
        for k in nominal:
            dropping = [v for v in ds.views[1:] if status[v].get(k, 1) != 0]
            if dropping:
                expected[dropping[0]] += 1
        assert flows[-1]["lost"] == expected
    assert PairedDataset(paired).views != PairedDataset(tmp_path / "reordered.h5").views
    assert flows[0]["rejected"] == flows[1]["rejected"]
    for view, reasons in flows[0]["rejected"].items():
        dropped = [status[view].get(k, 1) for k in nominal if status[view].get(k, 1) != 0]
        assert sum(reasons.values()) == len(dropped) > 0, view
        assert reasons["pt"] == dropped.count(2) and reasons["no_jet"] == dropped.count(1), view


def test_pairs_share_event_and_parton_in_every_view(paired):
    ds = PairedDataset(paired)
    with h5py.File(paired.parent.parent / "views" / "nominal.h5") as f, \
            h5py.File(paired.parent.parent / "views" / "fsr_up.h5") as g:
        for view, group in [("nominal", f), ("seed", f), ("hadron", f), ("fsr_up", g)]:
            rows = group[f"views/{view}"]
            vkey = rows["event_id"][:] * 2048 + rows["truth_index"][:]
            idx = np.searchsorted(vkey // 2048, ds.event_id)  # one H per event
            assert np.array_equal(rows["event_id"][:][idx], ds.event_id)
            assert np.allclose(rows["parton"][:][idx], ds.parton)
            jets = ds.read(view, slice(None)).jet
            assert np.allclose(rows["jet"][:][idx], jets)
    # the hadron fork sees the same particles as nominal, through another detector seed
    # (closer to nominal than a re-showered view is)
    nominal, hadron = ds.read("nominal", slice(None)), ds.read("hadron", slice(None))
    seed = ds.read("seed", slice(None))
    assert not np.array_equal(nominal.constituents, hadron.constituents)
    for field in ("mass", "n_constituents", "n2"):
        k = JET_FIELDS.index(field)
        assert np.mean(np.abs(hadron.jet[:, k] - nominal.jet[:, k])) < \
            np.mean(np.abs(seed.jet[:, k] - nominal.jet[:, k])), field


def test_same_seed_same_bytes(config, paired, tmp_path):
    again = build(config, tmp_path)
    assert sha(again) == sha(paired)


def test_failed_write_leaves_no_file(config, tmp_path):
    def broken():
        batches = view_batches(["nominal"])
        yield next(batches)
        raise RuntimeError("killed")

    out = tmp_path / "v.h5"
    with pytest.raises(RuntimeError):
        simulate_views(config, "higgs", 0, out, broken())
    assert list(tmp_path.iterdir()) == []


def test_killed_process_leaves_no_file(repo_root, tmp_path):
    out = tmp_path / "v.h5"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(repo_root / 'tests')!r})
        import test_dataset as t
        from resim.dataset.simulate import simulate_views
        def batches():
            yield from t.view_batches(["nominal"])
            os.kill(os.getpid(), signal.SIGKILL)
        simulate_views(t.make_config(__import__('pathlib').Path({str(repo_root)!r})),
                       "higgs", 0, {str(out)!r}, batches())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert not out.exists()


def test_truncated_file_gives_a_clear_error(paired, tmp_path):
    cut = tmp_path / "truncated.h5"
    data = paired.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated.h5"):
        ds = PairedDataset(cut)
        ds.read("nominal", slice(None))
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(DatasetError, match="junk.h5"):
        PairedDataset(junk)
    with pytest.raises(DatasetError, match="missing.h5"):
        PairedDataset(tmp_path / "missing.h5")


def as_another_shard(paired: Path, out: Path, shard: int = 1) -> None:
    """A copy of the paired shard that says it is shard ``shard`` (merge refuses one shard
    twice); its event ids move to that shard's range, as a real shard's would be."""
    shutil.copy(paired, out)
    with h5py.File(out, "r+") as f:
        f.attrs["shard"] = shard
        ids = f["pairs/event_id"]
        ids[...] = (ids[()] & 0xFFFFFFFF) | (shard << 32)


def test_merge_reads_like_the_shards(paired, tmp_path):
    a, b = tmp_path / "shards" / "a.h5", tmp_path / "shards" / "b.h5"
    a.parent.mkdir()
    shutil.copy(paired, a)
    as_another_shard(paired, b)
    merged = tmp_path / "merged" / "test.h5"
    assert merge_files([a, b], merged) == 2 * len(PairedDataset(paired))
    m, s = PairedDataset(merged), PairedDataset([a, b])
    assert len(m) == len(s) and np.array_equal(m.event_id, s.event_id)
    rows = np.array([0, 3, len(s) - 2, len(s) - 1])
    for view in s.views:
        assert np.array_equal(m.read(view, rows).constituents, s.read(view, rows).constituents)
    # moving the merged file with its shards keeps it readable (relative sources)
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path, moved, ignore=shutil.ignore_patterns("moved"))
    assert len(PairedDataset(moved / "merged" / "test.h5")) == len(m)
    os.remove(b)
    with pytest.raises(DatasetError, match="b.h5"):
        PairedDataset(merged)


def test_merge_is_byte_reproducible(paired, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    shutil.copy(paired, a)
    as_another_shard(paired, b)
    first, second = tmp_path / "one.h5", tmp_path / "two.h5"
    merge_files([a, b], first)
    time.sleep(1.1)  # HDF5 object times have one-second resolution
    merge_files([a, b], second)
    assert filecmp.cmp(first, second, shallow=False)


def test_features_of_stored_jets(paired):
    ds = PairedDataset(paired)
    jets = ds.read("nominal", slice(0, 8))
    f = particle_features(jets.constituents, jets.n_constituents, jets.jet)
    real = np.arange(MAX_CONSTITUENTS)[None, :] < jets.n_constituents[:, None]
    assert np.all(f[~real] == 0) and np.all(f[real][:, 10:].sum(axis=1) == 1)
    assert np.all(f[real][:, 6] < 1.2)  # Delta R within the jet


def test_cli_inspect_and_plots(paired, tmp_path, capsys):
    assert main(["inspect", str(paired)]) == 0
    out = capsys.readouterr().out
    assert "views nominal, seed, hadron, fsr_up" in out and "cutflow pairing" in out
    # the programs that made the jets: hard-scatter backend and the detector's record
    assert '  hard: {"backend": "embedded"' in out and '  detector: {"backend": "embedded"' in out
    assert main(["plots", "--outdir", str(tmp_path), str(paired)]) == 0
    names = {p.name for p in tmp_path.glob("*.png")}
    assert {"0_mass.png", "0_pt.png", "0_n_constituents.png", "0_n2.png", "0_features.png"} <= names
    assert main(["inspect", str(tmp_path / "nothing.h5")]) == 2


def test_read_accepts_any_row_order(paired):
    ds = PairedDataset([paired, paired])
    n = len(ds)
    rows = np.array([n - 1, 0, 3, 3, n // 2 + 1])
    jets = ds.read("seed", rows)
    for i, row in enumerate(rows):
        one = ds.read("seed", slice(row, row + 1))
        assert np.array_equal(jets.constituents[i], one.constituents[0])
        assert np.array_equal(jets.jet[i], one.jet[0])
    assert len(ds.read("seed", np.array([], dtype=np.int64))) == 0
    with pytest.raises(IndexError):
        ds.read("seed", [n])
    with pytest.raises(DatasetError, match="view 'nope'"):
        ds.read("nope", slice(0, 1))
