"""What a config promises that the schema cannot check, checked before any job runs.

Every check here is cheap and needs no input file, so :func:`resim.config.validate` runs them
at workflow parse time (``snakemake -n`` fails on them) and in every command: a sample's
``process``, ``backend`` and ``yields``, a view's shower ``backend``, a non-empty ``pt_range``,
and every Pythia setting line of the config, read by one Pythia instance (``readString``, no
``init()``). Each problem names the config key that holds it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator


def problems(config: dict) -> list[str]:
    """One ``"key: what is wrong"`` line per problem (empty: nothing to report)."""
    from .backends import unknown_backends

    return [*unknown_backends(config), *_sample_problems(config), *_pileup_problems(config),
            *_pythia_problems(config)]


def _pileup_problems(config: dict) -> Iterator[str]:
    """A pool that cannot give one hard event distinct pool events at ``mu``."""
    from .pileup.overlay import max_interactions

    section = config.get("pileup") or {}
    mu = float(section.get("mu", 0))
    pool = int(section.get("pool_events", 0)) * int(section.get("pool_shards", 1))
    if mu > 0 and pool < max_interactions(mu):
        yield (f"pileup.pool_events: {pool} pool events in all cannot give one hard event "
               f"distinct ones at mu = {mu} (up to {max_interactions(mu)} interactions)")


def _sample_problems(config: dict) -> Iterator[str]:
    for sample, spec in config["samples"].items():
        key = f"samples.{sample}"
        yield from _process_problems(sample, spec)
        low, high = spec.get("pt_range") or (0, None)
        if high is not None and high <= low:
            yield (f"{key}.pt_range: [{low}, {high}] selects nothing "
                   "(the maximum must be above the minimum; null: no maximum)")
    # what the samples must provide for the fine-tuning tasks and the anomaly detection
    yield from _task_label_problems(config)
    yield from _anomaly_problems(config)
    yield from _dark_shower_problems(config)


def _process_problems(sample: str, spec: dict) -> Iterator[str]:
    """The process must exist for the sample's backend (the processes of a plug-in backend, or
    of an unknown one, are not known here)."""
    from .errors import ConfigError
    from .hard.processes import DARK_MODELS, DEFAULT_DARK_MODEL, PROCESSES, is_dark

    backend = spec.get("backend", "embedded")
    if backend == "madgraph":
        from .hard.madgraph import sample_process

        try:
            sample_process(sample, spec)
        except ConfigError as err:
            yield str(err)
    elif backend == "embedded":
        process = PROCESSES.get(spec["process"])
        if process is None:
            yield (f"samples.{sample}.process: unknown process {spec['process']!r} for the "
                   f"embedded backend (known: {', '.join(sorted(PROCESSES))})")
            return
        if "dark_model" in spec and not is_dark(spec):
            yield (f"samples.{sample}.dark_model: only a dark-jet sample (process dijet_dark) "
                   f"has a dark model, not {spec['process']!r}")
        elif is_dark(spec) and spec.get("dark_model", DEFAULT_DARK_MODEL) not in DARK_MODELS:
            yield (f"samples.{sample}.dark_model: unknown dark model {spec['dark_model']!r} "
                   f"(known: {', '.join(DARK_MODELS)})")
        channels = {c.name for c in process.channels}
        extra = sorted(set(spec.get("yields") or {}) - channels)
        if extra:
            yield (f"samples.{sample}.yields: unknown channels {extra} of {spec['process']!r} "
                   f"(known: {', '.join(sorted(channels))})")


def _task_label_problems(config: dict) -> Iterator[str]:
    """Every label a fine-tuning task names must be one the SM samples' jets can carry (known
    for the embedded processes only: another backend's sample may carry any label)."""
    from .hard.processes import PROCESSES, is_dark

    labels: set[str] = set()
    for spec in config["samples"].values():
        if is_dark(spec):
            continue
        process = PROCESSES.get(spec["process"])
        if spec.get("backend", "embedded") != "embedded" or process is None:
            return
        labels |= process.labels
    for task, spec in ((config.get("finetune") or {}).get("tasks") or {}).items():
        for side in ("signal", "background"):
            missing = [name for name in spec.get(side, []) if name not in labels]
            if missing:
                yield (f"finetune.tasks.{task}.{side}: labels {missing} are in no sample's jets "
                       f"(the samples' processes give {sorted(labels)})")


