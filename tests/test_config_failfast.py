"""Fail fast: what a config gets wrong that no job needs to run to see stops validation (every
command, and ``snakemake -n`` at parse time), naming the key that holds it."""

from __future__ import annotations

import copy

import pytest
import yaml

from resim.backends import check
from resim.cli import main
from resim.config import load_config, validate
from resim.errors import ConfigError
from test_workflow_snakemake import snakemake
from train.anomaly import checks  # noqa: F401 (registers the anomaly section's checks)

#: (where the mistake is written, the mistake, what the error must say, starting with the key).
SAMPLE_CASES = [
    ("samples.qcd.process", "zjets",
     "samples.qcd.process: unknown process 'zjets' for the embedded backend (known: "),
    ("samples.mg", {"process": "zjets", "backend": "madgraph"},
     "samples.mg.process: 'zjets' has no MadGraph definition"),
    ("samples.w", {"process": "wz_qq_nunu", "backend": "pythi"},
     "samples.w.backend: unknown hard-scatter backend 'pythi' (known: embedded, madgraph)"),
    ("samples.higgs.pt_range", [600.0, 400.0],
     "samples.higgs.pt_range: [600.0, 400.0] selects nothing"),
    ("samples.z", {"process": "zjet_nunu", "pt_range": [500.0, 500.0]},
     "samples.z.pt_range: [500.0, 500.0] selects nothing"),
    ("samples.higgs.yields", {"qq": 1.0}, "samples.higgs.yields: unknown channels ['qq']"),
    ("samples.qcd.settings", ["PhaseSpace:pTHatMinn = 5"],
     "samples.qcd.settings: Pythia refused the setting 'PhaseSpace:pTHatMinn = 5'"),
]
VIEW_CASES = [
    ("views.seed", {"fork": "hard", "backend": "herwg"},
     "views.seed.backend: unknown shower backend 'herwg' (known: herwig, pythia)"),
    ("shower.settings", {"TimeShower:renormMultFactor": 2},
     "shower.settings: Pythia refused the setting 'TimeShower:renormMultFactor = 2'"),
    ("views.nominal.settings", {"TimeShower:renormMultFac": 1.0e9},  # Pythia's range: 0.1-10
     "views.nominal.settings: Pythia refused the setting "
     "'TimeShower:renormMultFac = 1000000000.0'"),
    ("views.rehad.settings", ["StringZ:aLund = 0.5", "StringZ:aLundd = 0.5"],
     "views.rehad.settings: Pythia refused the setting 'StringZ:aLundd = 0.5'"),
]


@pytest.fixture(scope="module")
def tiny(repo_root) -> dict:
    return yaml.safe_load((repo_root / "config" / "tiny.yaml").read_text())


def with_changes(config: dict, changes) -> dict:
    """A copy of ``config`` with each dotted key set to its value (missing sections created)."""
    config = copy.deepcopy(config)
    for key, value, _ in changes:
        *parents, last = key.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = copy.deepcopy(value)
    return config


@pytest.mark.parametrize("case", SAMPLE_CASES + VIEW_CASES, ids=lambda case: case[0])
def test_each_mistake_is_one_line_naming_its_key(tiny, case):
    with pytest.raises(ConfigError) as error:
        validate(with_changes(tiny, [case]), source="my.yaml")
    assert str(error.value).startswith(f"my.yaml is not valid: {case[2]}")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("cases", [SAMPLE_CASES, VIEW_CASES], ids=["samples", "shower and views"])
