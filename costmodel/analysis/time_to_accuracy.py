"""Time and traffic to a target accuracy: measured rounds priced by the cost model.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) spends more per round than FedAvg (McMahan et
al., AISTATS 2017) to need fewer rounds on imbalanced data. Which one reaches a target accuracy first
depends on both halves: the rounds come from measured accuracy curves
(:mod:`costmodel.analysis.convergence`, from a curves file of
:mod:`costmodel.contracts.curves_file`), the cost of a round and of the setup from the model, for any
what-if :class:`~costmodel.model.scenario.Scenario` (through
:func:`costmodel.analysis.predict.predict_rounds`, so whatever inputs a Scenario holds are priced).

For algorithm ``a`` with setup ``S_a`` seconds (``S^B_a`` bytes) and round ``T_a`` seconds (``W_a``
bytes) in the scenario, and rounds to target ``r_bar_a`` (mean over seeds) with bootstrap interval
``[r_lo, r_hi]``:

* time to target ``t_a = S_a + r_bar_a * T_a``, interval ``[S_a + r_lo*T_a, S_a + r_hi*T_a]`` (the cost
  is increasing in the rounds, so the rounds' interval maps onto the time's); bytes
  ``S^B_a + r_bar_a * W_a`` likewise;
* the faster algorithm is the one with the least ``t_a``; ``probability_fastest`` is the share of the
  ``B`` bootstrap resamples in which it is strictly fastest (each resample's mean rounds priced the
  same way);
* the crossover in an input ``x`` (:data:`CROSSOVER_INPUTS`: the client bandwidth, uplink = downlink;
  gamma; E_m) is where the winner changes, ``S_w(x) + r_bar_w*T_w(x) = S_o(x) + r_bar_o*T_o(x)`` for
  the winner ``w`` and the runner-up ``o`` at the scenario: scanned over :data:`CROSSOVER_SCANS`
  (bandwidth on a log grid, refined by bisection; gamma and E_m whole), the crossing nearest the
  scenario's own value (``details['crossings']`` counts them all, ``crossing_1``, ... ascending, list
  them). Its interval is the crossing at
  the corners of the rounds' intervals (``r_lo`` of one with ``r_hi`` of the other). **The rounds stay those measured**:
  curves measured at one gamma and E_m say nothing of the rounds at another, so a crossover in gamma or
  E_m prices the cost alone (bandwidth does not change the rounds);
* "never reaches the target in the measured rounds" is an answer: that algorithm's time is ``inf``
  and it cannot be the faster one; a question with no answer (nothing reaches the target, no
  crossing in the scan) gets a ``value`` of NaN and a ``reason``.

:func:`break_even_from_curves` answers ``solve break-even`` with FedAvg's rounds taken from the
curves instead of typed, and says whether Astraea's measured rounds break even.
:func:`compare_with_measured` sets the prediction (measured rounds x modelled costs) against the
virtual-clock time the runs measured, run by run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from costmodel.analysis import solve
from costmodel.analysis.convergence import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    RoundsSummary,
    rounds_summary,
    rounds_to_target,
)
from costmodel.analysis.predict import predict_rounds
from costmodel.analysis.solve import Solution
from costmodel.contracts.curves_file import Curves
from costmodel.errors import InputError, must
from costmodel.model.protocols import BASELINES, SUBJECT
from costmodel.model.scenario import Scenario
from costmodel.units import format_bandwidth

__all__ = [
    "AlgorithmTime",
    "CROSSOVER_INPUTS",
    "CROSSOVER_SCANS",
    "TimeToAccuracy",
    "all_crossings",
    "break_even_from_curves",
    "compare_with_measured",
    "time_to_accuracy",
    "time_to_accuracy_sweep",
]

#: Inputs whose crossover is asked: name -> the Scenario inputs set to the value.
CROSSOVER_INPUTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bandwidth": ("uplink_bits_per_s", "downlink_bits_per_s"),
    "mediator_size": ("mediator_size",),
    "mediator_epochs": ("mediator_epochs",),
})
#: Range scanned for each crossover: bandwidth in bit/s (log grid, 100 points per decade), gamma from
#: 1 to the scenario's clients per round, E_m from 1 to 100.
CROSSOVER_SCANS: Mapping[str, tuple[float, float]] = MappingProxyType({
    "bandwidth": solve.BANDWIDTH_SCAN_BITS_PER_S, "mediator_size": (1.0, math.nan), "mediator_epochs": (1.0, 100.0)})
_WORDS = {"bandwidth": "client bandwidth (uplink = downlink)", "mediator_size": "gamma (clients per mediator)",
          "mediator_epochs": "E_m (mediator epochs)"}
_UNITS = {"bandwidth": "bit/s", "mediator_size": "clients", "mediator_epochs": "epochs"}
_COSTS = ("round_seconds", "round_bytes", "setup_seconds", "setup_bytes")


@dataclass(frozen=True, kw_only=True)
class AlgorithmTime:
    """One algorithm's time and bytes to the target in the scenario (module docstring).

    ``*_seconds``/``*_bytes``: mean and interval bounds (``inf`` where the measured rounds do not bound
    them); ``round_*``/``setup_*``: the model's costs; ``rounds``: the measured rounds to target.
    """

    algorithm: str
    rounds: RoundsSummary
    round_seconds: float
    round_bytes: float
    setup_seconds: float
    setup_bytes: float
    mean_seconds: float
    low_seconds: float
    high_seconds: float
    mean_bytes: float
    low_bytes: float
    high_bytes: float
    probability_fastest: float


@dataclass(frozen=True, kw_only=True)
class TimeToAccuracy:
    """The answer of :func:`time_to_accuracy`.

    Attributes
    ----------
    target, scenario, confidence, resamples, bootstrap_seed
        What was asked.
    algorithms : mapping of name -> AlgorithmTime
        In :data:`~costmodel.model.protocols.ALGORITHMS` order.
    faster : str
        The algorithm with the least mean time to target ('' if none reaches it).
    reason : str
        Why there is no faster one ('' if there is).
    crossovers : mapping of input -> Solution
        Where the winner changes, per :data:`CROSSOVER_INPUTS` asked.
    """

    target: float
    scenario: Scenario
    algorithms: Mapping[str, AlgorithmTime]
    faster: str
    reason: str
    crossovers: Mapping[str, Solution]
    confidence: float
    resamples: int
    bootstrap_seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithms", MappingProxyType(dict(self.algorithms)))
        object.__setattr__(self, "crossovers", MappingProxyType(dict(self.crossovers)))

    def table(self) -> pd.DataFrame:
        """One row per algorithm: ``algorithm, seeds, reached, mean_rounds, low_rounds, high_rounds,
        round_seconds, setup_seconds, mean_seconds, low_seconds, high_seconds, round_bytes,
        setup_bytes, mean_bytes, low_bytes, high_bytes, probability_fastest``."""
        rows = []
        for name, item in self.algorithms.items():
            r = item.rounds
            rows.append({"algorithm": name, "seeds": r.seeds, "reached": r.reached, "mean_rounds": r.mean_rounds,
                         "low_rounds": r.low_rounds, "high_rounds": r.high_rounds,
                         "round_seconds": item.round_seconds, "setup_seconds": item.setup_seconds,
                         "mean_seconds": item.mean_seconds, "low_seconds": item.low_seconds,
                         "high_seconds": item.high_seconds, "round_bytes": item.round_bytes,
                         "setup_bytes": item.setup_bytes, "mean_bytes": item.mean_bytes, "low_bytes": item.low_bytes,
                         "high_bytes": item.high_bytes, "probability_fastest": item.probability_fastest})
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- pricing

def _check_scenario(scenario: Any) -> Scenario:
    if not isinstance(scenario, Scenario):
        raise must("scenario", "be a Scenario", type(scenario).__name__)
    return scenario


def _costs(scenarios: Sequence[Scenario], coefficients: Mapping[str, float],
           algorithms: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """The model's round and setup costs of ``algorithms`` for each scenario: ``{algorithm: {cost: array}}``."""
    frame = predict_rounds(list(scenarios), coefficients, algorithms=tuple(algorithms))
    return {name: {cost: frame.loc[frame["algorithm"] == name, cost].to_numpy(dtype=np.float64) for cost in _COSTS}
            for name in algorithms}


