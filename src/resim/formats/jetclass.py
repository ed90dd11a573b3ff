"""The JetClass ROOT layout (jet-universe/jetclass_generation; read by weaver-core and ParT).

One TTree ``tree``, one jet per entry. Particles are jagged branches sharing one counter
(``npart``), pT-ordered: ``part_px part_py part_pz part_energy part_deta part_dphi part_d0val
part_d0err part_dzval part_dzerr part_charge`` (float32) and the flags ``part_isChargedHadron
part_isNeutralHadron part_isPhoton part_isElectron part_isMuon`` (int32). Jets: float32
scalars ``jet_*``, ``aux_genpart_*``, ``aux_truth_match``; labels of mixed types (as the public
files have them): ``label_QCD`` float32, ``label_H*`` bool, ``label_Zqq/Wqq/Tbqq/Tbl`` int32.

Conventions: ``part_deta = sign(jet_eta)·(η − η_jet)``, ``part_dphi`` wrapped into [−π, π);
d0/dz in mm as Delphes gives them, errors σ(d0), σ(dz) in mm, 0 for neutral particles.

This module converts between that layout and the project's arrays (``CONSTITUENT_FIELDS``,
``JET_FIELDS``), so that :func:`resim.features.particle_features` builds the same 15 features
from either. Beyond JetClass the export writes ``jet_mass``, ``jet_n2``, ``aux_jet_id`` (the
pair's row, the same in every view), ``aux_event_id`` and ``label_resim`` (the project's label
code); readers of JetClass ignore them, this module's reader uses them when present.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from ..checks import register_check
from ..contracts import CONSTITUENT_FIELDS, JET_FIELDS, MAX_CONSTITUENTS
from ..features import FLAG_NAMES, particle_flags, wrap_phi
from ..substructure import nsubjettiness, soft_drop_mass
from . import jet_table

TREE = "tree"

#: Particle branches (without the ``part_`` prefix), float32 then int32.
PART_FLOAT = ("px", "py", "pz", "energy", "deta", "dphi", "d0val", "d0err", "dzval", "dzerr",
              "charge")
#: JetClass flag names, in the order of resim.features.FLAG_NAMES.
PART_FLAGS = ("isPhoton", "isMuon", "isElectron", "isChargedHadron", "isNeutralHadron")
JET_FLOAT = ("jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles", "jet_sdmass",
             "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4", "aux_genpart_pt", "aux_genpart_eta",
             "aux_genpart_phi", "aux_genpart_pid", "aux_truth_match")

#: The jet branches :func:`substructure_branches` computes.
SUBSTRUCTURE = ("jet_sdmass", "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4")

#: The JetClass labels and the type each has in the public files.
LABEL_TYPES = {"label_QCD": np.float32, "label_Hbb": np.bool_, "label_Hcc": np.bool_,
               "label_Hgg": np.bool_, "label_H4q": np.bool_, "label_Hqql": np.bool_,
               "label_Zqq": np.int32, "label_Wqq": np.int32, "label_Tbqq": np.int32,
               "label_Tbl": np.int32}
LABELS = tuple(LABEL_TYPES)

#: The project's labels as JetClass classes; tau and dark jets have none (all labels 0).
FROM_RESIM = {"q": "label_QCD", "g": "label_QCD", "g_bb": "label_QCD", "g_cc": "label_QCD",
              "g_qq": "label_QCD", "H_bb": "label_Hbb", "W_qq": "label_Wqq", "Z_qq": "label_Zqq"}

#: The project's extra branches (see the module docstring).
EXTRA = {"jet_mass": np.float32, "jet_n2": np.float32, "aux_jet_id": np.int64,
         "aux_event_id": np.int64, "label_resim": np.int32}

#: What the branches a reader needs must include.
REQUIRED = (*(f"part_{k}" for k in ("px", "py", "pz", "energy", "d0val", "dzval", "charge")),
            *(f"part_{k}" for k in PART_FLAGS), "jet_pt", "jet_eta", "jet_phi", "jet_energy")
#: What :func:`flat_jets` reads of them: the hadron flags follow from the charge and the others.
FLAT_BRANCHES = tuple(b for b in REQUIRED
                      if b not in ("part_isChargedHadron", "part_isNeutralHadron"))

_C = {name: i for i, name in enumerate(CONSTITUENT_FIELDS)}
_J = {name: i for i, name in enumerate(JET_FIELDS)}


def is_jetclass_task(spec: dict) -> bool:
    """A fine-tuning task (``finetune.tasks.<name>``) whose classes are JetClass labels: it
    reads JetClass files (``finetune.jetclass``), not the paired splits."""
    return any(name in LABEL_TYPES for side in ("signal", "background")
               for name in spec.get(side, []))


@register_check("jetclass tasks")
def _jetclass_task_problems(config: dict):
    """A task of JetClass labels reads the files of ``finetune.jetclass``: every split named,
    and no project label beside the JetClass ones (a file holds one kind)."""
    section = config.get("finetune") or {}
    for task, spec in (section.get("tasks") or {}).items():
        if not is_jetclass_task(spec):
            continue
        names = [*spec.get("signal", []), *spec.get("background", [])]
        theirs = [n for n in names if n in LABELS]
        if len(theirs) != len(names):
            yield (f"finetune.tasks.{task}: mixes JetClass labels {theirs} with the project's "
                   f"{sorted(set(names) - set(theirs))}; a task reads one kind of file")
        missing = [s for s in ("finetune", "validation", "test")
                   if not (section.get("jetclass") or {}).get(s)]
        if missing:
            yield (f"finetune.tasks.{task}: JetClass labels need JetClass files: set "
                   f"finetune.jetclass.{'/'.join(missing)} (paths or globs)")


def jetclass_label(label_names: list[str], codes: np.ndarray) -> dict[str, np.ndarray]:
    """The ten JetClass label branches, each in its public type, of jets with project ``codes``."""
    names = np.array([FROM_RESIM.get(name, "") for name in label_names])[codes]
    return {label: (names == label).astype(dtype) for label, dtype in LABEL_TYPES.items()}


def substructure_branches(constituents: np.ndarray, n_constituents: np.ndarray,
                          jet_radius: float) -> dict[str, np.ndarray]:
    """``jet_sdmass`` and ``jet_tau1..4`` of project jets from their stored constituents, as
    JetClass's Delphes computed them (:mod:`resim.substructure`; R0 = ``jet_radius``)."""
    msd = soft_drop_mass(constituents, n_constituents, jet_radius)
    tau = nsubjettiness(constituents, n_constituents, jet_radius)
    return dict(zip(SUBSTRUCTURE, (msd, *tau.T)))


