"""The seed-format tables: grouping of repetitions, row names, formatting, files."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from train.evaluate import tables

VIEWS = ["nominal", "seed", "fsr_up", "herwig"]


def _rec(mode, size, values, views=VIEWS):
    return {"mode": mode, "train_size": size, "views": views, "values": values}


def test_row_names_carry_size_mode_and_view_set():
    assert tables.row_name("floating", 3_000_000, "all") == "Fine-tuned (3M, floating, all)"
    assert tables.row_name("supervised", 1_500_000, "seed+fsr_up") == "Fully-supervised (1.5M, seed+fsr_up)"
    assert tables.row_name("n2", 0, "all") == "N2"
    assert tables.human_size(200_000) == "200k" and tables.human_size(950) == "950"
    assert tables.human_size(3000) == "3000"  # the study's sizes are written out, as in the issue
    assert tables.view_set_label(["nominal", "seed", "fsr_up"], VIEWS) == "seed+fsr_up"
    assert tables.view_set_label(VIEWS, VIEWS) == "every"  # not "all": that is seed 000's mix


def test_repetitions_become_mean_and_sample_std():
    records = [_rec("floating", 1000, {"rejection@0.5": v}) for v in (10.0, 12.0, 14.0)]
    records += [_rec("supervised", 1000, {"rejection@0.5": 9.0}), _rec("n2", 0, {"rejection@0.5": 4.0}),
                _rec("floating", 1000, {"rejection@0.5": 99.0}, views=["nominal", "seed"])]
    rows = tables.collect_rows(records, VIEWS)
    assert [r.name for r in rows] == ["N2", "Fine-tuned (1000, floating, every)",
                                      "Fine-tuned (1000, floating, seed)",
                                      "Fully-supervised (1000, every)"]
    mean, std = rows[1].mean_std("rejection@0.5")
    assert mean == pytest.approx(12.0) and std == pytest.approx(2.0)  # ddof = 1
    assert rows[1].n_runs == 3
    assert math.isnan(rows[0].mean_std("rejection@0.5")[1])  # one run: no spread


def test_formats_follow_the_seed():
    assert tables.format_rejection(1325.4, 31.2) == "1325 ± 31"
    assert tables.format_rejection(16.0, math.nan) == "16.0"
    assert tables.format_scientific(8.63e-4, 0.23e-4) == "(8.63 ± 0.23)×10⁻⁴"
    assert tables.format_scientific(1.22e-2, math.nan) == "1.22×10⁻²"


def test_written_tables_bold_the_best_network_and_keep_numbers_in_csv(tmp_path):
    records = [_rec("n2", 0, {"rejection@0.3": 50.0, "wasserstein:seed": 1e-5}),
               _rec("fixed", 100, {"rejection@0.3": 5.0, "wasserstein:seed": 2e-4}),
               _rec("floating", 100, {"rejection@0.3": 20.0, "wasserstein:seed": 5e-4})]
    knn = [{**_rec("fixed", 100, {"knn": 0.7})}]
    paths = tables.write_tables(tmp_path, "h_vs_qcd", records, ["nominal", "seed"], [0.3], knn)
    assert sorted(p.name for p in paths) == ["knn.csv", "knn.md", "rejection.csv", "rejection.md",
                                             "wasserstein.csv", "wasserstein.md"]
    md = (tmp_path / "rejection.md").read_text()
    assert "| Fine-tuned (100, floating, every) | **20.0** |" in md
    assert "| N2 | 50.0 |" in md  # N2 is never bolded, as in the seed
    wasserstein = (tmp_path / "wasserstein.md").read_text()
    assert "| Fine-tuned (100, fixed, every) | **2.00×10⁻⁴** |" in wasserstein
    with open(tmp_path / "wasserstein.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[1]["setup"] == "Fine-tuned (100, fixed, every)"
    assert float(rows[1]["wasserstein:seed_mean"]) == pytest.approx(2e-4)


def test_a_views_confounds_travel_with_its_column(tmp_path):
    records = [_rec("fixed", 100, {"rejection@0.3": 5.0, "wasserstein:seed": 2e-4,
                                   "wasserstein:other": 3e-4})]
    notes = {"other": "another shower, and MPI off", "nominal": "not a column"}
    tables.write_tables(tmp_path, "h_vs_qcd", records, ["nominal", "seed", "other"], [0.3],
                        view_notes=notes)
    caption = (tmp_path / "wasserstein.md").read_text()
    assert "other: another shower, and MPI off." in caption and "not a column" not in caption
    assert "another shower" not in (tmp_path / "rejection.md").read_text()


def test_rejection_cell_shows_interval_background_count_and_bound():
    # Two repetitions; bootstrap resamples shared by index: means per resample are 10, 12, 14, 16.
    recs = [_rec("floating", 100, {"rejection@0.5": 12.0, "n_pass@0.5": 20, "bound@0.5": 0.0}),
            _rec("floating", 100, {"rejection@0.5": 14.0, "n_pass@0.5": 18, "bound@0.5": 0.0})]
    recs[0]["bootstrap"] = {"rejection@0.5": [9.0, 11.0, 13.0, 15.0]}
    recs[1]["bootstrap"] = {"rejection@0.5": [11.0, 13.0, 15.0, 17.0]}
    (row,) = tables.collect_rows(recs, VIEWS)
    low, high = row.interval("rejection@0.5", level=0.5)
    assert (low, high) == pytest.approx((11.5, 14.5))  # quartiles of 10, 12, 14, 16
    cell = row.rejection_cell("rejection@0.5")
    assert cell.startswith("13.0 ± 1.4 (") and "19 bkg" in cell
    # A repetition that let no background through makes the row a bound, never infinity.
    bound = tables.collect_rows([_rec("fixed", 100, {"rejection@0.5": 250.0, "n_pass@0.5": 0,
                                                     "bound@0.5": 1.0})], VIEWS)[0]
    assert bound.rejection_cell("rejection@0.5") == "> 250 (0 bkg)"


def test_distance_cell_and_csv_carry_the_test_set_spread(tmp_path):
    # Two repetitions; per-resample means 2, 3, 4, 5 (x 1e-4): the 50 % interval is 2.75-4.25.
    recs = [_rec("fixed", 100, {"wasserstein:seed": 3.0e-4}),
            _rec("fixed", 100, {"wasserstein:seed": 4.0e-4})]
    recs[0]["bootstrap"] = {"wasserstein:seed": [1.5e-4, 2.5e-4, 3.5e-4, 4.5e-4]}
    recs[1]["bootstrap"] = {"wasserstein:seed": [2.5e-4, 3.5e-4, 4.5e-4, 5.5e-4]}
    (row,) = tables.collect_rows(recs, VIEWS)
    assert row.interval("wasserstein:seed", level=0.5) == pytest.approx((2.75e-4, 4.25e-4))
    spread = float(np.std([2.0, 3.0, 4.0, 5.0], ddof=1))  # x 1e-4: 1.29
    assert row.test_std("wasserstein:seed") == pytest.approx(spread * 1e-4)
    assert row.distance_cell("wasserstein:seed") == "(3.50 ± 0.71)×10⁻⁴ (test σ 1.29)"
    tables.write_tables(tmp_path, "h_vs_qcd", recs, VIEWS, [0.5])
    with open(tmp_path / "wasserstein.csv") as fh:
        (out,) = list(csv.DictReader(fh))
    assert float(out["wasserstein:seed_ci_low"]) == pytest.approx(row.interval("wasserstein:seed")[0])
    assert float(out["wasserstein:seed_test_std"]) == pytest.approx(spread * 1e-4, rel=1e-5)
    # without resamplings the cell is the seed's format alone
    plain = tables.collect_rows([_rec("fixed", 100, {"wasserstein:seed": 3.0e-4})], VIEWS)[0]
    assert plain.distance_cell("wasserstein:seed") == "3.00×10⁻⁴"


def _on(backbone, values):
    return {**_rec("floating", 1000, {"rejection@0.5": values}), "backbone_name": backbone,
            "backbone_label": "hard"}


def test_pretraining_repetitions_split_the_spread_into_backbones_and_fine_tunings():
    # two backbones (pre-training repetitions), two fine-tunings each: means 10 and 20
    records = [_on(b, v) for b, v in (("rs3l", 9.0), ("rs3l", 11.0),
                                      ("rs3l.rep1", 19.0), ("rs3l.rep1", 21.0))]
    (row,) = tables.collect_rows(records, VIEWS)
    assert row.name == "Fine-tuned (1000, floating, hard)" and row.n_backbones == 2
    between, within = row.spreads("rejection@0.5")
    assert between == pytest.approx(math.sqrt(50.0))  # std of (10, 20)
    assert within == pytest.approx(math.sqrt(2.0))     # pooled: (1 + 1) / (1 + 1) per dof
    assert row.spread("rejection@0.5") == pytest.approx(math.sqrt(50.0))  # the larger one
    assert row.rejection_cell("rejection@0.5") == "15.0 ± 7.1 ± 1.4"
    assert tables.format_scientific(8.63e-4, 0.5e-4, 0.23e-4) == "(8.63 ± 0.50 ± 0.23)×10⁻⁴"
    csv_text = tables.to_csv([row], ["rejection@0.5"])
    assert "rejection@0.5_std_backbones" in csv_text.splitlines()[0]
    # one backbone: the cell, the CSV and the spread as without repetitions
    (single,) = tables.collect_rows(records[:2], VIEWS)
    assert single.rejection_cell("rejection@0.5") == "10.0 ± 1.4"
    assert single.spread("rejection@0.5") == pytest.approx(single.mean_std("rejection@0.5")[1])
    assert "std_backbones" not in tables.to_csv([single], ["rejection@0.5"])