def _times(costs: Mapping[str, np.ndarray], rounds: Any) -> np.ndarray:
    """``S + r*T`` with ``inf`` rounds giving ``inf`` (never ``inf*0``)."""
    rounds = np.asarray(rounds, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = costs["setup_seconds"] + rounds * costs["round_seconds"]
    return np.where(np.isinf(rounds), math.inf, out)


def _bytes(costs: Mapping[str, np.ndarray], rounds: Any) -> np.ndarray:
    rounds = np.asarray(rounds, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = costs["setup_bytes"] + rounds * costs["round_bytes"]
    return np.where(np.isinf(rounds), math.inf, out)


def _never(summary: RoundsSummary) -> str:
    return (f"{summary.algorithm} does not reach {summary.target:g} in {summary.seeds - summary.reached} of its "
            f"{summary.seeds} seeds within the measured {summary.measured_rounds:,} rounds")


# --------------------------------------------------------------------------- crossover

def _scan_values(vary: str, scenario: Scenario) -> np.ndarray:
    low, high = CROSSOVER_SCANS[vary]
    if vary == "bandwidth":
        return np.geomspace(low, high, 1501)
    top = scenario.clients_per_round if vary == "mediator_size" else high
    return np.arange(int(low), int(top) + 1, dtype=np.float64)


def _variants(scenario: Scenario, vary: str, values: Sequence[float]) -> list[Scenario]:
    names = CROSSOVER_INPUTS[vary]
    return [scenario.replace(**{name: (int(v) if vary != "bandwidth" else float(v)) for name in names})
            for v in values]


def _crossings(scenario: Scenario, coefficients: Mapping[str, float], vary: str, pair: tuple[str, str],
               rounds: tuple[float, float]) -> list[tuple[float, str]]:
    """Where the faster of ``pair`` (priced at ``rounds``) changes as ``vary`` grows: ascending
    ``(value, the one faster just below it)``. A whole-valued input changes at the first value on the
    other side; a bandwidth at the root, bisected in log space to a relative width of 1e-10."""
    values = _scan_values(vary, scenario)
    if values.size < 2:
        return []

    def difference(points: Sequence[float]) -> np.ndarray:
        costs = _costs(_variants(scenario, vary, points), coefficients, pair)
        return _times(costs[pair[0]], rounds[0]) - _times(costs[pair[1]], rounds[1])

    sign = np.sign(difference(values))
    found = []
    for i in np.flatnonzero(sign[:-1] * sign[1:] < 0):
        below, above = float(values[i]), float(values[i + 1])
        faster_below = pair[0] if sign[i] < 0 else pair[1]
        if vary == "bandwidth":
            while above / below - 1 > 1e-10:
                middle = math.sqrt(below * above)
                if np.sign(difference([middle])[0]) == sign[i]:
                    below = middle
                else:
                    above = middle
        found.append((above, faster_below))
    return found


def _nearest(found: Sequence[tuple[float, str]], here: float, vary: str) -> tuple[float, str]:
    if not found:
        return math.nan, ""
    if vary == "bandwidth":
        here = solve.BANDWIDTH_SCAN_BITS_PER_S[1] if math.isinf(here) else here
        return min(found, key=lambda v: abs(math.log(v[0] / here)))
    return min(found, key=lambda v: abs(v[0] - here))


def _crossover(vary: str, scenario: Scenario, coefficients: Mapping[str, float],
               times: Mapping[str, AlgorithmTime]) -> Solution:
    if vary not in CROSSOVER_INPUTS:
        raise must("vary", f"be one of {', '.join(CROSSOVER_INPUTS)}", vary)
    words = _WORDS[vary]
    question = f"{words} at which the faster algorithm to the target changes"
    ranked = sorted(times.values(), key=lambda t: t.mean_seconds)
    expression = sp.Symbol("S_w") + sp.Symbol("r_w") * sp.Symbol("T_w") - sp.Symbol("S_o") \
        - sp.Symbol("r_o") * sp.Symbol("T_o")

    def none(reason: str, **details: float) -> Solution:
        return Solution(question=question, value=math.nan, unit=_UNITS[vary], expression=expression,
                        details=details, reason=reason)

    if len(ranked) < 2:
        return none("the curves hold one algorithm: there is nothing to change places with.")
    winner, other = ranked[0], ranked[1]
    if math.isinf(winner.mean_seconds):
        return none("no algorithm reaches the target in all its seeds within the measured rounds.")
    if math.isinf(other.mean_seconds):
        return none(f"{winner.algorithm} is faster at every {words}: {_never(other.rounds)}.")
    pair = (winner.algorithm, other.algorithm)
    here = float(getattr(scenario, CROSSOVER_INPUTS[vary][0]))
    found = _crossings(scenario, coefficients, vary, pair, (winner.rounds.mean_rounds, other.rounds.mean_rounds))
    point, faster_below = _nearest(found, here, vary)
    low, high = _scan_values(vary, scenario)[[0, -1]]
    shown = format_bandwidth if vary == "bandwidth" else (lambda v: f"{v:g}")
    if math.isnan(point):
        return none(f"{winner.algorithm} stays faster than {other.algorithm} at every {words} from {shown(low)} to "
                    f"{shown(high)} (rounds to target as measured).")
    corners = [_nearest(_crossings(scenario, coefficients, vary, pair, corner), here, vary)[0]
               for corner in ((winner.rounds.low_rounds, other.rounds.high_rounds),
                              (winner.rounds.high_rounds, other.rounds.low_rounds))
               if all(math.isfinite(r) for r in corner)]
    bounded = len(corners) == 2 and all(math.isfinite(c) for c in corners)
    faster_above = other.algorithm if faster_below == winner.algorithm else winner.algorithm
    details = {"low": min(corners) if bounded else math.nan, "high": max(corners) if bounded else math.nan,
               "scenario_value": here, "crossings": float(len(found)),
               **{f"crossing_{i}": value for i, (value, _) in enumerate(found, start=1)}}
    return Solution(question=f"{question}: {faster_below} faster below it, {faster_above} from it on",
                    value=float(point), unit=_UNITS[vary], expression=expression, details=details)


def all_crossings(solution: Solution | None) -> tuple[float, ...]:
    """Every crossing a crossover found (``details['crossing_1']``, ... ascending); ``()`` if none."""
    if solution is None or not solution.exists:
        return ()
    return tuple(solution.details[f"crossing_{i}"] for i in range(1, int(solution.details["crossings"]) + 1))


# --------------------------------------------------------------------------- the question

def time_to_accuracy(curves: Curves, target: float, scenario: Scenario, coefficients: Mapping[str, float], *,
                     crossovers: Sequence[str] = tuple(CROSSOVER_INPUTS), resamples: int = BOOTSTRAP_RESAMPLES,
                     confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> TimeToAccuracy:
    """Time and bytes to ``target`` accuracy for every algorithm of ``curves`` in ``scenario``, which
    is faster, and the crossovers (module docstring).

    Parameters
    ----------
    curves : Curves
        :func:`costmodel.contracts.curves_file.load_curves`.
    target : float
        Test accuracy in (0, 1].
    scenario, coefficients
        The what-if and the calibration's coefficients.
    crossovers : names of :data:`CROSSOVER_INPUTS`
        Which crossovers to find (``()``: none).
    resamples, confidence, seed
        The bootstrap's (:func:`costmodel.analysis.convergence.rounds_summary`).
    """
    scenario = _check_scenario(scenario)
    for name in crossovers:
        if name not in CROSSOVER_INPUTS:
            raise must("crossovers", f"name inputs of {', '.join(CROSSOVER_INPUTS)}", name)
    summaries = rounds_summary(curves, target, resamples=resamples, confidence=confidence, seed=seed)
    names = tuple(summaries)
    costs = _costs([scenario], coefficients, names)
    resampled = np.stack([_times(costs[n], summaries[n].resampled_means) for n in names])
    best = np.argmin(resampled, axis=0)
    lowest = resampled[best, np.arange(resampled.shape[1])]
    unique = (resampled == lowest).sum(axis=0) == 1
    clear = unique & np.isfinite(lowest)
    times = {}
    for i, name in enumerate(names):
        s, c = summaries[name], {k: float(v[0]) for k, v in costs[name].items()}
        seconds = _times(costs[name], [s.mean_rounds, s.low_rounds, s.high_rounds])
        traffic = _bytes(costs[name], [s.mean_rounds, s.low_rounds, s.high_rounds])
        times[name] = AlgorithmTime(
            algorithm=name, rounds=s, round_seconds=c["round_seconds"], round_bytes=c["round_bytes"],
            setup_seconds=c["setup_seconds"], setup_bytes=c["setup_bytes"], mean_seconds=float(seconds[0]),
            low_seconds=float(seconds[1]), high_seconds=float(seconds[2]), mean_bytes=float(traffic[0]),
            low_bytes=float(traffic[1]), high_bytes=float(traffic[2]),
            probability_fastest=float(np.mean(clear & (best == i))))
    ranked = sorted(times.values(), key=lambda t: t.mean_seconds)
    faster, reason = ranked[0].algorithm, ""
    if math.isinf(ranked[0].mean_seconds):
        faster = ""
        reason = (f"no algorithm reaches {float(target):g} in every seed within the measured rounds: "
                  + "; ".join(_never(t.rounds) for t in ranked) + ".")
    answers = {name: _crossover(name, scenario, coefficients, times) for name in crossovers}
    return TimeToAccuracy(target=float(target), scenario=scenario, algorithms=times, faster=faster, reason=reason,
                          crossovers=answers, confidence=float(confidence), resamples=int(resamples),
                          bootstrap_seed=int(seed))


def time_to_accuracy_sweep(answer: TimeToAccuracy, coefficients: Mapping[str, float], vary: str = "bandwidth",
                           values: Sequence[float] | None = None) -> pd.DataFrame:
    """Time to target of each algorithm as ``vary`` takes ``values`` (default: its scan; bandwidth from
    10 kbit/s to 100 Gbit/s, 10 points per decade, widened to a decade around the crossover), the
    rounds as in ``answer``.

    Returns
    -------
    pandas.DataFrame
        ``value, algorithm, mean_seconds, low_seconds, high_seconds, mean_bytes``; ``attrs['vary']``.
    """
    if not isinstance(answer, TimeToAccuracy):
        raise must("answer", "be a TimeToAccuracy", type(answer).__name__)
    if vary not in CROSSOVER_INPUTS:
        raise must("vary", f"be one of {', '.join(CROSSOVER_INPUTS)}", vary)
    if values is None:
        values = _scan_values(vary, answer.scenario)
        if vary == "bandwidth":     # 10 kbit/s to 100 Gbit/s, widened to a decade around a crossover
            crossing = answer.crossovers.get("bandwidth")
            low, high = 1e4, 1e11
            if crossing is not None and crossing.exists:
                low, high = min(low, crossing.value / 10), max(high, crossing.value * 10)
            values = np.geomspace(low, high, int(round(10 * math.log10(high / low))) + 1)
    values = np.asarray(values, dtype=np.float64)
    names = tuple(answer.algorithms)
    costs = _costs(_variants(answer.scenario, vary, values), coefficients, names)
    frames = []
    for name in names:
        r = answer.algorithms[name].rounds
        frames.append(pd.DataFrame({"value": values, "algorithm": name,
                                    "mean_seconds": _times(costs[name], r.mean_rounds),
                                    "low_seconds": _times(costs[name], r.low_rounds),
                                    "high_seconds": _times(costs[name], r.high_rounds),
                                    "mean_bytes": _bytes(costs[name], r.mean_rounds)}))
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs["vary"] = vary
    frame.attrs["target"] = answer.target
    return frame


# --------------------------------------------------------------------------- break-even, measured

def break_even_from_curves(curves: Curves, target: float, scenario: Scenario,
                           coefficients: Mapping[str, float]) -> Solution:
    """:func:`costmodel.analysis.solve.break_even_rounds` with FedAvg's rounds from the curves.

    FedAvg's rounds are its mean rounds to ``target`` over its seeds, rounded to a whole round; the
    answer (rounds Astraea must save) comes with Astraea's measured mean rounds, the rounds it saves
    as measured, and ``breaks_even`` (1 if its measured rounds are within the most it may take).
    If FedAvg does not reach the target in every seed, there is no answer (its rounds are unbounded).
    """
    _check_scenario(scenario)
    present = curves.algorithms if isinstance(curves, Curves) else ()
    baseline = BASELINES[0]
    if SUBJECT not in present or baseline not in present:
        raise must("curves", f"hold {SUBJECT} and {baseline} for break-even", ", ".join(present) or "neither")
    summaries = rounds_summary(curves, target)
    fedavg, astraea = summaries[baseline], summaries[SUBJECT]
    question = f"rounds Astraea must save to match FedAvg's measured rounds to {float(target):g} accuracy in time"
    if math.isinf(fedavg.mean_rounds):
        return Solution(question=question, value=math.nan, unit="rounds", expression=sp.Symbol("R_f"),
                        details={"astraea_mean_rounds": astraea.mean_rounds},
                        reason=f"FedAvg's rounds to the target are not bounded by the curves: {_never(fedavg)}.")
    rounds = max(1, int(math.floor(fedavg.mean_rounds + 0.5)))
    answer = solve.break_even_rounds(scenario, coefficients, rounds)
    details = {"fedavg_rounds": float(rounds), "fedavg_mean_rounds": fedavg.mean_rounds,
               "astraea_mean_rounds": astraea.mean_rounds, **answer.details}
    if answer.exists:
        details["measured_saved_rounds"] = rounds - astraea.mean_rounds
        details["breaks_even"] = float(astraea.mean_rounds <= answer.details["max_astraea_rounds"])
    return Solution(question=question, value=answer.value, unit=answer.unit, expression=answer.expression,
                    details=details, reason=answer.reason)


def compare_with_measured(curves: Curves, target: float, scenarios: Scenario | Mapping[int, Scenario],
                          coefficients: Mapping[str, float]) -> pd.DataFrame:
    """Predicted (measured rounds x modelled costs) against measured time and bytes to ``target``, run by run.

    ``scenarios`` is one Scenario for every seed or ``{seed: Scenario}`` (each run priced in its own);
    the curves need the measured columns (:data:`~costmodel.contracts.curves_file.MEASURED_COLUMNS`). Runs
    that never reach the target are left out.

    Returns
    -------
    pandas.DataFrame
        ``algorithm, seed, rounds, measured_seconds, predicted_seconds, error_percent, measured_bytes,
        predicted_bytes, bytes_error_percent``; error = 100*(predicted - measured)/measured.
    """
    missing = [c for c in ("round_seconds", "setup_seconds", "round_bytes", "setup_bytes") if not curves.has(c)]
    if missing:
        raise must("curves", "have the measured columns to compare with", f"{curves.source} without "
                   f"{', '.join(missing)}")
    table = rounds_to_target(curves, target)
    table = table[table["reached"]]
    rows = []
    for record in table.to_dict(orient="records"):
        scenario = scenarios if isinstance(scenarios, Scenario) else scenarios.get(int(record["seed"]))
        if scenario is None:
            raise InputError(f"'scenarios' must hold a Scenario for seed {record['seed']} (got seeds "
                             f"{', '.join(str(s) for s in scenarios)}).")
        cost = {k: float(v[0]) for k, v in _costs([scenario], coefficients, (record["algorithm"],))[
            record["algorithm"]].items()}
        seconds = cost["setup_seconds"] + record["rounds"] * cost["round_seconds"]
        traffic = cost["setup_bytes"] + record["rounds"] * cost["round_bytes"]
        rows.append({"algorithm": record["algorithm"], "seed": int(record["seed"]), "rounds": int(record["rounds"]),
                     "measured_seconds": record["measured_seconds"], "predicted_seconds": seconds,
                     "error_percent": 100 * (seconds - record["measured_seconds"]) / record["measured_seconds"],
                     "measured_bytes": record["measured_bytes"], "predicted_bytes": traffic,
                     "bytes_error_percent": 100 * (traffic - record["measured_bytes"]) / record["measured_bytes"]})
    return pd.DataFrame(rows, columns=["algorithm", "seed", "rounds", "measured_seconds", "predicted_seconds",
                                       "error_percent", "measured_bytes", "predicted_bytes", "bytes_error_percent"])
