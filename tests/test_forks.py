"""Views of hard events: the fork registry, the view order, per-event streams, and the physics
of each fork point."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from fixtures_engine import engine_config, hard_files  # noqa: F401 (fixture)

from resim.errors import ConfigError, LHEError
from resim.contracts import PARTICLE_FIELDS
from resim.forks import Branch, ViewChain, run_views, view_order
from resim.showers.registry import SHOWERS, register_shower
from resim.seeds import SeedManifest


def collect(config, lhe, views, sample="qcd", batch_size=15, **kw):
    """{view: (particles, truth, event_id, [info...])} over the whole file."""
    out: dict[str, list] = {}
    for views in run_views(config, sample, 0, lhe, views, batch_size=batch_size, **kw):
        for view, batch in views.items():
            out.setdefault(view, []).append(batch)
    return {v: (ak.concatenate([b.particles for b in bs]), ak.concatenate([b.truth for b in bs]),
                np.concatenate([b.event_id for b in bs]), [b.info for b in bs])
            for v, bs in out.items()}


@pytest.fixture(scope="module")
def nominal_group(hard_files):
    return collect(engine_config(), hard_files["qcd"], ["rehad_b", "redetect"])


def test_view_order():
    assert view_order(engine_config()) == ["nominal", "seed", "fsr_up", "fsr_down", "vincia",
                                           "rehad_a", "rehad_b", "redetect"]
    # config order, each fork moved after its parent
    views = {"r": {"fork": "shower", "parent": "nominal"}, "nominal": {"fork": "hard"},
             "d": {"fork": "hadron", "parent": "r"}}
    assert view_order(engine_config(views=views)) == ["nominal", "r", "d"]
    order = ["nominal", "rehad_a", "redetect", "vincia", "rehad_b", "seed", "fsr_down", "fsr_up"]
    assert view_order(engine_config(dataset={"view_order": order})) == order


@pytest.mark.parametrize("order, words", [
    (["nominal", "seed", "fsr_up", "fsr_down", "vincia", "rehad_a", "rehad_b", "redetct"],
     "dataset.view_order: unknown view 'redetct'"),
    (["nominal", "seed", "fsr_up", "fsr_down", "vincia", "rehad_a", "rehad_b"],
     "dataset.view_order: leaves out view.s. redetect"),
    (["nominal", "seed", "fsr_up", "fsr_down", "vincia", "redetect", "rehad_a", "rehad_b"],
     "dataset.view_order: 'redetect' comes before its parent 'rehad_a'"),
    (["seed", "nominal", "fsr_up", "fsr_down", "vincia", "rehad_a", "rehad_b", "redetect"],
     "dataset.view_order: must start with nominal"),
    (["nominal", "seed", "seed", "fsr_up", "fsr_down", "vincia", "rehad_a", "rehad_b", "redetect"],
     "dataset.view_order: view 'seed' is named more than once"),
])
def test_bad_view_order_names_the_key(order, words):
    with pytest.raises(ConfigError, match=words):
        view_order(engine_config(dataset={"view_order": order}))


def test_same_event_same_result_whatever_the_batching(hard_files, nominal_group):
    """Per-event streams: batches of 1, 7 and 100 (the whole 40-event shard in one), and the
    shard run in two halves, give the same arrays event by event."""
    config, lhe = engine_config(), hard_files["qcd"]
    views = ["rehad_b", "redetect"]
    runs = [collect(config, lhe, views, batch_size=size) for size in (1, 7, 100)]
    halves = [collect(config, lhe, views, batch_size=15, events=part)
              for part in (range(0, 17), range(17, 40))]
    runs.append({v: tuple(ak.concatenate([h[v][k] for h in halves]) if k < 2 else
                          np.concatenate([h[v][k] for h in halves]) for k in range(3))
                 for v in halves[0]})
    for again in runs:
        for view, (particles, truth, ids, _) in nominal_group.items():
            assert ak.array_equal(particles, again[view][0]), view
            assert ak.array_equal(truth, again[view][1]) and np.array_equal(ids, again[view][2])


def test_a_view_run_on_some_events_gives_them_unchanged(hard_files, nominal_group):
    """What the cascade relies on: a view given a subset of the events (skipping the others in
    the LHE file) produces exactly its full-run result for them."""
    positions = np.array([0, 1, 5, 22, 39])
    with ViewChain(engine_config(), "qcd", 0, hard_files["qcd"], views=["redetect", "rehad_b"]
                   ) as chain:
        batch = next(chain.batches(40))
        sub = batch.take(positions)
        branches = {}
        for view in chain.order:
            parent = chain.specs[view].get("parent")
            branches[view] = chain.run(view, sub, branches.get(parent))
            assert ak.array_equal(branches[view].particles,
                                  nominal_group[view][0][positions]), view


def test_views_differ_but_share_the_event(hard_files, nominal_group):
    seed = collect(engine_config(), hard_files["qcd"], "seed")["seed"]
    nominal = nominal_group["nominal"]
    assert np.array_equal(seed[2], nominal[2])
    assert ak.array_equal(seed[1].pid, nominal[1].pid) and ak.array_equal(seed[1].px, nominal[1].px)
    assert not ak.array_equal(ak.num(seed[0]), ak.num(nominal[0]))
    # every view conserves the beams' four-momentum (13 TeV at rest)
    for particles in (seed[0], nominal[0], nominal_group["rehad_b"][0]):
        total = {k: ak.to_numpy(ak.sum(particles[k], axis=1)) for k in ("px", "py", "pz", "E")}
        assert np.allclose(total["E"], 13000.0, rtol=1e-6)
        assert np.allclose(np.stack([total[k] for k in ("px", "py", "pz")]), 0.0, atol=1e-3)


def test_event_ids_and_fields(nominal_group):
    particles, truth, ids, infos = nominal_group["nominal"]
    assert ids.tolist() == list(range(40))  # shard 0: event index
    assert set(PARTICLE_FIELDS) <= set(ak.fields(particles))
    charged = ak.flatten(particles.charge[abs(particles.pid) == 211])
    assert set(np.unique(ak.to_numpy(charged))) == {-1.0, 1.0}
    assert infos[0]["seeds"]["shower"] > 0 and infos[0]["fork"] == "hard"
    assert sum(i["failed"] for i in infos) == 0
    # the gluons' first splitting is found in the shower history: g -> gg mostly, some g -> qq
    gluons = ak.flatten(truth.first_split[truth.pid == 21])
    assert len(gluons) > 0 and np.mean(ak.to_numpy(gluons) == 21) > 0.5
    assert set(np.unique(ak.to_numpy(gluons))) <= {0, 1, 2, 3, 4, 5, 21}
    assert ak.all(truth.first_split[truth.pid != 21] == 0)


def test_shower_fork_shares_partons_and_counts_failures(nominal_group):
    nominal, a, b = nominal_group["nominal"], nominal_group["rehad_a"], nominal_group["rehad_b"]
    # same parton shower: the first splitting read from the (shared) history agrees everywhere
    assert ak.array_equal(a[1], nominal[1]) and ak.array_equal(b[1], nominal[1])
    # new hadronisation: other hadrons
    assert not ak.array_equal(ak.num(a[0]), ak.num(nominal[0]))
    assert not ak.array_equal(ak.num(a[0]), ak.num(b[0]))
    for info in a[3]:
        assert info["hadronise_failed"] == info["failed"] and "hadronise_seed" in info
    assert any("StringZ:aLund = 0.8" == s for s in b[3][0]["settings"])


def test_hadron_fork_keeps_the_particles(nominal_group):
    assert ak.array_equal(nominal_group["redetect"][0], nominal_group["rehad_a"][0])


@pytest.mark.slow
def test_fsr_up_radiates_more_than_fsr_down(tmp_path):
    from resim.hard import generate

    # MPI off: the underlying event adds particles (and noise) that FSR does not touch. The
    # effect is ~4 % of the multiplicity, so it takes ~1000 events to see it at > 3 sigma.
    config = engine_config(run={"seed": 7, "events_per_shard": 1000},
                           shower={"tune": "CP5", "isr": False, "mpi": False})
    lhe = tmp_path / "qcd.lhe.gz"
    generate(config, "qcd", 0, lhe)
    n = {root: ak.to_numpy(ak.num(collect(config, lhe, root, batch_size=250)[root][0]))
         for root in ("fsr_up", "fsr_down")}
    difference = n["fsr_up"] - n["fsr_down"]  # same hard events: a paired comparison
    assert difference.mean() > 3 * difference.std() / np.sqrt(len(difference))


def test_every_fixture_showers(fixture_lhe_files):
    config = engine_config(views={"nominal": {"fork": "hard"},
                                  "rehad": {"fork": "shower", "parent": "nominal"}})
    for path in fixture_lhe_files:
        views = next(run_views(config, "qcd", 0, path, batch_size=6))
        for view, batch in views.items():
            assert len(batch) == 6 and batch.info["failed"] == 0, (path.name, view)
            assert ak.all(ak.num(batch.particles) > 20), (path.name, view)


@pytest.mark.parametrize("views, words", [
    ({"nominal": {"fork": "hardd"}}, "views.nominal.fork: unknown fork point 'hardd'"),
    ({"nominal": {"fork": "hard", "backend": "pythai"}}, "views.nominal.backend: unknown shower backend 'pythai'"),
    ({"nominal": {"fork": "hard"}, "r": {"fork": "shower"}}, "views.r.parent: a 'shower' view needs a parent"),
    ({"nominal": {"fork": "hard"}, "r": {"fork": "shower", "parent": "nomnal"}}, "views.r.parent: unknown view 'nomnal'"),
    ({"nominal": {"fork": "hard", "parent": "x"}, "x": {"fork": "hard"}}, "views.nominal.parent: a 'hard' view"),
    ({"nominal": {"fork": "hard"}, "a": {"fork": "shower", "parent": "b"}, "b": {"fork": "hadron", "parent": "a"}},
     "a, b: their parents form a cycle"),
    ({"nominal": {"fork": "hard", "settings": {"TimeShower:renormMultFactor": 2}}},
     "views.nominal.*(refused the setting|Pythia refuses) 'TimeShower:renormMultFactor = 2'"),
])
def test_config_errors_name_the_key(hard_files, views, words):
    with pytest.raises(Exception, match=words) as error:
        next(run_views(engine_config(views=views), "qcd", 0, hard_files["qcd"], "nominal"))
    assert error.type.__name__ in ("ConfigError", "GeneratorError")


def test_unknown_sample_and_view(hard_files):
    with pytest.raises(ConfigError, match="samples.ttbar: unknown sample"):
        next(run_views(engine_config(), "ttbar", 0, hard_files["qcd"], "nominal"))
    with pytest.raises(ConfigError, match="views.nope: not a view"):
        next(run_views(engine_config(), "qcd", 0, hard_files["qcd"], "nope"))


def test_bad_lhe_stops_the_views(tmp_path, hard_files):
    import gzip

    text = gzip.open(hard_files["qcd"], "rt").read()
    cut = tmp_path / "cut.lhe"
    cut.write_text(text[: text.index("<event>", len(text) // 2) + 200])
    batches = run_views(engine_config(), "qcd", 0, cut, "seed", batch_size=5)
    with pytest.raises(LHEError, match=r"cut.lhe: event \d+ \(line \d+\): truncated"):
        for _ in batches:
            pass


def test_manifest_records_every_seed(hard_files):
    manifest = SeedManifest(4242, "qcd", 0)
    views = {"nominal": {"fork": "hard"}, "rehad_a": {"fork": "shower", "parent": "nominal"},
             "redetect": {"fork": "hadron", "parent": "rehad_a"}}
    next(run_views(engine_config(views=views), "qcd", 0, hard_files["qcd"],
                   manifest=manifest, batch_size=2))
    assert set(manifest.seeds) == {"nominal", "rehad_a"}  # the detector draws redetect's
    assert set(manifest.seeds["nominal"]) == {"shower"}  # it hadronises in its own shower


def test_external_backend_plugs_in(hard_files):
    """A shower backend registered from outside runs through run_views (as Herwig does)."""

    @register_shower("partons_only")
    class PartonsOnly:
        supports_partons = False

        def __init__(self, config, view, spec, manifest, keep_partons=False):
            self.seed = manifest.seed(view, "external")

        def open(self, lhe_path):
            self.opened = lhe_path

        def shower(self, batch):
            rows = [{k: [float(x) for x in e.momenta[e.status == 1, j]] for j, k in
                     enumerate(("px", "py", "pz", "E"))} for e in batch.events]
            particles = ak.zip({**{k: [r[k] for r in rows] for k in ("px", "py", "pz", "E")},
                                **{k: [[0.0] * len(r["px"]) for r in rows] for k in ("charge", "vx", "vy", "vz")},
                                "pid": [e.pid[e.status == 1].tolist() for e in batch.events]})
            return Branch(particles, np.zeros(len(batch), bool), info={"backend": "partons_only"})

        def close(self):
            pass

    try:
        config = engine_config(views={"nominal": {"fork": "hard"}, "ext": {"fork": "hard", "backend": "partons_only"}})
        batch = next(run_views(config, "qcd", 0, hard_files["qcd"], "ext", batch_size=4))["ext"]
        assert batch.info["backend"] == "partons_only" and batch.info["seeds"]["external"] > 0
        assert ak.num(batch.particles).tolist() == [3, 3, 3, 3]  # Z -> nu nu + parton
        bad = engine_config(views={"nominal": {"fork": "hard", "backend": "partons_only"},
                                   "r": {"fork": "shower", "parent": "nominal"}})
        with pytest.raises(ConfigError, match="views.nominal.backend: 'partons_only' cannot hand"):
            next(run_views(bad, "qcd", 0, hard_files["qcd"]))
    finally:
        del SHOWERS.entries["partons_only"]


def test_views_cli(tmp_path, hard_files):
    import h5py
    import yaml

    from resim.cli import main
    from resim.forks.cli import read_array
    from resim.hepmc import read_hepmc3

    views = {"nominal": {"fork": "hard"}, "rehad": {"fork": "shower", "parent": "nominal"}}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(engine_config(views=views)))
    out = tmp_path / "views.h5"
    args = ["views", "--config", str(config), "--sample", "qcd", "--shard", "0", "--lhe",
            str(hard_files["qcd"]), "--view", "rehad", "--batch-size", "3"]
    assert main([*args, "--out", str(out), "--hepmc", str(tmp_path / "hepmc")]) == 0
    with h5py.File(out) as f:
        assert sorted(f) == ["nominal", "rehad"]
        particles = read_array(f["rehad"]["particles"])
        assert len(particles) == 40 and f["rehad"]["event_id"][()].tolist() == list(range(40))
    assert ak.array_equal(read_hepmc3(tmp_path / "hepmc" / "rehad.hepmc3").pid, particles.pid)
    assert (tmp_path / "views.h5.seeds.json").is_file() and (tmp_path / "hepmc" / "seeds.json").is_file()
    assert main([*args, "--view", "nope", "--out", str(tmp_path / "x.h5")]) == 2


def test_every_shipped_view_radiates(repo_root, hard_files):
    """Each re-shower view of config.yaml gives the recoiling parton a jet of comparable size.
    Vincia with ISR off, for one, leaves it nearly bare: 10 charged particles near the parton,
    UE included, against 17 for the nominal view."""
    import vector
    import yaml

    from resim.config import validate

    shipped = validate(yaml.safe_load((repo_root / "config.yaml").read_text()))
    config = engine_config(views=shipped["views"], shower=shipped["shower"])
    jet_size = {}
    for root, spec in shipped["views"].items():
        if spec["fork"] != "hard":
            continue
        batch = next(run_views(config, "qcd", 0, hard_files["qcd"], root, batch_size=40))[root]
        parton = batch.truth[abs(batch.truth.pid) != 23][:, 0]
        p = batch.particles
        axis = vector.zip({k: parton[k] for k in ("px", "py", "pz", "E")})
        near = vector.zip({k: p[k] for k in ("px", "py", "pz", "E")}).deltaR(axis) < 0.8
        jet_size[root] = float(ak.mean(ak.sum(near & (p.charge != 0), axis=1)))
    assert min(jet_size.values()) > 0.75 * max(jet_size.values()), jet_size