def to_branches(constituents: np.ndarray, n_constituents: np.ndarray, jet: np.ndarray, *,
                labels: dict[str, np.ndarray], parton: np.ndarray, extra: dict[str, np.ndarray],
                ip_sigma, substructure: dict[str, np.ndarray]) -> dict:
    """JetClass branches of project jets (``Jets`` arrays, ``PARTON_FIELDS`` truth).

    ``ip_sigma(which, pt)`` gives σ(d0) / σ(dz) in mm, the detector's resolution: JetClass
    files carry the error beside each value, the project's files the smeared value only.
    ``substructure``: the :data:`SUBSTRUCTURE` branches (:func:`substructure_branches`).
    """
    n = np.asarray(n_constituents, dtype=np.int64)
    mask = np.arange(constituents.shape[1])[None, :] < n[:, None]
    flat = constituents[mask].astype(np.float64)  # (sum n, 8), row-major = jet by jet
    pt, eta, phi = flat[:, _C["PT"]], flat[:, _C["Eta"]], flat[:, _C["Phi"]]
    jet_eta = np.repeat(jet[:, _J["eta"]].astype(np.float64), n)
    jet_phi = np.repeat(jet[:, _J["phi"]].astype(np.float64), n)
    charge = flat[:, _C["Charge"]]
    charged = charge != 0
    part = {
        "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
        "energy": flat[:, _C["E"]], "deta": np.sign(jet_eta) * (eta - jet_eta),
        "dphi": wrap_phi(phi - jet_phi),
        "d0val": flat[:, _C["D0"]], "d0err": np.where(charged, ip_sigma("d0", pt), 0.0),
        "dzval": flat[:, _C["DZ"]], "dzerr": np.where(charged, ip_sigma("dz", pt), 0.0),
        "charge": charge,
    }
    part = {k: v.astype(np.float32) for k, v in part.items()}
    flags = particle_flags(flat[:, _C["PID"]], charge)
    part.update({jc: flags[ours].astype(np.int32) for jc, ours in zip(PART_FLAGS, FLAG_NAMES)})
    scalars = {
        "jet_pt": jet[:, _J["pt"]], "jet_eta": jet[:, _J["eta"]], "jet_phi": jet[:, _J["phi"]],
        "jet_energy": jet[:, _J["E"]], "jet_nparticles": n.astype(np.float32),
        **substructure,
        "aux_genpart_pt": parton[:, 1], "aux_genpart_eta": parton[:, 2],
        "aux_genpart_phi": parton[:, 3], "aux_genpart_pid": parton[:, 0],
        "aux_truth_match": np.ones(len(n), dtype=np.float32),
        "jet_mass": jet[:, _J["mass"]], "jet_n2": jet[:, _J["n2"]],
    }
    out = {"part": ak.unflatten(ak.zip(part), n)}
    out.update({k: np.asarray(v, dtype=np.float32) for k, v in scalars.items()})
    out.update(labels)
    out.update({k: np.asarray(v, dtype=EXTRA[k]) for k, v in extra.items()})
    return out


def branch_types(branches: dict) -> dict:
    """``mktree`` types of :func:`to_branches` output: the record ``part`` becomes the jagged
    ``part_*`` branches with one counter ``npart``."""
    return {k: (ak.type(v).content if k == "part" else v.dtype) for k, v in branches.items()}


