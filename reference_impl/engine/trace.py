"""The trace contract: one row per measured event of a run (schema version ``TRACE_SCHEMA_VERSION``).

This module is the only definition of the trace. The reference implementation writes it; the
calibration reads it. A run folder holds two files, both written atomically:

``trace.csv``
    One row per event, columns :data:`TRACE_COLUMNS`:

    ============  =======  =====================================================================
    column        dtype    meaning
    ============  =======  =====================================================================
    run_id        str      the run this event belongs to
    algorithm     str      ``astraea`` or ``fedavg``
    round         int      0-based round, or :data:`~costmodel.contracts.vocabulary.SETUP_ROUND` (-1) for setup
    phase         str      one of :data:`costmodel.contracts.vocabulary.ALL_PHASES`
    entity        str      ``server``, ``mediator:3`` or ``client:17``
    start_s       float    start on the run's virtual clock (critical path of the protocol), s
    duration_s    float    measured duration of the event itself, s
    bytes         int      bytes serialized onto the wire (0 for compute events)
    flops         float    floating-point operations executed (0 where not counted)
    samples       int      samples processed (trained, augmented, evaluated)
    steps         int      optimizer steps (or, for rescheduling, KL evaluations)
    ============  =======  =====================================================================

What ``samples``, ``steps`` and ``flops`` hold, per phase (0 where not listed):

    ===================  =========================================================================
    phase                columns
    ===================  =========================================================================
    distribution_report  bytes = 16 + 8K; samples = the client's sample count
    augmentation_plan    samples = the global sample count
    augmentation         samples = samples the client augmented (values = samples * C*H*W)
    rescheduling         samples = clients rescheduled (c); steps = KL candidate evaluations;
                         flops = class counts the greedy updated (``class_updates``: operations,
                         not floating-point ones)
    transfers            bytes = 16 + 4P (model_broadcast, client_download, client_upload,
                         mediator_upload); duration = serialize + deserialize in-process
    local_training       samples = E * client samples; steps = optimizer steps; flops = FLOPs
    aggregation          samples = models averaged; flops = 2 * P * models
    evaluation           samples = test samples
    ===================  =========================================================================

``run.json``
    ``{"schema_version": 1, "run_id": ..., "algorithm": ..., "config": {...}, "summary": {...}}``:
    the run's configuration alongside its trace, and its per-round summary.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.errors import InputError
from costmodel.files import atomic_path, atomic_write_text
from costmodel.contracts.vocabulary import ALL_PHASES, SETUP_ROUND
from costmodel.model.protocols import ALGORITHMS

__all__ = [
    "RUN_FILE",
    "TRACE_COLUMNS",
    "TRACE_FILE",
    "TRACE_SCHEMA_VERSION",
    "RunRecord",
    "TraceRecorder",
    "read_run",
    "validate_trace",
    "write_run",
]

TRACE_SCHEMA_VERSION = 1
TRACE_FILE = "trace.csv"
RUN_FILE = "run.json"

TRACE_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "algorithm": "string",
    "round": "int64",
    "phase": "string",
    "entity": "string",
    "start_s": "float64",
    "duration_s": "float64",
    "bytes": "int64",
    "flops": "float64",
    "samples": "int64",
    "steps": "int64",
}


class TraceRecorder:
    """Collects events cheaply during a run (plain tuples) and builds the frame at the end."""

    __slots__ = ("run_id", "algorithm", "_rows")

    def __init__(self, *, run_id: str, algorithm: str) -> None:
        if algorithm not in ALGORITHMS:
            raise InputError(f"'algorithm' must be one of {', '.join(ALGORITHMS)} (got {algorithm!r}).")
        self.run_id = run_id
        self.algorithm = algorithm
        self._rows: list[tuple[Any, ...]] = []

    def record(self, *, round: int, phase: str, entity: str, start_s: float, duration_s: float,
               bytes: int = 0, flops: float = 0.0, samples: int = 0, steps: int = 0) -> None:
        """Append one event. ``phase`` must be in the shared vocabulary."""
        if phase not in ALL_PHASES:
            raise ValueError(f"'phase' must be one of the shared phase names (got {phase!r}).")
        self._rows.append((self.run_id, self.algorithm, round, phase, entity, start_s, duration_s,
                           bytes, flops, samples, steps))

    def __len__(self) -> int:
        return len(self._rows)

    def bytes_since(self, index: int) -> int:
        """Bytes on the wire of the events recorded from position ``index`` on."""
        return sum(row[7] for row in self._rows[index:])

    def to_frame(self) -> pd.DataFrame:
        """The events so far as a trace frame with the contract's columns and dtypes."""
        frame = pd.DataFrame.from_records(self._rows, columns=list(TRACE_COLUMNS))
        return frame.astype(TRACE_COLUMNS)


