"""The leave-one-family-out study of the local-training statement: measure, fit, store, print.

Does the compute model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) price a visit of
an architecture it was not fitted on? ``python -m calibration.family_study --store`` times the visits
of five architecture families (:mod:`calibration.family_grid`: a development grid, the looked-at test
grids ``test1`` to ``test6`` and the frozen test grid ``test7``) as the engine times them
(:mod:`calibration.family_measure`), fits the ``local_training`` statement on the development
configurations (the development grid and the looked-at grids) and reports, per family, its in-family
and leave-one-family-out errors on ``test7`` with the measured noise beside (:mod:`calibration.family_fit`).

Files (in the package, :data:`STORE`, with ``--store``; in a folder with ``--out DIR``; each written
atomically, :func:`costmodel.files.atomic_path`):

``visits.csv``
    one row per configuration and round (:data:`calibration.family_grid.VISIT_COLUMNS`);
``lofo.csv``
    the table (:data:`calibration.family_fit.TABLE_COLUMNS`), printed into docs/limits.md
    (:mod:`costmodel.report.family_tables`);
``study.json``
    how the grids were measured (``measured``, one record per measurement: the grids, date, command,
    rounds, wall seconds, the 1/5/15-minute load averages before and after, the machine) and the fits
    behind the table (``fit``: the statement's parameters fitted on all families and without each), and
    ``earlier``: the published rows of every earlier measurement of a published grid whose visits a later one
    replaced, and of a grid that was published before another replaced it (:func:`earlier_tables`), so
    that a verdict measured twice is reported twice and a retired test keeps its verdicts on record.

By default (:data:`MEASURED_SETS`) every grid is measured, all together, their configurations
interleaved in the same rounds, so that a drift of the machine's speed during the measurement (on a
shared machine the other tenants come and go) reaches the fitted and the tested visits alike (16 to 21
minutes on the 2-core machine the study was made on); ``--set dev test7`` measures only those, and
the visits of a grid not measured are kept from the destination.
``--from-stored [VISITS.csv]`` measures nothing: it rebuilds the table from stored visits (by default the
package's), for instance after the statement changed. The table is always computed from the visits as
written to the file, so rebuilding it from the file gives the same figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.family_fit import GROUP, configuration_table, family_table, fits_frame, unexercised_parameters
from calibration.family_grid import FIT_SETS, LOOKED_AT_NOTES, PUBLISHED_TEST, SETS, TEST_SETS, VISIT_COLUMNS
from calibration.family_grid import configurations as grid_configurations
from calibration.fit.rows import statement_of
from calibration.machine import describe_machine
from costmodel.errors import InputError, must
from costmodel.files import atomic_path, atomic_write_text, check_output_folder, create_output_folder

__all__ = ["MEASURED_SETS", "STORE", "STUDY_FILE", "TABLE_FILE", "VISITS_FILE", "earlier_tables", "main", "read_study",
           "read_visits", "rebuild", "write_study"]

#: The package's copy (printed into docs/limits.md).
STORE = Path(__file__).resolve().parents[1] / "costmodel" / "data" / "families"
VISITS_FILE, TABLE_FILE, STUDY_FILE = "visits.csv", "lofo.csv", "study.json"
#: The grids measured by default: all of them, so that the fitted and the tested visits share the rounds.
MEASURED_SETS: tuple[str, ...] = SETS
#: Significant digits of the stored visits (a FLOP count of 2e8 keeps its units and a tenth).
_DIGITS = "%.10g"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def read_visits(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The visits stored at ``path``; a missing file or column is one error line."""
    path = Path(path)
    if not path.is_file():
        raise must("visits", "be a stored visits file", os.fspath(path))
    frame = pd.read_csv(path)
    missing = [c for c in VISIT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"'visits' must have the columns {', '.join(VISIT_COLUMNS)} (got {path.name} without "
                         f"{', '.join(missing)}).")
    return frame[list(VISIT_COLUMNS)]


