"""How far two calibrations of one machine disagree: the reproducibility of the measurement protocol.

Two calibrations made back to back on the same machine (``profile`` + ``calibrate``, the protocol
of :mod:`calibration.protocol`) should price the papers' two setups alike; a quick calibration
(``calibrate --quick``, :mod:`calibration.quick`) should price them like a full one made on the same
machine. :func:`agreement_frame` predicts the round of FedAvg (McMahan et al., AISTATS 2017) and
Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) for the EMNIST and CINIC-10 presets with
each calibration of a pair, twice: with the presets' links, and with links so fast
(:data:`FAST_LINK_BITS_PER_S`) that the round is the devices' compute, where a calibration's compute
coefficients show undiluted. The difference is ``second/first - 1``.

``python -m calibration.agreement --pair back-to-back A.json B.json --pair quick-vs-full FULL.json
QUICK.json [--store]`` prints the table and, with ``--store``, adds its pairs to the table stored in the
package (:data:`STORED`; a pair stored before, same name and files, is replaced), from which
docs/limits.md's generated block is printed (:func:`costmodel.report.agreement_tables.agreement_block`).
Each row also carries both calibrations' median speed-probe time (``machine.speed_probe_s``): how fast the
machine ran while each was made.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from costmodel.analysis.predict import predict_rounds
from costmodel.contracts.calibration_file import Calibration, load_calibration
from costmodel.errors import InputError, must
from costmodel.files import atomic_path
from costmodel.model.scenario import Scenario
from costmodel.report.agreement_tables import load_agreement

__all__ = ["AGREEMENT_COLUMNS", "FAST_LINK_BITS_PER_S", "STORED", "agreement_frame", "main", "merged_with_stored"]

#: Link rate of the compute-only rows (bits/s): transfers take nanoseconds, the round is compute.
FAST_LINK_BITS_PER_S = 1e12
#: Where ``--store`` writes the table (package data, printed into docs/limits.md).
STORED = Path(__file__).resolve().parents[1] / "costmodel" / "data" / "calibration_agreement.csv"
#: Columns of :func:`agreement_frame`.
AGREEMENT_COLUMNS: tuple[str, ...] = (
    "comparison", "first", "second", "preset", "links", "algorithm", "first_round_seconds",
    "second_round_seconds", "difference_pct", "first_probe_s", "second_probe_s")


def _scenarios() -> list[tuple[str, str, Scenario]]:
    out = []
    for preset in (Scenario.emnist, Scenario.cinic10):
        base = preset()
        out.append((preset.__name__, "preset", base))
        out.append((preset.__name__, "compute only", base.replace(
            uplink_bits_per_s=FAST_LINK_BITS_PER_S, downlink_bits_per_s=FAST_LINK_BITS_PER_S,
            server_bits_per_s=FAST_LINK_BITS_PER_S)))
    return out


def _label(path: str) -> str:
    """A file's name with its folder (``A/calibration.json``): enough to tell the calibrations apart."""
    return "/".join(Path(path).parts[-2:])


def _probe(calibration: Calibration) -> float:
    value = calibration.machine.get("speed_probe_s")
    return float(value) if value is not None else math.nan


def agreement_frame(pairs: Sequence[tuple[str, str, Calibration, str, Calibration]]) -> pd.DataFrame:
    """One row per pair, preset, links and algorithm (columns :data:`AGREEMENT_COLUMNS`).

    ``pairs`` holds ``(comparison, first_label, first, second_label, second)``.
    """
    rows = []
    for comparison, first_label, first, second_label, second in pairs:
        for preset, links, scenario in _scenarios():
            a = predict_rounds(scenario, first.coefficients)
            b = predict_rounds(scenario, second.coefficients)
            for (_, x), (_, y) in zip(a.iterrows(), b.iterrows()):
                rows.append(dict(comparison=comparison, first=first_label, second=second_label, preset=preset,
                                 links=links, algorithm=x["algorithm"], first_round_seconds=float(x["round_seconds"]),
                                 second_round_seconds=float(y["round_seconds"]),
                                 difference_pct=100.0 * (float(y["round_seconds"]) / float(x["round_seconds"]) - 1.0),
                                 first_probe_s=_probe(first), second_probe_s=_probe(second)))
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.agreement", description=__doc__.split("\n")[0])
    parser.add_argument("--pair", nargs=3, action="append", metavar=("COMPARISON", "FIRST", "SECOND"), required=True,
                        help="a comparison's name and two calibration files (repeatable)")
    parser.add_argument("--store", action="store_true",
                        help=f"add the pairs to {STORED.name} in the package (a pair stored before is replaced)")
    args = parser.parse_args(argv)
    try:
        pairs = []
        for comparison, first, second in args.pair:
            if not comparison.strip():
                raise must("pair", "name its comparison", comparison)
            pairs.append((comparison, _label(first), load_calibration(first), _label(second),
                          load_calibration(second)))
        frame = agreement_frame(pairs)
        stored = merged_with_stored(frame) if args.store else None
    except InputError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if stored is not None:
        with atomic_path(STORED) as tmp:
            stored.to_csv(tmp, index=False)
        print(f"wrote {STORED} ({len(stored)} rows)")
    return 0


def merged_with_stored(frame: pd.DataFrame) -> pd.DataFrame:
    """The stored table with ``frame``'s pairs added: a pair stored before (same comparison, first and
    second) is replaced, every other stored pair is kept, in its order."""
    stored = load_agreement(STORED)          # a table missing a column is one error line
    if stored is None:
        return frame
    key = ["comparison", "first", "second"]
    replaced = stored.set_index(key).index.isin(frame.set_index(key).index)
    return pd.concat([stored[~replaced], frame], ignore_index=True)[list(AGREEMENT_COLUMNS)]


if __name__ == "__main__":
    raise SystemExit(main())
