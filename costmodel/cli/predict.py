"""``astraea-cost predict``: round time, traffic and Astraea's overhead for one scenario or a grid.

Parses the scenario options (:mod:`costmodel.cli.scenario_options`), calls :mod:`costmodel.analysis.predict`,
prints a table (:mod:`costmodel.cli.tables`) and writes ``--csv``/``--json``. ``--algorithm`` chooses
what is priced: ``astraea,BASELINE`` (default ``astraea,fedavg``: Astraea's overhead over the
baseline, by category), or one algorithm alone (its own round, setup and total cost).
``--model-inputs FILE`` or ``--model MODEL --input-shape CxHxW`` set the model's architecture inputs
(:func:`costmodel.cli.scenario_options.model_inputs_from_args`).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence

import pandas as pd

from costmodel.analysis.heterogeneous import predict_heterogeneous
from costmodel.analysis.predict import DEFAULT_ALGORITHMS, scenario_frame, summary_frame
from costmodel.cli import federation_options
from costmodel.cli import scenario_options as options
from costmodel.cli import tables
from costmodel.contracts.vocabulary import CATEGORIES, CATEGORY_SHORT_NAMES
from costmodel.errors import InputError, must
from costmodel.model.protocols import BASELINES, SUBJECT, check_algorithm
from costmodel.model.scenario import Scenario
from costmodel.units import format_bytes, format_fraction, format_input, format_seconds

__all__ = ["algorithms_from_args", "run"]


def algorithms_from_args(text: str | None) -> tuple[str, ...]:
    """The algorithms of ``--algorithm`` (a comma list; default Astraea and FedAvg)."""
    if text is None:
        return DEFAULT_ALGORITHMS
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        check_algorithm(name)
    if not names or len(set(names)) != len(names):
        raise must("algorithm", "be one algorithm, or astraea and one baseline, each once", text)
    if len(names) == 2 and not (names[0] == SUBJECT and names[1] in BASELINES):
        raise must("algorithm", f"be {SUBJECT},BASELINE with a baseline of {', '.join(BASELINES)} to compare two", text)
    if len(names) > 2:
        raise must("algorithm", f"be one algorithm or {SUBJECT},BASELINE", text)
    return names


def _leading(record: dict, varying: Sequence[str]) -> dict[str, str]:
    """A printed row's leading cells: the scenario and the inputs the grid varies."""
    return {"scenario": str(record["scenario"]),
            **{tables.INPUT_LABELS[name]: format_input(name, record[name]) for name in varying}}


def _summary_rows(summary: pd.DataFrame, varying: Sequence[str], scope: str, baseline: str) -> list[dict[str, str]]:
    which = "round" if scope == "round" else "total"
    rows = []
    for record in tables.head(summary).to_dict(orient="records"):
        row = _leading(record, varying)
        row[f"{SUBJECT} {which}"] = format_seconds(record[f"{SUBJECT}_{which}_seconds"])
        row[f"{baseline} {which}"] = format_seconds(record[f"{baseline}_{which}_seconds"])
        row["overhead"] = format_seconds(record["overhead_seconds"])
        fraction = record[f"overhead_fraction_of_{baseline}"]
        row[f"vs {baseline}"] = ("+" if fraction >= 0 else "") + format_fraction(fraction)
        for category in CATEGORIES:
            row[CATEGORY_SHORT_NAMES[category]] = format_seconds(record[f"{category}_seconds"])
        row[f"{SUBJECT} bytes"] = format_bytes(record[f"{SUBJECT}_{which}_bytes"])
        row[f"{baseline} bytes"] = format_bytes(record[f"{baseline}_{which}_bytes"])
        row[f"{SUBJECT} setup"] = format_seconds(record[f"{SUBJECT}_setup_seconds"])
        rows.append(row)
    return rows


def _single_rows(rounds: pd.DataFrame, varying: Sequence[str]) -> list[dict[str, str]]:
    rows = []
    for record in tables.head(rounds).to_dict(orient="records"):
        row = _leading(record, varying)
        row["algorithm"] = record["algorithm"]
        row["round"] = format_seconds(record["round_seconds"])
        row["round bytes"] = format_bytes(record["round_bytes"])
        row["setup"] = format_seconds(record["setup_seconds"])
        row["total"] = format_seconds(record["total_seconds"])
        row["total bytes"] = format_bytes(record["total_bytes"])
        rows.append(row)
    return rows


