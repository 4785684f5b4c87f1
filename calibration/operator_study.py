"""A candidate local-training statement with measured layers, tried leave-one-family-out beside the counts.

The count statement (:mod:`costmodel.model.events`) missed the MobileNet family by a point or two on
``test5``, the family study's test grid then (fitted on since): a depthwise or pointwise convolution on a
small map runs at its own fraction of the FLOP rate, and no count follows that (docs/limits.md). This
study tries the other way: time each layer alone on this machine
(:mod:`reference_impl.models.operator_timing`) and price a visit of ``m`` samples as

``t_visit + m*(V_e*t_val + a_conv*T_conv + a_lin*T_lin + a_attn*T_attn)
+ steps*(t_step + N*t_node + C_k*t_convcall + a_call*T_call + P*t_param)``

with ``T_conv``, ``T_lin``, ``T_attn`` the measured per-sample seconds of the model's convolutions,
dense layers and attention, ``T_call`` their per-call seconds, and the ``a`` coefficients dimensionless
(near 1 when a layer costs inside the model what it costs alone). The FLOPs, the padding FLOPs and the
conv input values are gone: the measured layers hold them (:data:`CANDIDATE_TERMS`). Products that are
no layer (``torch.bmm`` in a model's own code) would go unpriced; no family has any. It was chosen on
the grids looked at before ``test6`` (a measured optimizer step in place of ``P*t_param`` got no weight;
one coefficient for dense layers and attention together priced the ViT far off without it).

**What this is, and is not.** A *candidate*, reported on the family study's frozen test grid beside the
count statement, both fitted on the same development configurations
(:data:`calibration.family_grid.FIT_SETS`). It is not the calibration's statement, and ``predict``
does not use it; to be, the layers of a user's model would have to be timed where the prediction is
made, and the presets' layers stored with a calibration.

``python -m calibration.operator_study --store`` builds each model of the stored visits
(:data:`calibration.family_study.STORE`), times its layers (about a minute for the grids' 206 models), writes
``operator_times.csv`` beside the visits and prints the table; ``--from-stored`` recomputes the table
from that file; ``--earlier VISITS.csv`` adds the test rows of an earlier measurement of the visits
(both statements refitted on its development configurations, the same layer times) to
``operator_study.json``, so that a verdict measured twice is reported twice. The layers are timed when
this runs, the visits when they were measured: run it right after the family study's measurement.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from calibration.family_fit import (
    configuration_table,
    event_rows,
    fit_coefficients,
    mape_percent,
    predict_seconds,
    verdict,
)
from calibration.family_grid import DEPTH_KEYWORDS, FAMILIES, FIT_SETS, TEST_SETS, Configuration
from calibration.fit.regression import irls
from costmodel.contracts.model_inputs import parse_input_shape
from costmodel.errors import InputError
from costmodel.files import atomic_path, atomic_write_text
from costmodel.host import cpu_name

__all__ = ["CANDIDATE_TERMS", "MODEL_COLUMNS", "OPERATOR_COLUMNS", "TABLE_COLUMNS", "candidate_design",
           "candidate_table", "main", "measure_operators"]

#: What identifies a model in the configuration table.
MODEL_COLUMNS: tuple[str, ...] = ("model", "width", "depth", "sample_shape", "num_classes")
#: The measured columns per model in ``operator_times.csv`` (``OperatorTimes``'s, ``calls`` as ``layer_calls``).
OPERATOR_COLUMNS: tuple[str, ...] = ("conv_sample_s", "linear_sample_s", "attention_sample_s", "layer_call_s",
                                     "layer_calls")
#: The candidate's terms: name -> (what multiplies it, the count or measurement).
CANDIDATE_TERMS: dict[str, str] = {
    "t_val": "m * V_e", "a_conv": "m * T_conv (s)", "a_lin": "m * T_lin (s)", "a_attn": "m * T_attn (s)",
    "t_step": "steps", "t_node": "steps * N",
    "t_convcall": "steps * C_k", "a_call": "steps * T_call (s)", "t_param": "steps * P", "t_visit": "1"}
#: Columns of :func:`candidate_table` (``operator_candidate.csv``).
TABLE_COLUMNS: tuple[str, ...] = ("grid", "family", "configurations", "noise_pct", "counts_fit_pct", "counts_lofo_pct",
                                  "candidate_fit_pct", "candidate_lofo_pct", "counts_verdict", "candidate_verdict")
STORED = Path(__file__).resolve().parents[1] / "costmodel" / "data" / "families"


def _configuration(row: pd.Series) -> Configuration:
    shape = parse_input_shape(str(row["sample_shape"]), name="sample_shape")
    depth = int(row["depth"]) if row["model"] in DEPTH_KEYWORDS else None
    return Configuration("any", "any", str(row["model"]), float(row["width"]), shape, int(row["num_classes"]),
                         1, 1, depth)


def measure_operators(table: pd.DataFrame, *, progress: bool | None = None) -> pd.DataFrame:
    """One row per model of ``table`` (:data:`MODEL_COLUMNS`, :data:`OPERATOR_COLUMNS`, the CPU and the time):
    its layers timed alone on this machine."""
    from calibration.family_measure import build
    from reference_impl.models.operator_timing import operator_times

    models = table.drop_duplicates(list(MODEL_COLUMNS))[list(MODEL_COLUMNS)].reset_index(drop=True)
    cache: dict = {}
    rows = []
    for _, row in tqdm(models.iterrows(), total=len(models), desc="timing layers", unit="model",
                       disable=None if progress is None else not progress):
        configuration = _configuration(row)
        model = build(configuration)
        times = operator_times(model, configuration.sample_shape, cache=cache)
        rows.append((*row.tolist(), times.conv_sample_s, times.linear_sample_s, times.attention_sample_s,
                     times.layer_call_s, times.calls))
    frame = pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *OPERATOR_COLUMNS])
    frame["cpu"] = cpu_name()
    frame["measured_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return frame


def candidate_design(table: pd.DataFrame, operators: pd.DataFrame) -> np.ndarray:
    """The candidate's design matrix (columns in :data:`CANDIDATE_TERMS` order) for ``table``'s configurations."""
    joined = table.merge(operators, on=list(MODEL_COLUMNS), how="left", validate="many_to_one")
    if joined["conv_sample_s"].isna().any():
        missing = joined.loc[joined["conv_sample_s"].isna(), list(MODEL_COLUMNS)].drop_duplicates()
        raise InputError(f"'operators' must time every model of the visits (got none for {len(missing)} models).")
    events = event_rows(joined)
    m, steps = events["samples"].to_numpy(), events["steps"].to_numpy()
    return np.column_stack([
        m * events["elementwise_values"].to_numpy(),
        m * joined["conv_sample_s"].to_numpy(), m * joined["linear_sample_s"].to_numpy(),
        m * joined["attention_sample_s"].to_numpy(), steps, steps * events["autograd_nodes"].to_numpy(),
        steps * events["conv_calls"].to_numpy(), steps * joined["layer_call_s"].to_numpy(),
        steps * events["params"].to_numpy(), np.ones(len(joined))])


def candidate_table(configurations: pd.DataFrame, operators: pd.DataFrame) -> pd.DataFrame:
    """Per family, on the development configurations (``grid`` "development") and on each test grid of
    :data:`~calibration.family_grid.TEST_SETS`: the count statement's and the candidate's errors (MAPE %),
    fitted on all families' development configurations (``fit``) and on the other families' (``lofo``), and
    on a test grid each one's verdict (:func:`calibration.family_fit.verdict`). ``attrs["coefficients"]``:
    the candidate's parameters fitted on all families."""
    configurations = configurations.reset_index(drop=True)
    x_all, y_all = candidate_design(configurations, operators), configurations["seconds"].to_numpy(dtype=np.float64)
    in_dev = configurations["set"].isin(FIT_SETS).to_numpy()
    fits = {}
    for left_out in ("all", *FAMILIES):
        keep = in_dev & (configurations["family"] != left_out).to_numpy()
        fits[left_out] = (fit_coefficients(configurations[keep]), irls(x_all[keep], y_all[keep], np.ones(keep.sum())))
    rows = []
    for grid in ("development", *(t for t in TEST_SETS if (configurations["set"] == t).any())):
        chosen = in_dev if grid == "development" else (configurations["set"] == grid).to_numpy()
        for family in FAMILIES:
            mask = chosen & (configurations["family"] == family).to_numpy()
            if not mask.any():
                continue
            rows_f, x, y = configurations[mask], x_all[mask], y_all[mask]
            cells = {}
            for label, fit in (("fit", fits["all"]), ("lofo", fits[family])):
                cells[f"counts_{label}_pct"] = mape_percent(predict_seconds(rows_f, fit[0]), y)[0]
                cells[f"candidate_{label}_pct"] = mape_percent(x @ fit[1], y)[0]
            judged = {k: verdict(cells[f"{k}_fit_pct"], cells[f"{k}_lofo_pct"]) if grid != "development"
                      else "development" for k in ("counts", "candidate")}
            rows.append({"grid": grid, "family": family, "configurations": len(rows_f),
                         "noise_pct": 100.0 * float(rows_f["noise"].median()), **cells,
                         "counts_verdict": judged["counts"], "candidate_verdict": judged["candidate"]})
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table.attrs["coefficients"] = dict(zip(CANDIDATE_TERMS, fits["all"][1].tolist()))
    return table