def flat_jets(arrays: ak.Array, max_particles: int = MAX_CONSTITUENTS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(particles (P, 8) float32 flat jet by jet, n_constituents (m,), jet (m, 7)) of JetClass
    jets: :func:`from_branches` without the padding, for :func:`resim.features.flat_features`.

    PT, η, φ from (px, py, pz); PID from the flags and charge (22, ∓11, ∓13, 211·q, 0 for a
    neutral hadron, as the project's detector labels HCAL neutrals): the features need |PID|
    and charge only. Jets keep their ``max_particles`` highest-pT particles (the files are
    pT-ordered). ``jet_mass`` / ``jet_n2`` when present; else the mass from the jet's
    (pt, η, E) and N2 NaN (JetClass has none; :func:`resim.formats.fill_n2`).
    """
    n_all = ak.to_numpy(ak.num(arrays["part_energy"]))
    n = np.minimum(n_all, max_particles)
    # one numpy mask over the flat content (masking each jagged branch in awkward is slower)
    keep = None if n_all.max(initial=0) <= max_particles else \
        np.arange(n_all.sum()) - np.repeat(np.cumsum(n_all) - n_all, n_all) < max_particles

    def flat(name):
        values = ak.to_numpy(ak.flatten(arrays[name]))
        return values if keep is None else values[keep]

    # float32 throughout, the branches' and the particles' precision (float64 math would
    # round to the same particles within an ulp, at twice the cost)
    px, py, pz = (flat(f"part_{k}") for k in ("px", "py", "pz"))
    charge = flat("part_charge")
    pt = np.hypot(px, py)
    # the first flag that is set wins: photon, electron, muon, else a (charged) hadron
    pid = 211 * charge
    for flag, code in (("isMuon", -13 * charge), ("isElectron", -11 * charge),
                       ("isPhoton", 22)):
        pid = np.where(flat(f"part_{flag}") != 0, code, pid)
    fields = {"PT": pt, "Eta": np.arcsinh(pz / np.where(pt > 0, pt, 1.0)),
              "Phi": np.arctan2(py, px), "E": flat("part_energy"), "Charge": charge, "PID": pid,
              "D0": flat("part_d0val"), "DZ": flat("part_dzval")}
    particles = np.empty((len(pt), len(CONSTITUENT_FIELDS)), dtype=np.float32)
    for i, k in enumerate(CONSTITUENT_FIELDS):
        particles[:, i] = fields[k]

    def scalar(name):
        return ak.to_numpy(arrays[name]).astype(np.float64) if name in arrays.fields else None

    jet = jet_table(scalar("jet_pt"), scalar("jet_eta"), scalar("jet_phi"), scalar("jet_energy"),
                    n_all, mass=scalar("jet_mass"), n2=scalar("jet_n2"))
    return particles, n.astype(np.int16), jet


def from_branches(arrays: ak.Array, max_particles: int = MAX_CONSTITUENTS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(constituents (m, max_particles, 8), n_constituents (m,), jet (m, 7)) of JetClass jets,
    the project's padded arrays (see :func:`flat_jets`)."""
    particles, n, jet = flat_jets(arrays, max_particles)
    constituents = np.zeros((len(n), max_particles, len(CONSTITUENT_FIELDS)), dtype=np.float32)
    constituents[np.arange(max_particles)[None, :] < n[:, None]] = particles
    return constituents, n, jet


def label_columns(arrays: ak.Array, names: list[str]) -> np.ndarray:
    """(m, len(names)) float32 of label branches, whatever type each has (float, bool, int)."""
    return np.stack([ak.to_numpy(arrays[k]).astype(np.float32) for k in names], axis=-1) \
        if names else np.zeros((len(arrays), 0), dtype=np.float32)


def describe(path) -> str:
    """A human summary of a JetClass file (``resim inspect``): jets, classes, branches."""
    import uproot

    from ..errors import DatasetError

    try:
        f = uproot.open(path)
        tree = f[TREE]
        branches = list(tree.keys())
    except Exception as err:  # uproot raises many kinds for what is not a JetClass file
        raise DatasetError(f"{path}: not a readable JetClass file (TTree {TREE!r}): "
                           f"{err}") from None
    labels = [k for k in LABELS if k in branches]
    counts = label_columns(tree.arrays(labels), labels).sum(0) if labels else []
    lines = [f"{path}: JetClass TTree {TREE!r}, {tree.num_entries} jets",
             "  classes: " + (", ".join(f"{k}={int(c)}" for k, c in zip(labels, counts) if c)
                              or "none"),
             f"  resim export: {'yes' if 'aux_jet_id' in branches else 'no'} "
             f"(aux_jet_id pairs the views' files row by row)",
             "  branches: " + ", ".join(f"{k} {tree[k].typename}" for k in branches)]
    return "\n".join(lines)
