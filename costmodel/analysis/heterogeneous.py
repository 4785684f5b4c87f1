"""Round time of a heterogeneous federation: the closed form and its Monte Carlo check, as a frame.

For a :class:`~costmodel.model.scenario.Scenario`, a calibration's coefficients (already scaled to
the devices' median speed, ``--device-speed``) and a :class:`~costmodel.model.federation.Federation`,
:func:`predict_heterogeneous` prices FedAvg (McMahan et al., AISTATS 2017) and Astraea (Duan et al.,
ICCD 2019; IEEE TPDS 32(1), 2021) rounds three ways: homogeneous (every client the median one),
closed form (:mod:`costmodel.model.heterogeneity`) and, with ``monte_carlo = N``, N simulated rounds
(:mod:`costmodel.analysis.montecarlo`). A homogeneous federation returns the homogeneous answer
itself for all three.

A client table has its own closed form, from the table's visits ``v_i``: FedAvg's slowest of ``c``
clients drawn without replacement from ``N`` is exact,
``E[max] = sum_{i >= c} v_(i)*C(i - 1, c - 1)/C(N, c)`` (ascending order); Astraea's mediators take
the table's cumulants (population moments) into the same shifted-log-normal fit, floored by the chain
holding the table's slowest drawn visit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import sympy as sp

from costmodel.analysis.montecarlo import VisitNumbers, sample_branch_max
from costmodel.analysis.predict import DEFAULT_ALGORITHMS, predict_rounds
from costmodel.analysis.round_quantile import (quantile_expressions, quantile_from_numbers, table_branch_quantile,
                                               table_chain_count)
from costmodel.errors import check_int, check_number, must
from costmodel.model.bridge import NumericFunction, numeric_function
from costmodel.model.federation import Federation
from costmodel.model.heterogeneity import SPREAD_SYMBOLS, chain_max, heterogeneous_round_seconds, visit_parts
from costmodel.model.quantities import check_coefficients
from costmodel.model.scenario import Scenario

__all__ = ["HETEROGENEOUS_COLUMNS", "max_clients_heterogeneous", "predict_heterogeneous", "table_slowest_branch",
           "visit_numbers"]

#: Columns of :func:`predict_heterogeneous` after ``algorithm``.
HETEROGENEOUS_COLUMNS: tuple[str, ...] = (
    "homogeneous_round_seconds", "round_seconds", "monte_carlo_round_seconds", "monte_carlo_stderr_seconds",
    "monte_carlo_q95_seconds", "monte_carlo_draws", "closed_form_q95_seconds")


@functools.cache
def _parts_function(algorithm: str) -> NumericFunction:
    p = visit_parts(algorithm)
    return numeric_function([p.fixed, p.compute, p.wire_down, p.wire_up, p.per_branch, p.branches, p.passes])


@functools.cache
def _wire_functions(algorithm: str) -> tuple[NumericFunction, NumericFunction]:
    p = visit_parts(algorithm)
    return numeric_function(p.wire_down), numeric_function(p.wire_up)


@functools.cache
def _closed_form_function(algorithm: str, speed_classes: tuple, link_classes: tuple) -> NumericFunction:
    # the round and its quantile's numbers in one function: they share the censored cumulants
    return numeric_function([heterogeneous_round_seconds(algorithm, speed_classes, link_classes),
                             *quantile_expressions(algorithm, speed_classes, link_classes)])


@functools.cache
def _chain_max_function() -> NumericFunction:
    k1, k2, k3, k = sp.symbols("K_1 K_2 K_3 k", positive=True)
    return numeric_function(chain_max(k1, k2, k3, k))


def _values(scenario: Scenario, coefficients: Mapping[str, float], function: NumericFunction,
            **more: object) -> dict[str, object]:
    values = {**scenario.as_dict(), **coefficients, **more}
    return {name: values[name] for name in function.arguments}


def visit_numbers(scenario: Scenario, coefficients: Mapping[str, float], algorithm: str) -> VisitNumbers:
    """The :class:`~costmodel.analysis.montecarlo.VisitNumbers` of ``algorithm`` for one scenario."""
    function = _parts_function(algorithm)
    with np.errstate(all="ignore"):
        fixed, compute, down, up, per_branch, _, passes = (float(x) for x in function(
            **_values(scenario, coefficients, function)))
    down_f, up_f = _wire_functions(algorithm)

    def wire_down_of(rates: np.ndarray) -> np.ndarray:
        return down_f(**_values(scenario, coefficients, down_f, downlink_bits_per_s=rates))

    def wire_up_of(rates: np.ndarray) -> np.ndarray:
        return up_f(**_values(scenario, coefficients, up_f, uplink_bits_per_s=rates))

    return VisitNumbers(fixed=fixed, compute=compute, wire_down=down, wire_up=up,
                        clients=int(scenario.clients_per_round), per_branch=int(round(per_branch)),
                        passes=int(round(passes)), wire_down_of=wire_down_of, wire_up_of=wire_up_of)


def _expected_max_without_replacement(values: np.ndarray, draws: int) -> float:
    """``E[max of draws values drawn without replacement]`` (exact): ``sum v_(i)*C(i-1, d-1)/C(N, d)``."""
    ordered = np.sort(values)
    n = ordered.size
    i = np.arange(draws, n + 1, dtype=np.float64)
    lgamma = np.vectorize(math.lgamma, otypes=[np.float64])
    log_w = (lgamma(i) - math.lgamma(draws) - lgamma(i - draws + 1)
             - (math.lgamma(n + 1) - math.lgamma(draws + 1) - math.lgamma(n - draws + 1)))
    return float(np.dot(ordered[draws - 1:], np.exp(log_w)))


def _table_visits(v: VisitNumbers, federation: Federation) -> np.ndarray:
    table = federation.clients
    return (v.fixed + v.compute / table.speed_factor
            + np.broadcast_to(np.asarray(v.wire_down_of(table.downlink_bits_per_s)), table.speed_factor.shape)
            + np.broadcast_to(np.asarray(v.wire_up_of(table.uplink_bits_per_s)), table.speed_factor.shape))


def table_slowest_branch(v: VisitNumbers, federation: Federation) -> float:
    """Closed form of the slowest branch (one pass) for a client table (see the module docstring)."""
    visits = _table_visits(v, federation)
    largest = _expected_max_without_replacement(visits, v.clients)
    if v.per_branch == 1:
        return largest
    g, k, draws = v.per_branch, table_chain_count(v, visits), v.clients
    m = float(visits.mean())
    centred = visits - m
    k2, k3 = float(np.mean(centred**2)), float(np.mean(centred**3))
    if k2 <= 0:
        return g * m
    function = _chain_max_function()
    with np.errstate(all="ignore"):
        fit = float(function(K_1=g * m, K_2=g * k2, K_3=g * k3, k=k))
    floor = largest + (g - 1) * (draws * m - largest) / max(draws - 1, 1)
    return max(fit, floor)


def predict_heterogeneous(scenario: Scenario, coefficients: Mapping[str, float], federation: Federation, *,
                          algorithms: Sequence[str] = DEFAULT_ALGORITHMS, monte_carlo: int = 0,
                          seed: int = 0) -> pd.DataFrame:
    """Round time of each of ``algorithms`` (columns :data:`HETEROGENEOUS_COLUMNS`), one row each.

    ``round_seconds`` is the closed form and ``closed_form_q95_seconds`` its 95% quantile
    (:mod:`costmodel.analysis.round_quantile`); the ``monte_carlo_*`` columns are NaN (draws 0)
    unless ``monte_carlo`` rounds are drawn (seed ``seed``).
    """
    monte_carlo = check_int("monte_carlo", monte_carlo, minimum=0, maximum=10**8)
    if monte_carlo == 1:
        raise must("monte_carlo", "be 0 or at least 2 draws (a standard error needs two)", monte_carlo)
    if federation.clients is not None and federation.clients.size < scenario.clients_per_round:
        raise must("clients-file", f"hold at least clients_per_round ({scenario.clients_per_round}) clients, "
                                   f"who are drawn without replacement", federation.clients.size)
    checked = check_coefficients(coefficients)
    homogeneous = predict_rounds(scenario, checked, algorithms=algorithms)
    rows = []
    for algorithm, base in zip(algorithms, homogeneous["round_seconds"].to_numpy()):
        row = {"algorithm": algorithm, "homogeneous_round_seconds": float(base)}
        v = visit_numbers(scenario, checked, algorithm)
        shift = float(base) - v.passes * v.per_branch * v.visit
        if federation.homogeneous:
            row["round_seconds"] = row["closed_form_q95_seconds"] = float(base)
        elif federation.clients is not None:
            slowest = table_slowest_branch(v, federation)
            row["round_seconds"] = float(base) + v.passes * (slowest - v.per_branch * v.visit)
            row["closed_form_q95_seconds"] = shift + v.passes * table_branch_quantile(v, _table_visits(v, federation))
        else:
            function = _closed_form_function(algorithm, federation.speed_classes, federation.link_classes)
            spreads = {SPREAD_SYMBOLS["speed_sigma"].name: federation.speed_sigma,
                       SPREAD_SYMBOLS["link_sigma"].name: federation.link_sigma}
            with np.errstate(all="ignore"):
                numbers = [float(x) for x in function(**_values(scenario, checked, function, **spreads))]
            row["round_seconds"] = numbers[0]
            row["closed_form_q95_seconds"] = shift + v.passes * quantile_from_numbers(numbers[1:], federation)
        if monte_carlo and federation.homogeneous:
            row.update(monte_carlo_round_seconds=float(base), monte_carlo_stderr_seconds=0.0,
                       monte_carlo_q95_seconds=float(base), monte_carlo_draws=monte_carlo)
        elif monte_carlo:
            sample = sample_branch_max(v, federation, monte_carlo, seed=seed)
            row.update(monte_carlo_round_seconds=shift + v.passes * sample.mean,
                       monte_carlo_stderr_seconds=v.passes * sample.stderr,
                       monte_carlo_q95_seconds=shift + v.passes * sample.q95, monte_carlo_draws=monte_carlo)
        else:
            row.update(monte_carlo_round_seconds=math.nan, monte_carlo_stderr_seconds=math.nan,
                       monte_carlo_q95_seconds=math.nan, monte_carlo_draws=0)
        rows.append(row)
    return pd.DataFrame(rows, columns=["algorithm", *HETEROGENEOUS_COLUMNS])


def _largest_fitting(fits, high: int) -> int:
    """The largest ``c`` in ``1..high`` with ``fits(c)``, for ``fits`` true up to some c (0: none)."""
    if not fits(1):
        return 0
    low = 1
    if fits(high):
        return high
    while high - low > 1:  # invariant: fits(low), not fits(high)
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def max_clients_heterogeneous(budget_s: float, scenario: Scenario, coefficients: Mapping[str, float],
                              federation: Federation, algorithm: str = "astraea", *, monte_carlo: int = 0,
                              seed: int = 0) -> dict[str, float]:
    """The largest clients per round whose heterogeneous round fits ``budget_s``: by the closed form's
    mean round (``closed_form_clients``), by its 95% quantile (``closed_form_q95_clients``: 95% of
    rounds within the budget) and, with ``monte_carlo`` draws, by the Monte Carlo's 95% quantile
    (``monte_carlo_q95_clients``). Searched over
    ``1..clients_total`` (and the table's rows); 0 when not even one client fits. Assumes the round
    grows with ``c`` (a bisection)."""
    budget = check_number("budget_s", budget_s, exclusive_minimum=0.0)
    high = int(scenario.clients_total if federation.clients is None
               else min(scenario.clients_total, federation.clients.size))
    if scenario.clients_total > high:
        scenario = scenario.replace(clients_total=high)

    def frame(c: int, draws: int) -> pd.Series:
        return predict_heterogeneous(scenario.replace(clients_per_round=c), coefficients, federation,
                                     algorithms=[algorithm], monte_carlo=draws, seed=seed).iloc[0]

    closed = _largest_fitting(lambda c: frame(c, 0)["round_seconds"] <= budget, high)
    answer: dict[str, float] = {"closed_form_clients": float(closed), "budget_s": budget}
    if closed:
        answer["closed_form_round_seconds"] = float(frame(closed, 0)["round_seconds"])
    q95 = _largest_fitting(lambda c: frame(c, 0)["closed_form_q95_seconds"] <= budget, high)
    answer["closed_form_q95_clients"] = float(q95)
    if q95:
        answer["closed_form_q95_seconds"] = float(frame(q95, 0)["closed_form_q95_seconds"])
    if monte_carlo:
        quantile = _largest_fitting(lambda c: frame(c, monte_carlo)["monte_carlo_q95_seconds"] <= budget, high)
        answer["monte_carlo_q95_clients"] = float(quantile)
        if quantile:
            answer["monte_carlo_q95_seconds"] = float(frame(quantile, monte_carlo)["monte_carlo_q95_seconds"])
    return answer
