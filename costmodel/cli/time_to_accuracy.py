"""``astraea-cost solve time-to-accuracy``, and ``solve break-even --curves``: measured rounds, priced.

Reads the curves file (:mod:`costmodel.contracts.curves_file`), asks
:mod:`costmodel.analysis.time_to_accuracy` for the scenario of the solve options and the calibration,
and prints each algorithm's rounds, time and bytes to the target with their intervals, the faster one
and where the winner changes; ``--figure`` also draws the time to target against ``--vary``. Every
option is checked (and the figure's destination probed) before the curves are read, and the curves
before anything is computed; a bad file is one line naming the file, the row and the rule.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costmodel.analysis import convergence
from costmodel.analysis import time_to_accuracy as tta
from costmodel.cli import tables
from costmodel.contracts.curves_file import load_curves
from costmodel.errors import InputError, check_int, must
from costmodel.files import check_output_file
from costmodel.model.protocols import ALGORITHM_COSTS
from costmodel.model.scenario import Scenario
from costmodel.units import format_bandwidth, format_bytes, format_fraction, format_seconds, parse_fraction

__all__ = ["Asked", "OPTIONS", "answer", "break_even", "parse"]

#: The options of this module and the questions that read each.
OPTIONS: dict[str, tuple[str, ...]] = {
    "curves": ("time-to-accuracy", "break-even"), "target": ("time-to-accuracy", "break-even"),
    "resamples": ("time-to-accuracy",), "confidence": ("time-to-accuracy",),
    "bootstrap_seed": ("time-to-accuracy",), "vary": ("time-to-accuracy",), "figure": ("time-to-accuracy",)}
_VARY = {"bandwidth": "bandwidth", "gamma": "mediator_size", "mediator-epochs": "mediator_epochs"}


@dataclass(frozen=True, kw_only=True)
class Asked:
    """The checked options of a time-to-accuracy question."""

    curves: str
    target: float
    resamples: int
    confidence: float
    seed: int
    vary: str
    figure: str | None


def _whole(option: str, text: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise must(option, "be a whole number", text) from None
    if not value.is_integer():
        raise must(option, "be a whole number", text)
    try:
        return check_int(option, int(value), minimum=minimum, maximum=maximum)
    except InputError:
        rule = f">= {minimum}" + (f" and <= {maximum:,}" if maximum is not None else "")
        raise must(option, f"be {rule}", text) from None


def parse(args: argparse.Namespace, question: str) -> Asked:
    """The question's options, checked, before any work (``--figure``'s destination probed too)."""
    if args.curves is None:
        raise InputError(f"'curves' must be given for solve {question} (e.g. --curves runs/cmp/curves.csv).")
    if args.target is None:
        raise InputError(f"'target' must be given for solve {question} (e.g. --target 0.6).")
    target = parse_fraction(args.target, name="target", signed=True)
    if not 0 < target <= 1:
        raise must("target", "be an accuracy > 0 and <= 1 (e.g. 0.6 or 60%)", args.target)
    resamples = convergence.BOOTSTRAP_RESAMPLES if args.resamples is None else \
        _whole("resamples", args.resamples, 1, convergence.MAX_RESAMPLES)
    confidence = convergence.CONFIDENCE
    if args.confidence is not None:
        confidence = parse_fraction(args.confidence, name="confidence", signed=True)
        if not 0 < confidence < 1:
            raise must("confidence", "be > 0 and < 100% (e.g. 95%)", args.confidence)
    seed = convergence.BOOTSTRAP_SEED if args.bootstrap_seed is None else \
        _whole("bootstrap-seed", args.bootstrap_seed, 0)
    if args.figure is not None:
        check_output_file("figure", args.figure)
    return Asked(curves=args.curves, target=target, resamples=resamples, confidence=confidence, seed=seed,
                 vary=_VARY[args.vary or "bandwidth"], figure=args.figure)


def _rounds(summary: convergence.RoundsSummary) -> str:
    if summary.reached < summary.seeds:
        return f"not bounded: {summary.seeds - summary.reached} seed(s) never within {summary.measured_rounds:,}"
    return f"{summary.mean_rounds:.1f} [{summary.low_rounds:g}, {summary.high_rounds:g}]"


def _interval(mean: float, low: float, high: float, show: Any) -> str:
    if math.isinf(mean):
        return "not bounded"
    return f"{show(mean)} [{show(low)}, {'not bounded' if math.isinf(high) else show(high)}]"


def _crossover_value(vary: str, value: float) -> str:
    return format_bandwidth(value) if vary == "bandwidth" else f"{value:g}"


def answer(args: argparse.Namespace, scenario: Scenario, coefficients: Mapping[str, float], footer: str) -> int:
    """Answer ``solve time-to-accuracy`` and print it; ``footer`` is the assumptions line."""
    asked = parse(args, "time-to-accuracy")
    curves = load_curves(asked.curves)
    result = tta.time_to_accuracy(curves, asked.target, scenario, coefficients, resamples=asked.resamples,
                                  confidence=asked.confidence, seed=asked.seed)
    seeds = sorted({item.rounds.seeds for item in result.algorithms.values()})
    print(f"time to {asked.target:g} test accuracy: rounds from {asked.curves} "
          f"({'/'.join(str(s) for s in seeds)} seeds per algorithm), round and setup costs from the model; "
          f"[{format_fraction(asked.confidence)} bootstrap interval, {asked.resamples:,} resamples, "
          f"seed {asked.seed}]")
    rows = [{"algorithm": ALGORITHM_COSTS[name].title, "reached": f"{item.rounds.reached} of {item.rounds.seeds}",
             "rounds to target": _rounds(item.rounds), "round": format_seconds(item.round_seconds),
             "setup": format_seconds(item.setup_seconds),
             "time to target": _interval(item.mean_seconds, item.low_seconds, item.high_seconds, format_seconds),
             "bytes to target": _interval(item.mean_bytes, item.low_bytes, item.high_bytes, format_bytes),
             "fastest in": format_fraction(item.probability_fastest)}
            for name, item in result.algorithms.items()]
    tables.print_table(rows, total=len(rows))
    if result.faster:
        chosen = result.algorithms[result.faster]
        print(f"faster: {ALGORITHM_COSTS[result.faster].title} ({format_seconds(chosen.mean_seconds)} to "
              f"{asked.target:g}; fastest in {format_fraction(chosen.probability_fastest)} of the resamples)")
    else:
        print(f"faster: none: {result.reason}")
    print("where the faster one changes (rounds to target as measured):")
    for vary, solution in result.crossovers.items():
        if solution.exists:
            bounds = ""
            if math.isfinite(solution.details.get("low", math.nan)):
                bounds = (f" [{_crossover_value(vary, solution.details['low'])}, "
                          f"{_crossover_value(vary, solution.details['high'])}] over the rounds' intervals")
            more = int(solution.details.get("crossings", 1)) - 1
            farther = f"; {more} more crossing(s) farther from the scenario's value" if more else ""
            print(f"  {solution.question}: {_crossover_value(vary, solution.value)}{bounds}{farther}")
        else:
            print(f"  {solution.question}: none: {solution.reason}")
    print("note: the curves were measured at one gamma and E_m; their crossovers price the cost at the measured "
          "rounds.")
    print(footer)
    if asked.figure is not None:
        _figure(result, coefficients, asked)
    return 0


def _figure(result: tta.TimeToAccuracy, coefficients: Mapping[str, float], asked: Asked) -> None:
    """Draw the time to target against ``--vary`` into ``--figure``. matplotlib is imported here, not
    at the top: every other ``solve`` question starts without it (about half a second)."""
    from costmodel.report.accuracy_plots import time_to_accuracy_vs
    from costmodel.report.plots import save_figure

    sweep = tta.time_to_accuracy_sweep(result, coefficients, asked.vary)
    crossing = result.crossovers.get(asked.vary)
    figure = time_to_accuracy_vs(sweep, crossovers=tta.all_crossings(crossing))
    save_figure(figure, asked.figure)
    print(f"wrote {asked.figure}", file=sys.stderr)


def break_even(args: argparse.Namespace, scenario: Scenario, coefficients: Mapping[str, float]):
    """``solve break-even --curves FILE --target A``: the Solution with FedAvg's rounds from the curves."""
    if args.fedavg_rounds is not None:
        raise InputError(f"'fedavg-rounds' must not be given with --curves: the curves give FedAvg's rounds "
                         f"(got {args.fedavg_rounds!r}).")
    asked = parse(args, "break-even")
    return tta.break_even_from_curves(load_curves(asked.curves), asked.target, scenario, coefficients)
