"""Tiny end-to-end run through the console script: finetune 3 modes × 2 reps → evaluate → summary."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml

from train.cli import main as rs3l

from fixtures_docs import build_site, publish_results, site_source
from fixtures_eval import summary_args, tiny_config, write_backbone, write_paired_file

TABLES = ["rejection", "wasserstein", "knn"]
PLOTS = ["roc", "roc_subclass", "wasserstein", "label_efficiency", "label_efficiency_wasserstein",
         "backbones/rs3l/discriminating_dim", "backbones/rs3l/corner", "backbones/rs3l/tsne",
         "backbones/rs3l/cosine", "backbones/rs3l/curves"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_e2e")
    results = root / "results"
    data = results / "dataset"
    data.mkdir(parents=True)
    files = {split: write_paired_file(data / f"{split}.h5", n, seed=i, shard=i)
             for i, (split, n) in enumerate((("pretrain", 60), ("finetune", 240), ("validation", 120),
                                             ("test", 300)))}
    train_dir = results / "train" / "rs3l"
    train_dir.mkdir(parents=True)
    backbone = write_backbone(train_dir / "checkpoint.pt")
    (train_dir / "metrics.json").write_text(json.dumps([{"epoch": 1, "val_loss": 3.0, "val_cos_pos": 0.8}]))
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config()))
    model_dirs = []
    for mode in ("fixed", "floating", "supervised"):
        for rep in range(2):
            out = results / "finetune" / "h_vs_qcd" / f"{mode}-{rep}"
            args = ["finetune", "--config", str(config_path), "--task", "h_vs_qcd", "--mode", mode,
                    "--rep", str(rep), "--out", str(out), "--train", str(files["finetune"]),
                    "--val", str(files["validation"])]
            if mode != "supervised":
                args += ["--backbone", str(backbone)]
            assert rs3l(args) == 0
            model_dirs.append(str(out))
    evaluate_dir = results / "evaluate" / "h_vs_qcd"
    assert rs3l(["evaluate", "--config", str(config_path), "--task", "h_vs_qcd", "--out", str(evaluate_dir),
                 "--backbone", str(backbone), "--test", str(files["test"]), "--val", str(files["validation"]),
                 *model_dirs]) == 0
    assert rs3l(["summary", "--config", str(config_path), "--out", str(results / "summary.md"),
                 *summary_args(root)]) == 0
    return results


@pytest.mark.slow
def test_every_table_and_plot_is_written(run):
    folder = run / "evaluate" / "h_vs_qcd"
    for table in TABLES:
        assert (folder / f"{table}.csv").stat().st_size > 0
        assert (folder / f"{table}.md").read_text().count("\n|") >= 2
    for plot in PLOTS:
        assert (folder / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
    md = (folder / "rejection.md").read_text()
    for name in ("N2", "Fine-tuned (240, fixed, hard)", "Fine-tuned (240, floating, hard)",
                 "Fully-supervised (240, hard)"):
        assert f"| {name} |" in md or f"| {name} | **" in md
    assert " ± " in md  # two repetitions -> mean ± std


@pytest.mark.slow
def test_metrics_are_consistent_with_the_scores(run):
    from train.evaluate import metrics

    folder = run / "evaluate" / "h_vs_qcd"
    summary = json.loads((folder / "metrics.json").read_text())
    scores = np.load(folder / "scores.npz")
    target = scores["target"]
    assert summary["n_test"] == len(target) == 300 and summary["n_signal"] == 150
    floating = next(m for m in summary["models"] if m["name"] == "floating-0")
    assert floating["values"]["rejection@0.5"] == pytest.approx(
        metrics.rejection_at(target, scores["floating-0/nominal"], (0.5,))[0])
    # every rejection is finite: at most the number of background test jets (a bound)
    for model in summary["models"]:
        for e in (0.3, 0.5, 0.7):
            assert model["values"][f"rejection@{e:g}"] <= summary["n_background"]
            assert len(model["bootstrap"][f"rejection@{e:g}"]) == summary["bootstrap"]
    # The toy N2 is built to separate the classes (small for two-prong jets) and to grow with the
    # smearing of each view: the baseline must show it.
    n2 = summary["models"][0]
    assert n2["mode"] == "n2" and summary["n2_orientation"] == "-N2"
    assert n2["values"]["wasserstein:vincia"] > n2["values"]["wasserstein:fsr_up"] > 0
    assert summary["backbones"]["rs3l"]["knn"]["n_evaluation"] > 0
    # The fixed taggers share one frozen backbone: their representations are identical.
    fixed = [k for k in summary["knn"] if k["mode"] == "fixed"]
    assert len(fixed) == 2


@pytest.mark.slow
def test_summary_links_tables_plots_and_data(run):
    text = (run / "summary.md").read_text()
    assert "`finetune`: 240 pairs × 3 views" in text
    assert "| lost: pt | 2 | 2 | 2 |" in text and "241 nominal jets → 240 pairs" in text
    assert "## Task `h_vs_qcd`" in text and "| N2 |" in text
    assert "[tsne](evaluate/h_vs_qcd/backbones/rs3l/tsne.png)" in text
    assert "What this run says:" in text and "more robust (lower Wasserstein distance) than Fully-supervised (240, hard)" in text
    assert "Missing" not in text.split("## Pre-training")[1]


def test_summary_lists_what_is_missing(tmp_path):
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config()))
    out = tmp_path / "results" / "summary.md"
    assert rs3l(["summary", "--config", str(config_path), "--out", str(out),
                 *summary_args(tmp_path)]) == 0
    text = out.read_text()
    assert "- `test`: missing" in text
    assert "Missing: " in text.split("## Pre-training")[1]
    assert "## Task `h_vs_qcd`" in text


@pytest.mark.slow
def test_the_summary_publishes_as_a_results_page(run, tmp_path):
    """The summary as rs3l summary writes it (tables, cut-flows in <details>, plot links) goes
    through scripts/publish-results onto the site, which builds with --strict."""
    results = shutil.copytree(run, tmp_path / "results")
    for plot in ("curves", "cosine"):  # rs3l pretrain draws them; this run's backbone is made
        shutil.copy(results / "evaluate" / "h_vs_qcd" / "roc.png",
                    results / "train" / "rs3l" / f"{plot}.png")
    source = site_source(tmp_path / "repo")
    published = publish_results(str(results), "--name", "laptop-study", "--docs",
                                str(source / "docs"))
    assert published.returncode == 0, published.stderr
    built = build_site(source, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "results" / "laptop-study" / "index.html").read_text()
    assert "What this run says:" in page and "Fully-supervised (240, hard)" in page
    cutflow = page[page.index("<details"):page.index("</details>")]
    assert "<table>" in cutflow and "lost: pt" in cutflow  # a table, as GitHub shows it
    figures = re.findall(r'(?:src|href)="(run/[^"]+\.png)"', page)
    assert "run/evaluate/h_vs_qcd/label_efficiency.png" in figures
    assert all((tmp_path / "site" / "results" / "laptop-study" / f).is_file() for f in figures)
