"""Atomic publishing: an output either exists whole or not at all."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file lives in the same directory, so the final rename is atomic on POSIX
    file systems; a crash or exception leaves no file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; published results must be readable like any other file.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


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
