"""resim export: JetClass ROOT (checked with weaver-core's own loader) and the RS3L layout."""

from __future__ import annotations

import subprocess
import sys

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot
import yaml

from fixtures_train import VIEWS, write_pairs
from resim.contracts import CONSTITUENT_FIELDS, JET_FIELDS
from resim.dataset.reader import PairedDataset
from resim.dataset.writer import set_attrs
from resim.export.jetclass import export_jetclass
from resim.export.rs3l import export_rs3l
from resim.features import particle_features
from resim.formats import jetclass as jc
from resim.substructure import nsubjettiness, soft_drop_mass

N_PAIRS = 50


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("paired") / "toy.h5", N_PAIRS, seed=3)


@pytest.fixture(scope="module")
def exported(paired, tmp_path_factory):
    out = tmp_path_factory.mktemp("jetclass")
    return out, export_jetclass([paired], out, max_jets=20)


def _interpretation_dtype(branch) -> np.dtype:
    interp = branch.interpretation
    return np.dtype(getattr(interp, "content", interp).from_dtype).newbyteorder("=")


def test_jetclass_names_types_and_files(exported):
    out, files = exported
    assert set(files) == set(VIEWS)
    for view, paths in files.items():
        # 50 jets, at most 20 a file: 3 files with JetClass's _NNN suffix
        assert [p.rsplit("/", 1)[1] for p in paths] == ["toy_000.root", "toy_001.root",
                                                        "toy_002.root"]
    f = uproot.open(files["nominal"][0])
    assert f.classnames() == {"tree;1": "TTree"}  # not an RNTuple: weaver looks for TTrees
    tree = f["tree"]
    assert tree.num_entries == 20
    want = {**{f"part_{k}": np.float32 for k in jc.PART_FLOAT},
            **{f"part_{k}": np.int32 for k in jc.PART_FLAGS},
            **{k: np.float32 for k in jc.JET_FLOAT}, **jc.LABEL_TYPES}
    for name, dtype in want.items():
        assert _interpretation_dtype(tree[name]) == np.dtype(dtype), name
    # every jagged branch counts by the one counter npart
    assert {tree[f"part_{k}"].count_branch.name for k in (*jc.PART_FLOAT, *jc.PART_FLAGS)} == \
        {"npart"}


def test_jetclass_rows_align_across_views_and_keep_the_jets(exported, paired):
    out, files = exported
    ds = PairedDataset(paired)
    ids = {view: np.concatenate([uproot.open(p)["tree"]["aux_jet_id"].array(library="np")
                                 for p in paths]) for view, paths in files.items()}
    for view in VIEWS:
        np.testing.assert_array_equal(ids[view], np.arange(N_PAIRS))
        arrays = ak.concatenate([uproot.open(p)["tree"].arrays() for p in files[view]])
        constituents, n, jet = jc.from_branches(arrays)
        jets = ds.read(view, slice(None))
        np.testing.assert_array_equal(n, jets.n_constituents)
        # JetClass keeps particle-type flags, not the PID: compare the other fields here and
        # the flags through the features
        other = [i for i, k in enumerate(CONSTITUENT_FIELDS) if k != "PID"]
        np.testing.assert_allclose(constituents[..., other], jets.constituents[..., other],
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jet[:, :5], jets.jet[:, :5], rtol=1e-6)
        # soft drop and N-subjettiness computed (JetClass has them; no NaN placeholders)
        sdmass, tau = (np.stack([ak.to_numpy(arrays[k]) for k in keys], -1) for keys in
                       (["jet_sdmass"], [f"jet_tau{k}" for k in range(1, 5)]))
        np.testing.assert_allclose(sdmass[:, 0], soft_drop_mass(
            jets.constituents, jets.n_constituents, 0.8), rtol=1e-5)
        np.testing.assert_allclose(tau, nsubjettiness(jets.constituents, jets.n_constituents,
                                                      0.8), rtol=1e-5)
        assert (sdmass[:, 0] <= jets.jet[:, JET_FIELDS.index("mass")] * (1 + 1e-4)).all()
        assert (tau[:, 0] > 0).all() and (np.diff(tau, axis=1) <= 1e-6).all()
        np.testing.assert_allclose(particle_features(constituents, n, jet),
                                   particle_features(jets.constituents, jets.n_constituents,
                                                     jets.jet), atol=2e-5)
        # mixed label types cast: q -> QCD, H_bb -> Hbb
        labels = jc.label_columns(arrays, ["label_QCD", "label_Hbb"])
        names = np.array(ds.label_names)[ds.labels]
        np.testing.assert_array_equal(labels.argmax(1), (names == "H_bb").astype(int))
        assert labels.sum(1).tolist() == [1.0] * N_PAIRS


def test_jetclass_signed_deta_and_errors(exported, paired):
    out, files = exported
    arrays = uproot.open(files["nominal"][0])["tree"].arrays()
    jets = PairedDataset(paired).read("nominal", slice(0, 20))
    eta = jets.constituents[0, : jets.n_constituents[0], 1]
    expect = np.sign(jets.jet[0, 1]) * (eta - jets.jet[0, 1])
    np.testing.assert_allclose(ak.to_numpy(arrays["part_deta"][0]), expect, atol=1e-6)
    charged = ak.to_numpy(arrays["part_charge"][0]) != 0
    d0err = ak.to_numpy(arrays["part_d0err"][0])
    assert (d0err[charged] >= 0.010).all() and (d0err[~charged] == 0).all()


