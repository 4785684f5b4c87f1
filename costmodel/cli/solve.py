"""``astraea-cost solve``: capacity questions and the round time's sensitivities, answered with units.

Parses the question's own option (``--budget``, ``--max-overhead``, ``--fedavg-rounds``, ``--curves``
and ``--target``; another question's option is refused, not ignored) and the scenario options, calls
:mod:`costmodel.analysis.solve`, and prints the answer, or why there is none, with the numbers
behind it and the assumptions that decide it; the sympy expression only with ``--expression`` or
``--latex``.

With heterogeneity options (``--speed-sigma``, ``--speed-classes``, ``--link-sigma``, ``--link-classes``,
``--clients-file``, ``--monte-carlo``, ``--seed``) two questions are answered for the heterogeneous
round (:mod:`costmodel.analysis.heterogeneous`): ``max-clients`` (by the closed form's mean round and
by the Monte Carlo's 95% quantile) and ``break-even`` with ``--fedavg-rounds`` (the rounds Astraea must
save, from the heterogeneous round times of both algorithms, closed form and Monte Carlo). The others
ask about a part of the homogeneous expression (a link rate, the crossover of two of its terms, its
derivatives, or measured curves) that the heterogeneous round does not split, and are refused in one
line naming the option.
"""

from __future__ import annotations

import argparse
import math

import sympy as sp

from costmodel.analysis import solve
from costmodel.analysis.heterogeneous import max_clients_heterogeneous, predict_heterogeneous
from costmodel.cli import federation_options
from costmodel.cli import scenario_options as options
from costmodel.cli import tables, time_to_accuracy
from costmodel.errors import InputError, must
from costmodel.model.protocols import SUBJECT, check_algorithm
from costmodel.units import (
    format_bandwidth,
    format_fraction,
    format_input,
    format_seconds,
    parse_count,
    parse_fraction,
    parse_seconds,
)

__all__ = ["run"]

_EXAMPLES = {"budget": "--budget 30s", "max-overhead": "--max-overhead 20%", "fedavg-rounds": "--fedavg-rounds 200"}
#: Options that only some questions read: giving one to another question is refused, not ignored.
_QUESTION_OPTIONS = {"budget": ("max-clients",), "max_overhead": ("min-bandwidth",),
                     "fedavg_rounds": ("break-even",), "link": ("min-bandwidth",),
                     "algorithm": ("max-clients", "sensitivity"), **time_to_accuracy.OPTIONS}


def _format_detail(name: str, value: float) -> str:
    if name.endswith("bits_per_s"):
        return format_bandwidth(value)
    if name.endswith(("_seconds", "_s")) or name.startswith("round_seconds"):
        return format_seconds(value)
    if "fraction" in name:
        return format_fraction(value)
    if name in ("holds_everywhere", "breaks_even"):
        return "yes" if value else "no"
    if name in ("clients_total", "max_astraea_rounds"):
        return f"{value:,.0f}"
    return f"{value:g}"


def _format_answer(value: float, unit: str) -> str:
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


def _print_expression(expression: sp.Basic, *, latex: bool, header: str = "expression") -> None:
    print(f"{header}:")
    print("  " + (sp.latex(expression) if latex else sp.sstr(expression)))


def _question_input(args: argparse.Namespace) -> float | int | None:
    """The value the question asks about, checked before any work."""
    question = args.question
    if question == "max-clients":
        text = _required(args, "budget", question)
        return options.bounded("budget", parse_seconds(text, name="budget", signed=True), solve.MAX_BUDGET_S, text,
                               unit=" s")
    if question == "min-bandwidth":
        text = _required(args, "max-overhead", question)
        bound = parse_fraction(text, name="max-overhead", signed=True)
        if bound < 0 or bound > solve.MAX_OVERHEAD_FRACTION:
            raise must("max-overhead", f"be >= 0 and <= {solve.MAX_OVERHEAD_FRACTION * 100:,.0f}%", text)
        return bound
    if question == "break-even" and args.curves is None:
        text = _required(args, "fedavg-rounds", question)
        rounds = parse_count(text, name="fedavg-rounds", signed=True)
        if not float(rounds).is_integer():
            raise must("fedavg-rounds", "be a whole number", text)
        return int(options.bounded("fedavg-rounds", rounds, solve.MAX_FEDAVG_ROUNDS, text))
    return None


