"""The seed's result tables: rejection (Table II / IV), Wasserstein (Table III / V), kNN accuracy.

Input: one record per trained model (``mode``, ``train_size``, ``views``, and a mapping of
column → value) and optionally one for the N2 baseline. Repetitions of the same setup (same
mode, training-set size and view set) are merged into mean ± standard deviation (sample
standard deviation, ddof = 1; none for a single run, which is shown without "±", like the
seed's N2 row). When a setup's taggers sit on several pre-trained backbones (the repetitions
of one run, ``pretrain.reps``), the cell gives the spread over backbones and the spread over
fine-tunings apart, ``mean ± σ_backbones ± σ_fine-tunings`` (:meth:`Row.spreads`). Row names follow the seed:
"Fine-tuned (3M, floating, all)", "Fully-supervised (1M, all)", "N2".
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resim.io import atomic_write_text

#: Row order of the tables, as in the seed.
MODE_ORDER = ("n2", "fixed", "floating", "lora", "supervised")


def human_size(n: int) -> str:
    """A training-set size as the seed writes it: 3M, 1.5M, 200k, 3000, 950."""
    # (unit, size from which it is used, its value): four-digit sizes are written out
    for unit, start, scale in (("M", 1e6, 1e6), ("k", 1e4, 1e3)):
        if n >= start:
            value = n / scale
            return f"{value:.0f}{unit}" if value >= 10 or value == round(value) else f"{value:.1f}{unit}"
    return str(n)


def view_set_label(views: Sequence[str], all_views: Sequence[str]) -> str:
    """"every" when the training mix used every view (not "all": seed 000's "all" is the
    hard-fork mix, without re-hadronisation), else the augmentation views joined by "+"."""
    if set(views) >= set(all_views):
        return "every"
    aug = [v for v in views if v != "nominal"]
    return "+".join(aug) if aug else "nominal"


def record_views_label(record: dict, all_views: Sequence[str]) -> str:
    """A model's training mix as rows name it: the mix as configured (``views_label``, e.g.
    ``hard``), else (records written before it) :func:`view_set_label` of its views."""
    return record.get("views_label") or view_set_label(record.get("views", all_views), all_views)


def row_name(mode: str, train_size: int, views_label: str, backbone_label: str = "",
             network: str = "") -> str:
    """The seed's row names: "Fine-tuned (1000, floating, seed+FSR)" (the backbone's
    augmentation set, else the training mix's), "MPM fine-tuned (1000, floating)",
    "Fully-supervised (1000, all)", "N2"; with the network when the study has several:
    "Fine-tuned (1000, floating, all, transformer)", "Fully-supervised (1000, all, dgcnn)"."""
    if mode == "n2":
        return "N2"
    size = human_size(train_size)
    net = f", {network}" if network else ""
    if mode == "supervised":
        return f"Fully-supervised ({size}, {views_label}{net})"
    if backbone_label == "MPM":
        # a fixed MPM backbone is probed on its particle encodings' mean (seed 004), not on
        # its jet head, which MPM leaves untrained: the row says so
        probe = ", particle mean" if mode == "fixed" else ""
        return f"MPM fine-tuned ({size}, {mode}{probe}{net})"
    return f"Fine-tuned ({size}, {mode}, {backbone_label or views_label}{net})"


@dataclass
class Row:
    """One table row: a setup and, per column, the values of its repetitions.

    ``bootstrap`` holds, per column, each repetition's values on the shared resamplings of the
    test jets (the same resampling index in every model), see :meth:`interval`.
    """

    name: str
    mode: str
    train_size: int
    views: str
    backbone: str = ""
    network: str = ""  # the network's label when the study has several (supervised: its own)
    values: dict[str, list[float]] = field(default_factory=dict)
    bootstrap: dict[str, list[list[float]]] = field(default_factory=dict)
    #: per record, the pre-trained backbone it sits on ("" for none), to split the spread
    sources: list[str] = field(default_factory=list)

    @property
    def n_runs(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)

    @property
    def n_backbones(self) -> int:
        return len(set(self.sources))

    def spreads(self, column: str) -> tuple[float, float]:
        """(spread over backbones, spread over fine-tunings) of ``column``: the sample standard
        deviation of the per-backbone means, and the pooled within-backbone standard deviation
        (NaN where there is nothing to spread: one backbone, one fine-tuning each)."""
        values = self.values.get(column, [])
        groups: dict[str, list[float]] = {}
        for source, value in zip(self.sources, values):
            groups.setdefault(source, []).append(value)
        if not groups or np.isinf(values).any():
            return math.nan, math.nan
        means = [np.mean(g) for g in groups.values()]
        between = float(np.std(means, ddof=1)) if len(means) > 1 else math.nan
        dof = sum(len(g) - 1 for g in groups.values())
        within = (math.sqrt(sum(np.var(g, ddof=0) * len(g) for g in groups.values()) / dof)
                  if dof else math.nan)
        return between, within

    def spread(self, column: str) -> float:
        """The larger of the two spreads (what a claim must clear); one backbone: the spread
        over its fine-tunings, the standard deviation of :meth:`mean_std`."""
        if self.n_backbones <= 1:
            return self.mean_std(column)[1]
        known = [x for x in self.spreads(column) if not math.isnan(x)]
        return max(known) if known else math.nan

    def mean_std(self, column: str) -> tuple[float, float]:
        v = np.asarray(self.values.get(column, []), dtype=np.float64)
        if v.size == 0:
            return math.nan, math.nan
        if np.isinf(v).any():
            return math.inf, math.nan
        return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan

    def interval(self, column: str, level: float = 0.68) -> tuple[float, float]:
        """Central ``level`` interval of the mean over repetitions, resampling the test jets.

        Each resampling's mean over the repetitions is one draw of the row's value had the test
        set been another; NaN when no resamples were stored.
        """
        means = self.resampled_means(column)
        if means is None:
            return math.nan, math.nan
        low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
        return float(low), float(high)

    def resampled_means(self, column: str) -> np.ndarray | None:
        """(B,) the mean over repetitions on each test-set resampling (shared by every row, so
        two rows compare resampling by resampling); None when none were stored."""
        samples = self.bootstrap.get(column)
        if not samples or not samples[0]:
            return None
        return np.mean(np.asarray(samples, dtype=np.float64), axis=0)

    def rejection_cell(self, column: str) -> str:
        """``mean ± std`` over repetitions, then the bootstrap interval and the mean number of
        background jets passing; a bound ``> N`` where a repetition let no background through."""
        efficiency = column.split("@")[1]
        mean, std = self.mean_std(column)
        n_pass = self.mean_std(f"n_pass@{efficiency}")[0]
        bound = self.mean_std(f"bound@{efficiency}")[0]
        if not math.isnan(bound) and bound > 0:
            return f"> {mean:.0f} ({n_pass:.2g} bkg)"
        text = format_rejection(mean, *self._stds(column, std))
        low, high = self.interval(column)
        details = [] if math.isnan(low) else [f"{_rej(low)}–{_rej(high)}"]
        if not math.isnan(n_pass):
            details.append(f"{n_pass:.3g} bkg")
        return f"{text} ({'; '.join(details)})" if details else text


    def _stds(self, column: str, std: float) -> tuple[float, ...]:
        """What a cell writes after the mean: the one spread, or over several backbones the
        spread over backbones and over fine-tunings."""
        return self.spreads(column) if self.n_backbones > 1 else (std,)

    def test_std(self, column: str) -> float:
        """Standard deviation of the row's value over the test-set resamplings (NaN: none)."""
        means = self.resampled_means(column)
        return math.nan if means is None or len(means) < 2 else float(np.std(means, ddof=1))

    def distance_cell(self, column: str) -> str:
        """``(mean ± std)×10ⁿ`` over repetitions, then the test-set spread in the same 10ⁿ.

        A spread, not a percentile interval: a distance measured on a finite sample is biased
        upward (noise only adds to |F - G|), a resampled one more so, so the resamplings'
        quantiles can sit wholly above the measured value."""
        mean, std = self.mean_std(column)
        text = format_scientific(mean, *self._stds(column, std))
        spread = self.test_std(column)
        if math.isnan(spread) or math.isnan(mean) or mean == 0:
            return text
        return f"{text} (test σ {spread / _scale(mean):.2f})"


