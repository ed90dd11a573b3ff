"""Output paths: a path that cannot be written is one line naming it; reruns leave no litter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from resim.errors import OutputError
from resim.io import atomic_path, atomic_write_text, scratch_file, temporary_name


def _dead_pid() -> int:
    """The pid of a process that has finished (a killed writer's, as far as we can tell)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def _litter(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "results").write_text("I am a file")
    out = tmp_path / "results" / "dataset" / "0.h5"
    with pytest.raises(OutputError) as err:
        atomic_write_text(out, "x")
    message = str(err.value)
    assert str(out) in message and f"{tmp_path / 'results'} is a file" in message
    assert ".tmp" not in message and "\n" not in message


def test_an_impossible_directory_is_named(tmp_path):
    out = "/proc/resim-cannot-exist/0.h5"  # /proc takes no new directories, not even root's
    with pytest.raises(OutputError, match="cannot write /proc/resim-cannot-exist/0.h5: "):
        atomic_write_text(out, "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_named(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=f"cannot write {ro / 'x.h5'}: Permission denied"):
            atomic_write_text(ro / "x.h5", "x")
        assert _litter(ro) == []
    finally:
        ro.chmod(0o755)


def test_a_directory_as_output_is_named(tmp_path):
    with pytest.raises(OutputError, match=f"cannot write {tmp_path}: Is a directory"):
        atomic_write_text(tmp_path, "x")
    assert _litter(tmp_path) == []


def test_a_killed_writers_temporary_file_goes_on_rerun(tmp_path):
    out = tmp_path / "nominal.h5"
    stale = temporary_name(out, _dead_pid())
    stale.write_text("half-written by a job killed with -9")
    other = temporary_name(tmp_path / "syst.h5", _dead_pid())  # another output's: not ours
    other.write_text("x")
    atomic_write_text(out, "whole")
    assert out.read_text() == "whole"
    assert _litter(tmp_path) == [other.name]


def test_a_live_writers_temporary_file_stays(tmp_path):
    out = tmp_path / "nominal.h5"
    live = temporary_name(out, os.getppid())  # pytest's parent process runs
    live.write_text("being written")
    atomic_write_text(out, "whole")
    assert live.exists()


def test_a_failed_block_leaves_nothing(tmp_path):
    out = tmp_path / "nominal.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_then_a_rerun_leaves_no_litter(tmp_path):
    """The real thing: a process killed with SIGKILL inside atomic_path, then a rerun."""
    out = tmp_path / "nominal.h5"
    script = ("import os, signal, sys\nfrom resim.io import atomic_path\n"
              "with atomic_path(sys.argv[1]) as tmp:\n"
              "    tmp.write_text('half')\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script, str(out)])
    assert killed.returncode == -9
    assert len(_litter(tmp_path)) == 1 and not out.exists()
    atomic_write_text(out, "whole")
    assert _litter(tmp_path) == [] and out.read_text() == "whole"


def test_a_killed_writers_scratch_file_goes_too(tmp_path):
    out = tmp_path / "0.lhe.gz"
    stale = scratch_file(out, "body")
    stale.rename(stale.with_name(f".0.lhe.gz.body.{_dead_pid()}.tmp"))
    body = scratch_file(out, "body")
    assert _litter(tmp_path) == [body.name]
    body.unlink()
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'f' / 'x'}: "):
        (tmp_path / "f").write_text("")
        scratch_file(tmp_path / "f" / "x", "body")
