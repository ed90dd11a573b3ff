"""The RS3L authors' two HDF5 layouts.

**Training layout** (dr-stringfellow/cl, read by jeffkrupa/deepjet-geometric), written by
``resim export --format rs3l``: per file, row 2i a nominal jet and row 2i+1 one augmentation of
it, ``features`` (2N, Ncst, 15) (the seed's Table I, :func:`resim.features.particle_features`),
``jet_features`` (2N, 6) = pt, η, φ, E, m_SD, N2, ``parton_features`` (2N, 4), ``truth_label``
(2N,), ``vartype`` (2N,): −1 nominal, 0 seed, 1 FSR down, 2 FSR up, 3 Herwig 7.

**Public layout** (Zenodo 10.5281/zenodo.10633814, as rodem-hep/adversarialGeneralization reads
it), read as paired data: ``singletons`` (N, 5, F) jet quantities and ``jet_pflow_cands``
(N, 5, ≥ 11, Ncst) particle features, the view on axis 1: 0 nominal, 1 seed, 2 FSR ×1/√2,
3 FSR ×√2, 4 Herwig 7.
"""

from __future__ import annotations

#: vartype codes of the training layout by the project's view names.
VARTYPE = {"nominal": -1, "seed": 0, "fsr_down": 1, "fsr_up": 2, "herwig": 3}
#: Code of the k-th view the authors' list lacks (a vincia or re-hadronised view): 10 + k.
OTHER_VARTYPE = 10

TRAINING_DATASETS = ("features", "jet_features", "parton_features", "truth_label", "vartype")
JET_FEATURES = ("pt", "eta", "phi", "E", "msd", "n2")
PARTON_FEATURES = ("pt", "eta", "phi", "pid")

#: The public layout's views, in axis-1 order, as the project names them.
PUBLIC_VIEWS = ("nominal", "seed", "fsr_down", "fsr_up", "herwig")
PUBLIC_SINGLETONS = "singletons"
PUBLIC_CANDIDATES = "jet_pflow_cands"
#: Particle features the public layout must have at least (axis 2 of jet_pflow_cands).
PUBLIC_MIN_FEATURES = 11


def vartype_codes(views: list[str]) -> dict[str, int]:
    """The vartype of every view: the authors' code, or 10 + k for the k-th view they lack."""
    others = [v for v in views if v not in VARTYPE]
    return {v: VARTYPE.get(v, OTHER_VARTYPE + (others.index(v) if v in others else 0))
            for v in views}

#: Where the public layout keeps what the project needs, as rodem-hep/adversarialGeneralization
#: reads it: singletons[..., 0] the jet type (label code), [..., 9:13] jet pt, η, φ, E;
#: jet_pflow_cands[:, :, 0:11] = pt, pt_rel, η, φ, ΔR, E, E_rel, charge, pdgId, d0, dz
#: (particles with pt > 0 are real).
PUBLIC_LABEL_COLUMN = 0
PUBLIC_JET_COLUMNS = {"pt": 9, "eta": 10, "phi": 11, "E": 12}
PUBLIC_CANDIDATE_COLUMNS = {"PT": 0, "Eta": 2, "Phi": 3, "E": 5, "Charge": 7, "PID": 8, "D0": 9,
                            "DZ": 10}
PUBLIC_MIN_SINGLETONS = max(PUBLIC_JET_COLUMNS.values()) + 1
