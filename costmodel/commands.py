"""The cost model's sub-commands: ``predict``, ``solve``, ``plot`` and ``formula``.

They answer, from the command line, what Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021)
costs over FedAvg for scenarios no one ran. Each handler parses the options, calls
:mod:`costmodel.predict`, :mod:`costmodel.solve`, :mod:`costmodel.plots` or
:mod:`costmodel.expressions`, and formats a table; nothing here models anything.

Registration imports nothing heavy: sympy, pandas and the model load inside the handlers, and
matplotlib only inside ``plot``, so ``astraea-cost predict`` starts fast and never needs PyTorch.

Inputs
------
Every what-if input of :data:`costmodel.symbols.INPUTS` has an option named after it with dashes
(``--clients-per-round``, ``--mediator-epochs``); the bandwidths are ``--uplink``, ``--downlink`` and
``--server-bandwidth``; ``--clients`` and ``--gamma`` are aliases matching ``astraea-cost run``.
Values take units (:mod:`costmodel.units`): ``--uplink 5Mbit/s``, ``--params 1.25M``,
``--augmented-fraction 81.8%``. ``predict`` (and ``plot``, for the swept input) also takes

* lists: ``--clients-per-round 10,20,50``;
* ranges ``start:stop:step``, stop included when the steps land on it: ``--clients-per-round 10:100:10``;
* geometric ranges with a factor ``xF``: ``--uplink 1Mbit/s:1Gbit/s:x10``.

Several multi-valued options form a cartesian grid (at most :data:`MAX_SCENARIOS` scenarios).
``--preset emnist|cinic10`` starts from the TPDS setups (default: the inputs' own defaults, which are
the EMNIST setup). ``--calibration FILE`` replaces the embedded calibration, and ``--set NAME=VALUE``
overrides single coefficients (``--set latency_s=5ms``).

Every bad input raises :class:`~costmodel.errors.InputError`, which the dispatcher prints as one line
with exit status 2. Files (``--csv``, ``--json``, figures) are written atomically.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from costmodel.errors import InputError, must, relabel

__all__ = [
    "MAX_PRINTED_ROWS",
    "MAX_SCENARIOS",
    "OPTION_OF",
    "PLOT_KINDS",
    "QUESTIONS",
    "parse_values",
    "register",
    "scenario_from_args",
    "summary_frame",
]

#: Largest grid the command line evaluates in one call. The model itself does millions of scenarios
#: per second, but the tidy frames hold 12 overhead rows per scenario; sweep larger grids from Python.
MAX_SCENARIOS = 100_000
#: Rows printed on the terminal; the full table goes to ``--csv``/``--json``.
MAX_PRINTED_ROWS = 60

#: Command-line option (without dashes) of each input whose name is not simply dashed.
_SPECIAL_OPTIONS: dict[str, tuple[str, ...]] = {
    "clients_total": ("clients-total", "clients"),
    "mediator_size": ("gamma", "mediator-size"),     # gamma first: the papers' name, the one people type
    "uplink_bits_per_s": ("uplink", "uplink-bits-per-s"),
    "downlink_bits_per_s": ("downlink", "downlink-bits-per-s"),
    "server_bits_per_s": ("server-bandwidth", "server-bits-per-s"),
}
#: Help text of each input option (symbols.INPUTS order; kept here so registration imports no sympy;
#: a test checks the names against symbols.INPUTS).
_INPUT_HELP: dict[str, str] = {
    "clients_total": "N, clients in the federation",
    "clients_per_round": "c, clients selected per round",
    "classes": "K, label classes",
    "samples_per_client": "n, mean samples per client before augmentation",
    "samples_per_client_sd": "s_n, standard deviation of samples per client",
    "local_epochs": "E, local epochs per client visit",
    "mediator_epochs": "E_m, mediator epochs per round",
    "mediator_size": "gamma, clients per mediator",
    "batch_size": "B, mini-batch size",
    "rounds": "R, rounds (for totals)",
    "params": "P, model parameters, e.g. 1.25M",
    "bytes_per_param": "bytes per serialized parameter (4 for float32)",
    "message_header_bytes": "header bytes per message (16)",
    "train_flops_per_sample": "F, training FLOPs per sample, e.g. 1.1M",
    "conv_input_values": "V_c, values entering the convolutions per sample (2962 for the TPDS CNN)",
    "sample_values": "V, values per sample (784 for 1x28x28)",
    "augmented_fraction": "a, new samples per original sample, e.g. 81.8%%",
    "augmented_fraction_sd": "s_a, spread across clients of the per-client augmented fraction",
    "client_load_spread": "kappa_c, largest client's excess over normal sizes (1)",
    "mediator_load_spread": "kappa, spread of mediator loads over random grouping (1)",
    "removed_fraction": "r, samples dropped by downsampling per original sample",
    "uplink_bits_per_s": "client uplink, e.g. 5Mbit/s (inf: in-process)",
    "downlink_bits_per_s": "client downlink, e.g. 20Mbit/s",
    "server_bits_per_s": "server link shared by concurrent transfers, e.g. 1Gbit/s",
}
_INPUT_NAMES: tuple[str, ...] = tuple(_INPUT_HELP)
#: Input name -> the option spellings (first is the one errors name).
OPTION_OF: dict[str, tuple[str, ...]] = {
    name: _SPECIAL_OPTIONS.get(name, (name.replace("_", "-"),)) for name in _INPUT_NAMES
}
_PRESETS = ("emnist", "cinic10")

#: ``solve`` questions.
QUESTIONS: tuple[str, ...] = ("max-clients", "min-bandwidth", "crossover-bandwidth", "break-even", "sensitivity")
#: ``plot --kind`` values and the file each writes.
PLOT_KINDS: dict[str, str] = {
    "overhead-clients": "overhead_vs_clients.png",
    "overhead-params": "overhead_vs_params.png",
    "overhead-bandwidth": "overhead_vs_bandwidth.png",
    "round-time": "round_time_vs_clients.png",
    "traffic": "traffic_vs_clients.png",
}
_FORMULA_TARGETS_EXTRA = ("round", "setup", "total")


# ---------------------------------------------------------------------------------------------------
# Registration (cheap: argparse only).


def _add_scenario_options(parser: argparse.ArgumentParser, *, multi: bool) -> None:
    group = parser.add_argument_group(
        "scenario inputs" + (" (lists a,b,c and ranges start:stop:step or start:stop:xF form a grid)" if multi else ""))
    group.add_argument("--preset", choices=_PRESETS, help="start from a TPDS setup (default: EMNIST defaults)")
    for name in _INPUT_NAMES:
        flags = [f"--{option}" for option in OPTION_OF[name]]
        group.add_argument(*flags, dest=f"input_{name}", metavar="VALUE", default=None, help=_INPUT_HELP[name])
    group.add_argument("--calibration", metavar="FILE", default=None,
                       help="calibration file (default: the embedded one)")
    group.add_argument("--set", dest="overrides", metavar="NAME=VALUE", action="append", default=[],
                       help="override one coefficient, e.g. --set latency_s=5ms (repeatable)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``solve``, ``plot`` and ``formula`` to the ``astraea-cost`` dispatcher."""
    predict = subparsers.add_parser(
        "predict", help="predict round time, traffic and Astraea's overhead for one scenario or a grid",
        description="Predict the round time, bytes on the wire and Astraea's overhead over FedAvg per category, "
                    "for one scenario or a grid of them, from the calibrated cost model.")
    _add_scenario_options(predict, multi=True)
    predict.add_argument("--scope", choices=("round", "total"), default=None,
                         help="scope of the overhead columns: round (default) or total = setup + rounds x round")
    predict.add_argument("--phases", action="store_true", help="print (and write) the per-phase table instead")
    predict.add_argument("--csv", metavar="FILE", help="also write the table as CSV (SI units)")
    predict.add_argument("--json", metavar="FILE", help="also write the table as JSON records (SI units)")
    predict.set_defaults(handler=_predict)

    solve = subparsers.add_parser(
        "solve", help="answer a capacity question: max-clients, min-bandwidth, crossover-bandwidth, break-even, "
                      "sensitivity",
        description="Answer a capacity question from the cost model, with units and the expression used.")
    solve.add_argument("question", choices=QUESTIONS, metavar="QUESTION", help=", ".join(QUESTIONS))
    solve.add_argument("--budget", help="max-clients: round-time budget, e.g. 30s")
    solve.add_argument("--max-overhead", help="min-bandwidth: allowed overhead over FedAvg's round time, e.g. 20%%")
    solve.add_argument("--link", choices=("both", "uplink", "downlink"), default=None,
                       help="min-bandwidth: which client link varies (default both)")
    solve.add_argument("--fedavg-rounds", help="break-even: FedAvg rounds to match, e.g. 200")
    solve.add_argument("--algorithm", choices=("astraea", "fedavg"), default=None,
                       help="max-clients and sensitivity: which algorithm's round time (default astraea)")
    solve.add_argument("--expression", action="store_true", help="also print the sympy expression behind the answer")
    solve.add_argument("--latex", action="store_true", help="also print that expression, as LaTeX")
    _add_scenario_options(solve, multi=False)
    solve.set_defaults(handler=_solve)

    plot = subparsers.add_parser(
        "plot", help="draw the overhead, round-time and traffic figures as PNG files",
        description="Draw the figures of Astraea's cost over FedAvg against clients per round, model size and "
                    "bandwidth, and write them as PNG files.")
    plot.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files")
    plot.add_argument("--kind", action="append", choices=tuple(PLOT_KINDS), default=None,
                      help="which figure (repeatable; default: all)")
    plot.add_argument("--scope", choices=("round", "setup", "total"), default=None,
                      help="scope of the overhead figures (default round)")
    plot.add_argument("--quantity", choices=("seconds", "bytes"), default=None,
                      help="quantity of the overhead figures (default seconds)")
    _add_scenario_options(plot, multi=True)
    plot.set_defaults(handler=_plot)

    formula = subparsers.add_parser(
        "formula", help="print the symbolic cost of a phase, of the round, or of an overhead category",
        description="Print the cost model's expression for a phase (model_broadcast, local_training, ...), for "
                    "'round', 'setup' or 'total', or for an overhead category (training_compute, communication, "
                    "...), with the meaning of its symbols, or as LaTeX.")
    formula.add_argument("target", metavar="PHASE", help="a phase, round, setup, total, or an overhead category")
    formula.add_argument("--algorithm", choices=("astraea", "fedavg"), default="astraea")
    formula.add_argument("--quantity", choices=("seconds", "bytes", "flops"), default="seconds")
    formula.add_argument("--scope", choices=("round", "setup", "total"), default=None,
                         help="for an overhead category only (default round)")
    formula.add_argument("--latex", action="store_true", help="print LaTeX only")
    formula.set_defaults(handler=_formula)


