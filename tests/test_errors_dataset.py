"""Dataset stages check what their input files say: their kind, their (sample, shard), their
configuration. Each mismatch is exit 2 and one line naming both sides; no output is left."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import yaml

from resim import cli
from resim.config import config_hash, section_digests, validate
from resim.dataset.merge import merge_files
from resim.dataset.provenance import KINDS, file_kind
from resim.dataset.reader import PairedDataset
from resim.contracts import LABELS
from resim.dataset.schema import SCHEMA_VERSION
from resim.dataset.simulate import VIEW_TABLE
from resim.dataset.writer import JET_TABLE, PAIR_TABLE, H5Appender, create_file, set_attrs
from resim.errors import DatasetError

VIEWS = ["nominal", "fsr_up"]


def _rows(table: dict, n: int) -> dict[str, np.ndarray]:
    return {k: np.zeros((n, *shape), dtype) for k, (shape, dtype) in table.items()}


def paired_file(path, sample="qcd", shard=0, config_hash="c0ffee", n=3):
    """A paired file as resim pair writes it (zeros for the jets: only the layout matters)."""
    with create_file(path) as f:
        H5Appender(f.create_group("pairs"), PAIR_TABLE).append(**_rows(PAIR_TABLE, n))
        for view in VIEWS:
            H5Appender(f.create_group(f"views/{view}"), JET_TABLE).append(**_rows(JET_TABLE, n))
        set_attrs(f, {"schema_version": SCHEMA_VERSION, "sample": sample, "shard": shard,
                      "views": VIEWS, "config_hash": config_hash, "label_names": list(LABELS),
                      "cutflow": {"pairing": {"pairs": n}}, "seeds": {}, "versions": {}})
    return path


CONFIG = ("run: {seed: 1, events_per_shard: 10}\nsamples: {qcd: {process: zjet_nunu, "
          "shards: 2}}\nviews: {nominal: {fork: hard}, fsr_up: {fork: hard}}\n")


def view_file(path, sample="qcd", shard=0, views=("nominal",), config=CONFIG):
    """A view file as resim simulate writes it (its root attributes and view groups), made
    with ``config`` (YAML text)."""
    made_with = validate(yaml.safe_load(config))
    with create_file(path) as f:
        for view in views:
            H5Appender(f.create_group(f"views/{view}"), VIEW_TABLE).append(**_rows(VIEW_TABLE, 0))
        set_attrs(f, {"kind": "view-group", "sample": sample, "shard": shard,
                      "seeds": {"seeds": {}}, "cutflow": {v: {} for v in views},
                      "views": list(views), "config_hash": config_hash(made_with),
                      "config_sections": section_digests(made_with, sample)})
    return path


def views_file(path):
    """Particle arrays as resim views --out writes them."""
    with h5py.File(path, "w") as f:
        f.attrs["seeds"] = "{}"
        f.create_group("nominal")
    return path


def run_cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err.splitlines()


def test_every_kind_is_told_apart(tmp_path):
    kinds = {file_kind(PairedDataset(paired_file(tmp_path / "p.h5")).attrs): "paired"}
    with h5py.File(view_file(tmp_path / "v.h5")) as f:
        kinds[file_kind(dict(f.attrs))] = "view-group"
    with h5py.File(views_file(tmp_path / "a.h5")) as f:
        kinds[file_kind(dict(f.attrs))] = "views"
    assert all(k == v for k, v in kinds.items()) and set(kinds) <= set(KINDS)


@pytest.mark.parametrize("make, words", [
    (view_file, r"a view file written by resim simulate \(read by resim pair\); the "
                r"paired-dataset reader reads paired or merged files"),
    (views_file, r"particle arrays written by resim views --out"),
    (lambda p: h5py.File(p, "w").close(), "not a file written by resim"),
])
def test_the_reader_says_what_a_foreign_file_is(tmp_path, make, words):
    path = tmp_path / "x.h5"
    make(path)
    with pytest.raises(DatasetError, match=f"{path}: {words}"):
        PairedDataset(path)


def test_inspect_of_a_view_file_is_one_line(tmp_path, capsys):
    path = view_file(tmp_path / "v.h5")
    code, lines = run_cli(["inspect", path], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"resim inspect: error: {path}: a view file written by "
                               f"resim simulate")


def _pair(tmp_path, capsys, files, sample="qcd", shard=0):
    out = tmp_path / "dataset" / "0.h5"
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    code, lines = run_cli(["pair", "--config", config, "--sample", sample, "--shard", shard,
                           "--out", out, *files], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert not out.parent.exists()  # refused before anything was written
    return lines[0]


def test_pair_refuses_a_view_file_of_another_shard(tmp_path, capsys):
    good = view_file(tmp_path / "nominal.h5")
    other = view_file(tmp_path / "fsr_up.h5", shard=1, views=("fsr_up",))
    line = _pair(tmp_path, capsys, [good, other])
    assert line == (f"resim pair: error: {other}: holds sample 'qcd' shard 1, but this job is "
                    f"sample 'qcd' shard 0")


def test_pair_refuses_a_view_file_of_another_sample(tmp_path, capsys):
    other = view_file(tmp_path / "nominal.h5", sample="higgs")
    line = _pair(tmp_path, capsys, [other])
    assert "holds sample 'higgs' shard 0, but this job is sample 'qcd' shard 0" in line


def test_pair_refuses_one_view_in_two_files(tmp_path, capsys):
    a = view_file(tmp_path / "a.h5", views=("nominal", "fsr_up"))
    b = view_file(tmp_path / "b.h5", views=("fsr_up",))
    line = _pair(tmp_path, capsys, [a, b])
    assert line == f"resim pair: error: {b}: view 'fsr_up' already in {a}"


def test_pair_refuses_one_file_twice(tmp_path, capsys):
    a = view_file(tmp_path / "a.h5")
    (tmp_path / "same").symlink_to(tmp_path)
    line = _pair(tmp_path, capsys, [a, tmp_path / "same" / "a.h5"])
    assert line == f"resim pair: error: {tmp_path / 'same' / 'a.h5'} (as {a}): given twice"


def test_pair_refuses_a_view_file_of_another_config(tmp_path, capsys):
    """Pairing under another config would record that config's hash over jets the first one
    made (and so slip past merge's guard)."""
    other = CONFIG.replace("fsr_up: {fork: hard}", "fsr_up: {fork: hard, settings: "
                           "['TimeShower:renormMultFac = 0.5']}")
    v = view_file(tmp_path / "v.h5", config=other)
    line = _pair(tmp_path, capsys, [v])
    made = config_hash(validate(yaml.safe_load(other)))
    mine = config_hash(validate(yaml.safe_load(CONFIG)))
    assert line.startswith(f"resim pair: error: {v}: made with config {made}, but this job's "
                           f"config is {mine} and differs in views:")


def test_pair_accepts_a_config_that_differs_only_downstream(tmp_path, capsys):
    """A config edited only in sections the jets do not depend on (pretrain) pairs the same:
    the refusal is about the jets, not about the file's bytes."""
    v = view_file(tmp_path / "v.h5", config=CONFIG + "pretrain: {epochs: 3}\n")
    out = tmp_path / "dataset" / "0.h5"
    (tmp_path / "config.yaml").write_text(CONFIG)
    assert cli.main(["pair", "--config", str(tmp_path / "config.yaml"), "--sample", "qcd",
                     "--shard", "0", "--out", str(out), str(v)]) == 0, capsys.readouterr().err
    with h5py.File(out) as f:  # the hash of the config that made the jets, not of this one
        assert f.attrs["config_hash"] == config_hash(validate(yaml.safe_load(
            CONFIG + "pretrain: {epochs: 3}\n")))


def test_one_dataset_of_two_configs_is_refused(tmp_path):
    a = paired_file(tmp_path / "0.h5")
    b = paired_file(tmp_path / "1.h5", shard=1, config_hash="beef")
    with pytest.raises(DatasetError, match=f"{b}: made with config beef, but {a} with config "
                                           f"c0ffee"):
        PairedDataset([a, b])


def test_validation_jets_apart_from_training_jets(tmp_path):
    shards = [paired_file(tmp_path / f"{i}.h5", shard=i) for i in range(3)]
    merge_files(shards[:2], tmp_path / "train.h5")
    train = PairedDataset(tmp_path / "train.h5")
    train.require_apart(PairedDataset(shards[2]), "validation")  # disjoint: fine
    (tmp_path / "link.h5").symlink_to(shards[1])
    copy = tmp_path / "copy" / "1.h5"  # the same shard under another name
    copy.parent.mkdir()
    copy.write_bytes(shards[1].read_bytes())
    for val in (shards[1], tmp_path / "link.h5", copy, tmp_path / "train.h5"):
        with pytest.raises(DatasetError, match="the validation jets include sample 'qcd' shard "
                                               "[01], which the training files hold too"):
            train.require_apart(PairedDataset(val), "validation", "--flag")
        train.require_apart(PairedDataset(val), "validation", "--flag", overlap_ok=True)
    with pytest.raises(DatasetError, match="made with config beef"):
        train.require_apart(PairedDataset(paired_file(tmp_path / "x.h5", config_hash="beef")),
                            "validation")


def test_pair_refuses_a_paired_file(tmp_path, capsys):
    p = paired_file(tmp_path / "p.h5")
    line = _pair(tmp_path, capsys, [p])
    assert line == (f"resim pair: error: {p}: a paired file written by resim pair (read by "
                    f"resim merge / inspect / plots and rs3l); resim pair reads view-group files")


def test_merge_of_good_shards_still_works(tmp_path):
    shards = [paired_file(tmp_path / f"{i}.h5", shard=i) for i in range(2)]
    out = tmp_path / "train.h5"
    assert merge_files(shards, out) == 6
    merged = PairedDataset(out)
    assert merged.attrs["kind"] == "merged" and len(merged) == 6


@pytest.mark.parametrize("case", ["twice", "copy", "configs", "merged", "view-file"])
def test_merge_refuses_shards_that_do_not_belong_together(tmp_path, capsys, case):
    a = paired_file(tmp_path / "0.h5")
    if case == "twice":
        files, words = [a, a], f"{a}: given twice"
    elif case == "copy":
        b = paired_file(tmp_path / "copy.h5")
        files, words = [a, b], f"{b}: sample 'qcd' shard 0 is already in {a}"
    elif case == "configs":
        b = paired_file(tmp_path / "1.h5", shard=1, config_hash="beef")
        files, words = [a, b], f"{b}: made with config beef, but {a} with config c0ffee"
    elif case == "merged":
        merge_files([a], tmp_path / "m.h5")
        files, words = [tmp_path / "m.h5"], (f"{tmp_path / 'm.h5'}: a merged file written by "
                                             f"resim merge")
    else:
        files, words = [view_file(tmp_path / "v.h5")], "a view file written by resim simulate"
    out = tmp_path / "out" / "train.h5"
    code, lines = run_cli(["merge", "--out", out, *files], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("resim merge: error: ")
    assert words in lines[0]
    assert not out.parent.exists()


def _without(path, name):
    with h5py.File(path, "r+") as f:
        del f[name]
    return path


@pytest.mark.parametrize("part", ["views/fsr_up/jet", "views/fsr_up", "pairs/label"])
@pytest.mark.parametrize("command", ["merge", "inspect", "plots", "reader"])
def test_a_paired_file_missing_a_part_is_one_line(tmp_path, capsys, part, command):
    """Every reader of a paired file names the file and the missing part (issue 18, class 4)."""
    broken = _without(paired_file(tmp_path / "0.h5"), part)
    argv = {"merge": ["merge", "--out", tmp_path / "m.h5", broken],
            "inspect": ["inspect", broken],
            "plots": ["plots", "--outdir", tmp_path / "plots", broken]}.get(command)
    if argv is None:  # training and evaluation read through PairedDataset
        with pytest.raises(DatasetError) as err:
            PairedDataset(broken)
        line = str(err.value)
    else:
        code, lines = run_cli(argv, capsys)
        assert code == 2 and len(lines) == 1, lines
        line = lines[0]
    assert f"{broken}: " in line and "Traceback" not in line
    assert ("fsr_up" if "fsr_up" in part else "/pairs") in line
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "plots").exists()


@pytest.mark.parametrize("part", ["views/nominal/status", "views/nominal"])
def test_a_view_file_missing_a_part_is_one_line(tmp_path, capsys, part):
    broken = _without(view_file(tmp_path / "v.h5"), part)
    line = _pair(tmp_path, capsys, [broken])
    assert line.startswith(f"resim pair: error: {broken}: ")
    assert ("lacks its dataset(s) status" if "status" in part else "no group /views/nominal") in line


def test_a_file_without_its_cutflow_is_still_described(tmp_path):
    path = paired_file(tmp_path / "0.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["cutflow"] = "{}"
    from resim.dataset.pair import describe
    assert "cutflow pairing: \"absent\"" in describe(path)