def read_study(folder: str | os.PathLike[str] | None) -> dict[str, Any]:
    """``study.json`` in ``folder`` (an empty study when there is none, or no folder)."""
    path = Path(folder) / STUDY_FILE if folder is not None else None
    if path is None or not path.is_file():
        return {"schema_version": 1, "measured": [], "fit": {}}
    try:
        study = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InputError(f"'{STUDY_FILE}' must be JSON (got {os.fspath(path)!r}: {error}).") from None
    if not isinstance(study, dict) or not isinstance(study.get("measured"), list):
        raise InputError(f"'{STUDY_FILE}' must be an object with a 'measured' list (got {os.fspath(path)!r}).")
    return study


def write_study(folder: Path, visits: pd.DataFrame, table: pd.DataFrame, study: dict[str, Any]) -> None:
    """Write the three files into ``folder`` (each atomically; the visits first)."""
    with atomic_path(folder / VISITS_FILE, name="visits") as tmp:
        visits.to_csv(tmp, index=False, float_format=_DIGITS)
    with atomic_path(folder / TABLE_FILE, name="table") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    atomic_write_text(folder / STUDY_FILE, json.dumps(study, indent=1, sort_keys=True) + "\n", name="study")


def _as_stored(visits: pd.DataFrame) -> pd.DataFrame:
    """``visits`` as they read back from a stored file (the table is computed from exactly these)."""
    with tempfile.TemporaryDirectory(prefix="family-study-") as scratch:
        path = Path(scratch) / VISITS_FILE
        visits.to_csv(path, index=False, float_format=_DIGITS)
        return read_visits(path)


