"""The trace rows each event group is fitted on, and their design matrix, derived from the event statements.

Each group's cost is stated once, in :mod:`costmodel.model.events`: its phases, the counts of one
event (its columns, taken from trace columns) and its seconds. Here the statement meets the trace:

* :func:`group_rows` selects the group's rows (its phases, positive durations) and adds the columns a
  statement needs that the trace does not hold verbatim (:data:`DERIVED_COLUMNS`);
* :func:`design_matrix` evaluates the statement's regressors (the derivative of its seconds with
  respect to each coefficient that enters linearly; :meth:`~costmodel.model.events.EventStatement.regressors`)
  on those rows through the one lambdify bridge, for a given regime boundary.

Adding a term to a cost is therefore one edit, in the statement: the fit's columns follow.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from costmodel.errors import InputError, must
from costmodel.model.bridge import NumericFunction, numeric_function
from costmodel.model.events import EVENT_STATEMENTS, EventStatement

__all__ = [
    "DERIVED_COLUMNS",
    "FIT_GROUPS",
    "WIRE_BYTES_PER_PARAM",
    "design_matrix",
    "group_rows",
    "regime_size",
    "statement_of",
]

#: The groups fitted, in the statements' order.
FIT_GROUPS: tuple[str, ...] = tuple(EVENT_STATEMENTS)
#: Bytes per parameter on the reference implementation's wire format (float32; a test checks it
#: against ``reference_impl.wire``).
WIRE_BYTES_PER_PARAM = 4.0
#: Columns a statement uses that the trace does not hold verbatim, and how they are derived.
DERIVED_COLUMNS: Mapping[str, str] = MappingProxyType({
    "client_samples": "the client's original size, from its distribution_report row of the same run (0 if none)",
    "upload": "1 for a client_upload row, else 0 (the model is encoded right after training)",
    "bytes_per_param": f"{WIRE_BYTES_PER_PARAM:g} (float32 on the wire)",
    "proximal": "1 for a run with a proximal term (its configuration's mu > 0: FedProx), else 0",
})


def statement_of(group: str) -> EventStatement:
    """The statement of fit group ``group``."""
    if group not in EVENT_STATEMENTS:
        raise must("group", f"be one of {', '.join(FIT_GROUPS)}", group)
    return EVENT_STATEMENTS[group]


def _client_samples(rows: pd.DataFrame, trace: pd.DataFrame) -> np.ndarray:
    if "entity" not in trace.columns:   # no way to tell whose data was copied
        return np.zeros(len(rows))
    reports = trace[trace["phase"] == "distribution_report"].drop_duplicates(["run_id", "entity"])
    size = reports.set_index(["run_id", "entity"])["samples"]
    keys = list(zip(rows["run_id"], rows["entity"]))
    return size.reindex(keys).fillna(0.0).to_numpy(dtype=np.float64)


def group_rows(group: str, trace: pd.DataFrame) -> pd.DataFrame:
    """The trace rows ``group`` is fitted on (its phases, positive durations), with the derived
    columns its statement needs (:data:`DERIVED_COLUMNS`)."""
    statement = statement_of(group)
    rows = trace[trace["phase"].isin(statement.phases)]
    rows = rows[rows["duration_s"].to_numpy() > 0]
    needed = set(statement.columns.values())
    derived: dict[str, object] = {}
    if "client_samples" in needed:
        derived["client_samples"] = _client_samples(rows, trace)
    if "upload" in needed:
        derived["upload"] = (rows["phase"] == "client_upload").to_numpy(dtype=np.float64)
    if "bytes_per_param" in needed:
        derived["bytes_per_param"] = WIRE_BYTES_PER_PARAM
    if "proximal" in needed:
        derived["proximal"] = ((rows["mu"].fillna(0.0).to_numpy(dtype=np.float64) > 0).astype(np.float64)
                               if "mu" in rows.columns else 0.0)
    return rows.assign(**derived) if derived else rows


@functools.cache
def _regressor_functions(group: str) -> tuple[tuple[str, NumericFunction], ...]:
    statement = statement_of(group)
    regressors = statement.regressors()
    return tuple((name, numeric_function(regressors[name])) for name in statement.linear_coefficients)


def _column_values(statement: EventStatement, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    missing = sorted({trace for trace in statement.columns.values() if trace not in rows.columns})
    if missing:
        raise must("trace", f"have the columns {', '.join(missing)} for the {statement.group} rows", sorted(rows.columns))
    values = {name: rows[trace].to_numpy(dtype=np.float64) for name, trace in statement.columns.items()}
    for name, trace in statement.columns.items():
        unknown = int(np.count_nonzero(~np.isfinite(values[name])))
        if unknown:      # a run recorded before the column was: never fit it as 0
            raise InputError(f"'runs' must record {trace} for every {statement.group} event (profile runs made "
                             f"before it was recorded again) (got {unknown} of {len(rows)} events without it).")
    return values


def design_matrix(group: str, rows: pd.DataFrame, *, boundary_bytes: float | None = None) -> np.ndarray:
    """One column per linear coefficient of ``group``'s statement (fixed term last), evaluated on
    ``rows`` (as :func:`group_rows` gives them).

    ``boundary_bytes`` is the group's regime boundary (``cache_bytes``, ``aggregate_large_bytes``);
    ``None`` puts it at infinity: no second regime, so its column is 0.
    """
    statement = statement_of(group)
    values = _column_values(statement, rows)
    boundary = np.inf if boundary_bytes is None else float(boundary_bytes)
    for name in statement.boundaries:
        values[name] = boundary
    count = len(rows)
    columns = []
    for _, function in _regressor_functions(group):
        with np.errstate(invalid="ignore"):   # inf - inf where a boundary is infinite: Max(0, nan) is 0
            column = np.broadcast_to(np.asarray(function(**{a: values[a] for a in function.arguments}),
                                                dtype=np.float64), (count,))
        columns.append(np.nan_to_num(column, nan=0.0))
    return np.column_stack(columns) if columns else np.empty((count, 0))


def regime_size(group: str, rows: pd.DataFrame) -> np.ndarray:
    """The size each row's regime boundary is compared with (the statement's ``regime_size``: a
    message's bytes, one model's bytes); zeros for a group without a boundary."""
    statement = statement_of(group)
    if statement.regime_size is None:
        return np.zeros(len(rows))
    function = numeric_function(statement.regime_size)
    values = _column_values(statement, rows)
    return np.broadcast_to(np.asarray(function(**{a: values[a] for a in function.arguments}), dtype=np.float64),
                           (len(rows),)).copy()
