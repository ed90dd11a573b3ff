"""``resim export --format jetclass``: paired HDF5 -> JetClass ROOT, one file set per view.

Layout under ``--out``::

    <view>/<name>_000.root, <name>_001.root, ...   at most ``max_jets`` jets each (JetClass
                                                   has 100,000); the same rows in every view
    <name>.yaml                                    weaver-core data config for these files
    <name>.card.yaml                               dataset card (what made them, whom to cite)

Row i of ``<view>/<name>_k.root`` is the same pair in every view (``aux_jet_id`` says which), so
a reader can pair views by entry. Files are written block by block (memory bounded by
``BLOCK_ROWS`` jets), LZ4 level 4 as JetClass, each to a temporary name renamed when complete.
"""

from __future__ import annotations

from pathlib import Path

import uproot
import yaml

from ..features import FEATURE_NAMES
from ..formats import jetclass as jc
from ..io import atomic_path, atomic_write_text
from .common import blocks, guard_outputs, ip_sigma, jet_radius, open_inputs, write_card

#: weaver-core expressions of the project's 15 features (resim.features order) from JetClass
#: branches: the same numbers the project's reader computes (tests compare them).
WEAVER_FEATURES = {
    "log_pt": "np.log(np.hypot(part_px, part_py))",
    "log_pt_rel": "np.log(np.hypot(part_px, part_py) / jet_pt)",
    "log_e": "np.log(part_energy)",
    "log_e_rel": "np.log(part_energy / jet_energy)",
    "deta": "part_deta * np.sign(jet_eta)",  # JetClass signs Δη by the jet's η; resim does not
    "dphi": "part_dphi",
    "dr": "np.hypot(part_deta, part_dphi)",
    "tanh_d0": "np.tanh(part_d0val)",
    "tanh_dz": "np.tanh(part_dzval)",
    "charge": "part_charge",
    **{ours: f"part_{theirs}" for ours, theirs in
       zip(FEATURE_NAMES[-5:], jc.PART_FLAGS)},
}
#: Padded length of the weaver inputs (ParT's JetClass configs use 128).
WEAVER_LENGTH = 128


def weaver_config(labels: list[str], selection: str | None) -> dict:
    """A weaver-core data config: the project's 15 features unstandardised (``pf_features``),
    ParT's ``pf_points`` / ``pf_vectors`` / ``pf_mask``, the exported JetClass labels."""
    new = {f"resim_{k}": v for k, v in WEAVER_FEATURES.items() if not v.isidentifier()}
    new["part_mask"] = "ak.ones_like(part_energy)"

    def feature(k):
        return f"resim_{k}" if f"resim_{k}" in new else WEAVER_FEATURES[k]

    return {
        "treename": jc.TREE,
        "selection": selection,
        "new_variables": new,
        "preprocess": {"method": "manual", "data_fraction": 0.5},
        "inputs": {
            "pf_points": {"length": WEAVER_LENGTH, "pad_mode": "constant",
                          "vars": [["part_deta", None], ["part_dphi", None]]},
            "pf_features": {"length": WEAVER_LENGTH, "pad_mode": "constant",
                            "vars": [[feature(k), None] for k in FEATURE_NAMES]},
            "pf_vectors": {"length": WEAVER_LENGTH, "pad_mode": "constant",
                           "vars": [[f"part_{k}", None] for k in ("px", "py", "pz", "energy")]},
            "pf_mask": {"length": WEAVER_LENGTH, "pad_mode": "constant",
                        "vars": [["part_mask", None]]},
        },
        "labels": {"type": "simple", "value": labels},
        "observers": ["jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_mass", "jet_n2",
                      "aux_jet_id", "aux_event_id", "label_resim"],
    }


def file_name(name: str, k: int) -> str:
    """``{name}_{NNN}.root``, the suffix JetClass readers parse."""
    return f"{name}_{k:03d}.root"