def rebuild(visits: pd.DataFrame, study: dict[str, Any], *, command: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table of ``visits`` and ``study`` (every test grid of :data:`~calibration.family_grid.TEST_SETS`)
    with its ``fit`` section made anew (``test_sets``: which grid is published, and why each other one is
    reported for reference only, for the printed block)."""
    configurations = configuration_table(visits)
    table, fits = family_table(configurations, TEST_SETS)
    statement = statement_of(GROUP)
    study = {**study, "schema_version": 1, "fit": {
        "created": _now(), "command": command, "group": GROUP, "seconds": str(statement.seconds), "parameters": fits,
        "unexercised": list(unexercised_parameters(configurations[configurations["set"].isin(FIT_SETS)])),
        "fit_sets": [{"set": s, "note": LOOKED_AT_NOTES.get(s, "")} for s in FIT_SETS],
        "test_sets": [{"set": s, "published": s == PUBLISHED_TEST, "note": LOOKED_AT_NOTES.get(s, "")}
                      for s in TEST_SETS]}}
    return table, study


def _measure(sets: Sequence[str], rounds: int, seed: int, progress: bool | None, command: str
             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Measure the grids ``sets`` together (their configurations interleaved in the same rounds)."""
    from calibration.family_measure import measure, raise_primitive_cache  # noqa: PLC0415 - torch on demand

    capacity = raise_primitive_cache()
    grid = [c for set_name in sets for c in grid_configurations(set_name)]
    load_before, started = list(os.getloadavg()), time.perf_counter()
    visits = measure(grid, rounds=rounds, seed=seed, progress=progress)
    wall = time.perf_counter() - started
    record = {"sets": list(sets), "created": _now(), "command": command, "rounds": rounds, "seed": seed,
              "configurations": len(grid), "visits": len(visits), "wall_seconds": round(wall, 1),
              "load_before": [round(v, 2) for v in load_before],
              "load_after": [round(v, 2) for v in os.getloadavg()],
              "onednn_primitive_cache_capacity": capacity, "machine": describe_machine(threads=1)}
    print(f"{'+'.join(sets)}: {len(visits)} visits in {wall:.0f} s wall, load averages {record['load_before']} "
          f"before, {record['load_after']} after", flush=True)
    return visits, record


def _measured(old: Sequence[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The measurement records after ``new``: older ones keep only the grids ``new`` did not measure again."""
    kept = []
    for record in old:
        rest = [s for s in record.get("sets", []) if s not in new["sets"]]
        if rest:
            kept.append({**record, "sets": rest})
    return [*kept, new]


def _published_set(study: dict[str, Any]) -> str:
    """The grid ``study``'s table published (its ``fit.test_sets``; :data:`PUBLISHED_TEST` when it names none)."""
    named = [e["set"] for e in study.get("fit", {}).get("test_sets", []) if e.get("published")]
    return named[0] if named else PUBLISHED_TEST


def _latest_record(study: dict[str, Any], set_name: str) -> dict[str, Any] | None:
    """The latest measurement record of ``study`` that measured ``set_name`` (None: none did)."""
    records = [r for r in study.get("measured", []) if set_name in r.get("sets", [])]
    return records[-1] if records else None


def earlier_tables(old_study: dict[str, Any], old_table: pd.DataFrame | None, study: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """``study``'s ``earlier`` list: the destination's (``old_study``), and the destination's published rows
    (``old_table``) when they are no longer what ``study`` publishes: when the published grid's visits came from
    another measurement than ``study``'s (a re-measured test grid keeps its earlier verdicts on record), or when
    ``study`` publishes another grid (a retired test grid keeps the verdicts it was published with)."""
    earlier = list(old_study.get("earlier", []))
    earlier += [e for e in study.get("earlier", []) if e not in earlier]
    published = _published_set(old_study)
    old, new = _latest_record(old_study, published), _latest_record(study, published)
    retired = published != _published_set(study)
    if old is None or old_table is None or (
            not retired and new is not None and new.get("created") == old.get("created")):
        return earlier
    rows = old_table[old_table["test_set"] == published]
    if rows.empty or any(e.get("set") == published and e.get("measured") == old.get("created") for e in earlier):
        return earlier
    columns = ["family", "in_family_test_mape_pct", "lofo_test_mape_pct", "noise_test_pct", "verdict"]
    return [*earlier, {"set": published, "measured": old.get("created"), "command": old.get("command"),
                       "statement": old_study.get("fit", {}).get("seconds"), "retired": retired,
                       "fitted_on": [e["set"] for e in old_study.get("fit", {}).get("fit_sets", [])] or ["dev"],
                       "rows": rows[columns].to_dict(orient="records")}]


def _stored_table(folder: Path) -> pd.DataFrame | None:
    return pd.read_csv(folder / TABLE_FILE) if (folder / TABLE_FILE).is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.family_study", description=__doc__.split("\n")[0])
    parser.add_argument("--set", nargs="+", choices=SETS, default=list(MEASURED_SETS), metavar="SET",
                        help=f"the grids to measure, together ({', '.join(SETS)}; default "
                             f"{' '.join(MEASURED_SETS)}); the other grids' stored visits are kept")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per grid (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rounds' orders")
    parser.add_argument("--store", action="store_true", help=f"write the files into the package ({STORE})")
    parser.add_argument("--out", type=Path, help="write the files into this folder")
    parser.add_argument("--from-stored", nargs="?", const=STORE / VISITS_FILE, type=Path, metavar="VISITS",
                        help="measure nothing (--set, --rounds, --seed are ignored): rebuild the table from stored "
                             "visits (default the package's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    command = "python -m calibration.family_study " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    try:
        destinations = ([STORE] if args.store else []) + ([check_output_folder("out", args.out)] if args.out else [])
        if not destinations and args.from_stored is None:    # minutes of measuring that nothing would keep
            raise InputError("'store' or 'out' must be given to measure: the visits are written there (got neither; "
                             "--from-stored rebuilds a table without measuring).")
        if args.from_stored is not None:
            visits = read_visits(args.from_stored)
            study = read_study(Path(args.from_stored).parent)
        else:
            base = destinations[0] if destinations else None
            study = read_study(base)
            kept = (read_visits(base / VISITS_FILE) if base and (base / VISITS_FILE).is_file() else None)
            sets = tuple(s for s in SETS if s in args.set)
            visits, record = _measure(sets, args.rounds, args.seed, False if args.no_progress else None, command)
            study["measured"] = _measured(study["measured"], record)
            if kept is not None:
                visits = pd.concat([kept[~kept["set"].isin(visits["set"].unique())], visits], ignore_index=True)
        visits = _as_stored(visits)
        table, study = rebuild(visits, study, command=command)
        for folder in destinations:
            kept_study = {**study, "earlier": earlier_tables(read_study(folder), _stored_table(folder), study)}
            write_study(create_output_folder("out", folder), visits, table, kept_study)
    except InputError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        print(fits_frame(study["fit"]["parameters"]).to_string(float_format=lambda v: f"{v:.3g}"))
    print("wrote " + ", ".join(str(d) for d in destinations) if destinations else
          "nothing written (use --store or --out DIR)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