# ---------------------------------------------------------------------------------------------------
# Values: lists, ranges and units.


def _label(name: str) -> str:
    return OPTION_OF[name][0]


def _relabel(error: InputError, name: str | None = None) -> InputError:
    """The same message, naming the command-line options instead of the model inputs (the one that
    starts it, or any input when ``name`` is None)."""
    names = [name] if name is not None else list(OPTION_OF)
    error = relabel(error, {n: _label(n) for n in names})
    return InputError(str(error).replace("be <= clients_total (", "be <= clients ("))


def parse_values(name: str, text: str) -> list[float]:
    """Parse the text of input ``name``'s option into one or more values (SI).

    ``"10"`` -> [10]; ``"10,20,50"`` -> [10, 20, 50]; ``"10:50:20"`` -> [10, 30, 50];
    ``"1Mbit/s:100Mbit/s:x10"`` -> [1e6, 1e7, 1e8]. Each value is checked against the input's rule.

    Raises
    ------
    InputError
        Naming the option (``'uplink' must be ...``) for unreadable text, a bad range or a value
        that breaks the input's rule.
    """
    from costmodel.symbols import check_input_array
    from costmodel.units import parse_input

    label = _label(name)
    text = text.strip()
    if not text:
        raise must(label, "have a value", text)
    if ":" in text:
        values = _parse_range(name, label, text)
    else:
        values = [parse_input(name, part.strip(), label=label) for part in text.split(",")]
    try:
        check_input_array(name, values)   # a range's generated values
    except InputError as error:
        raise _relabel(error, name) from None
    return values


