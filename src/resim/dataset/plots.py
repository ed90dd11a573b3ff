"""Validation plots of paired datasets: jet mass, pT, multiplicity, N2 and the 15 input features,
one histogram per view (CMS-like style via mplhep)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from ..features import FEATURE_NAMES, particle_features  # noqa: E402
from ..io import atomic_path  # noqa: E402
from .reader import PairedDataset  # noqa: E402
from ..contracts import JET_FIELDS  # noqa: E402

#: Jet observables plotted: (JET_FIELDS name, axis label, bin edges).
JET_PLOTS = {
    "mass": ("Jet mass [GeV]", np.linspace(0, 250, 51)),
    "pt": ("Jet $p_T$ [GeV]", np.linspace(400, 900, 51)),
    "n_constituents": ("Jet multiplicity", np.linspace(0, 150, 51)),
    "n2": ("$N_2^{(\\beta=1)}$", np.linspace(0, 0.5, 51)),
}
#: Pairs read per view for the feature plot (features need the full constituent arrays).
FEATURE_SAMPLE = 2000


def _finish(fig, ax, path: Path, label: str) -> None:
    # Our own label: the CMS one would claim the experiment's simulation, this is a CMS-like card.
    mplhep.label.exp_label(exp="resim", data=False, ax=ax, loc=0, rlabel=label)
    if ax.get_legend_handles_labels()[0]:  # a file without pairs has nothing to label
        ax.legend(fontsize="small")
    fig.tight_layout()
    _save(fig, path, dpi=100)


def _save(fig, path: Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)


def plot_paths(path: str | Path, outdir: str | Path) -> list[Path]:
    """The PNG files :func:`plot_file` writes for ``path``."""
    stem = Path(path).stem
    return [Path(outdir) / f"{stem}_{name}.png" for name in (*JET_PLOTS, "features")]


def plot_file(path: str | Path, outdir: str | Path) -> list[Path]:
    """Write the validation plots of one paired file (per shard or merged); returns their paths."""
    plt.style.use(mplhep.style.CMS)
    ds = PairedDataset(path)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    *jet_plots, feature_plot = plot_paths(path, outdir)
    label = f"{ds.attrs.get('sample', Path(path).stem)}"
    written = []
    jets = {view: ds.read(view, slice(None)).jet for view in ds.views} if len(ds) else {}
    for (name, (xlabel, bins)), out in zip(JET_PLOTS.items(), jet_plots):
        fig, ax = plt.subplots(figsize=(8, 6))
        for view, jet in jets.items():
            values = jet[:, JET_FIELDS.index(name)]
            mplhep.histplot(np.histogram(values, bins=bins), ax=ax, label=view, density=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Normalised")
        _finish(fig, ax, out, label)
        written.append(out)
    written.append(_plot_features(ds, feature_plot, label))
    ds.close()
    return written


def _plot_features(ds: PairedDataset, out: Path, label: str) -> Path:
    rows = slice(0, min(len(ds), FEATURE_SAMPLE))
    fig, axes = plt.subplots(3, 5, figsize=(25, 14))
    for view in ds.views if len(ds) else []:  # no pairs: empty axes, not numpy's warnings
        jets = ds.read(view, rows)
        feats = particle_features(jets.constituents, jets.n_constituents, jets.jet)
        mask = np.arange(feats.shape[1])[None, :] < jets.n_constituents[:, None]
        for k, ax in enumerate(axes.flat):
            ax.hist(feats[..., k][mask], bins=40, histtype="step", density=True, label=view)
            ax.set_xlabel(FEATURE_NAMES[k])
    if axes.flat[0].get_legend_handles_labels()[0]:
        axes.flat[0].legend(fontsize="small")
    fig.suptitle(f"{label}: constituent features")
    fig.tight_layout()
    _save(fig, out, dpi=80)
    return out