def _earlier_entry(path: Path, operators: pd.DataFrame) -> dict:
    """An earlier measurement's test rows, dated by the family study's record beside its visits."""
    rows = candidate_table(configuration_table(pd.read_csv(path)), operators)
    record = path.with_name("study.json")
    measured = str(path)
    if record.is_file():
        last = json.loads(record.read_text(encoding="utf-8")).get("measured", [{}])[-1]
        measured = f"{last.get('created', '?')}, `{last.get('command', '?')}`"
    return {"measured": measured, "rows": rows[rows["grid"] != "development"].to_dict("records")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.operator_study", description=__doc__.split("\n")[0])
    parser.add_argument("--visits", default=str(STORED / "visits.csv"), help="the family study's visits")
    parser.add_argument("--store", action="store_true",
                        help="write operator_times.csv (unless --from-stored), operator_candidate.csv and "
                             "operator_study.json into the package's families data")
    parser.add_argument("--from-stored", action="store_true", help="read operator_times.csv, time nothing")
    parser.add_argument("--earlier", metavar="VISITS.csv", action="append", default=[],
                        help="an earlier measurement of the same grids: its test-grid rows, with these layer times, "
                             "are stored in operator_study.json 'earlier' (repeatable)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        configurations = configuration_table(pd.read_csv(args.visits))
        if args.from_stored:
            operators = pd.read_csv(STORED / "operator_times.csv")
        else:
            operators = measure_operators(configurations, progress=False if args.no_progress else None)
        table = candidate_table(configurations, operators)
        earlier = [_earlier_entry(Path(path), operators) for path in args.earlier]
        if args.store:
            if not args.from_stored:
                with atomic_path(STORED / "operator_times.csv", name="operator_times") as path:
                    operators.to_csv(path, index=False)
            with atomic_path(STORED / "operator_candidate.csv", name="operator_candidate") as path:
                table.to_csv(path, index=False)
            record = {"command": "python -m calibration.operator_study " + shlex.join(sys.argv[1:] if argv is None
                                                                                       else list(argv)),
                      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      "layers_timed": str(operators["measured_at"].iloc[0]), "cpu": str(operators["cpu"].iloc[0]),
                      "models": int(len(operators)), "terms": CANDIDATE_TERMS,
                      "coefficients": table.attrs["coefficients"], "earlier": earlier}
            atomic_write_text(STORED / "operator_study.json", json.dumps(record, indent=2) + "\n",
                              name="operator_study")
    except (InputError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table.round(1).to_string(index=False))
    for entry in earlier:
        print(f"earlier measurement ({entry['measured']}):")
        print(pd.DataFrame(entry["rows"]).round(1).to_string(index=False))
    print("candidate coefficients (all families):",
          ", ".join(f"{k} {v:.3g}" for k, v in table.attrs["coefficients"].items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
