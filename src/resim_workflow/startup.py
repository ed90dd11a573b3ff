"""What runs when Snakemake parses the workflow: the config's checks, and PATH for the jobs.

Everything that can be wrong with the config stops ``snakemake -n`` (and every run) as the
console scripts stop: one line on stderr naming the key or line, exit status 2 (Snakemake's own
report would be several lines on stdout).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from resim.cliutil import one_line
from resim.config import read_yaml, validate
from resim.errors import ConfigError, ResimError
from train import study
from train.anomaly import checks  # noqa: F401 (registers the anomaly section's checks)

from . import layout
from .runs import views
from .splits import split_shards


def check_config(config: dict, files: Iterable[str | Path] = ()) -> None:
    """Everything that can be wrong with the config, checked when the workflow starts
    (``snakemake -n`` included): its files' YAML (a section given twice), the schema and every
    stage's checks (the training side's too: imported above, they are registered), the
    splits, the views and the study."""
    with stop_on_error():
        for path in files:
            read_yaml(path)
        validate(config, source="config (config.yaml, --configfile, --config)")
        split_shards(config)  # dataset.splits: every shard in exactly one split
        views(config)  # views and dataset.view_order: forks, parents and the order
        study.check(config)  # backbone names and labels, each run's views, sizes


@contextlib.contextmanager
def stop_on_error() -> Iterator[None]:
    """A ResimError in the block stops Snakemake as the console scripts stop: one line on
    stderr, exit status 2."""
    try:
        yield
    except ResimError as err:
        print(f"snakemake: error: {one_line(str(err))}", file=sys.stderr)
        raise SystemExit(2) from None


def pool_shard(config: dict, shard: str) -> int:
    """A pool shard a job (or a target on the command line) names, within
    ``pileup.pool_shards``."""
    shards = int((config.get("pileup") or {}).get("pool_shards", 1))
    with stop_on_error():
        if not 0 <= int(shard) < shards:
            raise ConfigError(f"pileup.pool_shards: pool shard {shard} is outside 0..{shards - 1}"
                              f" ({layout.pool_path(shard)})")
    return int(shard)


def expose_console_scripts() -> None:
    """Put the directory of the running interpreter first on PATH.

    Rules call the ``resim`` / ``rs3l`` console scripts installed beside the Python that runs
    Snakemake; started as ``.venv/bin/snakemake`` without an activated venv, they would not be
    found otherwise. Jobs (local or sbatch, which exports the environment) inherit PATH.
    """
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = os.pathsep.join([scripts, path]) if path else scripts
