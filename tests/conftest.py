"""Shared pytest setup. Stage-specific fixtures live in tests/fixtures_<stage>.py."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: LHE files of other generators (tests/data/lhe/README.md), in the repository: never skipped.
FIXTURE_LHE = sorted((REPO / "tests" / "data" / "lhe").glob("*.lhe*"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixture_lhe_files() -> list[Path]:
    assert FIXTURE_LHE, "tests/data/lhe/ holds no LHE file"
    return FIXTURE_LHE