def _sensitivity(frame, algorithm: str) -> None:
    frame = frame.reindex(frame["elasticity"].abs().sort_values(ascending=False).index)
    print(f"sensitivity of the {algorithm} round time ({format_seconds(frame.attrs['round_seconds'])}) "
          f"to each input; elasticity = % change of round time per % change of the input")
    rows = [{"input": record["input"], "value": format_input(record["input"], record["value"]),
             "d(round time)/d(input)": f"{record['derivative'] + 0.0:.4g} s"
                                       + ("" if record["unit"] == "1" else f" per {record['unit']}"),
             "elasticity": f"{record['elasticity'] + 0.0:+.4f}"}
            for record in frame.to_dict(orient="records")]
    tables.print_table(rows, total=len(rows))


def _max_clients_heterogeneous(args: argparse.Namespace, algorithm: str, budget: float) -> int:
    federation = federation_options.federation_from_args(args)
    draws, seed = federation_options.monte_carlo_from_args(args)
    scenario = options.scenario_from_args(args)
    calibration = options.calibration_from_args(args)
    try:
        answer = max_clients_heterogeneous(budget, scenario, calibration.coefficients, federation, algorithm,
                                           monte_carlo=draws, seed=seed)
    except InputError as error:
        raise options.relabel_inputs(error) from None
    print(f"largest clients per round with {algorithm} round time <= {format_seconds(budget)}, heterogeneous clients")
    closed = int(answer["closed_form_clients"])
    print(f"  answer (closed form, mean round): {f'{closed:,} clients' if closed else 'none'}")
    if closed:
        print(f"  round_seconds: {format_seconds(answer['closed_form_round_seconds'])}")
    q95_closed = int(answer["closed_form_q95_clients"])
    print(f"  answer (closed form, 95% of rounds within the budget): "
          f"{f'{q95_closed:,} clients' if q95_closed else 'none'}")
    if q95_closed:
        print(f"  95% of rounds within: {format_seconds(answer['closed_form_q95_seconds'])}")
    if draws:
        q95 = int(answer["monte_carlo_q95_clients"])
        print(f"  answer (Monte Carlo, 95% of rounds within the budget): {f'{q95:,} clients' if q95 else 'none'}")
        if q95:
            print(f"  95% of rounds within: {format_seconds(answer['monte_carlo_q95_seconds'])}")
    print(f"assumptions: {tables.assumptions(scenario.as_dict())} ({args.preset or 'defaults (TPDS EMNIST)'}); "
          f"{tables.calibration_note(calibration, args)}" + (f"; {draws:,} simulated rounds (seed {seed})" if draws
                                                             else "") + ".")
    tables.warn_about(calibration, args)
    return 0


def _break_even_heterogeneous(args: argparse.Namespace, fedavg_rounds: int) -> int:
    federation = federation_options.federation_from_args(args)
    draws, seed = federation_options.monte_carlo_from_args(args)
    scenario = options.scenario_from_args(args)
    calibration = options.calibration_from_args(args)
    try:
        table = predict_heterogeneous(scenario, calibration.coefficients, federation, algorithms=("fedavg", SUBJECT),
                                      monte_carlo=draws, seed=seed).set_index("algorithm")
    except InputError as error:
        raise options.relabel_inputs(error) from None
    answers = [("closed form", "round_seconds")] + ([("Monte Carlo", "monte_carlo_round_seconds")] if draws else [])
    for label, column in answers:
        times = (float(table.loc["fedavg", column]), float(table.loc[SUBJECT, column]))
        solution = solve.break_even_rounds(scenario, calibration.coefficients, fedavg_rounds, round_seconds=times)
        print(f"{solution.question}, heterogeneous clients ({label} round times)")
        print(f"  answer: {_format_answer(solution.value, solution.unit) if solution.exists else 'none'}")
        if not solution.exists:
            print(f"  why: {solution.reason}")
        for name, detail in solution.details.items():
            print(f"  {name}: {_format_detail(name, detail)}")
    print(f"assumptions: {tables.assumptions(scenario.as_dict())} ({args.preset or 'defaults (TPDS EMNIST)'}); "
          f"Astraea's setup at the device speed, without spread; {tables.calibration_note(calibration, args)}"
          + (f"; {draws:,} simulated rounds (seed {seed})" if draws else "") + ".")
    tables.warn_about(calibration, args)
    return 0


