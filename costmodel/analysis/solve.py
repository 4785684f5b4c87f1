"""Capacity questions answered from the cost model, and the round time's sensitivities.

Built on the symbolic model of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and FedAvg in
:mod:`costmodel.model`. Each answer is a frozen :class:`Solution`: the value with its unit,
the sympy expression it came from, and the numbers behind it; a question without an answer gets a
Solution that says why in one sentence with units.

* :func:`max_clients_per_round`: the largest whole c whose round time fits a budget. The round
  time never decreases with c (more clients share the server link, the order statistic grows, a
  mediator fills up, rescheduling and aggregation grow), so a bisection over 1..clients_total
  finds it exactly in ~log2(N) evaluations.
* :func:`min_bandwidth_for_overhead`: the client bandwidth (uplink, downlink or both) from which on
  Astraea's round overhead stays within ``max_fraction`` of FedAvg's round time. The fraction need
  not fall with bandwidth: on slow, client-bound links it tends to ``E_m*g - 1``; it peaks where
  FedAvg's c concurrent transfers saturate the server link while Astraea's M do not yet; with
  fast links it tends to the compute ratio. So it is scanned on a log grid from 1 bit/s to
  1e15 bit/s and refined by bisection at the last crossing.
* :func:`crossover_bandwidth`: the client bandwidth (uplink = downlink = b) at which Astraea's
  per-round communication time equals its compute time. Symbolic: on client-bound links the
  communication time is ``C0 + K1/b``, so ``b* = K1/(compute - C0)`` (sympy ``solve``); it is
  valid while ``b* <= b_srv/M`` (beyond, the shared server link bounds every transfer).
* :func:`break_even_rounds`: how many rounds Astraea must save against ``R_f`` FedAvg rounds:
  ``R_f - floor((R_f*T_F - S_A)/T_A)``.
* "No answer" is an answer: when nothing satisfies a question (no number of clients fits the
  budget, no bandwidth meets the bound, ...), the :class:`Solution` has ``value`` NaN and a
  ``reason`` sentence with units; only malformed input raises :class:`~costmodel.errors.InputError`.
* :func:`sensitivities`: ``d(round time)/d(input)`` and the elasticity
  ``input/round_time * derivative`` per input. Derivatives relax every ``ceiling(x)`` to ``x``
  (the ceilings are piecewise constant, so their true derivative is 0 almost everywhere, which
  would hide how round time scales); ``Min`` differentiates to a Heaviside step (1/2 at a tie).
  An infinite input (a bandwidth) has derivative and elasticity 0, the limits; the other
  derivatives see it as 1e150 bit/s (its network term below 1e-140 s).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from costmodel import model as ex
from costmodel.model.bridge import numeric_function
from costmodel.model.protocols import check_algorithm
from costmodel.errors import InputError, check_int, check_number, must
from costmodel.model.quantities import INPUTS, check_coefficients, sym
from costmodel.model.scenario import Scenario
from costmodel.units import format_bandwidth, format_fraction, format_seconds

__all__ = [
    "BANDWIDTH_SCAN_BITS_PER_S",
    "BUDGET_RELATIVE_TOLERANCE",
    "MAX_BUDGET_S",
    "MAX_FEDAVG_ROUNDS",
    "MAX_OVERHEAD_FRACTION",
    "Solution",
    "break_even_rounds",
    "crossover_bandwidth",
    "max_clients_per_round",
    "min_bandwidth_for_overhead",
    "sensitivities",
]

#: Range of client bandwidths scanned by :func:`min_bandwidth_for_overhead`, bit/s.
BANDWIDTH_SCAN_BITS_PER_S: tuple[float, float] = (1.0, 1e15)
_SCAN_POINTS = 1501  # 100 per decade
_LINKS = {"uplink": ("uplink_bits_per_s",), "downlink": ("downlink_bits_per_s",),
          "both": ("uplink_bits_per_s", "downlink_bits_per_s")}
_LINK_WORDS = {"uplink": "uplink", "downlink": "downlink", "both": "uplink and downlink"}
#: Largest overhead bound the min-bandwidth question takes (+100,000%).
MAX_OVERHEAD_FRACTION = 1000.0


@dataclass(frozen=True)
class Solution:
    """The answer to one capacity question (immutable, like an lmfit result).

    Attributes
    ----------
    question : str
        What was asked, in words.
    value : float
        The answer.
    unit : str
        Its unit.
    expression : sympy.Expr
        The expression solved or evaluated (print it, or ``sympy.latex`` it).
    details : Mapping[str, float]
        The numbers behind the answer (e.g. the round time at the answer).
    """

    question: str
    value: float
    unit: str
    expression: sp.Expr
    details: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def exists(self) -> bool:
        """Whether the question has an answer; if not, ``value`` is NaN and ``reason`` says why."""
        return math.isfinite(self.value)

    def report(self) -> str:
        """A short readable report: question, answer (or why there is none), details."""
        answer = f"{self.value:.6g} {self.unit}" if self.exists else f"none: {self.reason}"
        lines = [self.question, f"  answer: {answer}"]
        lines += [f"  {name}: {value:.6g}" for name, value in self.details.items()]
        return "\n".join(lines)


def _values(scenario: Any, coefficients: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(scenario, Scenario):
        raise must("scenario", "be a Scenario", type(scenario).__name__)
    return {**{k: float(v) for k, v in scenario.as_dict().items()}, **check_coefficients(coefficients)}


def _algorithm(algorithm: str) -> str:
    return check_algorithm(algorithm)


def _call(expression: sp.Expr, values: Mapping[str, Any]) -> Any:
    function = numeric_function(expression)
    return function(**{name: values[name] for name in function.arguments})


# --------------------------------------------------------------------------- clients per round

#: A round time within this relative distance of a budget fits it: the same number computed by two
#: compiled functions (the table of ``predict``, the solver's) can differ in its last bits.
BUDGET_RELATIVE_TOLERANCE = 1e-9
#: Largest round-time budget a question takes (about 31.7 years), in seconds.
MAX_BUDGET_S = 1e9
#: Largest number of FedAvg rounds the break-even question takes.
MAX_FEDAVG_ROUNDS = 10**9


def max_clients_per_round(budget_s: float, scenario: Scenario, coefficients: Mapping[str, float],
                          algorithm: str = "astraea") -> Solution:
    """The largest whole number of clients per round whose round time fits ``budget_s``.

    Searched over ``1..clients_total`` (every other input as in ``scenario``). A round time within
    :data:`BUDGET_RELATIVE_TOLERANCE` of the budget fits it. If even one client per round exceeds
    the budget, the :class:`Solution` has no answer (``value`` NaN, ``reason`` says by how much).
    """
    budget = check_number("budget_s", budget_s, exclusive_minimum=0, maximum=MAX_BUDGET_S)
    values = _values(scenario, coefficients)
    expression = ex.round_seconds(_algorithm(algorithm))
    question = f"largest clients per round with {algorithm} round time <= {_seconds(budget)}"
    limit = budget * (1 + BUDGET_RELATIVE_TOLERANCE)

    def seconds(clients: int) -> float:
        return float(_call(expression, {**values, "clients_per_round": float(clients)}))

    one = seconds(1)
    if one > limit:
        return Solution(question=question, value=math.nan, unit="clients", expression=expression,
                        details={"round_seconds_one_client": one, "budget_s": budget},
                        reason=f"no number of clients per round fits a round-time budget of {_seconds(budget)}: "
                               f"one client alone takes {_seconds(one)}.")
    low, high = 1, int(values["clients_total"])
    if seconds(high) <= limit:
        low = high
    while high - low > 1:  # invariant: seconds(low) <= limit < seconds(high)
        middle = (low + high) // 2
        if seconds(middle) <= limit:
            low = middle
        else:
            high = middle
    details = {"round_seconds": seconds(low), "budget_s": budget, "clients_total": values["clients_total"]}
    if low < values["clients_total"]:
        details["round_seconds_one_more"] = seconds(low + 1)
    return Solution(question=question, value=float(low), unit="clients", expression=expression, details=details)


def _seconds(value: float) -> str:
    return format_seconds(value)


def _percent(fraction: float) -> str:
    return format_fraction(fraction)


# --------------------------------------------------------------------------- bandwidth

@functools.cache
def _overhead_fraction() -> sp.Expr:
    return ex.round_seconds("astraea") / ex.round_seconds("fedavg") - 1


def min_bandwidth_for_overhead(max_fraction: float, scenario: Scenario, coefficients: Mapping[str, float],
                               which: str = "both") -> Solution:
    """The client bandwidth from which on Astraea's round overhead stays within ``max_fraction``
    of FedAvg's round time: the smallest ``b*`` with ``round_A/round_F - 1 <= max_fraction`` at
    every bandwidth ``b >= b*``.

    "From which on", not merely "at which": the fraction need not fall with bandwidth (it peaks
    where FedAvg's c concurrent transfers saturate the server link while Astraea's M do not yet),
    so a bound met at a slow link can fail at a faster one. Scanned on a log grid over
    :data:`BANDWIDTH_SCAN_BITS_PER_S` (100 points per decade) and refined by bisection.

    Parameters
    ----------
    max_fraction : float
        Allowed overhead, e.g. 0.5 for +50%.
    which : {'uplink', 'downlink', 'both'}
        Which client link is varied (``both``: uplink = downlink); the others stay as in
        ``scenario``.

    Returns
    -------
    Solution
        ``value`` in bit/s; ``details`` hold the fraction there and with unlimited client links,
        and ``holds_everywhere`` (1 if the bound holds at every bandwidth scanned, in which case
        ``value`` is the lowest one, 1 bit/s).

    If even unlimited client links do not meet the bound, the :class:`Solution` has no answer
    (``value`` NaN; ``reason`` gives the overhead that remains).
    """
    bound = check_number("max_fraction", max_fraction, minimum=0, maximum=MAX_OVERHEAD_FRACTION)
    if which not in _LINKS:
        raise InputError(f"'which' must be one of {', '.join(_LINKS)} (got {which!r}).")
    values = _values(scenario, coefficients)
    expression = _overhead_fraction()

    def fraction(bandwidth: Any) -> Any:
        return _call(expression, {**values, **{link: bandwidth for link in _LINKS[which]}})

    low_end, high_end = BANDWIDTH_SCAN_BITS_PER_S
    scan = np.geomspace(low_end, high_end, _SCAN_POINTS)
    fractions = fraction(scan)
    unlimited = float(fraction(math.inf))
    links = _LINK_WORDS[which]
    question = (f"client {links} bandwidth from which on Astraea's round overhead stays within "
                f"+{_percent(bound)} of FedAvg's round time")
    if unlimited > bound or fractions[-1] > bound:
        return Solution(question=question, value=math.nan, unit="bit/s", expression=expression,
                        details={"fraction_unlimited": unlimited},
                        reason=f"no client bandwidth keeps Astraea's round overhead within +{_percent(bound)} of "
                               f"FedAvg's round time: even unlimited client links leave +{_percent(unlimited)} "
                               f"(compute, latency and the server link remain).")
    failing = np.flatnonzero(fractions > bound)
    if failing.size == 0:
        answer = float(scan[0])
    else:
        below, above = float(scan[failing[-1]]), float(scan[failing[-1] + 1])
        for _ in range(60):  # bisection in log space to a relative width of ~1e-12
            middle = math.sqrt(below * above)
            if float(fraction(middle)) <= bound:
                above = middle
            else:
                below = middle
            if above / below - 1 < 1e-12:
                break
        answer = above
    details = {"fraction_at_answer": float(fraction(answer)), "fraction_unlimited": unlimited,
               "holds_everywhere": float(failing.size == 0)}
    return Solution(question=question, value=answer, unit="bit/s", expression=expression, details=details)


_B = sp.Symbol("b", positive=True)


_X = sp.Symbol("x", positive=True)  # 1/b, in which the communication time is linear


@functools.cache
def _crossover_parts() -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(closed form b*, communication time at client bandwidth b, compute time, server share).

    On client-bound links the communication time is ``C0 + K1*x`` with ``x = 1/b``, so
    ``C0 = comm(x=0)``, ``K1 = d comm/dx`` and ``comm = compute`` at ``b* = K1/(compute - C0)``:
    the root sympy's ``solve`` finds too (a test checks), without its cost at run time.
    """
    m = ex.mediators()
    share = sym("server_bits_per_s") / m
    client_bound = {ex.shared_bandwidth(sym("uplink_bits_per_s"), m): _B,
                    ex.shared_bandwidth(sym("downlink_bits_per_s"), m): _B}
    communication = ex.communication_seconds("astraea").xreplace(client_bound)
    linear = communication.xreplace({_B: 1 / _X})
    fixed = linear.xreplace({_X: 0})
    slope = sp.diff(linear, _X)
    if _X in slope.free_symbols:  # pragma: no cover - guards the linearity the closed form needs
        raise RuntimeError("communication time is not linear in 1/bandwidth")
    compute = ex.compute_seconds("astraea")
    return slope / (compute - fixed), communication, compute, share