def validate_trace(frame: pd.DataFrame) -> pd.DataFrame:
    """Check columns, dtypes and vocabulary; return the frame with the contract's dtypes."""
    missing = [c for c in TRACE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"'trace' must have the columns {', '.join(TRACE_COLUMNS)} (missing {', '.join(missing)}).")
    frame = frame.astype(TRACE_COLUMNS)
    bad_phases = sorted(set(frame["phase"]) - set(ALL_PHASES))
    if bad_phases:
        raise InputError(f"'trace.phase' must be a known phase name (got {bad_phases[0]!r}).")
    bad_algorithms = sorted(set(frame["algorithm"]) - set(ALGORITHMS))
    if bad_algorithms:
        raise InputError(f"'trace.algorithm' must be one of {', '.join(ALGORITHMS)} (got {bad_algorithms[0]!r}).")
    if (frame["round"] < SETUP_ROUND).any():
        raise InputError(f"'trace.round' must be >= {SETUP_ROUND} (got {int(frame['round'].min())}).")
    if (frame["duration_s"] < 0).any() or (frame["bytes"] < 0).any():
        raise InputError("'trace' must have non-negative durations and byte counts.")
    return frame


@dataclass(frozen=True)
class RunRecord:
    """One run as stored on disk: its trace, its configuration and its summary."""

    run_id: str
    algorithm: str
    trace: pd.DataFrame = field(repr=False)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def write_run(folder: str | os.PathLike[str], record: RunRecord) -> Path:
    """Write ``trace.csv`` and ``run.json`` into ``folder`` atomically; return the folder.

    ``run.json`` is written last, so a folder with a ``run.json`` always holds a complete run.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trace = validate_trace(record.trace)
    # a folder is complete only while its run.json matches its trace: retract it before replacing the trace
    (folder / RUN_FILE).unlink(missing_ok=True)
    with atomic_path(folder / TRACE_FILE) as tmp:
        trace.to_csv(tmp, index=False, float_format="%.9g")
    meta = {
        "schema_version": TRACE_SCHEMA_VERSION,
        "run_id": record.run_id,
        "algorithm": record.algorithm,
        "config": record.config,
        "summary": record.summary,
    }
    atomic_write_text(folder / RUN_FILE, json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    return folder


def read_run(folder: str | os.PathLike[str]) -> RunRecord:
    """Read a run folder written by :func:`write_run`, checking the schema version."""
    folder = Path(folder)
    meta_path = folder / RUN_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"'run folder' must contain {RUN_FILE} (got {str(folder)!r}).") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"'{meta_path}' must be valid JSON (got an error at line {exc.lineno}).") from None
    if not isinstance(meta, dict):
        raise InputError(f"'{meta_path}' must hold a JSON object (got {type(meta).__name__}).")
    version = meta.get("schema_version")
    if version != TRACE_SCHEMA_VERSION:
        raise InputError(f"'schema_version' of {meta_path} must be {TRACE_SCHEMA_VERSION} (got {version!r}).")
    missing = [key for key in ("run_id", "algorithm") if key not in meta]
    if missing:
        raise InputError(f"'{meta_path}' must name its {' and '.join(missing)} (missing).")
    trace_path = folder / TRACE_FILE
    try:
        frame = pd.read_csv(trace_path, dtype={"run_id": str, "entity": str})
    except FileNotFoundError:
        raise InputError(f"'run folder' must contain {TRACE_FILE} next to {RUN_FILE} (got {str(folder)!r}).") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"'{trace_path}' must be a CSV trace ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from None
    return RunRecord(run_id=meta["run_id"], algorithm=meta["algorithm"], trace=validate_trace(frame),
                     config=meta.get("config", {}), summary=meta.get("summary", {}))