def export_jetclass(inputs: list[str | Path], out_dir: str | Path, *, name: str | None = None,
                    max_jets: int = 100_000, config: dict | None = None) -> dict[str, list[str]]:
    """Write every view of the paired ``inputs`` as JetClass ROOT; returns {view: [files]}."""
    dataset = open_inputs(inputs)
    out_dir = Path(out_dir)
    name = name or Path(inputs[0]).stem
    n = len(dataset)
    starts = list(range(0, n, max_jets))
    files = {view: [out_dir / view / file_name(name, k) for k in range(len(starts))]
             for view in dataset.views}
    side = [out_dir / f"{name}.yaml", out_dir / f"{name}.card.yaml"]
    guard_outputs([p for paths in files.values() for p in paths] + side, dataset.paths)
    sigma, radius = ip_sigma(dataset), jet_radius(dataset)
    for view, paths in files.items():
        for path, start in zip(paths, starts):
            _write_file(path, dataset, view, slice(start, min(start + max_jets, n)), sigma,
                        radius)
        _remove_stale(out_dir / view, name, paths)

    mapped = sorted({jc.FROM_RESIM[dataset.label_names[c]] for c in set(dataset.labels.tolist())
                     if dataset.label_names[c] in jc.FROM_RESIM}, key=jc.LABELS.index)
    unmapped = sorted({dataset.label_names[c] for c in set(dataset.labels.tolist())} -
                      set(jc.FROM_RESIM))
    # jets of a class JetClass lacks have every label 0: weaver must select them away
    selection = " + ".join(mapped) + " == 1" if unmapped and mapped else None
    atomic_write_text(side[0], yaml.safe_dump(weaver_config(mapped, selection), sort_keys=False))
    notes = [
        f"d0/dz: the detector's smeared values in mm (impact_parameters: {sigma.mode}); "
        "d0err/dzerr its resolution at the particle's pT, 0 for neutral particles",
        f"jet_sdmass (soft drop beta 0, z_cut 0.1, R0 {radius}), jet_tau1..4 (beta 1, "
        f"one-pass kT axes, normalised by R0 {radius}): FastJet contrib as JetClass's Delphes, "
        "from the stored constituents; jet_mass (ungroomed) and jet_n2 added",
        "aux_jet_id: the pair's row over the inputs, the same in every view; aux_event_id: "
        "event_id; label_resim: the project's label code (label_counts)",
    ]
    if unmapped:
        notes.append(f"classes without a JetClass label (all label_* 0): {unmapped}")
    write_card(side[1], dataset, "jetclass",
               {view: [str(p.relative_to(out_dir)) for p in paths]
                for view, paths in files.items()},
               config=config, notes=notes)
    return {view: [str(p) for p in paths] for view, paths in files.items()}


def _write_file(path: Path, dataset, view: str, rows: slice, sigma, radius: float) -> None:
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp, compression=uproot.LZ4(4)) as f:
            tree = None
            for block in blocks(rows.start, rows.stop):
                jets = dataset.read(view, block)
                codes = dataset.labels[block]
                branches = jc.to_branches(
                    jets.constituents, jets.n_constituents, jets.jet,
                    labels=jc.jetclass_label(dataset.label_names, codes),
                    parton=dataset.parton[block],
                    extra={"aux_jet_id": range(block.start, block.stop),
                           "aux_event_id": dataset.event_id[block], "label_resim": codes},
                    ip_sigma=sigma, substructure=jc.substructure_branches(
                        jets.constituents, jets.n_constituents, radius))
                if tree is None:  # mktree + extend: a TTree (f[...] = would write an RNTuple)
                    tree = f.mktree(jc.TREE, jc.branch_types(branches))
                tree.extend(branches)


def _remove_stale(directory: Path, name: str, keep: list[Path]) -> None:
    """Files of an earlier, larger export under the same name would join this one's glob."""
    for old in directory.glob(f"{name}_[0-9][0-9][0-9].root"):
        if old not in keep:
            old.unlink()
