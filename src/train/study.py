"""The study's axes, in one place: named pre-training runs (backbones) and labelled-set sizes.

A *backbone* is one pre-training run on the pretrain split: ``pretrain.runs`` lists them, each
``{name, label?, <any pretrain key>}``; a run's keys replace the ``pretrain`` section's (so
``model: {network: transformer}`` replaces the whole model, not one key of it). Without
``pretrain.runs`` there is one backbone, named ``workflow.pretrain_run``, with the ``pretrain``
section as it is (the single-backbone config of earlier versions).

The *supervised baseline* trains a backbone's network from scratch: one baseline when every
backbone shares a network, else one per network (a transformer backbone is compared with a
transformer trained from scratch, a DGCNN one with a DGCNN).

A backbone may be pre-trained several times (``pretrain.reps``, or a run's ``reps``): repetition
``r`` > 0 of backbone ``name`` is the backbone ``name.rep<r>`` (repetition 0 keeps the plain
name and folder, so a study with one repetition is laid out as before), with its own seeds
(:func:`split_rep`); its taggers share the rows of ``name``'s, whose spread then covers
pre-training as well as fine-tuning.

A *size* is a number of labelled training jets, or ``all``; ``finetune.train_sizes`` lists the
sizes every fine-tuning mode runs at. The jets of a size are the first ``size`` of one random
order of the task's jets per repetition, the same for every mode and backbone (and nested: the
300 jets contain the 100).

Pure Python (no torch): the workflow imports it at parse time, so that a bad study fails at
``snakemake -n``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from resim.config import validate_section
from resim.errors import ConfigError

#: The size that means every labelled jet of the task (capped by ``finetune.max_train_jets``).
ALL = "all"

#: Fine-tuning modes that start from a backbone; ``supervised`` trains the same network from
#: scratch and belongs to no backbone.
BACKBONE_MODES = ("fixed", "floating", "lora")

NOMINAL = "nominal"


def backbone_runs(config: dict) -> dict[str, dict]:
    """Backbone name -> its effective ``pretrain`` section (without ``runs``), in config order.

    ConfigError on two runs with the same name.
    """
    section = {k: v for k, v in (config.get("pretrain") or {}).items() if k != "runs"}
    runs = (config.get("pretrain") or {}).get("runs")
    if not runs:
        return {config["workflow"]["pretrain_run"]: section}
    out: dict[str, dict] = {}
    for run in runs:
        name = run["name"]
        if name in out:
            raise ConfigError(f"pretrain.runs: two backbones are named {name!r}; each pre-training "
                              f"run needs its own name (its folder results/train/<name>/)")
        merged = copy.deepcopy(section)
        merged.update({k: copy.deepcopy(v) for k, v in run.items() if k not in ("name", "label")})
        out[name] = merged
    return out


#: Between a backbone's name and its pre-training repetition (run names are [A-Za-z0-9_]+, so
#: no configured name contains it).
REP_MARK = ".rep"


def split_rep(name: str) -> tuple[str, int]:
    """``"rs3l.rep2"`` -> ``("rs3l", 2)``; a plain name is repetition 0."""
    base, mark, rep = name.rpartition(REP_MARK)
    if mark and base and rep.isdigit() and int(rep) > 0:
        return base, int(rep)
    return name, 0


def rep_name(name: str, rep: int) -> str:
    """The backbone of pre-training repetition ``rep`` of run ``name`` (rep 0: ``name``)."""
    return name if rep == 0 else f"{name}{REP_MARK}{rep}"


def backbone_names(config: dict) -> list[str]:
    """Every backbone to pre-train: each run's repetitions (``reps``), in config order."""
    return [rep_name(name, rep) for name, section in backbone_runs(config).items()
            for rep in range(int(section.get("reps", 1)))]


def run_config(config: dict, name: str) -> dict:
    """The config a pre-training run of backbone ``name`` reads: ``pretrain`` is its section,
    validated on its own (a run's ``mpm: {codes: 8}`` gets the other ``mpm`` keys' defaults;
    the rest of the config was validated once, when it was loaded), with ``rep`` its
    pre-training repetition (which seeds it draws)."""
    runs = backbone_runs(config)
    base, rep = split_rep(name)
    if base not in runs or rep >= int(runs[base].get("reps", 1)):
        raise ConfigError(f"pretrain.runs: no backbone {name!r} (backbones: "
                          f"{', '.join(backbone_names(config))})")
    section = validate_section("pretrain", {**copy.deepcopy(runs[base]), "rep": rep},
                               source=f"pretrain.runs.{base} (merged into pretrain)")
    return {**config, "pretrain": section}