def _parse_range(name: str, label: str, text: str) -> list[float]:
    from costmodel.units import parse_input

    parts = text.split(":")
    if len(parts) != 3:
        raise must(label, "be a range start:stop:step or start:stop:xF", text)
    start = parse_input(name, parts[0].strip(), label=label)
    stop = parse_input(name, parts[1].strip(), label=label)
    step_text = parts[2].strip()
    if stop < start:
        raise must(label, "be a range whose stop is not below its start", text)
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise must(label, "be a range of finite values", text)
    if step_text[:1] in ("x", "*", "×"):
        try:
            factor = float(step_text[1:])
        except ValueError:
            raise must(label, "have a geometric factor xF with F > 1", text) from None
        if not factor > 1 or not math.isfinite(factor):
            raise must(label, "have a geometric factor xF with F > 1", text)
        if not start > 0:
            raise must(label, "start a geometric range above 0", text)
        count = int(math.floor(math.log(stop / start) / math.log(factor) + 1e-9)) + 1
        if count > MAX_SCENARIOS:
            raise must(label, f"be a range of at most {MAX_SCENARIOS:,} values", text)
        values = [start * factor ** i for i in range(count)]
    else:
        from costmodel.symbols import INPUTS
        from costmodel.units import parser_for_unit

        step = parser_for_unit(INPUTS[name].unit)(step_text, name=label, signed=True)
        if not step > 0:
            raise must(label, "have a range step > 0", text)
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > MAX_SCENARIOS:
            raise must(label, f"be a range of at most {MAX_SCENARIOS:,} values", text)
        values = [start + step * i for i in range(count)]
    from costmodel.symbols import INPUTS

    if INPUTS[name].integer:
        values = [float(round(value)) for value in values]
    return values


def _given_inputs(args: argparse.Namespace) -> dict[str, list[float]]:
    """The inputs given on the command line, parsed, in input order."""
    given = {}
    for name in _INPUT_NAMES:
        text = getattr(args, f"input_{name}")
        if text is not None:
            given[name] = parse_values(name, text)
    return given


def _base_inputs(args: argparse.Namespace) -> dict[str, float]:
    from costmodel.symbols import INPUTS, Scenario

    if args.preset == "cinic10":
        return dict(Scenario.cinic10().as_dict())
    if args.preset == "emnist":
        return dict(Scenario.emnist().as_dict())
    return {name: quantity.default for name, quantity in INPUTS.items()}