def _phase_rows(phases: pd.DataFrame, varying: Sequence[str], algorithms: Sequence[str]) -> list[dict[str, str]]:
    wide = phases.pivot_table(index=["scenario", "phase", "scope"], columns="algorithm",
                              values=["seconds", "bytes"], sort=False)
    inputs = phases.drop_duplicates("scenario").set_index("scenario")
    rows = []
    for (scenario, phase, scope), record in tables.head(wide).iterrows():
        row = {"scenario": str(scenario)}
        for name in varying:
            row[tables.INPUT_LABELS[name]] = format_input(name, inputs.loc[scenario, name])
        row["phase"] = phase
        row["scope"] = scope
        for algorithm in algorithms:
            row[f"{algorithm} s"] = format_seconds(record[("seconds", algorithm)])
            row[f"{algorithm} bytes"] = format_bytes(record[("bytes", algorithm)])
        rows.append(row)
    return rows


#: Most scenarios a heterogeneous prediction evaluates (each compiles nothing new, but may simulate).
MAX_HETEROGENEOUS_SCENARIOS = 200


def _heterogeneous(args: argparse.Namespace, algorithms: Sequence[str]) -> int:
    """``predict`` with heterogeneity options: homogeneous, closed-form and Monte Carlo round per algorithm."""
    if args.phases or args.scope is not None:
        raise InputError(f"'{'phases' if args.phases else 'scope'}' must not be given with heterogeneity options, "
                         f"which price the round only (got {'--phases' if args.phases else args.scope!r}).")
    if getattr(args, "framework", "none") != "none":
        raise InputError(f"'framework' must be none with heterogeneity options, which price devices and links, not "
                         f"a framework's messages (got {args.framework!r}).")
    federation = federation_options.federation_from_args(args)
    draws, seed = federation_options.monte_carlo_from_args(args)
    tables.check_outputs(args)
    given = options.given_inputs(args)
    calibration = options.calibration_from_args(args)
    base = options.base_inputs(args)
    frame = options.grid_frame(base, given)
    if len(frame) > MAX_HETEROGENEOUS_SCENARIOS:
        raise must("grid", f"have at most {MAX_HETEROGENEOUS_SCENARIOS} scenarios with heterogeneity options",
                   len(frame))
    varying = [name for name in given if len(given[name]) > 1]
    scenarios = scenario_frame(frame)
    parts = []
    for record in scenarios.to_dict(orient="records"):
        scenario = Scenario(**{name: record[name] for name in base})
        try:
            table = predict_heterogeneous(scenario, calibration.coefficients, federation, algorithms=algorithms,
                                          monte_carlo=draws, seed=seed)
        except InputError as error:
            raise options.relabel_inputs(error) from None
        for name in ("scenario", *base):
            table.insert(len(table.columns) if name != "scenario" else 0, name, record[name])
        parts.append(table)
    result = pd.concat(parts, ignore_index=True)
    rows = []
    for record in tables.head(result).to_dict(orient="records"):
        row = _leading(record, varying)
        row["algorithm"] = record["algorithm"]
        row["homogeneous"] = format_seconds(record["homogeneous_round_seconds"])
        row["round (closed form)"] = format_seconds(record["round_seconds"])
        row["95% of rounds within (closed form)"] = format_seconds(record["closed_form_q95_seconds"])
        if draws:
            row["round (Monte Carlo)"] = (f"{format_seconds(record['monte_carlo_round_seconds'])} "
                                          f"+- {format_seconds(_resolved(record))}")
            row["95% of rounds within"] = format_seconds(record["monte_carlo_q95_seconds"])
        rows.append(row)
    tables.print_table(rows, total=len(result))
    fixed = {**base, **{n: v[0] for n, v in given.items() if len(v) == 1}}
    print(f"\n{len(frame):,} scenario(s), {_federation_note(federation)}"
          + (f", {draws:,} simulated rounds (seed {seed})" if draws else "")
          + f": {tables.assumptions(fixed, skip=varying)}; {tables.calibration_note(calibration, args)}.")
    tables.warn_about(calibration, args)
    tables.write_outputs(result, args)
    return 0