def crossover_bandwidth(scenario: Scenario, coefficients: Mapping[str, float]) -> Solution:
    """The client bandwidth b (uplink = downlink = b) at which Astraea's per-round communication
    time equals its per-round compute time (rescheduling + local training + aggregation).

    Below it, communication dominates the round; above it, compute does. Closed form on
    client-bound links (``b <= b_srv/M``): ``b* = K1/(compute - C0)`` with ``C0`` the latency and
    serialization part of communication and ``K1/b`` its link part.

    If communication exceeds compute at every client bandwidth (latency and serialization alone,
    or the shared server link, already outweigh compute), the :class:`Solution` has no answer.
    """
    values = _values(scenario, coefficients)
    closed, communication, compute, share = _crossover_parts()
    compute_s = float(_call(compute, values))
    share_bits = float(_call(share, values))
    fixed_s = float(_call(communication, {**values, "b": math.inf}))
    question = ("client bandwidth (uplink = downlink) at which Astraea's per-round communication time equals "
                "its compute time")
    details = {"compute_seconds": compute_s, "server_share_bits_per_s": share_bits}
    if fixed_s >= compute_s:
        return Solution(question=question, value=math.nan, unit="bit/s", expression=closed, details=details,
                        reason=f"Astraea's communication outweighs its compute at every client bandwidth: latency "
                               f"and serialization alone take {_seconds(fixed_s)} per round against "
                               f"{_seconds(compute_s)} of compute.")
    answer = float(_call(closed, values))
    if answer > share_bits:
        at_share = float(_call(communication, {**values, "b": share_bits}))
        return Solution(question=question, value=math.nan, unit="bit/s", expression=closed, details=details,
                        reason=f"Astraea's communication outweighs its compute at every client bandwidth: the shared "
                               f"server link ({format_bandwidth(share_bits)} per mediator) alone makes it "
                               f"{_seconds(at_share)} per round against {_seconds(compute_s)} of compute.")
    details["communication_seconds"] = float(_call(communication, {**values, "b": answer}))
    return Solution(question=question, value=answer, unit="bit/s", expression=closed, details=details)