def _coefficients(args: argparse.Namespace) -> Any:
    """The calibration of ``--calibration`` (or the embedded default) with the ``--set`` overrides.

    An override takes the units the report prints (``--set flops_per_s=99.5GFLOP/s``,
    ``--set latency_s=5ms``); a coefficient set twice is refused (one value would be dropped).
    """
    from costmodel.calibration_file import COEFFICIENT_UNITS, check_coefficient, load_calibration
    from costmodel.units import parser_for_unit

    calibration = load_calibration(args.calibration)
    overrides: dict[str, float] = {}
    for item in args.overrides:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise must("set", "be NAME=VALUE, e.g. latency_s=5ms", item)
        if name not in COEFFICIENT_UNITS:
            raise InputError(f"'set' must name a coefficient, one of {', '.join(COEFFICIENT_UNITS)} (got {name!r}).")
        if name in overrides:
            raise InputError(f"'set' must give each coefficient once (got {name} twice).")
        label = f"set {name}"
        value = parser_for_unit(COEFFICIENT_UNITS[name])(text.strip(), name=label, signed=True)
        try:
            overrides[name] = check_coefficient(name, value, label=label)
        except InputError as error:
            raise InputError(str(error).replace(f"(got {value!r})", f"(got {text.strip()!r})")) from None
    return calibration.with_overrides(**overrides)


def _grid_frame(base: Mapping[str, float], given: Mapping[str, list[float]]) -> Any:
    from costmodel.predict import grid

    size = 1
    for values in given.values():
        size *= len(values)
    if size > MAX_SCENARIOS:
        raise InputError(f"'grid' must have at most {MAX_SCENARIOS:,} scenarios (got {size:,}); "
                         f"use fewer values per option.")
    ranges: dict[str, Any] = {name: [value] for name, value in base.items()}
    ranges.update(given)
    from costmodel.predict import scenario_frame

    frame = grid(**ranges)
    try:
        scenario_frame(frame)     # cross-input rules (c <= N), before any output exists
    except InputError as error:
        raise _relabel(error) from None
    return frame


# ---------------------------------------------------------------------------------------------------
# predict


_INPUT_SYMBOLS = {
    "clients_total": "N", "clients_per_round": "c", "classes": "K", "samples_per_client": "n",
    "samples_per_client_sd": "s_n", "local_epochs": "E", "mediator_epochs": "E_m", "mediator_size": "gamma",
    "batch_size": "B", "rounds": "R", "params": "P", "bytes_per_param": "b_p", "message_header_bytes": "h",
    "train_flops_per_sample": "F", "conv_input_values": "V_c", "sample_values": "V", "augmented_fraction": "a", "augmented_fraction_sd": "s_a",
    "client_load_spread": "kappa_c", "mediator_load_spread": "kappa", "removed_fraction": "r",
    "uplink_bits_per_s": "uplink", "downlink_bits_per_s": "downlink", "server_bits_per_s": "server",
}


def _format_input(name: str, value: float) -> str:
    from costmodel.symbols import INPUTS
    from costmodel.units import format_bandwidth, format_bytes, format_count, format_fraction

    unit = INPUTS[name].unit
    if unit == "bit/s":
        return "in-process" if math.isinf(value) else format_bandwidth(value)
    if unit == "1":
        return format_fraction(value)
    if unit in ("B", "B/param"):
        return format_bytes(value)
    if name in ("params", "train_flops_per_sample"):
        return format_count(value)
    return f"{value:g}"


def summary_frame(rounds: Any, overhead: Any, *, scope: str = "round") -> Any:
    """One row per scenario: inputs, both algorithms' round/setup/total seconds and bytes, and the
    overhead per category of ``scope`` (seconds and bytes) with its fraction of FedAvg (SI units)."""
    import pandas as pd

    from costmodel.phases import CATEGORIES
    from costmodel.symbols import INPUTS

    keys = ["scenario", *INPUTS]
    astraea = rounds[rounds["algorithm"] == "astraea"].set_index("scenario")
    fedavg = rounds[rounds["algorithm"] == "fedavg"].set_index("scenario")
    frame = astraea[[name for name in INPUTS]].copy()
    for prefix, part in (("astraea", astraea), ("fedavg", fedavg)):
        for column in ("round_seconds", "round_bytes", "setup_seconds", "setup_bytes", "total_seconds", "total_bytes"):
            frame[f"{prefix}_{column}"] = part[column]
    rows = overhead[overhead["scope"] == scope].set_index("scenario")
    for category in CATEGORIES:
        part = rows[rows["category"] == category]
        frame[f"{category}_seconds"] = part["seconds"]
        frame[f"{category}_bytes"] = part["bytes"]
    net = rows.groupby(level=0)["seconds"].sum()
    frame["overhead_seconds"] = net
    frame["overhead_bytes"] = rows.groupby(level=0)["bytes"].sum()
    denominator = fedavg["round_seconds"] if scope == "round" else fedavg["total_seconds"]
    frame["overhead_fraction_of_fedavg"] = net / denominator
    frame = frame.reset_index()
    frame.attrs["scope"] = scope
    return pd.DataFrame(frame, columns=[*keys, *[c for c in frame.columns if c not in keys]])


def _varying(frame: Any) -> list[str]:
    from costmodel.symbols import INPUTS

    return [name for name in INPUTS if frame[name].nunique() > 1]