def _rej(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def collect_rows(records: list[dict], all_views: Sequence[str]) -> list[Row]:
    """Group per-model records (``mode``, ``train_size``, ``views``, ``values``, optionally
    ``backbone_label`` and ``bootstrap``) into table rows: N2 first, then by size, mode and
    backbone."""
    rows: dict[tuple, Row] = {}
    for rec in records:
        label = record_views_label(rec, all_views)
        backbone = rec.get("backbone_label") or ""
        network = rec.get("network") or ""
        key = (rec["mode"], rec.get("train_size", 0), label, backbone, network)
        if key not in rows:
            rows[key] = Row(row_name(*key[:4], network), *key)
        rows[key].sources.append(rec.get("backbone_name") or "")
        for column, value in rec["values"].items():
            rows[key].values.setdefault(column, []).append(float(value))
        for column, samples in (rec.get("bootstrap") or {}).items():
            rows[key].bootstrap.setdefault(column, []).append(samples)
    return sorted(rows.values(), key=lambda r: (r.mode != "n2", r.train_size,
                                                MODE_ORDER.index(r.mode), r.network, r.backbone,
                                                r.views))


def _pm_all(stds: Sequence[float], fmt: str) -> str:
    """`` ± a ± b`` for the spreads given (a NaN one written as ``–`` when there are two)."""
    if len(stds) == 1:
        return "" if math.isnan(stds[0]) else f" ± {stds[0]:{fmt}}"
    return "".join(" ± –" if math.isnan(x) else f" ± {x:{fmt}}" for x in stds)


def format_rejection(mean: float, *stds: float) -> str:
    """Rejections as integers (``140 ± 1``), like Table II (bounds: :meth:`Row.rejection_cell`);
    two spreads (over backbones, over fine-tunings): ``140 ± 9 ± 1``."""
    if math.isnan(mean):
        return "–"
    return f"{mean:.1f}{_pm_all(stds, '.1f')}" if mean < 100 else f"{mean:.0f}{_pm_all(stds, '.0f')}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _scale(mean: float) -> float:
    """The power of ten a distance is written in (the mean's)."""
    return 10.0 ** int(math.floor(math.log10(abs(mean))))


def format_scientific(mean: float, *stds: float) -> str:
    """Distances in the seed's style: ``(8.63 ± 0.23)×10⁻⁴``; two spreads (over backbones,
    over fine-tunings): ``(8.63 ± 0.50 ± 0.23)×10⁻⁴``."""
    if math.isnan(mean):
        return "–"
    if mean == 0:
        return "0"
    scale = _scale(mean)
    power = f"×10{str(round(math.log10(scale))).translate(_SUPERSCRIPT)}"
    spread = _pm_all([x / scale for x in stds] or [math.nan], ".2f")
    return f"({mean / scale:.2f}{spread}){power}" if spread else f"{mean / scale:.2f}{power}"


def format_percent(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{100 * mean:.1f}" + ("" if math.isnan(std) else f" ± {100 * std:.1f}") + " %"


def _bold_best(cells: list[list[str]], rows: list[Row], columns: list[str], best: str) -> None:
    """Bold the best network value per column (the N2 row is excluded, as in the seed)."""
    for j, column in enumerate(columns):
        means = [(r.mean_std(column)[0], i) for i, r in enumerate(rows) if r.mode != "n2"]
        means = [(m, i) for m, i in means if not math.isnan(m)]
        if len(means) < 2:
            continue
        _, i = (max if best == "max" else min)(means)
        cells[i][j] = f"**{cells[i][j]}**"


def markdown(rows: list[Row], columns: list[str], headers: list[str], first: str, fmt,
             best: str | None = None, caption: str = "") -> str:
    """A Markdown table: one line per row, one cell ``fmt(row, column)`` per column."""
    cells = [[fmt(r, c) for c in columns] for r in rows]
    if best:
        _bold_best(cells, rows, columns, best)
    lines = [f"| {first} | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
    lines += [f"| {r.name} | " + " | ".join(c) + " |" for r, c in zip(rows, cells)]
    text = "\n".join(lines) + "\n"
    return f"{caption}\n\n{text}" if caption else text


def to_csv(rows: list[Row], columns: list[str]) -> str:
    """CSV with, per column, ``<column>_mean`` and ``<column>_std`` and, for columns with
    bootstrap resamples, ``<column>_ci_low``/``_ci_high`` (68 % of the resamplings) and
    ``<column>_test_std`` (their spread), plus setup and run count."""
    boot = [c for c in columns if any(r.bootstrap.get(c) for r in rows)]
    # pre-training repetitions: the two spreads apart (absent otherwise, as before them)
    split = list(columns) if any(r.n_backbones > 1 for r in rows) else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["setup", "mode", "train_size", "views", "backbone", "n_runs"]
                    + (["n_backbones"] if split else [])
                    + [f"{c}_{s}" for c in columns for s in ("mean", "std")]
                    + [f"{c}_{s}" for c in split for s in ("std_backbones", "std_finetunes")]
                    + [f"{c}_{s}" for c in boot for s in ("ci_low", "ci_high", "test_std")])
    for r in rows:
        values = [f"{x:.6g}" for c in columns for x in r.mean_std(c)]
        values += [f"{x:.6g}" for c in split for x in r.spreads(c)]
        values += [f"{x:.6g}" for c in boot for x in (*r.interval(c), r.test_std(c))]
        writer.writerow([r.name, r.mode, r.train_size, r.views, r.backbone, r.n_runs]
                        + ([r.n_backbones] if split else []) + values)
    return buf.getvalue()


def write_table(out_stem: str | Path, rows: list[Row], columns: list[str], headers: list[str],
                first: str, fmt, best: str | None, caption: str,
                csv_extra: Sequence[str] = ()) -> list[Path]:
    """Write ``<stem>.csv`` (``columns`` and ``csv_extra``) and ``<stem>.md``; return both paths."""
    stem = Path(out_stem)
    csv_path, md_path = stem.with_suffix(".csv"), stem.with_suffix(".md")
    atomic_write_text(csv_path, to_csv(rows, [*columns, *csv_extra]))
    atomic_write_text(md_path, markdown(rows, columns, headers, first, fmt, best, caption))
    return [csv_path, md_path]


def write_tables(outdir: str | Path, task: str, records: list[dict], all_views: Sequence[str],
                 efficiencies: Sequence[float], knn_records: list[dict] = (),
                 view_notes: dict[str, str] | None = None) -> list[Path]:
    """The task's rejection, Wasserstein and kNN tables (CSV + Markdown) in ``outdir``.

    ``records`` hold per model (and for N2) ``values`` with keys ``rejection@<eff>`` and
    ``wasserstein:<view>``; ``knn_records`` hold ``values`` with the key ``knn``;
    ``view_notes``: what a view changes besides its name (``views.<name>.description``), said
    under the Wasserstein table so that a column's confounds travel with it.
    """
    outdir = Path(outdir)
    rows = collect_rows(records, all_views)
    # with pre-training repetitions a cell holds two spreads: say which is which
    reps = (" Rows on several pre-trained backbones (pretrain.reps): mean ± spread over the "
            "backbones (std of their means) ± spread over fine-tunings (pooled within a "
            "backbone)." if any(r.n_backbones > 1 for r in rows) else "")
    eff_cols = [f"rejection@{e:g}" for e in efficiencies]
    others = [v for v in all_views if v != "nominal"]
    written = write_table(
        outdir / "rejection", rows, eff_cols, [f"{e:g}" for e in efficiencies], "Signal efficiency",
        Row.rejection_cell, "max",
        f"Background rejection 1/ε_B at fixed signal efficiency, nominal test jets ({task}), read "
        "from the step ROC: mean ± std over repetitions (68 % bootstrap interval over the test "
        "jets; mean number of background jets passing). '> N' is a bound: no background jet "
        "passed, the test set has N." + reps,
        [f"{k}@{e:g}" for k in ("n_pass", "bound") for e in efficiencies] + ["n_background"])
    written += write_table(
        outdir / "wasserstein", rows, [f"wasserstein:{v}" for v in others], others, "Training setup",
        Row.distance_cell, "min",
        f"1-D Wasserstein distance between the score distributions on nominal jets and on each "
        f"other view ({task}); lower is more robust: mean ± std over repetitions (test σ: the "
        f"spread over resamplings of the test jets, each jet's views resampled together, in the "
        f"same power of ten; a distance on a finite sample is biased upward, so no percentile "
        f"interval is given)." + reps
        + "".join(f" {v}: {view_notes[v]}." for v in others if (view_notes or {}).get(v)))
    written += write_table(
        outdir / "knn", collect_rows(list(knn_records), all_views), ["knn"], ["accuracy"],
        "Representation", lambda r, c: format_percent(*r.mean_std(c)), "max",
        f"kNN classification accuracy of the task's label classes in each model's normalised "
        f"representation ({task}).")
    return written
