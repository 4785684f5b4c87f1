"""Output paths: the one check of where a command may write, atomic writes, and folders undone on failure.

Every command that writes checks its destinations here *before any work*, with one
:class:`~costmodel.errors.InputError` line naming the option, the rule and the path as typed:

* :func:`check_output_file`: a file option (``--csv``, ``--json``, ``calibrate --out``). Symlinks are
  followed to their target. An existing regular file must be writable; a character device
  (``/dev/null``) or a FIFO is written *through* (opened and written, never replaced: renaming over
  it would turn ``/dev/null`` into a plain file); a folder, a block device or a socket is refused. A
  new file needs a writable folder, which is probed by creating and removing a temporary file there
  (``os.access`` says yes to root on ``/proc`` and ``/sys``, where nothing can be created), and a
  name the file system accepts (at most ``PC_NAME_MAX`` bytes, 255 on Linux).
* :func:`check_output_folder`: a folder option (``--out DIR``). An existing folder must accept a
  new file (probed); a missing one needs a nearest existing ancestor that does, and names the file
  system accepts. Nothing is created.
* :func:`output_folder`: a context manager that creates the checked folder and, if the command
  fails or is interrupted (Ctrl-C), removes what it created, so no empty or partial output folder
  is left behind. A resumable command (a sweep whose finished runs are worth keeping) passes
  ``keep_contents=True``: then only folders left empty are removed.

Writes are atomic (:func:`atomic_path`): to a temporary name in the destination's folder, then
renamed into place, so the destination keeps its previous content (or stays absent) on any error.
A special file (character device, FIFO) cannot be replaced atomically; it is written through from a
temporary copy once the content is complete. An ``OSError`` while writing becomes one
:class:`~costmodel.errors.InputError` line naming the destination and the system's reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from costmodel.errors import InputError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_distinct_outputs",
    "check_output_file",
    "check_output_folder",
    "create_output_folder",
    "output_folder",
]

_PROBE_PREFIX = ".astraea-cost-probe."
#: Characters of the destination's name kept in a temporary file's name (the rest would only risk
#: exceeding the file system's name limit).
_TEMP_NAME_CHARS = 40


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _as_path(name: str, path: str | os.PathLike[str]) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"'{name}' must be a path (got {path!r}).")
    text = os.fspath(path)
    if not str(text).strip():
        raise InputError(f"'{name}' must be a path, not an empty string (got {text!r}).")
    if "\0" in str(text):
        raise InputError(f"'{name}' must be a path without NUL characters (got {text!r}).")
    return Path(text)


def _name_limit(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _check_name(name: str, shown: str, folder: Path, component: str) -> None:
    limit = _name_limit(folder)
    size = len(os.fsencode(component))
    if size > limit:
        raise InputError(f"'{name}' must have names of at most {limit} bytes in each part of the path "
                         f"(got a part of {size} bytes in {shown!r}).")


def _probe(name: str, shown: str, folder: Path) -> None:
    """Create and remove a temporary file in ``folder``: the only test that holds for root on /proc."""
    try:
        fd, probe = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=folder)
    except OSError as exc:
        raise InputError(f"'{name}' must be in a folder where files can be created (got {shown!r}: "
                         f"{folder} refuses new files: {_reason(exc)}).") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _is_special_writable(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_output_file(name: str, path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be written as the output file of option ``name``; return its target.

    The returned path has symlinks resolved (a write goes to the link's target). Nothing is created.

    Raises
    ------
    InputError
        ``'csv' must be a file, not a folder (got 'out/').`` and the like (see the module docstring).
    """
    given = _as_path(name, path)
    shown = os.fspath(path)
    target = Path(os.path.realpath(given))
    for part in target.parts:
        _check_name(name, shown, target.parent if target.parent.is_dir() else Path("/"), part)
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as exc:
        raise InputError(f"'{name}' must be a path that can be inspected (got {shown!r}: {_reason(exc)}).") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise InputError(f"'{name}' must be a file, not a folder (got {shown!r}).")
        if _is_special_writable(mode):
            if not os.access(target, os.W_OK):
                raise InputError(f"'{name}' must be writable (got {shown!r}).")
            return target
        if not stat.S_ISREG(mode):
            raise InputError(f"'{name}' must be a regular file, a character device or a FIFO "
                             f"(got {shown!r}, which is none of them).")
        if not os.access(target, os.W_OK):
            raise InputError(f"'{name}' must be a writable file (got {shown!r}).")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"'{name}' must be a file in an existing folder (got {shown!r}: {folder} is not a folder).")
    _probe(name, shown, folder)
    return target


def _missing_parts(path: Path) -> tuple[Path, list[Path]]:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) and the missing folders below it,
    outermost first."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    return current, missing[::-1]


