"""The contracts between stages: what travels from one room of the chain to the next.

Every stage imports this module and none of them owns it, so data flows one way (hard ->
forks/showers -> detector -> jets -> dataset -> train) with no stage importing another's
internals for a data type. DESIGN.md, "Contracts between stages", says what each carries.

- LHE file -> views: :class:`LHEBatch` (hard events as read, ``event_id``, truth objects).
- a view's generator -> its children and the detector: :class:`Branch` (final-state particles
  ``PARTICLE_FIELDS``, failures, the parton-level events a ``shower`` fork needs).
- views -> detector: :class:`ViewBatch`.
- detector -> jets: particle-flow candidates with ``CANDIDATE_FIELDS`` (Delphes'
  ParticleFlowCandidate).
- jets -> dataset -> training: the jet arrays ``CONSTITUENT_FIELDS``, ``JET_FIELDS``,
  ``PARTON_FIELDS`` and the label codes ``LABELS`` (the HDF5 layout: ``resim.dataset.schema``).

All jagged arrays are awkward arrays of records, one list per event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import awkward as ak
import numpy as np


#: Final-state particle fields. Momenta and energy in GeV, production vertex in mm.
PARTICLE_FIELDS = ("px", "py", "pz", "E", "pid", "charge", "vx", "vy", "vz")

#: Truth objects a jet can be matched to, taken from the LHE record: outgoing QCD partons,
#: resonances (H, W, Z) with their decay products, taus. GeV.
#:  - ``daughters``: list of records {pid, px, py, pz, E} (the resonance's decay products;
#:    empty for partons and taus);
#:  - ``first_split``: for a gluon, |pid| of the products of its first shower (or ME) splitting
#:    (1-3 light quarks, 4 charm, 5 bottom, 21 g->gg); 0 when unknown or not a gluon.
TRUTH_FIELDS = ("pid", "px", "py", "pz", "E", "daughters", "first_split")

#: Particle-flow candidate fields, exactly Delphes' ParticleFlowCandidate
#: (PT, E in GeV; D0, DZ in mm; PID 22 for ECAL neutrals, 0 for HCAL neutrals).
CANDIDATE_FIELDS = ("PT", "Eta", "Phi", "E", "Charge", "PID", "D0", "DZ")

#: Truth carried by candidates beside them (Delphes' ParticleFlowCandidate has it too, since
#: 3.5): IsPU, 1 for a track of a pile-up particle or a tower whose true energy is mostly from
#: pile-up. Stored with the constituents (``pileup``), never a training feature.
CANDIDATE_TRUTH_FIELDS = ("IsPU",)


def make_event_id(shard: int, index: np.ndarray | int) -> np.ndarray:
    """Unique within a sample: the shard in the high 32 bits, the event's index in the low."""
    return (np.int64(shard) << np.int64(32)) | np.asarray(index, dtype=np.int64)


@dataclass
class ViewBatch:
    """One view of a batch of hard events, ready for a detector."""

    sample: str
    shard: int
    view: str
    event_id: np.ndarray  # (n,) int64
    particles: ak.Array  # n x var x PARTICLE_FIELDS
    truth: ak.Array  # n x var x TRUTH_FIELDS
    info: dict = field(default_factory=dict)  # generator settings, versions, failure counts

    def __post_init__(self) -> None:
        n = len(self.event_id)
        if len(self.particles) != n or len(self.truth) != n:
            raise ValueError(
                f"view {self.view!r}: {n} event ids but {len(self.particles)} particle lists "
                f"and {len(self.truth)} truth lists")
        missing = set(PARTICLE_FIELDS) - set(ak.fields(self.particles))
        if missing:
            raise ValueError(f"view {self.view!r}: particles lack fields {sorted(missing)}")

    def __len__(self) -> int:
        return len(self.event_id)


@dataclass
class LHEBatch:
    """A batch of hard events as read from the LHE file: every view of a group gets these."""

    events: list  # resim.lhe.LHEEvent, in file order
    event_id: np.ndarray  # (n,) int64
    truth: ak.Array  # n x var x TRUTH_FIELDS (first_split 0)

    def __len__(self) -> int:
        return len(self.events)

    def take(self, positions: np.ndarray) -> LHEBatch:
        """The events at ``positions`` (increasing) of this batch."""
        positions = np.asarray(positions, dtype=np.int64)
        return LHEBatch([self.events[i] for i in positions], self.event_id[positions],
                        self.truth[positions])


@dataclass
class Branch:
    """One view's result for a batch of events.

    ``particles``: n x var x PARTICLE_FIELDS; ``failed``: (n,) bool; ``first_split``: n x var
    int32 aligned with the batch's truth objects (None: unknown, all 0); ``partons``: the
    backend's saved parton-level events (None unless a descendant needs them).
    """

    particles: ak.Array
    failed: np.ndarray
    first_split: ak.Array | None = None
    partons: list | None = None
    info: dict = field(default_factory=dict)

    def take(self, positions: np.ndarray) -> Branch:
        """The branch of the events at ``positions`` (increasing) of its batch."""
        positions = np.asarray(positions, dtype=np.int64)
        return Branch(self.particles[positions], self.failed[positions],
                      None if self.first_split is None else self.first_split[positions],
                      None if self.partons is None else self.partons.take(positions),
                      dict(self.info))


# --- jets -> dataset -> training ------------------------------------------------------------

MAX_CONSTITUENTS = 100

#: Constituent fields, the Delphes ParticleFlowCandidate ones (GeV, mm).
CONSTITUENT_FIELDS = ("PT", "Eta", "Phi", "E", "Charge", "PID", "D0", "DZ")

#: Per-jet fields (GeV).
JET_FIELDS = ("pt", "eta", "phi", "mass", "E", "n_constituents", "n2")

#: Matched truth object, per pair.
PARTON_FIELDS = ("pid", "pt", "eta", "phi", "mass")

#: Label codes; the file stores the list as the attribute ``label_names``.
LABELS = ("q", "g", "g_bb", "g_cc", "g_qq", "H_bb", "W_qq", "Z_qq", "tau", "dark")
LABEL_CODE = {name: code for code, name in enumerate(LABELS)}
