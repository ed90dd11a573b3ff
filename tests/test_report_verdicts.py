"""The summary's verdicts read the repetitions and the shared test-set resamplings."""

from __future__ import annotations

import numpy as np

from train.report import verdicts

VIEWS = ["nominal", "seed", "fsr_up"]


def _rec(mode, values, boot):
    return {"mode": mode, "train_size": 100, "views": VIEWS, "values": values, "bootstrap": boot}


def test_robustness_verdict_counts_views_clear_on_the_resamplings():
    rng = np.random.default_rng(2)
    # seed: fixed clearly below supervised on every resampling; fsr_up: the two overlap
    fixed_seed, sup_seed = rng.normal(1.0, 0.1, 200), rng.normal(3.0, 0.1, 200)
    fixed_up, sup_up = rng.normal(2.0, 0.5, 200), rng.normal(2.1, 0.5, 200)
    records = [
        _rec("fixed", {"wasserstein:seed": 1.0, "wasserstein:fsr_up": 2.0},
             {"wasserstein:seed": fixed_seed.tolist(), "wasserstein:fsr_up": fixed_up.tolist()}),
        _rec("supervised", {"wasserstein:seed": 3.0, "wasserstein:fsr_up": 2.1},
             {"wasserstein:seed": sup_seed.tolist(), "wasserstein:fsr_up": sup_up.tolist()}),
    ]
    (line,) = [v for v in verdicts(records, VIEWS, 0.5) if "more robust" in v]
    assert "in 2 of 2 views" in line
    assert "1 of them on ≥ 95% of the 200 test-set resamplings" in line


def test_a_backbone_is_compared_with_the_baseline_of_its_own_network():
    def rec(mode, network, rejection, label=None):
        return {"mode": mode, "train_size": 100, "views": VIEWS, "network": network,
                "backbone_label": label, "values": {"rejection@0.5": rejection}}

    records = [rec("floating", "transformer", 40.0, "all"), rec("floating", "dgcnn", 30.0, "all"),
               rec("supervised", "transformer", 20.0), rec("supervised", "dgcnn", 35.0)]
    lines = [v for v in verdicts(records, VIEWS, 0.5) if "beat" in v]
    assert lines == [
        "- At ε_S = 0.5, Fine-tuned (100, floating, all, dgcnn) does not beat Fully-supervised "
        "(100, every, dgcnn): rejection 30 vs 35 (single runs: no spread to compare with).",
        "- At ε_S = 0.5, Fine-tuned (100, floating, all, transformer) beats Fully-supervised "
        "(100, every, transformer): rejection 40 vs 20 (single runs: no spread to compare with)."]


def test_verdicts_clear_the_larger_of_the_backbone_and_fine_tuning_spreads():
    def rec(mode, backbone, rejection):
        return {**_rec(mode, {"rejection@0.5": rejection}, {}), "backbone_name": backbone,
                "backbone_label": "hard" if backbone else None}

    # fine-tunings of one backbone agree (±1), the two pre-trainings do not (30 vs 50)
    records = [rec("floating", b, v) for b, v in (("rs3l", 29.0), ("rs3l", 31.0),
                                                  ("rs3l.rep1", 49.0), ("rs3l.rep1", 51.0))]
    records += [rec("supervised", None, v) for v in (34.0, 36.0, 35.0, 35.0)]
    (line,) = [v for v in verdicts(records, VIEWS, 0.5) if "beat" in v]
    # 40 vs 35 beats the fine-tuning spread (1.2) but not the backbones' (14)
    assert "rejection 40 ± 14 vs 35 ± 0.82 (within the spread of the repetitions)" in line
    assert verdicts(records[:2] + records[4:], VIEWS, 0.5)[0].endswith("vs 35 ± 0.82.")