def check_output_folder(name: str, path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is, or can become, a folder that accepts new files; create nothing.

    Returns the absolute path. A missing folder needs a nearest existing ancestor that accepts new
    files and path parts the file system accepts.

    Raises
    ------
    InputError
        ``'out' must be a folder (got 'x', which is a file).`` and the like.
    """
    given = _as_path(name, path)
    shown = os.fspath(path)
    folder = Path(os.path.abspath(given))
    for part in folder.parts:
        _check_name(name, shown, Path("/"), part)
    existing, missing = _missing_parts(folder)
    if not missing:
        if not folder.is_dir():
            raise InputError(f"'{name}' must be a folder (got {shown!r}, which is not a folder).")
        _probe(name, shown, folder)
        return folder
    if not existing.is_dir():
        raise InputError(f"'{name}' must be a folder path (got {shown!r}: {existing} is not a folder).")
    _probe(name, shown, existing)
    return folder


def check_distinct_outputs(**paths: str | os.PathLike[str] | None) -> None:
    """Refuse two output options that name the same file (one would overwrite the other)."""
    seen: dict[str, str] = {}
    for name, path in paths.items():
        if path is None:
            continue
        key = os.path.realpath(os.fspath(path))
        if key in seen and not _is_special(key):
            raise InputError(f"'{name}' must differ from '{seen[key]}' (both name {os.fspath(path)!r}; one file "
                             f"would overwrite the other).")
        seen.setdefault(key, name)


def _is_special(path: str) -> bool:
    try:
        return _is_special_writable(os.stat(path).st_mode)
    except OSError:
        return False


def create_output_folder(name: str, path: str | os.PathLike[str]) -> Path:
    """Check (:func:`check_output_folder`) and create the folder of option ``name``; return it.

    For library functions that write into a folder; a command wraps its work in :func:`output_folder`
    instead, which also removes what it created when the command fails.
    """
    folder = check_output_folder(name, path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"'{name}' must be a folder that can be created (got {os.fspath(path)!r}: "
                         f"{_reason(exc)}).") from None
    return folder


@contextlib.contextmanager
def output_folder(name: str, path: str | os.PathLike[str], *, keep_contents: bool = False) -> Iterator[Path]:
    """Create the output folder of option ``name`` (checked first) and undo it if the block fails.

    On any exception, ``KeyboardInterrupt`` included, the folders this call created are removed with
    everything in them; with ``keep_contents=True`` (a resumable command) only those left empty are.
    A folder that existed before is never removed.
    """
    _, missing = _missing_parts(check_output_folder(name, path))
    folder = create_output_folder(name, path)
    try:
        yield folder
    except BaseException:
        if missing:
            if keep_contents:
                for created in reversed(missing):
                    with contextlib.suppress(OSError):
                        created.rmdir()   # only succeeds when empty
            else:
                shutil.rmtree(missing[0], ignore_errors=True)
        raise


def _temp_prefix(destination: Path) -> str:
    return f".{destination.name[:_TEMP_NAME_CHARS]}."


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str], *, name: str = "destination") -> Iterator[Path]:
    """Yield a temporary path; put its content at ``destination`` if the block succeeds.

    A regular (or new) destination gets the temporary file renamed over it (symlinks followed to
    their target). A character device or FIFO is written through from the temporary file, never
    replaced. ``name`` is the option shown in an error message.

    Raises
    ------
    InputError
        If the temporary file cannot be created or the content cannot be put in place (one line,
        naming ``name``, the destination and the system's reason).
    """
    target = Path(os.path.realpath(os.fspath(destination)))
    try:
        special = _is_special_writable(os.stat(target).st_mode)
    except OSError:
        special = False
    try:
        fd, tmp_name = (tempfile.mkstemp(prefix=".astraea-cost.", suffix=".tmp") if special else
                        tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise InputError(f"'{name}' could not be written (got {os.fspath(destination)!r}: {_reason(exc)}).") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if special:
            _write_through(tmp, target, name, destination)
        else:
            # mkstemp makes the file private (0600); give it the mode an ordinary write would have
            try:
                mode = target.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            try:
                os.chmod(tmp, mode)
                os.replace(tmp, target)
            except OSError as exc:
                raise InputError(f"'{name}' could not be written (got {os.fspath(destination)!r}: "
                                 f"{_reason(exc)}).") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_through(source: Path, target: Path, name: str, shown: str | os.PathLike[str]) -> None:
    """Copy ``source`` into the special file ``target`` (a FIFO must already have a reader)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise InputError(f"'{name}' must be a FIFO that a process is reading (got {os.fspath(shown)!r}: "
                             f"no reader).") from None
        raise InputError(f"'{name}' could not be written (got {os.fspath(shown)!r}: {_reason(exc)}).") from None
    try:
        os.set_blocking(fd, True)
        with open(source, "rb") as data:
            while chunk := data.read(1 << 16):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
    except OSError as exc:
        raise InputError(f"'{name}' could not be written (got {os.fspath(shown)!r}: {_reason(exc)}).") from None
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(destination: str | os.PathLike[str], data: bytes, *, name: str = "destination") -> Path:
    """Write ``data`` to ``destination`` atomically and return the path."""
    with atomic_path(destination, name=name) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def atomic_write_text(destination: str | os.PathLike[str], text: str, *, name: str = "destination") -> Path:
    """Write ``text`` (UTF-8) to ``destination`` atomically and return the path."""
    return atomic_write_bytes(destination, text.encode("utf-8"), name=name)