# --------------------------------------------------------------------------- rounds

_R_F = sp.Symbol("R_f", positive=True, integer=True)


@functools.cache
def _break_even_expression() -> sp.Expr:
    fedavg, astraea = ex.round_seconds("fedavg"), ex.round_seconds("astraea")
    return _R_F - sp.floor((_R_F * fedavg - ex.setup_seconds("astraea")) / astraea)


def break_even_rounds(scenario: Scenario, coefficients: Mapping[str, float], fedavg_rounds: int, *,
                      round_seconds: tuple[float, float] | None = None) -> Solution:
    """How many rounds Astraea must save to cost no more time than ``fedavg_rounds`` FedAvg rounds.

    Astraea breaks even with at most ``R_a = floor((R_f*T_F - S_A)/T_A)`` rounds, ``T`` the round
    times and ``S_A`` its setup; the answer is ``R_f - R_a`` rounds saved. ``round_seconds``
    ``(T_F, T_A)`` replaces the model's round times (a heterogeneous federation's,
    :func:`costmodel.analysis.heterogeneous.predict_heterogeneous`); the setup stays the model's.

    If Astraea's setup plus one round already takes longer than all FedAvg rounds, the
    :class:`Solution` has no answer.
    """
    rounds = check_int("fedavg_rounds", fedavg_rounds, minimum=1, maximum=MAX_FEDAVG_ROUNDS)
    values = _values(scenario, coefficients)
    if round_seconds is None:
        fedavg_s = float(_call(ex.round_seconds("fedavg"), values))
        astraea_s = float(_call(ex.round_seconds("astraea"), values))
    else:
        fedavg_s, astraea_s = (check_number(name, value, exclusive_minimum=0.0)
                               for name, value in zip(("fedavg_round_seconds", "astraea_round_seconds"), round_seconds))
    setup_s = float(_call(ex.setup_seconds("astraea"), values))
    budget = rounds * fedavg_s
    most = math.floor((budget - setup_s) / astraea_s)
    question = f"rounds Astraea must save to match {rounds:,} FedAvg rounds in time"
    details = {"fedavg_round_seconds": fedavg_s, "astraea_round_seconds": astraea_s, "astraea_setup_seconds": setup_s}
    if most < 1:
        return Solution(question=question, value=math.nan, unit="rounds", expression=_break_even_expression(),
                        details=details,
                        reason=f"Astraea cannot break even against {rounds:,} FedAvg rounds ({_seconds(budget)}): its "
                               f"setup and one round already take {_seconds(setup_s + astraea_s)}.")
    saved = rounds - most
    return Solution(question=question, value=float(saved), unit="rounds", expression=_break_even_expression(),
                    details={"max_astraea_rounds": float(most), "saved_fraction": saved / rounds, **details})