def _print_table(rows: list[dict[str, str]], *, total: int, stream: Any = None) -> None:
    stream = stream or sys.stdout
    if not rows:
        return
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(row[h]) for row in rows)) for h in headers}
    print("  ".join(h.rjust(widths[h]) for h in headers), file=stream)
    for row in rows:
        print("  ".join(row[h].rjust(widths[h]) for h in headers), file=stream)
    if total > len(rows):
        print(f"... {total - len(rows):,} more rows; write them all with --csv or --json.", file=stream)


def _head(frame: Any) -> Any:
    return frame.head(MAX_PRINTED_ROWS)


def _summary_rows(summary: Any, varying: Sequence[str], scope: str) -> list[dict[str, str]]:
    from costmodel.phases import CATEGORIES
    from costmodel.units import format_bytes, format_fraction, format_seconds

    short = {"training_compute": "training", "data_augmentation": "augmentation",
             "communication": "communication", "coordination": "coordination"}
    which = "round" if scope == "round" else "total"
    rows = []
    for record in _head(summary).to_dict(orient="records"):
        row = {"scenario": str(record["scenario"])}
        for name in varying:
            row[_INPUT_SYMBOLS[name]] = _format_input(name, record[name])
        row[f"astraea {which}"] = format_seconds(record[f"astraea_{which}_seconds"])
        row[f"fedavg {which}"] = format_seconds(record[f"fedavg_{which}_seconds"])
        row["overhead"] = format_seconds(record["overhead_seconds"])
        row["vs fedavg"] = "+" + format_fraction(record["overhead_fraction_of_fedavg"]) \
            if record["overhead_fraction_of_fedavg"] >= 0 else format_fraction(record["overhead_fraction_of_fedavg"])
        for category in CATEGORIES:
            row[short[category]] = format_seconds(record[f"{category}_seconds"])
        row["astraea bytes"] = format_bytes(record[f"astraea_{which}_bytes"])
        row["fedavg bytes"] = format_bytes(record[f"fedavg_{which}_bytes"])
        row["astraea setup"] = format_seconds(record["astraea_setup_seconds"])
        rows.append(row)
    return rows


def _phase_rows(phases: Any, varying: Sequence[str]) -> list[dict[str, str]]:
    from costmodel.units import format_bytes, format_seconds

    wide = phases.pivot_table(index=["scenario", "phase", "scope"], columns="algorithm",
                              values=["seconds", "bytes"], sort=False)
    inputs = phases.drop_duplicates("scenario").set_index("scenario")
    rows = []
    for (scenario, phase, scope), record in _head(wide).iterrows():
        row = {"scenario": str(scenario)}
        for name in varying:
            row[_INPUT_SYMBOLS[name]] = _format_input(name, inputs.loc[scenario, name])
        row["phase"] = phase
        row["scope"] = scope
        for algorithm in ("astraea", "fedavg"):
            row[f"{algorithm} s"] = format_seconds(record[("seconds", algorithm)])
            row[f"{algorithm} bytes"] = format_bytes(record[("bytes", algorithm)])
        rows.append(row)
    return rows


