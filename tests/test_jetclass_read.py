"""Reading the field's datasets: JetClass ROOT (one class per file, as published) and the RS3L
public layout, into fine-tuning, evaluation and pre-training."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
import uproot

from fixtures_eval import tiny_config, write_backbone, write_paired_file
from fixtures_train import VIEWS, write_pairs
from resim.config import validate
from resim.dataset.reader import PairedDataset
from resim.errors import ConfigError, DatasetError
from resim_workflow.runs import labelled_files
from resim.export.jetclass import export_jetclass
from resim.features import flat_features, particle_features
from resim.formats import jetclass as jc
from resim.formats import rs3l
from resim.detector.card import impact_parameter_resolution
from train.finetune import run as ft
from train.evaluate.pipeline import evaluate
from train.open_jets import open_jets
from train.jetclass import JetClassDataset, stream_batches
from train.pretrain.run import open_data
from train.rs3l_public import RS3LPublicDataset
from train.data import iterate_batches, make_loader


def write_jetclass(path, dataset: PairedDataset, rows: np.ndarray) -> None:
    """``rows`` of ``dataset``'s nominal view as a JetClass file with only JetClass's branches
    (what the public files hold; no resim extras)."""
    jets = dataset.read("nominal", rows)
    branches = jc.to_branches(jets.constituents, jets.n_constituents, jets.jet,
                              labels=jc.jetclass_label(dataset.label_names, dataset.labels[rows]),
                              parton=dataset.parton[rows], extra={},
                              ip_sigma=impact_parameter_resolution,
                              substructure=jc.substructure_branches(
                                  jets.constituents, jets.n_constituents, 0.8))
    for extra in ("jet_mass", "jet_n2"):
        del branches[extra]
    with uproot.recreate(path) as f:
        tree = f.mktree(jc.TREE, jc.branch_types(branches))
        # clusters of CLUSTER jets, as ROOT's auto-flush and resim export write them
        for lo in range(0, len(rows), CLUSTER):
            tree.extend({k: v[lo:lo + CLUSTER] for k, v in branches.items()})


CLUSTER = 20


@pytest.fixture(scope="module")
def one_class_files(tmp_path_factory):
    """HToBB_00{0,1}.root (H_bb jets) and ZJetsToNuNu_00{0,1}.root (q jets), as JetClass
    ships them."""
    d = tmp_path_factory.mktemp("jetclass")
    paired = PairedDataset(write_paired_file(d / "paired.h5", 300, seed=4, shard=0))
    names = np.array(paired.label_names)[paired.labels]
    higgs, qcd = np.flatnonzero(names == "H_bb"), np.flatnonzero(names != "H_bb")
    write_jetclass(d / "HToBB_000.root", paired, higgs[: len(higgs) // 2])
    write_jetclass(d / "HToBB_001.root", paired, higgs[len(higgs) // 2:])
    write_jetclass(d / "ZJetsToNuNu_000.root", paired, qcd[: len(qcd) // 2])
    write_jetclass(d / "ZJetsToNuNu_001.root", paired, qcd[len(qcd) // 2:])
    return d, paired, np.concatenate([higgs, qcd])


def test_reader_gives_the_project_features_and_casts_labels(one_class_files):
    d, paired, rows = one_class_files
    ds = open_jets([str(d / "*.root")])
    assert isinstance(ds, JetClassDataset) and ds.views == ["nominal"]
    assert len(ds) == len(rows)
    assert ds.label_names == list(jc.LABELS)  # float, bool and int32 branches, cast
    names = np.array(paired.label_names)[paired.labels[rows]]
    np.testing.assert_array_equal(ds.labels, np.where(names == "H_bb", 1, 0))
    jets = ds.read("nominal", np.arange(len(ds))[::-1])  # any order
    ref = paired.read("nominal", rows[::-1])
    np.testing.assert_allclose(particle_features(jets.constituents, jets.n_constituents, jets.jet),
                               particle_features(ref.constituents, ref.n_constituents, ref.jet),
                               atol=2e-5)
    # JetClass has no N2: computed from the particles, finite
    assert np.isfinite(jets.jet[:, -1]).all()


def test_stream_mixes_one_class_files_and_reads_every_jet_once(one_class_files):
    d, _, rows = one_class_files
    ds = JetClassDataset(sorted(d.glob("*.root")), chunk=16)
    # whole clusters (no basket is decompressed twice), at least `chunk` jets each
    for k, ranges in enumerate(ds.stream_ranges):
        size = ds._offsets[k + 1] - ds._offsets[k]
        assert ranges == [(lo, min(lo + CLUSTER, size)) for lo in range(0, size, CLUSTER)]
    # a cluster of more than 8 chunks is cut into chunks: the window stays bounded
    small = JetClassDataset(sorted(d.glob("*.root")), chunk=2)
    assert small.stream_ranges[0][:3] == [(0, 2), (2, 4), (4, 6)]
    assert sum(len(labels) for _, _, labels in stream_batches(small, 32)) == len(rows)
    seen = []
    for features, mask, labels in stream_batches(ds, 32, seed=1):
        assert features.shape[1:] == (100, 15) and mask.shape == features.shape[:2]
        if len(labels) == 32:
            assert set(labels.tolist()) == {0, 1}  # both classes in every full batch
        seen.append(len(labels))
    assert sum(seen) == len(rows)


def test_finetune_and_evaluate_read_jetclass(one_class_files, tmp_path):
    d, _, _ = one_class_files
    raw = tiny_config()
    raw["finetune"]["tasks"] = {"hbb": {"signal": ["label_Hbb"], "background": ["label_QCD"]}}
    raw["finetune"]["jetclass"] = {"finetune": [str(d / "*_000.root")],
                                   "validation": [str(d / "*_001.root")],
                                   "test": [str(d / "*.root")]}
    config = validate(raw)
    # the workflow's inputs for the task: the files, globs expanded
    assert labelled_files(config, "hbb", "finetune") == [str(d / "HToBB_000.root"),
                                                          str(d / "ZJetsToNuNu_000.root")]
    assert labelled_files(config, "h_vs_qcd", "test") == ["results/dataset/test.h5"]
    backbone = write_backbone(tmp_path / "backbone.pt")
    record = ft.finetune(config, "hbb", "fixed", 0, backbone, [str(d / "*_000.root")],
                         [str(d / "*_001.root")], tmp_path / "ft")
    assert record["views"] == ["nominal"] and record["train_size"] > 0
    result = evaluate(config, "hbb", tmp_path / "eval", [str(d / "*.root")], [tmp_path / "ft"],
                      val=[str(d / "*_001.root")])
    assert result
    # validation jets from a training file are refused, as for paired files
    with pytest.raises(DatasetError, match="HToBB_000.root: the validation jets are in a file"):
        ft.finetune(config, "hbb", "fixed", 0, backbone, [str(d / "*_000.root")],
                    [str(d / "HToBB_000.root")], tmp_path / "ft2")


def test_mpm_pretraining_reads_jetclass(one_class_files):
    d, _, _ = one_class_files
    config = validate(tiny_config())
    cfg = {**config["pretrain"], "objective": "mpm", "batch_size": 16, "block": 8, "window": 4,
           "workers": 0, "val_fraction": 0.25}
    train, _, names = open_data([str(d / "*.root")], None, cfg, config)
    batch = next(iter(iterate_batches(make_loader(train, workers=0), 0)))
    assert batch.x2 is None and batch.x1.shape[-1] == 15 and names == list(jc.LABELS)


def test_reader_errors_name_the_file(tmp_path):
    with uproot.recreate(tmp_path / "other.root") as f:
        f["events"] = {"x": np.arange(3.0)}
    with pytest.raises(DatasetError, match="other.root.*not the TTree 'tree'"):
        JetClassDataset([tmp_path / "other.root"])
    with uproot.recreate(tmp_path / "thin.root") as f:
        f.mktree("tree", {"jet_pt": np.float32}).extend({"jet_pt": np.ones(2, np.float32)})
    with pytest.raises(DatasetError, match="thin.root: lacks the JetClass branches"):
        JetClassDataset([tmp_path / "thin.root"])
    with pytest.raises(DatasetError, match="no file matches"):
        open_jets([str(tmp_path / "none_*.root")])


def test_inspect_recognises_jetclass(one_class_files):
    d, _, _ = one_class_files
    run = subprocess.run([sys.executable, "-m", "resim.cli", "inspect", str(d / "HToBB_000.root")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "JetClass TTree 'tree'" in run.stdout and "label_Hbb=" in run.stdout
    assert "part_isPhoton int32_t[]" in run.stdout


def write_public(path, paired: PairedDataset, views=rs3l.PUBLIC_VIEWS, features: int = 11):
    """A file in the RS3L public layout holding ``paired``'s jets, the views on axis 1, the
    particle columns as the authors' skim (dr-stringfellow/cl, merging/merge.py) computes them:
    pt, relpt, eta, phi, dr, e, rele, charge, pdgid, d0, dz = log pT, log(pT/pT_jet), Δη,
    Δφ wrapped, ΔR, log E, log(E/E_jet), charge, PDG id, tanh d0, tanh dz, 0 on padding."""
    n = len(paired)
    single = np.zeros((n, len(views), 13), np.float32)
    cands = np.zeros((n, len(views), max(features, 11), 100), np.float32)
    single[:, :, 0] = paired.labels[:, None]
    for v, view in enumerate(views):
        jets = paired.read(view, slice(None))
        jet_pt, jet_eta, jet_phi, _, jet_e = jets.jet[:, :5, None].transpose(1, 0, 2)
        single[:, v, 9:13] = jets.jet[:, [0, 1, 2, 4]]  # pt, eta, phi, energy
        pt, eta, phi, e, charge, pid, d0, dz = jets.constituents.transpose(2, 0, 1)
        real = pt > 0
        deta = eta - jet_eta
        dphi = phi - jet_phi
        dphi = np.where(dphi < np.pi, dphi, dphi - 2 * np.pi)
        dphi = np.where(dphi > -np.pi, dphi, dphi + 2 * np.pi)
        skim = [np.log(np.where(real, pt, 1)), np.log(np.where(real, pt / jet_pt, 1)), deta,
                dphi, np.hypot(deta, dphi), np.log(np.where(real, e, 1)),
                np.log(np.where(real, e / jet_e, 1)), charge, pid, np.tanh(d0), np.tanh(dz)]
        for k, column in enumerate(skim):
            cands[:, v, k, :] = np.where(real, column, 0)
    with h5py.File(path, "w") as f:
        f["singletons"], f["jet_pflow_cands"] = single, cands[:, :, :features]


def test_rs3l_public_layout_reads_as_paired_views(tmp_path):
    paired = PairedDataset(write_pairs(tmp_path / "toy.h5", 40, views=VIEWS[:1] + (
        "seed", "fsr_down", "fsr_up", "herwig")))
    write_public(tmp_path / "public.h5", paired)
    ds = open_jets([tmp_path / "public.h5"])
    assert isinstance(ds, RS3LPublicDataset) and ds.views == list(rs3l.PUBLIC_VIEWS)
    soft = 0
    for view in ("nominal", "fsr_up"):
        rows = np.arange(len(paired))[::-1]  # any order
        ours, theirs = paired.read(view, rows), ds.read(view, rows)
        # every particle read, those below 1 GeV (a negative log pT) too
        np.testing.assert_array_equal(theirs.n_constituents, ours.n_constituents)
        pt = ours.constituents[..., 0]
        soft += ((pt > 0) & (pt < 1)).sum()
        np.testing.assert_allclose(
            particle_features(theirs.constituents, theirs.n_constituents, theirs.jet),
            particle_features(ours.constituents, ours.n_constituents, ours.jet), atol=2e-5)
    assert soft > 0
    # contrastive pre-training pairs nominal with the four augmentations
    config = validate(tiny_config())
    cfg = {**config["pretrain"], "batch_size": 8, "block": 4, "window": 2, "workers": 0,
           "val_fraction": 0.25, "views": "every"}
    train, _, _ = open_data([tmp_path / "public.h5"], None, cfg, config)
    assert train.views == ["seed", "fsr_down", "fsr_up", "herwig"]


def test_rs3l_public_layout_errors_say_what_differs(tmp_path):
    paired = PairedDataset(write_pairs(tmp_path / "toy.h5", 6))
    write_public(tmp_path / "four.h5", paired, views=VIEWS[:4])
    with pytest.raises(DatasetError, match=r"singletons has shape \(6, 4, 13\).*views on axis 1"):
        open_jets([tmp_path / "four.h5"])
    write_public(tmp_path / "thin.h5", paired, views=VIEWS, features=8)
    with pytest.raises(DatasetError, match=r"jet_pflow_cands has shape \(6, 5, 8, 100\)"):
        open_jets([tmp_path / "thin.h5"])


def test_a_jetclass_task_needs_its_files_and_one_kind_of_label():
    raw = tiny_config()
    raw["finetune"]["tasks"] = {"hbb": {"signal": ["label_Hbb"], "background": ["label_QCD", "q"]}}
    with pytest.raises(ConfigError) as err:
        validate(raw)
    assert "mixes JetClass labels" in str(err.value)
    assert "set finetune.jetclass.finetune/validation/test" in str(err.value)


def test_stream_and_read_give_the_same_features(one_class_files):
    d, _, _ = one_class_files
    ds = JetClassDataset(sorted(d.glob("*.root")), chunk=64)
    lo, hi = ds.stream_ranges[1][0]  # whole clusters of 20 up to >= 64 jets (or the file)
    particles, n, jet = ds.flat_range(1, lo, hi)
    jets = ds.read("nominal", np.arange(lo, hi) + ds._offsets[1])
    np.testing.assert_array_equal(flat_features(particles, n, jet, 100),
                                  particle_features(jets.constituents, jets.n_constituents,
                                                    jets.jet))


def test_exported_files_read_back_with_their_labels(tmp_path):
    paired = PairedDataset(write_pairs(tmp_path / "toy.h5", 30))
    files = export_jetclass([paired.paths[0]], tmp_path / "out")
    for view in ("nominal", "fsr_down"):
        ds = open_jets(files[view])
        names = np.array(paired.label_names)[paired.labels]
        np.testing.assert_array_equal(np.array(ds.label_names)[ds.labels],
                                      np.where(names == "H_bb", "label_Hbb", "label_QCD"))
        ours, theirs = paired.read(view, slice(None)), ds.read("nominal", slice(None))
        np.testing.assert_allclose(
            particle_features(theirs.constituents, theirs.n_constituents, theirs.jet),
            particle_features(ours.constituents, ours.n_constituents, ours.jet), atol=2e-5)
        np.testing.assert_array_equal(theirs.jet[:, -1], ours.jet[:, -1])  # jet_n2 kept
