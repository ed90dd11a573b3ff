"""The study end to end through the console scripts, on small fixture files: two backbones
(contrastive on every view, masked particle modelling) pre-trained with ``rs3l pretrain --run``,
every mode at two labelled-set sizes with two repetitions, then ``rs3l evaluate`` and
``rs3l summary``: every table and plot, rows named like the seed's."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from train.cli import main as rs3l

from fixtures_eval import TINY_MODEL, summary_args, tiny_config, write_paired_file

BACKBONES = ("rs3l", "mpm")
SIZES = (60, "all")
PLOTS = ("roc", "roc_subclass", "wasserstein", "label_efficiency", "label_efficiency_wasserstein")
BACKBONE_PLOTS = ("discriminating_dim", "corner", "tsne", "cosine", "curves")


def study_config() -> dict:
    config = tiny_config()
    config["pretrain"] = {
        "model": TINY_MODEL, "batch_size": 16, "epochs": 1, "block": 8, "window": 4, "workers": 0,
        "threads": 1, "device": "cpu",
        "runs": [{"name": "rs3l", "views": "hard"},
                 {"name": "mpm", "objective": "mpm",
                  "mpm": {"codes": 8, "kmeans_jets": 50, "heads": 2, "feedforward": 16}}]}
    config["finetune"].update(train_sizes=list(SIZES), reps=2, epochs=2, device="cpu")
    config["evaluate"].update(bootstrap=50, device="cpu")
    return config


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("study")
    results = root / "results"
    data = results / "dataset"
    data.mkdir(parents=True)
    files = {split: write_paired_file(data / f"{split}.h5", n, seed=i, shard=i)
             for i, (split, n) in enumerate((("pretrain", 96), ("finetune", 150), ("validation", 90),
                                             ("test", 200)))}
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(study_config()))
    checkpoints = []
    for name in BACKBONES:
        out = results / "train" / name
        assert rs3l(["pretrain", "--config", str(config_path), "--run", name, "--out", str(out),
                     str(files["pretrain"]), "--val", str(files["validation"])]) == 0
        checkpoints.append(out / "checkpoint.pt")
    model_dirs = []
    for size in SIZES:
        for rep in range(2):
            runs = [(f"{size}/{b}/{m}-{rep}", m, c) for b, c in zip(BACKBONES, checkpoints)
                    for m in ("fixed", "floating")] + [(f"{size}/supervised-{rep}", "supervised", None)]
            for folder, mode, checkpoint in runs:
                out = results / "finetune" / "h_vs_qcd" / folder
                args = ["finetune", "--config", str(config_path), "--task", "h_vs_qcd", "--size",
                        str(size), "--mode", mode, "--rep", str(rep), "--out", str(out),
                        "--train", str(files["finetune"]), "--val", str(files["validation"])]
                assert rs3l(args + (["--backbone", str(checkpoint)] if checkpoint else [])) == 0
                model_dirs.append(str(out))
    backbone_args = [a for c in checkpoints for a in ("--backbone", str(c))]
    assert rs3l(["evaluate", "--config", str(config_path), "--task", "h_vs_qcd",
                 "--out", str(results / "evaluate" / "h_vs_qcd"), *backbone_args,
                 "--test", str(files["test"]), "--val", str(files["validation"]), *model_dirs]) == 0
    assert rs3l(["summary", "--config", str(config_path), "--out", str(results / "summary.md"),
                 *summary_args(root, backbones=BACKBONES)]) == 0
    return results


@pytest.mark.slow
def test_every_table_and_plot_of_the_study(study):
    folder = study / "evaluate" / "h_vs_qcd"
    for plot in PLOTS:
        assert (folder / f"{plot}.png").read_bytes()[:4] == b"\x89PNG", plot
    for name in BACKBONES:
        for plot in BACKBONE_PLOTS:
            assert (folder / "backbones" / name / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    md = (folder / "rejection.md").read_text()
    # 150 finetune jets: 'all' is 150; rows as the seed names them, the backbone's views or MPM
    for size in (60, 150):
        # the mixes by name: "hard" (seed 000's "all", no re-hadronisation), not "all"
        for row in (f"Fine-tuned ({size}, fixed, hard)", f"Fine-tuned ({size}, floating, hard)",
                    f"MPM fine-tuned ({size}, fixed, particle mean)", f"MPM fine-tuned ({size}, floating)",
                    f"Fully-supervised ({size}, hard)"):
            assert f"| {row} |" in md, row
    assert "| N2 |" in md and " ± " in md and "bkg" in md and "∞" not in md
    with open(folder / "wasserstein.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 + 2 * 5 and all(r["n_runs"] == ("1" if r["mode"] == "n2" else "2")
                                          for r in rows)
    summary = json.loads((folder / "metrics.json").read_text())
    assert set(summary["backbones"]) == set(BACKBONES)
    sizes = {m["train_size"] for m in summary["models"] if m["mode"] != "n2"}
    assert sizes == {60, 150}


@pytest.mark.slow
def test_summary_covers_every_backbone(study):
    text = (study / "summary.md").read_text()
    for name in BACKBONES:
        assert f"## Pre-training: `{name}`" in text
        assert f"evaluate/h_vs_qcd/backbones/{name}/tsne.png" in text
    assert "val_alignment" in text and "val_uniformity" in text
    assert "![label efficiency](evaluate/h_vs_qcd/label_efficiency.png)" in text
    assert "MPM fine-tuned (60, floating) beats" in text or \
        "MPM fine-tuned (60, floating) does not beat" in text
