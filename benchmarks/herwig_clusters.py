#!/usr/bin/env python3
"""Where a Herwig event's particles come from: the beam-remnant clusters, with ISR and MPI on/off.

Herwig 7 re-showers the same LHE events (QCD, Z + jet) through resim's own ``.in`` file, four
times (ISR off/on × MPI off/on); the HepMC record is read back with pyhepmc and each final-state
particle traced to its cluster (PDG 81), each primary cluster (made from partons, not by another
cluster's fission) to whether a beam remnant (PDG 82) is among its ancestors. Printed per event:
final-state particles, those from remnant clusters (all and at |eta| > 2.5), and the remnant
clusters' number and masses (median, 90th percentile, largest). docs/backends.md has the reading:
with ISR off the remnants make clusters of up to TeV mass whose fission fills the event.

  python benchmarks/herwig_clusters.py [--events 40]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLUSTER, REMNANT = 81, 82


def ancestors(particle):
    """``particle``'s ancestors, each once, nearest first (breadth first)."""
    queue, seen = deque(particle.parents), set()
    while queue:
        p = queue.popleft()
        if p.id not in seen:
            seen.add(p.id)
            yield p
            queue.extend(p.parents)


def has_ancestor(particle, pid: int) -> bool:
    """Whether a particle of ``pid`` is among ``particle``'s ancestors."""
    return any(p.pid == pid for p in ancestors(particle))


def first_cluster(particle):
    """The nearest cluster among ``particle``'s ancestors (None for a particle made without one)."""
    return next((p for p in ancestors(particle) if p.pid == CLUSTER), None)


def primary(cluster):
    """The cluster a (possibly fissioned) cluster descends from: the first one made of partons."""
    while any(p.pid == CLUSTER for p in cluster.parents):
        cluster = next(p for p in cluster.parents if p.pid == CLUSTER)
    return cluster


def event_origins(hepmc: Path) -> dict:
    """Per-event means of the quantities the module docstring lists, from one HepMC file."""
    import pyhepmc

    particles, from_remnant, forward_remnant, masses, events = 0, 0, 0, [], 0
    with pyhepmc.open(hepmc) as f:
        for event in f:
            events += 1
            remnant = {}  # primary cluster id -> made with a beam remnant
            for c in event.particles:
                if c.pid == CLUSTER and not any(p.pid == CLUSTER for p in c.parents):
                    remnant[c.id] = has_ancestor(c, REMNANT)
                    if remnant[c.id]:
                        masses.append(c.generated_mass if c.generated_mass > 0 else c.momentum.m())
            for p in event.particles:
                if p.status != 1:
                    continue
                particles += 1
                cluster = first_cluster(p)
                if cluster is not None and remnant.get(primary(cluster).id):
                    from_remnant += 1
                    pt = np.hypot(p.momentum.px, p.momentum.py)
                    forward_remnant += bool(pt == 0 or abs(np.arcsinh(p.momentum.pz / pt)) > 2.5)
    m = np.asarray(masses) if masses else np.zeros(1)
    return {"particles": particles / events, "from remnant clusters": from_remnant / events,
            "  of those at |eta| > 2.5": forward_remnant / events,
            "remnant clusters": len(masses) / events, "  mass median [GeV]": float(np.median(m)),
            "  mass 90th percentile [GeV]": float(np.percentile(m, 90)),
            "  largest [GeV]": float(m.max())}


def measure(executable: str | Path, events: int) -> dict[str, dict]:
    """The four columns (ISR × MPI) of :func:`event_origins`, on the same ``events`` QCD events."""
    sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]
    from compare_herwig import PYTHIA_PDF, herwig_config
    from resim.hard import generate
    from resim.showers.herwig import (herwig_commands, herwig_input, herwig_settings,
                                      number_lhe_events)

    columns = {}
    with tempfile.TemporaryDirectory(prefix="herwig-clusters-") as tmp:
        work = Path(tmp)
        generate(herwig_config(events, PYTHIA_PDF), "qcd", 0, work / "qcd.lhe.gz")
        number_lhe_events(work / "qcd.lhe.gz", work / "qcd.lhe")
        for isr in (False, True):
            for mpi in (False, True):
                run = f"isr{int(isr)}mpi{int(mpi)}"
                settings = herwig_settings("herwig", {"isr": isr, "mpi": mpi}, {"pdf": PYTHIA_PDF})
                (work / f"{run}.in").write_text(herwig_input(work / "qcd.lhe", work / f"{run}.hepmc",
                                                             run, events, 7, settings))
                for command in herwig_commands(executable, f"{run}.in", run, events, 7):
                    subprocess.run(command, cwd=work, check=True, capture_output=True)
                columns[f"ISR {'on' if isr else 'off'}, MPI {'on' if mpi else 'off'}"] = \
                    event_origins(work / f"{run}.hepmc")
    return columns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40, help="QCD hard events")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from resim.backends import HERWIG

    executable = HERWIG.locate()
    if executable is None:
        print(f"herwig_clusters: skipped, Herwig not found ({HERWIG.missing_message('this check')})")
        return 0
    columns = measure(executable, args.events)
    print(f"Herwig ({executable}), {args.events} QCD (Z + jet) LHE events; per event:")
    print(f"{'':32}" + "".join(f"{name:>18}" for name in columns))
    for key in next(iter(columns.values())):
        print(f"{key:32}" + "".join(f"{col[key]:18.1f}" for col in columns.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
