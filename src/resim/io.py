"""Atomic publishing: an output either exists whole or not at all, and leaves no litter.

A writer works on a hidden temporary file beside its output, ``.<name>.<pid>.tmp``, and renames
it onto the output when it succeeds. A writer killed outright (``kill -9``, a node lost) cannot
clean up, so the next writer of the same output removes the temporary files of writers that are
no longer running before it starts: a rerun leaves no litter.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError


def temporary_name(path: Path, pid: int | None = None) -> Path:
    """The hidden temporary file of ``path`` for the writer process ``pid`` (default: this one)."""
    return path.with_name(f".{path.name}.{os.getpid() if pid is None else pid}.tmp")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files of ``path`` left by writers that no longer run.

    One output has one writer at a time (the workflow guarantees it), so a temporary file whose
    process is gone belongs to a killed writer. On a shared file system a pid of another host
    that happens to run here keeps its file: a rare leftover, never a removed live file here.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.tmp")
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for sibling in path.parent.iterdir():
            match = pattern.fullmatch(sibling.name)
            if match and int(match.group(1)) != os.getpid() and not _running(int(match.group(1))):
                sibling.unlink(missing_ok=True)
                removed.append(sibling)
    return removed


def _file_in_the_way(path: Path) -> Path | None:
    """The first of ``path``'s parents that exists and is not a directory, if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _cannot_write(path: Path, err: OSError) -> OutputError:
    """An OSError of the file system as a one-line error naming the path the user gave (never
    the hidden temporary name, which means nothing to the user)."""
    blocker = _file_in_the_way(path)
    if blocker is not None:
        return OutputError(f"cannot write {path}: {blocker} is a file, not a directory")
    return OutputError(f"cannot write {path}: {err.strerror or err}")


#: errno values that mean the storage took no more bytes: a full disk or quota, or a file-size
#: limit (``ulimit -f``; with SIGXFSZ ignored the write fails with EFBIG).
NO_ROOM = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
           errno.EFBIG: "file too large (a file-size limit, ulimit -f?)"}


def no_room(err: BaseException) -> str | None:
    """Why a write failed, when the storage refused more bytes; else None.

    HDF5 reports the errno only inside its message (h5py: "... errno = 28, error message =
    'No space left on device' ..."), so that text is read too."""
    number = getattr(err, "errno", None)
    if number not in NO_ROOM:
        found = re.search(r"errno = (\d+)", str(err))
        number = int(found.group(1)) if found else None
    return NO_ROOM.get(number)


@contextlib.contextmanager
def naming_output(path: str | Path) -> Iterator[None]:
    """A full disk or a size limit inside the block, however deep in a library, becomes one
    OutputError naming the output ``path`` the user asked for (not a hidden temporary or
    scratch file, nor a library's buffer position)."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        reason = no_room(err)
        if reason is None:
            raise
        raise OutputError(f"cannot write {path}: {reason}") from None


def _new_temporary(path: Path, base: Path) -> Path:
    """Create the empty temporary file of ``base`` (``path``, or a scratch name beside it),
    after removing those of killed writers; errors name the output ``path``."""
    if path.name in ("", ".", ".."):
        raise OutputError(f"cannot write {path}: not a file name")
    tmp_path = temporary_name(base)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(base)
        # created with the umask's permissions, so the published file is readable as any other
        with open(tmp_path, "wb"):
            pass
    except OSError as err:
        raise _cannot_write(path, err) from None
    return tmp_path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary file beside ``path``; rename it onto ``path`` only if the block
    succeeds.

    The temporary file lives in the same directory, so the final rename is atomic on POSIX
    file systems; a crash or exception leaves no file under the final name. A directory that
    cannot be made or written, or a file standing where a directory should be, is an
    :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    tmp_path = _new_temporary(path, path)
    try:
        with naming_output(path):
            yield tmp_path
        try:
            os.replace(tmp_path, path)
        except OSError as err:
            raise _cannot_write(path, err) from None
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def published_together(*paths: str | Path) -> Iterator[None]:
    """Outputs that are one result (an LHE file and its statistics, the plots of a command):
    when the block fails, none of them stays, so a rerun never starts from half of them."""
    try:
        yield
    except BaseException:
        for path in paths:
            with contextlib.suppress(OSError):  # (a file in the way of its folder: nothing there)
                Path(path).unlink(missing_ok=True)
        raise


def scratch_file(path: str | Path, what: str) -> Path:
    """An empty hidden file beside the output ``path`` (``.<name>.<what>.<pid>.tmp``) for data a
    writer gathers before it can publish; the caller removes it. Errors as :func:`atomic_path`;
    a killed writer's scratch file goes when the next one starts."""
    path = Path(path)
    return _new_temporary(path, path.with_name(f"{path.name}.{what}"))


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def reproducible_gzip(path: str | Path, compresslevel: int = 6) -> Iterator[io.TextIOWrapper]:
    """A text stream gzip-compressed into ``path`` with an empty name and zero time stamp.

    ``gzip.open`` stores the file name and modification time in the header, so the same
    content written twice (or under a temporary name) would give different bytes.
    """
    with open(path, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                          compresslevel=compresslevel) as compressed, \
            io.TextIOWrapper(compressed, encoding="utf-8") as text:
        yield text