def _resolved(record: dict) -> float:
    """The Monte Carlo's standard error, 0 when it is floating-point rounding of identical rounds."""
    stderr = float(record["monte_carlo_stderr_seconds"])
    return 0.0 if stderr <= 1e-12 * abs(float(record["monte_carlo_round_seconds"])) else stderr


def _federation_note(federation: object) -> str:
    if federation.clients is not None:
        return f"clients drawn from {federation.clients.size:,} rows of {federation.clients.source}"
    return "clients " + (", ".join(federation.spreads()) or "all alike")


def run(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost predict``."""
    algorithms = algorithms_from_args(args.algorithm)
    if federation_options.given(args):
        return _heterogeneous(args, algorithms)
    if args.phases and args.scope is not None:
        raise InputError(f"'scope' must not be given with --phases, whose table shows each phase in its own "
                         f"scope (got {args.scope!r}).")
    if len(algorithms) == 1 and args.scope is not None:
        raise InputError(f"'scope' must only be given when Astraea is compared with a baseline, for the overhead "
                         f"columns (got --scope {args.scope} with --algorithm {algorithms[0]}).")
    scope = args.scope or "round"
    tables.check_outputs(args)
    given = options.given_inputs(args)
    calibration = options.calibration_from_args(args)
    profile = options.framework_profile_from_args(args)
    if profile is not None:     # the same frames, with what the framework adds (costmodel.analysis.framework)
        from costmodel.analysis import framework as on

        host = {"one_host": args.one_host, "host_load": options.host_load_from_args(args)}
        predict_phases = functools.partial(on.predict_phases_on, profile, **host)
        predict_rounds = functools.partial(on.predict_rounds_on, profile, **host)
        predict_overhead = functools.partial(on.predict_overhead_on, profile, **host)
    else:
        from costmodel.analysis.predict import predict_overhead, predict_phases, predict_rounds
    base = options.base_inputs(args)
    frame = options.grid_frame(base, given)
    coefficients = calibration.coefficients
    varying = [name for name in given if len(given[name]) > 1]
    if args.phases:
        table = predict_phases(frame, coefficients, algorithms=algorithms)
        tables.print_table(_phase_rows(table, varying, algorithms), total=len(table) // len(algorithms))
    elif len(algorithms) == 1:
        table = predict_rounds(frame, coefficients, algorithms=algorithms)
        tables.print_table(_single_rows(table, varying), total=len(table))
    else:
        baseline = algorithms[1]
        table = summary_frame(predict_rounds(frame, coefficients, algorithms=algorithms),
                              predict_overhead(frame, coefficients, baseline=baseline), scope=scope, baseline=baseline)
        tables.print_table(_summary_rows(table, varying, scope, baseline), total=len(table))
    preset = args.preset or "defaults (TPDS EMNIST)"
    if args.model_inputs is not None:
        preset += f" with the model inputs of {args.model_inputs}"
    elif args.model is not None:
        preset += f" with the inputs of {args.model} measured on {args.input_shape}"
    fixed = {**base, **{n: v[0] for n, v in given.items() if len(v) == 1}}
    others = [f"{tables.INPUT_LABELS[n]}={format_input(n, v[0])}" for n, v in given.items()
              if len(v) == 1 and n not in tables.ASSUMED_INPUTS]
    print(f"\n{len(frame):,} scenario(s) from {preset}: {tables.assumptions(fixed, skip=varying)}"
          + (f", {', '.join(others)}" if others else "") + f"; {tables.calibration_note(calibration, args)}"
          + ("" if profile is None else f"; on {profile.framework} {profile.version} (profile of {profile.created}, "
             + (f"every client on one host of {profile.coefficients['host_cores']:g} cores with "
                f"{options.host_load_from_args(args):g} other busy sessions" if args.one_host
                else "a device per client") + ")") + ".")
    tables.warn_about(calibration, args)
    tables.write_outputs(table, args)
    return 0
