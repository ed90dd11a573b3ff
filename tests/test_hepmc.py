"""HepMC3 export (Delphes-readable vertices) and import back to particle arrays."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pyhepmc
import pytest
from fixtures_engine import engine_config, hard_files  # noqa: F401 (fixture)

from resim.errors import ResimError
from resim.contracts import PARTICLE_FIELDS
from resim.forks import run_views
from resim.hepmc import HepMC3Writer, event_record, read_hepmc3, write_hepmc3


@pytest.fixture(scope="module")
def batch(hard_files):
    config = engine_config(views={"nominal": {"fork": "hard"}})
    return next(run_views(config, "qcd", 0, hard_files["qcd"], "nominal", batch_size=5))["nominal"]


def test_round_trip_is_exact(tmp_path, batch):
    write_hepmc3(batch, tmp_path / "v.hepmc3")
    back = read_hepmc3(tmp_path / "v.hepmc3")
    for field in PARTICLE_FIELDS:
        assert ak.array_equal(back[field], batch.particles[field]), field


def test_record_is_a_valid_tree_with_displaced_vertices(batch):
    columns = {k: ak.to_numpy(batch.particles[k][0]) for k in PARTICLE_FIELDS}
    event = event_record(0, columns)
    beams = [p for p in event.particles if p.status == 4]
    assert [p.pid for p in beams] == [2212, 2212]
    primary = beams[0].end_vertex
    assert primary is beams[1].end_vertex and primary.position.x == 0.0
    displaced = [v for v in event.vertices if v is not primary]
    assert displaced, "K0S, Lambda and heavy-flavour decays leave displaced vertices"
    for vertex in displaced:
        (mother,) = vertex.particles_in
        assert mother.status == 2 and mother.production_vertex is primary
        total = np.sum([[p.momentum.px, p.momentum.py, p.momentum.pz, p.momentum.e]
                        for p in vertex.particles_out], axis=0)
        assert np.allclose(total, [mother.momentum.px, mother.momentum.py, mother.momentum.pz,
                                   mother.momentum.e])
        for p in vertex.particles_out:
            assert p.status == 1
    # every final particle is in the record once
    assert sum(p.status == 1 for p in event.particles) == len(columns["px"])


def test_writer_streams_batches_and_publishes_only_on_success(tmp_path, batch):
    with HepMC3Writer(tmp_path / "two.hepmc3") as writer:
        writer.write(batch)
        writer.write(batch)
    assert len(read_hepmc3(tmp_path / "two.hepmc3")) == 2 * len(batch)
    with pytest.raises(RuntimeError):
        with HepMC3Writer(tmp_path / "failed.hepmc3") as writer:
            writer.write(batch)
            raise RuntimeError("shower failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.hepmc3"]


def test_reads_other_units_and_event_attributes(tmp_path):
    event = pyhepmc.GenEvent(pyhepmc.Units.MEV, pyhepmc.Units.CM)
    vertex = pyhepmc.GenVertex((0.1, 0.2, 0.3, 0.0))
    vertex.add_particle_in(pyhepmc.GenParticle((0, 0, 1000.0, 1000.0), 2212, 4))
    vertex.add_particle_out(pyhepmc.GenParticle((1000.0, 0.0, 0.0, 1000.0), 22, 1))
    event.add_vertex(vertex)
    with pyhepmc.open(tmp_path / "mev.hepmc3", "w") as out:
        out.write(event)
    (particle,) = ak.to_list(read_hepmc3(tmp_path / "mev.hepmc3")[0])
    assert particle["px"] == pytest.approx(1.0) and particle["vx"] == pytest.approx(1.0)
    assert particle["vz"] == pytest.approx(3.0) and particle["pid"] == 22 and particle["charge"] == 0


def test_missing_file(tmp_path):
    with pytest.raises(ResimError, match="does not exist"):
        read_hepmc3(tmp_path / "none.hepmc3")