#: The questions the heterogeneity options answer.
HETEROGENEOUS_QUESTIONS = ("max-clients", "break-even")


def _heterogeneous(args: argparse.Namespace, algorithm: str, value: float | int | None) -> int:
    option = next(name for name in ("speed_sigma", "speed_classes", "link_sigma", "link_classes", "clients_file",
                                    "monte_carlo", "seed") if getattr(args, name, None) is not None)
    shown = f"'{option.replace('_', '-')}' must not be given for solve"
    if args.question not in HETEROGENEOUS_QUESTIONS or args.curves is not None:
        what = f"{args.question} --curves" if args.curves is not None else args.question
        raise InputError(f"{shown} {what}: heterogeneity options answer {' and '.join(HETEROGENEOUS_QUESTIONS)} "
                         f"(with --fedavg-rounds) only (got {getattr(args, option)!r}).")
    if args.expression or args.latex:
        raise InputError(f"'{'latex' if args.latex else 'expression'}' must not be given with heterogeneity "
                         f"options (see 'astraea-cost formula round' and docs/heterogeneity.md; got "
                         f"--{'latex' if args.latex else 'expression'}).")
    if args.question == "max-clients":
        return _max_clients_heterogeneous(args, algorithm, value)
    return _break_even_heterogeneous(args, value)


def run(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost solve``."""
    for option, questions in _QUESTION_OPTIONS.items():
        if getattr(args, option) is not None and args.question not in questions:
            raise InputError(f"'{option.replace('_', '-')}' must not be given for solve {args.question}: only "
                             f"{' and '.join(questions)} read{'s' if len(questions) == 1 else ''} it "
                             f"(got {getattr(args, option)!r}).")
    algorithm = check_algorithm(args.algorithm or SUBJECT)
    value = _question_input(args)
    if federation_options.given(args):
        return _heterogeneous(args, algorithm, value)
    scenario = options.scenario_from_args(args)
    calibration = options.calibration_from_args(args)
    coefficients = calibration.coefficients
    assumptions = (f"assumptions: {tables.assumptions(scenario.as_dict())} "
                   f"({args.preset or 'defaults (TPDS EMNIST)'}); {tables.calibration_note(calibration, args)}.")
    question = args.question
    if question == "sensitivity":
        frame = solve.sensitivities(scenario, coefficients, algorithm)
        _sensitivity(frame, algorithm)
        print(assumptions)
        tables.warn_about(calibration, args)
        if args.expression or args.latex:
            _print_expression(frame.attrs["expression"], latex=args.latex,
                              header="round time differentiated (ceilings relaxed)")
        return 0
    if question == "max-clients":
        solution = solve.max_clients_per_round(value, scenario, coefficients, algorithm)
    elif question == "min-bandwidth":
        solution = solve.min_bandwidth_for_overhead(value, scenario, coefficients, args.link or "both")
    elif question == "crossover-bandwidth":
        solution = solve.crossover_bandwidth(scenario, coefficients)
    elif question == "time-to-accuracy":
        status = time_to_accuracy.answer(args, scenario, coefficients, assumptions)
        tables.warn_about(calibration, args)
        return status
    elif args.curves is not None:
        solution = time_to_accuracy.break_even(args, scenario, coefficients)
    else:
        solution = solve.break_even_rounds(scenario, coefficients, value)
    print(solution.question)
    print(f"  answer: {_format_answer(solution.value, solution.unit) if solution.exists else 'none'}")
    if not solution.exists:
        print(f"  why: {solution.reason}")
    for name, detail in solution.details.items():
        print(f"  {name}: {_format_detail(name, detail)}")
    print(assumptions)
    tables.warn_about(calibration, args)
    if args.expression or args.latex:
        _print_expression(solution.expression, latex=args.latex)
    return 0
