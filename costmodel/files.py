"""Atomic file output: write to a temporary name in the same folder, then rename.

Nothing half-written is ever left behind: on any error the temporary file is removed and the
destination keeps its previous content (or stays absent).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from costmodel.errors import InputError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "ensure_writable_dir"]


def ensure_writable_dir(name: str, folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and check it is writable, or raise :class:`InputError`."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"'{name}' must be a writable folder (got {str(path)!r}: {exc.strerror}).") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"'{name}' must be a writable folder (got {str(path)!r}).")
    return path


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place if the block succeeds."""
    destination = Path(destination)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode an ordinary write would have
        try:
            mode = destination.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(destination: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically and return the path."""
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def atomic_write_text(destination: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``destination`` atomically and return the path."""
    return atomic_write_bytes(destination, text.encode("utf-8"))