def test_dry_run_fails_naming_every_key(repo_root, tmp_path, tiny, cases):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(with_changes(tiny, cases)))
    result = snakemake(repo_root, tmp_path, str(config), "-n")
    assert result.returncode != 0
    for _, _, words in cases:
        assert words in result.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("key, value", [
    ("samples.qcd.pt_range", [400.0, None]),                       # no upper bound
    ("samples.mg", {"process": "my_own", "backend": "madgraph",     # MadGraph lines given
                    "madgraph": {"process": "generate p p > z j"}}),
    ("views.hw", {"fork": "hard", "backend": "herwig",              # Herwig's, not Pythia's
                  "settings": {"/Herwig/Shower/AlphaQCD:AlphaIn": 0.118}}),
    ("views.bs", {"fork": "beamspot", "parent": "nominal",          # a plug-in fork's own
                  "settings": {"sigma_z_mm": 35.0}}),
    ("views.rehad.settings", {"StringZ:aLund": 0.5, "15:offIfAny": [11, 13]}),
])
def test_what_is_right_passes(tiny, key, value):
    validate(with_changes(tiny, [(key, value, None)]))


def test_shipped_configs_pass(repo_root):
    for path in [repo_root / "config.yaml", *sorted((repo_root / "config").glob("*.yaml"))]:
        load_config(path)


def test_all_mistakes_are_listed_together(tiny):
    with pytest.raises(ConfigError) as error:
        validate(with_changes(tiny, VIEW_CASES))
    lines = str(error.value).splitlines()[1:]
    assert len(lines) == len(VIEW_CASES)
    for line, (_, _, words) in zip(lines, VIEW_CASES):
        assert line.strip().startswith(words)


def test_check_backends_names_unknown_backends(tmp_path, tiny, capsys):
    config = with_changes(tiny, [SAMPLE_CASES[2], VIEW_CASES[0]])
    assert check(config) == [SAMPLE_CASES[2][2], VIEW_CASES[0][2]]  # no program selected
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(with_changes(tiny, [VIEW_CASES[0]])))
    assert main(["check-backends", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and VIEW_CASES[0][2] in err


# issue 18, class 5: what else a config can get wrong, stopped at snakemake -n as one line on
# stderr (exit 2), never after the data stage

def _dry_run_error(repo_root, tmp_path, text: str, *targets: str) -> str:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = snakemake(repo_root, tmp_path, str(config), "-n", *targets)
    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert not (tmp_path / "results").exists()
    return lines[0]


MODEL_CASES = [
    ({"network": "dgcnn", "hiden": 64}, "pretrain.model: Additional properties are not allowed "
                                         "('hiden' was unexpected)"),
    ({"network": "transformer", "k": 16}, "pretrain.model: 'k' does not apply here"),
    ({"hidden": 64, "heads": 4}, "pretrain.model: 'heads' does not apply here"),  # dgcnn
]


@pytest.mark.parametrize("model, words", MODEL_CASES)
def test_a_misspelt_network_key_is_named(tiny, model, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        validate(with_changes(tiny, [("pretrain.model", model, None)]))


def test_model_keys_of_the_schema_are_the_networks(tiny):
    """The schema lists every network's keys so that snakemake -n sees a typo without torch;
    they must stay the keys the networks take (train.models.BACKBONES)."""
    from resim.config import load_schema
    from train.models import BACKBONES

    listed = load_schema()["properties"]["pretrain"]["properties"]["model"]["properties"]
    assert set(listed) == {"network"} | {k for _, d in BACKBONES.values() for k in d}
    for name, (_, defaults) in BACKBONES.items():  # each network's defaults are valid
        validate(with_changes(tiny, [("pretrain.model", {"network": name, **defaults}, None)]))


def test_dry_run_stops_on_a_network_key_of_a_run(repo_root, tmp_path, tiny):
    config = with_changes(tiny, [("pretrain.runs", [{"name": "a"}, {
        "name": "b", "model": {"network": "dgcnn", "hiden": 3}}], None)])
    line = _dry_run_error(repo_root, tmp_path, yaml.safe_dump(config))
    assert line.startswith("snakemake: error: pretrain.runs.b (merged into pretrain) is not "
                           "valid: pretrain.model: Additional properties are not allowed")


def test_a_section_given_twice_is_named_with_its_lines(repo_root, tmp_path, tiny, capsys):
    text = yaml.safe_dump(tiny, sort_keys=False) + "pretrain:\n  epochs: 3\n"
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line == "pretrain:")
    last = len(text.splitlines()) - 1
    words = (f"line {last}, column 1: not valid YAML: key 'pretrain' given twice (lines {first} "
             f"and {last}); the second would silently replace the first")
    line = _dry_run_error(repo_root, tmp_path, text)
    assert line == f"snakemake: error: config file {tmp_path / 'c.yaml'}, {words}"
    assert main(["check-backends", "--config", str(tmp_path / "c.yaml")]) == 2
    assert capsys.readouterr().err == (f"resim check-backends: error: config file "
                                       f"{tmp_path / 'c.yaml'}, {words}\n")


def test_a_pool_shard_outside_the_pool_is_named(repo_root, tmp_path, tiny, capsys):
    line = _dry_run_error(repo_root, tmp_path, yaml.safe_dump(tiny), "results/pileup/pool/3.h5")
    assert line == ("snakemake: error: pileup.pool_shards: pool shard 3 is outside 0..0 "
                    "(results/pileup/pool/3.h5)")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny))
    assert main(["pileup-pool", "--config", str(tmp_path / "c.yaml"), "--shard", "3", "--out",
                 str(tmp_path / "pool.h5")]) == 2
    assert capsys.readouterr().err == ("resim pileup-pool: error: pileup.pool_shards: pool "
                                       "shard 3 is outside 0..0\n")


