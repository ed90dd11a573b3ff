"""Small Pythia samples as ViewBatches for the dataset tests (independent of the engine).

Pythia runs the full chain with ``nextBatch``; truth objects are read off the hard-process
entries of the event record (|status| 22 resonances with their |status| 23 decay products,
other |status| 23 outgoing partons), as the LHE record would give them. ``first_split`` is
unknown here (0).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import awkward as ak
import numpy as np

from resim.contracts import ViewBatch, make_event_id

PROCESSES = {
    # pp -> HZ, H -> bb, Z -> nunu
    "hz": ["HiggsSM:ffbar2HZ = on", "25:onMode = off", "25:onIfAny = 5",
           "23:onMode = off", "23:onIfAny = 12 14 16"],
    # pp -> Z(nunu) + jet
    "zj": ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
           "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16"],
    # pp -> W(qq) + jet
    "wj": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
           "24:onMode = off", "24:onIfAny = 1 2 3 4"],
}


def _truth(prt: ak.Array) -> list[list[dict]]:
    ids, status = ak.to_list(prt.id), ak.to_list(prt.status)
    mothers = ak.to_list(prt.mother1)
    mom = {k: ak.to_list(getattr(prt.p, k)) for k in ("px", "py", "pz", "e")}
    events = []
    for ev in range(len(ids)):
        def record(i):
            return {"pid": ids[ev][i], "px": mom["px"][ev][i], "py": mom["py"][ev][i],
                    "pz": mom["pz"][ev][i], "E": mom["e"][ev][i]}
        hard = [i for i, s in enumerate(status[ev]) if abs(s) in (22, 23)]
        resonances = {i for i in hard if abs(status[ev][i]) == 22}

        def resonance_of(i):  # walk up the recoil copies of the mother to the hard entry
            m = mothers[ev][i]
            while m > 0 and m not in resonances and abs(status[ev][m]) != 21:
                m = mothers[ev][m]
            return m if m in resonances else None

        parent = {i: resonance_of(i) for i in hard if abs(status[ev][i]) == 23}
        objects = []
        for i in hard:
            if parent.get(i) is not None:
                continue
            obj = record(i)
            obj["daughters"] = [record(j) for j, r in parent.items() if r == i]
            obj["first_split"] = 0
            objects.append(obj)
        events.append(objects)
    return events


def _pythia(lines: list[str]):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in ["Print:quiet = on", "Random:setSeed = on", *lines]:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia refused {line!r}")
    return pythia


def _init(pythia) -> None:
    if not pythia.init():
        raise RuntimeError("Pythia init failed")


@functools.lru_cache(maxsize=4)
def hard_events(process: str, n_events: int, seed: int = 1, pt_min: float = 400.0,
                pt_max: float = 600.0) -> str:
    """A plain-text LHE file of ``n_events`` hard-process events (resonance decays included)."""
    import pythia8mc

    workdir = tempfile.mkdtemp(prefix="resim-test-lhe-")
    atexit.register(shutil.rmtree, workdir, True)
    path = Path(workdir) / f"{process}.lhe"
    pythia = _pythia(["Beams:eCM = 13000", "PartonLevel:all = off", "HadronLevel:all = off",
                      f"PhaseSpace:pTHatMin = {pt_min}", f"PhaseSpace:pTHatMax = {pt_max}",
                      f"Random:seed = {seed}", *PROCESSES[process]])
    _init(pythia)
    writer = pythia8mc.LHEF3FromPythia8(pythia, 10, True)
    writer.setEventPtr(pythia.process)
    writer.openLHEF(str(path))
    writer.setInit()
    accepted = 0
    while accepted < n_events:
        if pythia.next():
            writer.setEvent()
            accepted += 1
    writer.closeLHEF(True)
    return str(path)


def _to_view(pythia, batch, process: str, view: str) -> ViewBatch:
    prt = batch.prt
    final = prt[prt.status > 0]
    pids = np.unique(ak.to_numpy(ak.flatten(final.id)))
    charges = np.array([pythia.particleData.charge(int(p)) for p in pids])
    flat_id = ak.to_numpy(ak.flatten(final.id))
    charge = charges[np.searchsorted(pids, flat_id)]
    particles = ak.zip({
        "px": final.p.px, "py": final.p.py, "pz": final.p.pz, "E": final.p.e, "pid": final.id,
        "charge": ak.unflatten(charge, ak.num(final)),
        "vx": ak.fill_none(final.vProd.px, 0.0), "vy": ak.fill_none(final.vProd.py, 0.0),
        "vz": ak.fill_none(final.vProd.pz, 0.0)}, depth_limit=2)
    return ViewBatch(sample=process, shard=0, view=view,
                     event_id=make_event_id(0, np.arange(len(prt))),
                     particles=particles, truth=ak.Array(_truth(prt)))


# as the views' shared settings (resim.showers.pythia.view_settings): K0S and Lambda reach the
# detector, as in CMS and Delphes productions
SHOWER = ["PartonLevel:ISR = off", "ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10"]


@functools.lru_cache(maxsize=16)
def pythia_batch(process: str, n_events: int, seed: int = 1, view: str = "nominal",
                 settings: tuple[str, ...] = (), hard_seed: int = 1) -> ViewBatch:
    """One view of ``n_events`` events of ``process`` (see PROCESSES): the same hard events
    (an LHE file, ``hard_seed``) showered and hadronised with Pythia ``seed`` and ``settings``,
    so views of the same hard_seed share event_id and truth like the engine's hard fork."""
    lhe = hard_events(process, n_events, hard_seed)
    pythia = _pythia(["Beams:frameType = 4", f"Beams:LHEF = {lhe}", f"Random:seed = {seed}",
                      *SHOWER, *settings])
    _init(pythia)
    batch = pythia.nextBatch(n_events)
    if len(batch) != n_events:
        raise RuntimeError(f"Pythia gave {len(batch)} of {n_events} events")
    return _to_view(pythia, batch, process, view)
