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

#: Where the public layout keeps what the project needs. Indices as rodem-hep/
#: adversarialGeneralization reads the files (src/datamodules/loading.py, ``load_rs3l``:
#: singletons[..., 0] the jet type, [..., 9:13] jet pt, η, φ, E; jet_pflow_cands[:, :, 0:11] =
#: 'pt', 'relpt', 'eta', 'phi', 'dr', 'e', 'rele', 'charge', 'pdgid', 'd0', 'dz'). What those
#: names hold is what the authors' skim (dr-stringfellow/cl, merging/merge.py) stores under
#: them: log pT, log(pT/pT_jet), η − η_jet, φ − φ_jet wrapped, ΔR, log E, log(E/E_jet),
#: charge, PDG id, tanh d0, tanh dz, every one 0 on padding; adversarialGeneralization's
#: src/datamodules/dataset.py (``get_pT_ratio``) takes exp of column 0 for the pT, as of a
#: logarithm. So a real particle is one with a nonzero log pT or log E (a pT below 1 GeV has a
#: negative log: "column 0 > 0" would drop it).
#: The jet type (label code) column; codes as adversarialGeneralization's ``load_rs3l`` gives
#: them: 1 light q, 2 c, 3 b, 4 H->bb, 5 g->qq, 6 g->cc, 7 g->bb, 8 g->gg, 9 W->qq, 10 Z->qq,
#: 11 Z->bb.
PUBLIC_LABEL_COLUMN = 0
PUBLIC_JET_COLUMNS = {"pt": 9, "eta": 10, "phi": 11, "E": 12}
PUBLIC_CANDIDATE_COLUMNS = {"log_pt": 0, "log_pt_rel": 1, "deta": 2, "dphi": 3, "dr": 4,
                            "log_e": 5, "log_e_rel": 6, "charge": 7, "pdgid": 8, "tanh_d0": 9,
                            "tanh_dz": 10}
PUBLIC_MIN_SINGLETONS = max(PUBLIC_JET_COLUMNS.values()) + 1
