"""Shared pytest setup. Stage-specific fixtures live in tests/fixtures_<stage>.py."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURE_LHE = sorted((SHARED / "fixtures" / "lhe").glob("*.lhe*"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixture_lhe_files() -> list[Path]:
    if not FIXTURE_LHE:
        pytest.skip("../shared/fixtures/lhe not found beside the checkout")
    return FIXTURE_LHE