def _dark_shower_problems(config: dict) -> Iterator[str]:
    """A dark sample's dark sector showers in Pythia's Hidden Valley: every root view of the
    config must be a Pythia one."""
    from .hard.processes import is_dark

    dark = [name for name, spec in config["samples"].items() if is_dark(spec)]
    if not dark:
        return
    for view, spec in config["views"].items():
        if spec.get("fork") == "hard" and spec.get("backend", "pythia") != "pythia":
            yield (f"views.{view}.backend: {spec['backend']!r} cannot shower the dark sector of "
                   f"{', '.join(dark)} (Pythia's Hidden Valley); only pythia can")


def _anomaly_problems(config: dict) -> Iterator[str]:
    """``anomaly.samples`` are dark-jet samples; the benchmark is one of them."""
    from .hard.processes import is_dark

    section = config.get("anomaly") or {}
    dark = [name for name, spec in config["samples"].items() if is_dark(spec)]
    listed = section.get("samples")
    for name in listed or []:
        if name not in dark:
            yield (f"anomaly.samples: {name!r} is not a dark-jet sample (process dijet_dark; "
                   f"the config's: {', '.join(dark) or 'none'})")
    benchmark = section.get("benchmark")
    scored = dark if listed is None else listed
    if benchmark is not None and benchmark not in scored:
        yield (f"anomaly.benchmark: {benchmark!r} is not one of the scored dark samples "
               f"({', '.join(scored) or 'none'})")
    if scored:
        yield from _bottleneck_problems(config, section)


def _bottleneck_problems(config: dict, section: dict) -> Iterator[str]:
    """An autoencoder whose latent is not narrower than its input can learn the identity: it
    reconstructs every jet, dark or not, and its score measures nothing."""
    from train.model_shape import representation_dim
    from train.study import backbone_runs, split_rep

    runs = backbone_runs(config)
    name = split_rep(section.get("backbone") or next(iter(runs)))[0]  # a repetition: its run's
    if name not in runs:
        return  # an unknown anomaly.backbone is the workflow's error (it names the backbones)
    kind = section.get("representation", "auto")
    # auto reads the per-particle mean: every configurable backbone has per-particle encodings
    kind = "mean" if kind == "auto" else kind
    dim = representation_dim(runs[name].get("model"), kind)
    latent = int(section.get("latent", 20))
    if latent >= dim:
        yield (f"anomaly.latent: {latent} is not smaller than the autoencoder's input, the "
               f"{dim}-d {kind} representation of backbone {name!r}: no bottleneck, the "
               f"identity is reachable (use a latent below {dim}, or representation: mean)")


def _pythia_settings(config: dict) -> Iterator[tuple[str, list[str]]]:
    """(config key, Pythia setting lines) of every key that holds Pythia settings."""
    from .showers.pythia import settings_lines

    for sample, spec in config["samples"].items():
        if spec.get("backend", "embedded") == "embedded":
            yield f"samples.{sample}.settings", settings_lines(spec.get("settings"))
        yield f"samples.{sample}.shower_settings", settings_lines(spec.get("shower_settings"))
    yield "shower.settings", settings_lines((config.get("shower") or {}).get("settings"))
    for view, spec in config["views"].items():
        # Pythia reads the settings of a Pythia "hard" fork and of a "shower" fork (it
        # re-hadronises); other forks' settings belong to their own plug-in (or to Herwig).
        fork, backend = spec.get("fork"), spec.get("backend", "pythia")
        if fork == "shower" or (fork == "hard" and backend == "pythia"):
            yield f"views.{view}.settings", settings_lines(spec.get("settings"))


def _pythia_problems(config: dict) -> Iterator[str]:
    for key, lines in _pythia_settings(config):
        for line in lines:
            if not _pythia().readString(line, False):
                yield (f"{key}: Pythia refused the setting {line!r} (an unknown setting or "
                       "particle, or a value out of range)")


@functools.cache
def _pythia():
    """One Pythia per process reads every setting line (building one costs 0.1-0.5 s). It is
    never initialised; whether a line is accepted does not depend on the lines read before,
    except for a particle that a line creates (``id:new``), which stays known."""
    import pythia8mc

    return pythia8mc.Pythia("", False)
