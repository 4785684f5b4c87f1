"""Reading a stored table of evidence (package data written by a study's ``--store``) for a generated block."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from costmodel.errors import InputError

__all__ = ["read_stored_table"]


def read_stored_table(path: str | Path, columns: Sequence[str]) -> pd.DataFrame | None:
    """The CSV at ``path``, or None when it is absent; a file missing one of ``columns`` is one error line
    naming the file, the columns it must have and those it lacks."""
    path = Path(path)
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"'{path.name}' must have the columns {', '.join(columns)} (got none named "
                         f"{', '.join(missing)}).")
    return frame