# --------------------------------------------------------------------------- sensitivities

_LARGE_BITS_PER_S = 1e150


@functools.cache
def _derivatives(algorithm: str) -> tuple[sp.Expr, tuple[sp.Expr, ...]]:
    relaxed = ex.round_seconds(algorithm).replace(sp.ceiling, lambda argument: argument)
    return relaxed, tuple(sp.diff(relaxed, sym(name)) for name in INPUTS)


def sensitivities(scenario: Scenario, coefficients: Mapping[str, float], algorithm: str = "astraea") -> pd.DataFrame:
    """How the round time responds to each input at ``scenario``.

    Returns
    -------
    pandas.DataFrame
        One row per input: ``input``, ``unit``, ``value``, ``derivative`` (round seconds per unit
        of the input, ceilings relaxed), ``elasticity`` (``value/round_seconds * derivative``: the
        % change of round time per % change of the input, over the true round time),
        ``expression`` (the sympy derivative). ``frame.attrs`` holds ``round_seconds`` (true),
        ``expression`` and ``relaxed_round_seconds`` (the ceiling-relaxed round time), ``algorithm``.
    """
    values = _values(scenario, coefficients)
    relaxed, derivatives = _derivatives(_algorithm(algorithm))
    round_s = float(_call(ex.round_seconds(algorithm), values))
    # An infinite bandwidth enters the derivatives as _LARGE_BITS_PER_S, where its network term is
    # below 1e-140 s: the limit, without inf - inf in the Heaviside steps of Min.
    finite = {name: (_LARGE_BITS_PER_S if math.isinf(value) else value) for name, value in values.items()}
    function = numeric_function([relaxed, *derivatives])
    results = function(**{name: finite[name] for name in function.arguments})
    rows = []
    for name, derivative, expression in zip(INPUTS, results[1:], derivatives):
        value = values[name]
        slope = 0.0 if math.isinf(value) else float(derivative)
        rows.append({"input": name, "unit": INPUTS[name].unit, "value": value, "derivative": slope,
                     "elasticity": 0.0 if math.isinf(value) else value / round_s * slope,
                     "expression": expression})
    frame = pd.DataFrame(rows)
    frame.attrs["expression"] = relaxed
    frame.attrs["round_seconds"] = round_s
    frame.attrs["relaxed_round_seconds"] = float(results[0])
    frame.attrs["algorithm"] = algorithm
    return frame
