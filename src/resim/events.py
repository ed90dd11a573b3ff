"""The arrays that travel between stages (see DESIGN.md, "Contracts between stages").

shower -> detector: a :class:`ViewBatch` per (sample, shard, view): final-state particles,
the event's truth objects from the LHE record, and ``event_id``.
detector -> jets: particle-flow candidates with the fields of Delphes' ParticleFlowCandidate.

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
