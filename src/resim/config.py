"""Load and validate the run configuration (``config.yaml`` and the presets in ``config/``).

The JSON schema lives in the package (``resim/data/config.schema.yaml``) so that the CLI and the
Snakemake workflow (``workflow/schemas/config.schema.yaml`` links to it) validate alike.
An unknown key or a bad value is a :class:`ConfigError` naming the key's full path; so is what
the schema cannot express (the stages' checks, registered in :mod:`resim.checks`: unknown
processes and backends, an empty ``pt_range``, settings Pythia refuses).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .checks import problems
from .errors import ConfigError

SCHEMA_FILE = "config.schema.yaml"


def schema_path() -> Path:
    return Path(str(resources.files("resim") / "data" / SCHEMA_FILE))


def load_schema() -> dict:
    return yaml.safe_load(schema_path().read_text())


def _key_path(error: jsonschema.ValidationError, prefix: tuple = ()) -> str:
    return ".".join(str(p) for p in (*prefix, *error.absolute_path)) or "<top level>"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "not" and isinstance(error.instance, str):  # propertyNames: not
        return f"{error.instance!r} does not apply here (a key of another network?)"
    return error.message


def _schema_errors(schema: dict, instance: Any, prefix: tuple = ()) -> list[str]:
    """One line per schema error of ``instance`` (filled with the schema's defaults in place),
    each naming its key below ``prefix``."""
    validator_cls = jsonschema.Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        for name, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub:
                instance.setdefault(name, sub["default"])
        yield from validator_cls.VALIDATORS["properties"](validator, properties, instance, schema)

    extended = jsonschema.validators.extend(validator_cls, {"properties": set_defaults})
    errors = sorted(extended(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{_key_path(e, prefix)}: {_message(e)}" for e in errors]


#: Keys that were renamed (path below a section -> the new last key, and what it holds): an old
#: config stops naming both instead of failing on an unknown key.
RENAMED = {
    ("workflow", "backbone"): ("pretrain_run", "the name of the one pre-training run"),
    ("anomaly", "backbone"): ("pretrain_run", "the pre-training run the autoencoder reads"),
    ("pretrain", "model", "backbone"): ("network", "the kind of network, dgcnn or transformer"),
}


def _renamed(config: dict) -> list[str]:
    """One line per old key in ``config`` (a pre-training run's ``model`` included)."""
    runs = (config.get("pretrain") or {}).get("runs")
    places = [(path, path) for path in RENAMED]
    places += [(("pretrain", "runs", i, "model", "backbone"), ("pretrain", "model", "backbone"))
               for i in range(len(runs) if isinstance(runs, list) else 0)]
    lines = []
    for path, rule in places:
        node: Any = config
        for key in path[:-1]:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if isinstance(node, dict) and path[-1] in node:
            new, meaning = RENAMED[rule]
            old = ".".join(map(str, path))
            lines.append(f"{old} was renamed: write {old.rpartition('.')[0]}.{new} "
                         f"({meaning})")
    return lines


def validate(config: dict, source: str = "config") -> dict:
    """Validate ``config`` in place (filling schema defaults) and return it."""
    _raise_invalid(source, _renamed(config))
    _raise_invalid(source, _schema_errors(load_schema(), config))
    # What the schema cannot say (known processes and backends, Pythia's settings): only on a
    # config of the schema's shape.
    _raise_invalid(source, problems(config))
    return config


def validate_section(name: str, section: dict, source: str) -> dict:
    """Validate one section of an already valid config in place (filling its defaults) and
    return it: a pre-training run's section merged from ``pretrain.runs``, without checking
    the rest of the config again."""
    schema = load_schema()
    sub = {"$defs": schema.get("$defs", {}), **schema["properties"][name]}
    _raise_invalid(source, _schema_errors(sub, section, (name,)))
    return section


def _raise_invalid(source: str, lines: list[str]) -> None:
    """One problem: one line; several: one line each (the first ten)."""
    if len(lines) == 1:
        raise ConfigError(f"{source} is not valid: {lines[0]}")
    if lines:
        listed = "\n".join(f"  {line}" for line in lines[:10])
        raise ConfigError(f"{source} is not valid:\n{listed}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: PyYAML
    keeps the last silently, so a second ``pretrain:`` section would replace the first."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    problem=f"key {key!r} given twice (lines {seen[key]} and {line}); the "
                            f"second would silently replace the first",
                    problem_mark=key_node.start_mark)
            seen.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> Any:
    """A config file's YAML (a key twice in one mapping is an error); errors name the file and
    line, as :class:`ConfigError`."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file (binary data)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).replace("\n", " ")
        raise ConfigError(f"config file {path}{where}: not valid YAML: {problem}") from None


def load_config(path: str | Path) -> dict:
    path = Path(path)
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    return validate(config, source=str(path))


def config_hash(config: Any) -> str:
    """A stable digest of the effective configuration (or of a part of it), stored in every
    output's provenance."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def config_section(config: dict, section: str, sample: str | None = None) -> Any:
    """What one job reads of ``section``: only ``sample``'s entry of ``samples`` where given,
    and ``dataset`` without ``splits`` (a shard is made alike whatever split it ends up in)."""
    value = config.get(section)
    if section == "samples" and sample is not None and value:
        value = value.get(sample)
    if section == "dataset" and value:
        value = {k: v for k, v in value.items() if k != "splits"}
    return value


#: The config sections that shape a shard's jets (what ``resim simulate`` reads).
SHAPING_SECTIONS = ("run", "samples", "shower", "views", "detector", "jets", "dataset", "pileup")


def section_digests(config: dict, sample: str) -> dict[str, str]:
    """A digest of each section that shapes ``sample``'s jets: a view file records them, so
    that ``resim pair`` can name the section in which another config differs."""
    return {s: config_hash(config_section(config, s, sample)) for s in SHAPING_SECTIONS}