def test_weaver_core_reads_the_export(exported, paired):
    """weaver-core's own loader and feature building give the project's 15 features."""
    pytest.importorskip("weaver")
    from weaver.utils.dataset import SimpleIterDataset

    out, files = exported
    ds = PairedDataset(paired)
    for view in ("nominal", "herwig"):
        loader = SimpleIterDataset({"toy": files[view]}, str(out / "toy.yaml"), for_training=False,
                                   fetch_by_files=True, fetch_step=10, async_load=False)
        items = list(loader)
        assert len(items) == N_PAIRS
        jet_id = np.array([z["aux_jet_id"] for _, _, z in items])
        order = np.argsort(jet_id)
        np.testing.assert_array_equal(jet_id[order], np.arange(N_PAIRS))
        theirs = np.stack([x["pf_features"] for x, _, _ in items])[order]  # (n, 15, 128)
        mask = np.stack([x["pf_mask"] for x, _, _ in items])[order][:, 0]
        jets = ds.read(view, slice(None))
        ours = particle_features(jets.constituents, jets.n_constituents, jets.jet)
        np.testing.assert_array_equal(mask.sum(1), jets.n_constituents)
        np.testing.assert_allclose(theirs[:, :, :ours.shape[1]].transpose(0, 2, 1), ours,
                                   atol=2e-5)
        assert not theirs[:, :, ours.shape[1]:].any()
        label = np.array([y["_label_"] for _, y, _ in items])[order]
        config = yaml.safe_load((out / "toy.yaml").read_text())
        assert config["labels"]["value"] == ["label_QCD", "label_Hbb"]
        np.testing.assert_array_equal(label, (np.array(ds.label_names)[ds.labels] == "H_bb"))


def test_jet_radius_from_the_files(paired, tmp_path):
    """The radius that made the jets (the files' ``jets`` attribute) normalises τ_N: R = 0.4
    doubles every τ; soft drop with β = 0 does not depend on it."""
    small = tmp_path / "small.h5"
    small.write_bytes(paired.read_bytes())
    with h5py.File(small, "a") as f:
        set_attrs(f, {"jets": {"R": 0.4}})
    trees = [uproot.open(export_jetclass([p], tmp_path / p.stem)["nominal"][0])["tree"]
             for p in (paired, small)]
    wide, narrow = (t.arrays(["jet_sdmass", "jet_tau1", "jet_tau3"], library="np")
                    for t in trees)
    np.testing.assert_allclose(narrow["jet_sdmass"], wide["jet_sdmass"], rtol=1e-6)
    for k in ("jet_tau1", "jet_tau3"):
        np.testing.assert_allclose(narrow[k], 2 * wide[k], rtol=1e-5)


def test_card_and_rerun_removes_stale_files(paired, tmp_path):
    export_jetclass([paired], tmp_path, max_jets=20, name="x")
    card = yaml.safe_load((tmp_path / "x.card.yaml").read_text())
    assert card["pairs"] == N_PAIRS and card["label_counts"] == {"q": 25, "H_bb": 25}
    assert any("zenodo" in c for c in card["cite"]) and "cutflow" in card
    export_jetclass([paired], tmp_path, max_jets=30, name="x")
    assert sorted(p.name for p in (tmp_path / "seed").iterdir()) == ["x_000.root", "x_001.root"]


def test_rs3l_layout(paired, tmp_path):
    (path,) = export_rs3l([paired], tmp_path)
    ds = PairedDataset(paired)
    with h5py.File(path) as f:
        assert f["features"].shape == (2 * N_PAIRS, 100, 15)
        assert f["jet_features"].shape == (2 * N_PAIRS, 6)
        assert f["parton_features"].shape == (2 * N_PAIRS, 4)
        vartype = f["vartype"][:]
        np.testing.assert_array_equal(vartype[0::2], -1)
        # augmentations by turn: seed 0, fsr_up 2, fsr_down 1, herwig 3
        np.testing.assert_array_equal(vartype[1:8:2], [0, 2, 1, 3])
        np.testing.assert_array_equal(f["truth_label"][0::2], ds.labels)
        np.testing.assert_array_equal(f["truth_label"][1::2], ds.labels)
        jets = ds.read("fsr_up", [1, 5])
        np.testing.assert_array_equal(f["features"][[3, 11]], particle_features(
            jets.constituents, jets.n_constituents, jets.jet))
        nominal = ds.read("nominal", slice(None))
        np.testing.assert_array_equal(f["jet_features"][0::2, 0], nominal.jet[:, 0])
        # msd (column 4) is the soft-drop mass, not the ungroomed mass
        np.testing.assert_allclose(f["jet_features"][0::2, 4], soft_drop_mass(
            nominal.constituents, nominal.n_constituents, 0.8), rtol=1e-6)
        np.testing.assert_array_equal(f["jet_features"][0::2, 5],
                                      nominal.jet[:, JET_FIELDS.index("n2")])


def _resim(*args):
    return subprocess.run([sys.executable, "-m", "resim.cli", *map(str, args)],
                          capture_output=True, text=True)


def test_cli_refuses_bad_input_and_replacing_an_input(paired, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    run = _resim("export", "--format", "jetclass", "--out", tmp_path / "o", bad)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "bad.h5" in run.stderr
    # --out the input's own directory and --name its stem: toy.card.yaml is fine, but an rs3l
    # file named like the input would replace it
    inputs = tmp_path / "in"
    inputs.mkdir()
    victim = write_pairs(inputs / "v_000.h5", 4)
    before = victim.read_bytes()
    run = _resim("export", "--format", "rs3l", "--out", inputs, "--name", "v", victim)
    assert run.returncode == 2 and "would replace the input" in run.stderr
    assert victim.read_bytes() == before
    run = _resim("export", "--format", "jetclass", "--out", tmp_path / "ok", "--max-jets", 0,
                 victim)
    assert run.returncode == 2
