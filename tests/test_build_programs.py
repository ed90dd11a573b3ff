"""scripts/build-programs: the parts that run in seconds (its package list, its arguments, the
LHAPDF sets it makes from the pythia8mc wheel's grids and the env.sh it writes). The builds
themselves take hours; docs/backends.md says what ran here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build-programs"
GRIDS = Path(sys.prefix) / "share" / "Pythia8" / "pdfdata"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True)


def test_it_lists_the_system_packages_of_each_program():
    result = run("--packages")
    assert result.returncode == 0
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert set(lines) == {"herwig", "delphes", "madgraph"}
    # ThePEG's FastJetFinder links libfastjettools, a package of its own on Debian
    assert {"libfastjettools-dev", "libboost-test-dev", "gengetopt", "libhepmc3-dev"} <= set(lines["herwig"].split())


def test_an_unknown_argument_or_none_is_refused():
    assert run("--frobnicate", "herwig").returncode != 0
    assert run().returncode == 2


@pytest.mark.skipif(not (GRIDS / "NNPDF31_nnlo_as_0118_luxqed_0000.dat").is_file(),
                    reason="the pythia8mc wheel's PDF grids are not where this Python keeps them")
def test_pdf_sets_from_the_wheels_grids_and_the_env_file(tmp_path):
    grids = [GRIDS / "NNPDF23_lo_as_0130_qed_0000.dat", GRIDS / "NNPDF31_nnlo_as_0118_luxqed_0000.dat"]
    result = run("--prefix", str(tmp_path), "pdfs", *[a for g in grids for a in ("--pdf-grid", str(g))])
    assert result.returncode == 0, result.stderr
    assert "Herwig's defaults CT14lo CT14nlo replaced by NNPDF23_lo_as_0130_qed" in result.stdout
    lhapdf = tmp_path / "herwig" / "share" / "LHAPDF"
    info = dict(line.split(": ", 1) for line in
                (lhapdf / "NNPDF31_nnlo_as_0118_luxqed" / "NNPDF31_nnlo_as_0118_luxqed.info").read_text().splitlines())
    assert (lhapdf / "NNPDF31_nnlo_as_0118_luxqed" / "NNPDF31_nnlo_as_0118_luxqed_0000.dat").is_file()
    # read from the grid: its flavours (the photon too) and its x and Q ranges
    assert info["Flavors"] == "[-5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 22]"
    assert float(info["XMin"]) == 1e-9 and float(info["QMin"]) == 1.65 and float(info["QMax"]) == 1e5
    # from the name: NNLO, alpha_s(MZ) = 0.118, given both ways LHAPDF 6.5.2's ODE solver wants
    assert info["OrderQCD"] == "2" and info["AlphaS_MZ"] == "0.118" == info["AlphaS_Reference"]
    assert info["AlphaS_MassReference"] == info["MZ"] == "91.1876" and info["NumMembers"] == "1"
    lo = (lhapdf / "NNPDF23_lo_as_0130_qed" / "NNPDF23_lo_as_0130_qed.info").read_text()
    assert "OrderQCD: 0" in lo and "AlphaS_MZ: 0.130" in lo
    env = (tmp_path / "env.sh").read_text()
    assert env.startswith("# written by scripts/build-programs")
    assert f"export LHAPDF_DATA_PATH={lhapdf}" in env.splitlines()
