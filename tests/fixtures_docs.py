"""Building the documentation site in tests: from the repository or from a scratch copy of what
it is built from (``docs/``, ``mkdocs.yml`` and the schema the reference is generated from)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PUBLISH = REPO / "scripts" / "publish-results"


def build_site(root: Path, out: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the site at ``root`` into ``out``."""
    # NO_MKDOCS_2_WARNING: Material's banner about its successor, not a warning of this site
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(root / "mkdocs.yml"), "-d", str(out)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def site_source(root: Path) -> Path:
    """Copy what the site is built from into ``root`` (a test may then change it)."""
    shutil.copytree(REPO / "docs", root / "docs")
    shutil.copy(REPO / "mkdocs.yml", root)
    shutil.copy(REPO / "README.md", root)  # the home page includes its quick start
    (root / SCHEMA.relative_to(REPO)).parent.mkdir(parents=True)
    shutil.copy(SCHEMA, root / SCHEMA.relative_to(REPO))  # the link's target
    return root


def publish_results(*args: str) -> subprocess.CompletedProcess:
    """``scripts/publish-results ARGS``."""
    return subprocess.run([sys.executable, str(PUBLISH), *args], capture_output=True, text=True,
                          timeout=60)