def backbone_label(config: dict, name: str) -> str:
    """How tables name a backbone: its ``label``, "MPM" for masked particle modelling, else its
    augmentation set as configured (``hard``, ``seed+fsr``, ...), like the seed's rows; a
    checkpoint from outside the config's runs goes by its name. Every pre-training repetition
    of a run has the run's label (one row)."""
    name = split_rep(name)[0]
    for run in (config.get("pretrain") or {}).get("runs") or []:
        if run["name"] == name and run.get("label"):
            return run["label"]
    section = backbone_runs(config).get(name)
    if section is None:
        return name
    if section.get("objective") == "mpm":
        return "MPM"
    return mix_label(section.get("views", "hard"))


def networks(config: dict) -> dict[str, str]:
    """Backbone name -> the label of its network (``pretrain.model`` as the run sets it), or
    ``""`` for every backbone when they all share one network.

    The label is the network's kind (``dgcnn``, ``transformer``), or ``<kind> of <backbone>``
    when two different networks are of one kind."""
    runs = backbone_runs(config)
    names = backbone_names(config)  # a run's repetitions share its network
    if len(runs) == 1:
        return {name: "" for name in names}
    models = {name: run_config(config, name)["pretrain"].get("model") or {} for name in runs}
    owners: list[tuple[dict, str]] = []  # each distinct network and the first backbone with it
    for name, model in models.items():
        if all(model != seen for seen, _ in owners):
            owners.append((model, name))
    if len(owners) <= 1:
        return {name: "" for name in names}
    kinds = [model["network"] for model, _ in owners]
    labels = {}
    for name, model in models.items():
        i = next(i for i, (seen, _) in enumerate(owners) if seen == model)
        labels[name] = kinds[i] if kinds.count(kinds[i]) == 1 else f"{kinds[i]} of {owners[i][1]}"
    return {name: labels[split_rep(name)[0]] for name in names}


def baselines(config: dict) -> dict[str, str]:
    """The supervised baselines a study trains: for each network among the backbones, the first
    backbone with it (the baseline trains its network from scratch on the same jets) -> the
    network's label (``""``: every backbone shares the one network, one baseline)."""
    out: dict[str, str] = {}
    for name, label in networks(config).items():
        if label not in out.values():
            out[name] = label
    return out


#: Named view mixes, each by what it holds (a ``+``-joined selection may name them as tokens).
#: ``hard``: every augmentation forked at the hard scatter, i.e. re-showered from the same LHE
#: event (a new seed, FSR up/down, the other shower model): seed 000's "all" (its Table III).
#: ``every``: every augmentation, the re-hadronised (``shower`` fork) and re-detected
#: (``hadron`` fork) ones too; it adds seed 001's re-hadronisation to seed 000's mix.
MIXES = {
    "hard": "every view forked at the hard scatter (seed 000's 'all': seed, FSR up/down, "
            "other shower)",
    "every": "every augmented view (the hard forks plus re-hadronisation / re-detection)",
}

#: Selections that meant something else before the mixes were named: the message says what
#: to write instead (an old config fails at ``snakemake -n`` rather than change meaning).
RENAMED = {
    "all": "'all' trained on every augmented view, re-hadronisation included, but seed 000's "
           "'all' is seed + FSR up/down + other shower: write 'hard' for seed 000's mix, or "
           "'every' for what 'all' selected",
    "null": "null (finetune.views) mixed in every augmented view, re-hadronisation included: "
            "write 'hard' for seed 000's mix, 'every' for what null selected, [] for nominal "
            "jets only",
}


def view_forks(config: dict) -> dict[str, str]:
    """View name -> its fork point (``hard`` | ``shower`` | ``hadron``) from ``config.views``."""
    return {name: (spec or {}).get("fork", "hard") for name, spec in (config.get("views") or {}).items()}