def test_a_run_of_zero_epochs_is_refused(tmp_path, tiny, capsys):
    from train.cli import main as rs3l

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny))
    with pytest.raises(SystemExit) as stop:  # argparse's usage error: exit 2, one line
        rs3l(["pretrain", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r"),
              "--stop-after", "0", "x.h5"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'0' is not a number of epochs >= 1" in err
    with pytest.raises(ConfigError, match="pretrain.epochs: 0 is less than the minimum of 1"):
        validate(with_changes(tiny, [("pretrain.epochs", 0, None)]))

@pytest.mark.parametrize("changes, words", [
    # the 8-d output into a 20-d latent: the identity is reachable (the old default)
    ({"representation": "output"}, "anomaly.latent: 20 is not smaller than the autoencoder's "
                                   "input, the 8-d output representation of backbone"),
    # the per-particle mean is `hidden` (64 in this preset) wide
    ({"latent": 64}, "anomaly.latent: 64 is not smaller than the autoencoder's input, the 64-d "
                     "mean representation"),
])
def test_an_anomaly_autoencoder_without_a_bottleneck_stops_the_dry_run(repo_root, tmp_path,
                                                                       changes, words):
    small = yaml.safe_load((repo_root / "config" / "shared-shower-small.yaml").read_text())
    small["anomaly"].update(changes)
    with pytest.raises(ConfigError, match="anomaly.latent"):
        validate(copy.deepcopy(small))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(small))
    result = snakemake(repo_root, tmp_path, str(config), "-n")
    assert result.returncode != 0 and words in " ".join(result.output.split()), result.output[-2000:]
    # the default (auto: the per-particle mean, 64-d, into 20) has its bottleneck
    small["anomaly"] = {k: v for k, v in small["anomaly"].items() if k not in changes}
    assert validate(small)["anomaly"]["representation"] == "auto"


@pytest.mark.parametrize("old, new", [
    ("workflow.backbone", "workflow.pretrain_run"),
    ("anomaly.backbone", "anomaly.pretrain_run"),
    ("pretrain.model.backbone", "pretrain.model.network"),
])
def test_a_renamed_key_names_the_old_and_the_new(tmp_path, tiny, capsys, old, new):
    """"backbone" held three things; each has its own key now, and an old config says which."""
    config = with_changes(tiny, [(old, "dgcnn", None)])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["check-backends", "--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{old} was renamed: write {new} (" in err


def test_a_run_s_old_network_key_is_named_with_the_run(tiny):
    config = with_changes(tiny, [("pretrain.runs", [{"name": "a"}, {
        "name": "b", "model": {"backbone": "transformer"}}], None)])
    with pytest.raises(ConfigError, match=r"pretrain.runs.1.model.backbone was renamed: write "
                                          r"pretrain.runs.1.model.network \("):
        validate(config)