def _json_records(frame: Any) -> str:
    """The frame as JSON records at full precision (every float as Python's shortest exact repr).

    JSON has no infinity: an infinite value (an in-process bandwidth) is written as the string
    ``"inf"`` (``"-inf"``), NaN as null, so the file stays standard JSON and loses nothing.
    """
    import json
    import math

    def plain(value: Any) -> Any:
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float):
            if math.isnan(value):
                return None
            if math.isinf(value):
                return "inf" if value > 0 else "-inf"
        return value

    records = [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    return json.dumps(records, indent=1, allow_nan=False) + "\n"


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an unwritable or clashing ``--csv``/``--json`` before any work is done."""
    from costmodel.files import check_distinct_outputs, check_output_file

    for option in ("csv", "json"):
        target = getattr(args, option)
        if target is not None:
            check_output_file(option, target)
    check_distinct_outputs(csv=args.csv, json=args.json)


def _write_outputs(frame: Any, args: argparse.Namespace) -> None:
    from costmodel.files import atomic_path

    for option in ("csv", "json"):
        target = getattr(args, option)
        if target is None:
            continue
        with atomic_path(target, name=option) as tmp:
            if option == "csv":
                frame.to_csv(tmp, index=False)
            else:
                tmp.write_text(_json_records(frame), encoding="utf-8")
        print(f"wrote {target}", file=sys.stderr)


def _calibration_note(calibration: Any, args: argparse.Namespace) -> str:
    origin = args.calibration or "embedded default"
    first = calibration.source.split(":")[0] if calibration.source.startswith("provisional") else ""
    note = f"calibration: {origin}" + (f" ({first})" if first else "") + f", {calibration.created}"
    if args.overrides:
        note += "; overrides " + ", ".join(args.overrides)
    return note


def _warn_about(calibration: Any, args: argparse.Namespace) -> None:
    """One line on stderr when the calibration is unvalidated or weak (see ``Calibration.trust_problem``)."""
    problem = calibration.trust_problem()
    if problem:
        print(f"note: the calibration ({args.calibration or 'embedded default'}) {problem}", file=sys.stderr)


#: Inputs every answer states, varied or not: they decide round time and overhead most.
_ASSUMED = ("clients_total", "clients_per_round", "mediator_size", "mediator_epochs", "local_epochs",
            "batch_size", "params", "uplink_bits_per_s", "downlink_bits_per_s", "server_bits_per_s")


def _assumptions(values: Mapping[str, float], skip: Sequence[str] = ()) -> str:
    """The deciding inputs of a scenario as ``N=500, c=50, ..., server=1 Gbit/s``."""
    return ", ".join(f"{_INPUT_SYMBOLS[name]}={_format_input(name, values[name])}"
                     for name in _ASSUMED if name not in skip)


def _predict(args: argparse.Namespace) -> int:
    if args.phases and args.scope is not None:
        raise InputError(f"'scope' must not be given with --phases, whose table shows each phase in its own "
                         f"scope (got {args.scope!r}).")
    scope = args.scope or "round"
    _check_outputs(args)
    given = _given_inputs(args)
    calibration = _coefficients(args)
    base = _base_inputs(args)
    frame = _grid_frame(base, given)

    from costmodel.predict import predict_overhead, predict_phases, predict_rounds

    coefficients = calibration.coefficients
    varying = [name for name in given if len(given[name]) > 1]
    if args.phases:
        phases = predict_phases(frame, coefficients)
        _print_table(_phase_rows(phases, varying), total=len(phases) // 2)
        table = phases
    else:
        summary = summary_frame(predict_rounds(frame, coefficients), predict_overhead(frame, coefficients),
                                scope=scope)
        _print_table(_summary_rows(summary, varying, scope), total=len(summary))
        table = summary
    preset = args.preset or "defaults (TPDS EMNIST)"
    fixed = {**base, **{n: v[0] for n, v in given.items() if len(v) == 1}}
    others = [f"{_INPUT_SYMBOLS[n]}={_format_input(n, v[0])}" for n, v in given.items()
              if len(v) == 1 and n not in _ASSUMED]
    print(f"\n{len(frame):,} scenario(s) from {preset}: {_assumptions(fixed, skip=varying)}"
          + (f", {', '.join(others)}" if others else "") + f"; {_calibration_note(calibration, args)}.")
    _warn_about(calibration, args)
    _write_outputs(table, args)
    return 0


# ---------------------------------------------------------------------------------------------------
# solve


def scenario_from_args(args: argparse.Namespace, command: str = "solve") -> Any:
    """The one :class:`~costmodel.symbols.Scenario` of the scenario options (one value each)."""
    from costmodel.symbols import Scenario

    values = _base_inputs(args)
    for name, parsed in _given_inputs(args).items():
        if len(parsed) != 1:
            raise must(_label(name), f"be a single value for {command}", getattr(args, f"input_{name}"))
        values[name] = parsed[0]
    try:
        return Scenario(**values)
    except InputError as error:
        raise _relabel(error) from None


def _format_detail(name: str, value: float) -> str:
    from costmodel.units import format_bandwidth, format_fraction, format_seconds

    if name.endswith("bits_per_s"):
        return format_bandwidth(value)
    if name.endswith(("_seconds", "_s")) or name.startswith("round_seconds"):
        return format_seconds(value)
    if "fraction" in name:
        return format_fraction(value)
    if name == "holds_everywhere":
        return "yes" if value else "no"
    if name in ("clients_total", "max_astraea_rounds"):
        return f"{value:,.0f}"
    return f"{value:g}"


def _format_answer(value: float, unit: str) -> str:
    from costmodel.units import format_bandwidth

    if unit == "bit/s":
        text = format_bandwidth(value)
        return text if value < 1000 or math.isinf(value) else f"{text} ({value:.6g} bit/s)"
    if unit in ("clients", "rounds"):
        return f"{value:,.0f} {unit}"
    return f"{value:.6g} {unit}"


def _required(args: argparse.Namespace, option: str, question: str) -> str:
    value = getattr(args, option.replace("-", "_"))
    if value is None:
        raise InputError(f"'{option}' must be given for solve {question} (e.g. {_EXAMPLES[option]}).")
    return value


_EXAMPLES = {"budget": "--budget 30s", "max-overhead": "--max-overhead 20%", "fedavg-rounds": "--fedavg-rounds 200"}
#: Options that only one question reads: giving one to another question is refused, not ignored.
_QUESTION_OPTIONS = {"budget": ("max-clients",), "max_overhead": ("min-bandwidth",),
                     "fedavg_rounds": ("break-even",), "link": ("min-bandwidth",)}


def _print_expression(expression: Any, *, latex: bool, header: str = "expression") -> None:
    import sympy as sp

    print(f"{header}:")
    print("  " + (sp.latex(expression) if latex else sp.sstr(expression)))


def _bounded(option: str, value: float, maximum: float, text: str, *, unit: str = "") -> float:
    if not value > 0:
        raise must(option, "be > 0", text)
    if value > maximum:
        raise must(option, f"be <= {maximum:g}{unit}", text)
    return value


def _solve(args: argparse.Namespace) -> int:
    from costmodel.units import parse_count, parse_fraction, parse_seconds

    for option, questions in _QUESTION_OPTIONS.items():
        if getattr(args, option) is not None and args.question not in questions:
            flag = option.replace("_", "-")
            raise InputError(f"'{flag}' must not be given for solve {args.question}: only {', '.join(questions)} "
                             f"reads it (got {getattr(args, option)!r}).")
    if args.algorithm is not None and args.question not in ("max-clients", "sensitivity"):
        raise InputError(f"'algorithm' must not be given for solve {args.question}: only max-clients and "
                         f"sensitivity read it (got {args.algorithm!r}).")
    algorithm = args.algorithm or "astraea"
    question = args.question

    from costmodel import solve

    if question == "max-clients":
        text = _required(args, "budget", question)
        budget = _bounded("budget", parse_seconds(text, name="budget", signed=True), solve.MAX_BUDGET_S, text,
                          unit=" s")
    elif question == "min-bandwidth":
        text = _required(args, "max-overhead", question)
        bound = parse_fraction(text, name="max-overhead", signed=True)
        if bound < 0 or bound > solve.MAX_OVERHEAD_FRACTION:
            raise must("max-overhead", f"be >= 0 and <= {solve.MAX_OVERHEAD_FRACTION * 100:,.0f}%", text)
    elif question == "break-even":
        text = _required(args, "fedavg-rounds", question)
        rounds = parse_count(text, name="fedavg-rounds", signed=True)
        if not float(rounds).is_integer():
            raise must("fedavg-rounds", "be a whole number", text)
        fedavg_rounds = int(_bounded("fedavg-rounds", rounds, solve.MAX_FEDAVG_ROUNDS, text))
    scenario = scenario_from_args(args)
    calibration = _coefficients(args)
    coefficients = calibration.coefficients
    assumptions = (f"assumptions: {_assumptions(scenario.as_dict())} "
                   f"({args.preset or 'defaults (TPDS EMNIST)'}); {_calibration_note(calibration, args)}.")

    if question == "sensitivity":
        frame = solve.sensitivities(scenario, coefficients, algorithm)
        from costmodel.units import format_seconds

        frame = frame.reindex(frame["elasticity"].abs().sort_values(ascending=False).index)
        print(f"sensitivity of the {algorithm} round time ({format_seconds(frame.attrs['round_seconds'])}) "
              f"to each input; elasticity = % change of round time per % change of the input")
        rows = [{"input": record["input"], "value": _format_input(record["input"], record["value"]),
                 "d(round time)/d(input)": f"{record['derivative'] + 0.0:.4g} s"
                                           + ("" if record["unit"] == "1" else f" per {record['unit']}"),
                 "elasticity": f"{record['elasticity'] + 0.0:+.4f}"}
                for record in frame.to_dict(orient="records")]
        _print_table(rows, total=len(rows))
        print(assumptions)
        _warn_about(calibration, args)
        if args.expression or args.latex:
            _print_expression(frame.attrs["expression"], latex=args.latex,
                              header="round time differentiated (ceilings relaxed)")
        return 0
    if question == "max-clients":
        solution = solve.max_clients_per_round(budget, scenario, coefficients, algorithm)
    elif question == "min-bandwidth":
        solution = solve.min_bandwidth_for_overhead(bound, scenario, coefficients, args.link or "both")
    elif question == "crossover-bandwidth":
        solution = solve.crossover_bandwidth(scenario, coefficients)
    else:
        solution = solve.break_even_rounds(scenario, coefficients, fedavg_rounds)
    print(solution.question)
    print(f"  answer: {_format_answer(solution.value, solution.unit) if solution.exists else 'none'}")
    if not solution.exists:
        print(f"  why: {solution.reason}")
    for name, value in solution.details.items():
        print(f"  {name}: {_format_detail(name, value)}")
    print(assumptions)
    _warn_about(calibration, args)
    if args.expression or args.latex:
        _print_expression(solution.expression, latex=args.latex)
    return 0


# ---------------------------------------------------------------------------------------------------
# plot


_SWEEPS: dict[str, tuple[str, Any]] = {
    "overhead-clients": ("clients_per_round", None),
    "overhead-params": ("params", (1e4, 1e5, 1e6, 1e7, 1e8)),
    "overhead-bandwidth": ("uplink_bits_per_s", (1e5, 1e6, 1e7, 1e8, 1e9, math.inf)),
    "round-time": ("clients_per_round", None),
    "traffic": ("clients_per_round", None),
}


def _default_clients(clients_total: float) -> list[float]:
    candidates = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
    return [float(c) for c in candidates if c <= clients_total]


def _plot(args: argparse.Namespace) -> int:
    given = _given_inputs(args)
    calibration = _coefficients(args)
    base = _base_inputs(args)
    chosen = list(dict.fromkeys(args.kind or ()))
    kinds = chosen or list(PLOT_KINDS)
    for name, values in given.items():
        if len(values) == 1:
            continue
        sweeping = [kind for kind in PLOT_KINDS if _SWEEPS[kind][0] == name]
        if not sweeping:
            raise must(_label(name), "be a single value for plot: no figure sweeps it", getattr(args, f"input_{name}"))
        if not chosen:
            kinds = sweeping     # the figures that draw the list the user gave, and only those
        elif any(_SWEEPS[kind][0] != name for kind in kinds):
            raise must(_label(name), f"be a single value for plot --kind {' --kind '.join(kinds)}: only "
                                     f"{', '.join(sweeping)} sweep{'s' if len(sweeping) == 1 else ''} it",
                       getattr(args, f"input_{name}"))
    fixed = {**base, **{name: values[0] for name, values in given.items() if len(values) == 1}}
    if args.scope is not None and not any(kind.startswith("overhead") for kind in kinds):
        raise InputError(f"'scope' must only be given with an overhead figure (got --scope {args.scope} for "
                         f"{', '.join(kinds)}).")
    if args.quantity is not None and not any(kind.startswith("overhead") for kind in kinds):
        raise InputError(f"'quantity' must only be given with an overhead figure (got --quantity {args.quantity} "
                         f"for {', '.join(kinds)}).")

    from costmodel import plots
    from costmodel.files import output_folder
    from costmodel.predict import predict_overhead, predict_rounds

    coefficients = calibration.coefficients
    with output_folder("out", args.out) as out:
        for kind in kinds:
            against, default = _SWEEPS[kind]
            if against in given and len(given[against]) > 1:
                values = given[against]
            elif against == "clients_per_round":
                values = _default_clients(fixed["clients_total"])
            else:
                values = list(default)
            frame = _grid_frame({k: v for k, v in fixed.items() if k != against}, {against: values})
            if kind.startswith("overhead"):
                overhead = predict_overhead(frame, coefficients)
                figure = {"overhead-clients": plots.overhead_vs_clients, "overhead-params": plots.overhead_vs_params,
                          "overhead-bandwidth": plots.overhead_vs_bandwidth}[kind](
                    overhead, scope=args.scope or "round", quantity=args.quantity or "seconds")
            else:
                rounds = predict_rounds(frame, coefficients)
                figure = plots.round_time_vs_clients(rounds) if kind == "round-time" else plots.traffic_vs_clients(rounds)
            path = plots.save_figure(figure, out / PLOT_KINDS[kind])
            print(path)
    print(f"figures of {args.preset or 'defaults (TPDS EMNIST)'}: {_assumptions(fixed)}; "
          f"{_calibration_note(calibration, args)}.", file=sys.stderr)   # stdout: the paths alone
    _warn_about(calibration, args)
    return 0


# ---------------------------------------------------------------------------------------------------
# formula


def _formula_expression(args: argparse.Namespace) -> tuple[str, Any]:
    from costmodel import expressions as ex
    from costmodel.phases import CATEGORIES

    target = args.target
    quantity = args.quantity
    if args.scope is not None and target not in CATEGORIES:
        raise InputError(f"'scope' must only be given for an overhead category ({', '.join(CATEGORIES)}); "
                         f"{target!r} has its own scope (got --scope {args.scope}).")
    scope = args.scope or "round"
    if target in ex.MODEL_PHASES:
        return (f"{args.algorithm} {target} {quantity} ({ex.PHASE_SCOPE[target]})",
                getattr(ex.phase_costs(args.algorithm)[target], quantity))
    if target in _FORMULA_TARGETS_EXTRA:
        if quantity == "flops":
            raise InputError(f"'quantity' must be seconds or bytes for {target!r} (got 'flops').")
        function = getattr(ex, f"{target}_{quantity}")
        return f"{args.algorithm} {target} {quantity}", function(args.algorithm)
    if target in CATEGORIES:
        if quantity == "flops":
            raise InputError("'quantity' must be seconds or bytes for an overhead category (got 'flops').")
        return (f"overhead {target} {quantity} ({scope}), Astraea minus FedAvg",
                getattr(ex.overhead(scope)[target], quantity))
    choices = ", ".join([*ex.MODEL_PHASES, *_FORMULA_TARGETS_EXTRA, *CATEGORIES])
    raise InputError(f"'PHASE' must be one of {choices} (got {target!r}).")


def _formula(args: argparse.Namespace) -> int:
    import sympy as sp

    from costmodel.symbols import NAME_OF, QUANTITIES

    title, expression = _formula_expression(args)
    if args.latex:
        print(sp.latex(expression))
        return 0
    print(f"{title} =")
    print("  " + sp.sstr(expression))
    symbols = sorted(expression.free_symbols, key=lambda s: list(QUANTITIES).index(NAME_OF[s])
                     if s in NAME_OF else len(QUANTITIES))
    if symbols:
        print("where")
        width = max(len(str(s)) for s in symbols)
        for symbol in symbols:
            name = NAME_OF.get(symbol)
            if name is None:
                continue
            quantity = QUANTITIES[name]
            print(f"  {str(symbol):<{width}}  {name} [{quantity.unit}]: {quantity.meaning}")
    return 0