def resolve_views(selection: str | Sequence[str] | None, available: Sequence[str],
                  forks: Mapping[str, str], key: str = "pretrain.views") -> list[str]:
    """Augmented views selected by ``selection``, in the order of ``available``.

    A string is ``+``-joined tokens, each a mix of :data:`MIXES` (``hard``, ``every``), or a
    view name or prefix (``fsr`` → ``fsr_up``, ``fsr_down``): ``seed+fsr``, ``hard+rehad``.
    A list: exactly those views. ``forks`` (view -> fork point, :func:`view_forks`) defines
    ``hard``. A renamed selection (``all``, ``null``), or a token or name matching nothing, is a
    ConfigError naming ``key``.
    """
    if selection is None or (isinstance(selection, str) and selection in RENAMED):
        old = "null" if selection is None else selection
        raise ConfigError(f"{key}: {old!r} was renamed: {RENAMED[old]}")
    augmented = [v for v in available if v != NOMINAL]
    if isinstance(selection, str):
        chosen = []
        for token in selection.split("+"):
            if token == "hard":
                unknown = [v for v in augmented if v not in forks]
                if unknown:  # a view of the data the config does not describe: say so
                    raise ConfigError(f"{key}: {selection!r} needs each view's fork point, but "
                                      f"{unknown} of the data are not in the config's views")
                hits = [v for v in augmented if forks[v] == "hard"]
            elif token == "every":
                hits = augmented
            else:
                hits = [v for v in augmented if v == token or v.startswith(token + "_")]
            if not hits:
                raise ConfigError(f"{key}: {token!r} (from {selection!r}) matches no augmented "
                                  f"view of the data {augmented} (mixes: " + "; ".join(
                                      f"{k}: {v}" for k, v in MIXES.items()) + ")")
            chosen += hits
        chosen = [v for v in augmented if v in chosen]
    else:
        missing = [v for v in selection if v not in augmented]
        if missing:
            raise ConfigError(f"{key}: {missing} are not augmented views of the data {augmented}")
        chosen = list(selection)
    if not chosen:
        raise ConfigError(f"{key}: {selection!r} selects no augmented view "
                          f"(the data has {list(available)})")
    return chosen


def mix_label(selection: str | Sequence[str]) -> str:
    """How rows name a view mix: the selection as configured (``hard``, ``seed+fsr``), a list
    joined by ``+``."""
    return selection if isinstance(selection, str) else "+".join(selection) or NOMINAL


def finetune_views(config: dict, available: Sequence[str]) -> list[str]:
    """The augmentation views of the fine-tuning mix (``finetune.views``, same syntax as
    ``pretrain.views``; ``[]``: nominal jets only)."""
    wanted = (config.get("finetune") or {}).get("views", "hard")
    if isinstance(wanted, list) and not wanted:
        return []
    return resolve_views(wanted, available, view_forks(config), key="finetune.views")


def train_sizes(config: dict) -> list[int | str]:
    """``finetune.train_sizes``: numbers ascending, then ``all``; ConfigError on a repeat."""
    sizes = list((config.get("finetune") or {}).get("train_sizes") or [ALL])
    if len(set(sizes)) != len(sizes):
        raise ConfigError(f"finetune.train_sizes: {sizes} lists a size twice")
    return sorted((s for s in sizes if s != ALL), key=int) + ([ALL] if ALL in sizes else [])


def parse_size(text: str | int) -> int | str:
    """A size from a folder name or a command line: an integer or ``all``."""
    if text == ALL:
        return ALL
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ConfigError(f"labelled-set size {text!r}: a positive integer or 'all'") from None
    if value < 1:
        raise ConfigError(f"labelled-set size {value}: must be at least 1")
    return value


def check(config: dict) -> None:
    """Everything about the study that can be wrong before any job runs (``snakemake -n``):
    backbone names and labels unique, each run a valid ``pretrain`` section whose views the
    dataset has, the fine-tuning views present, sizes unique."""
    views = list(config.get("views") or {})
    forks = view_forks(config)
    labels: dict[tuple[str, str], str] = {}
    nets = networks(config)
    for name, section in backbone_runs(config).items():  # one label per run, reps included
        key = f"pretrain.runs.{name}"
        run_config(config, name)
        if section.get("objective", "contrastive") == "contrastive":
            resolve_views(section.get("views", "hard"), views, forks, key=f"{key}.views")
        label = (backbone_label(config, name), nets[name])  # rows name both
        if label in labels:
            raise ConfigError(f"{key}: label {label[0]!r} is also backbone {labels[label]!r}'s"
                              f"{' (both ' + label[1] + ')' if label[1] else ''}; give one of "
                              f"them a distinct `label` (table rows are named by it)")
        labels[label] = name
    finetune_views(config, views)
    train_sizes(config)
