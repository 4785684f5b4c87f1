"""The closed form's 95% quantile of a heterogeneous round's slowest branch.

FedAvg (McMahan et al., AISTATS 2017) waits for the slowest of ``c`` visits, so with the explicit
visit CDF ``F`` of :mod:`costmodel.model.straggler_cdf` its ``p`` quantile is ``F^{-1}(p^{1/c})``; from
a client table, whose ``c`` clients are drawn without replacement from ``N``, it is exact:
``P(max <= v_(i)) = C(i, c)/C(N, c)`` over the ascending visits. An Astraea mediator (Duan et al.,
ICCD 2019; IEEE TPDS 32(1), 2021) waits for its chain of ``g`` visits: the quantile is the root of
``k*log F_body(t) - k*g*sum_i Phibar(log(max(y_ci, t - r_i)/coef_i)/sigma_i) = log p``
(:mod:`costmodel.model.censored_chain`; ``F_body`` normal when the censored chain's skewness is below
``1e-3``, as for the mean); from a table, of ``F_body(t)^k = p`` with the table's cumulants. The
round's quantile is the homogeneous round plus ``E_m`` times the branch's excess over ``g`` median
visits, as for the mean.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np
import sympy as sp

from costmodel.analysis.montecarlo import VisitNumbers
from costmodel.model.bridge import NumericFunction, numeric_function
from costmodel.model.federation import Federation
from costmodel.model.censored_chain import chain_count
from costmodel.model.heterogeneity import SPREAD_SYMBOLS, censored_chain, straggler_max
from costmodel.model.lognormal_fit import MIN_SKEW, sln_fit_values
from costmodel.model.order_statistic import normal_cdf_values
from costmodel.model.scenario import Scenario
from costmodel.model.straggler_cdf import straggler_quantile_values

__all__ = ["QUANTILE", "branch_quantile", "quantile_expressions", "quantile_from_numbers", "table_branch_quantile",
           "table_chain_count"]

#: The probability of the round quantile reported (95% of rounds within it).
QUANTILE = 0.95


@functools.cache
def quantile_expressions(algorithm: str, speed_classes: tuple = (), link_classes: tuple = ()) -> tuple[sp.Expr, ...]:
    """The numbers :func:`quantile_from_numbers` takes, as sympy expressions: FedAvg's
    :class:`~costmodel.model.straggler_cdf.StragglerMax` arguments, or Astraea's censored chain
    ``(K_1, K_2, K_3, k, g, z_c, (coef, sigma, censored mean) per censored term)``."""
    chain = censored_chain(algorithm, speed_classes, link_classes)
    if chain.per_branch == 1:
        return tuple(straggler_max(algorithm, speed_classes, link_classes).args[:7])
    values = [*chain.cumulants, chain.chains, chain.per_branch, chain.level]
    for coef, sigma, censored_mean, _ in chain.terms:
        values += [coef, sigma, censored_mean]
    return tuple(sp.sympify(v) for v in values)


@functools.cache
def _quantile_function(algorithm: str, speed_classes: tuple, link_classes: tuple) -> NumericFunction:
    return numeric_function(list(quantile_expressions(algorithm, speed_classes, link_classes)))


def _evaluate(function: NumericFunction, values: Mapping[str, object]) -> list[float]:
    with np.errstate(all="ignore"):
        return [float(x) for x in function(**{name: values[name] for name in function.arguments})]


def _log_normal_cdf(x: float) -> float:
    return math.log(max(normal_cdf_values(x), 1e-300))


def _root(log_probability, low: float, high: float, target: float) -> float:
    """The ``t`` in ``[low, high]`` where the increasing ``log_probability(t)`` crosses ``target``."""
    while log_probability(high) < target:
        high = low + 2 * (high - low)
    for _ in range(200):
        middle = 0.5 * (low + high)
        if log_probability(middle) < target:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return 0.5 * (low + high)


def _chain_quantile(numbers: list[float], p: float) -> float:
    k1, k2, k3, k, g, z = numbers[:6]
    terms = [numbers[i:i + 3] for i in range(6, len(numbers), 3)]
    tau, mu, s = sln_fit_values(k1, k2, k3)
    tails = [(coef, sigma, coef * math.exp(sigma * z), k1 - censored_mean)
             for coef, sigma, censored_mean in terms if coef > 0 and sigma > 0]

    # below MIN_SKEW the chain's body is normal, as in the mean (costmodel.model.heterogeneity.chain_max)
    normal = k2 > 0 and k3 / k2**1.5 < float(MIN_SKEW)

    def log_probability(t: float) -> float:
        if normal:
            body = _log_normal_cdf((t - k1) / math.sqrt(k2))
        elif s == 0:
            body = 0.0 if t >= k1 else -math.inf
        else:
            body = _log_normal_cdf((math.log(t - tau) - mu) / s) if t > tau else -math.inf
        excess = sum(normal_cdf_values(-(math.log(max(level, t - rest) / coef) / sigma))
                     for coef, sigma, level, rest in tails)
        return k * body - k * g * excess

    low = 0.0 if normal else max(tau, 0.0) if s > 0 else k1 * (1 - 1e-12)
    return _root(log_probability, low, max(2 * k1, low + 1e-9), math.log(p))


def quantile_from_numbers(numbers: list[float], federation: Federation, p: float = QUANTILE) -> float:
    """The ``p`` quantile of the slowest branch from the values of :func:`quantile_expressions`."""
    if len(numbers) == 7:
        speed = federation.speed_classes or ((1.0, 1.0),)
        link = federation.link_classes or ((1.0, 1.0),)
        return float(straggler_quantile_values(p, *numbers, tuple(f for f, _ in speed), tuple(w for _, w in speed),
                                               tuple(f for f, _ in link), tuple(w for _, w in link)))
    return _chain_quantile(numbers, p)


def branch_quantile(scenario: Scenario, coefficients: Mapping[str, float], federation: Federation,
                    algorithm: str, p: float = QUANTILE) -> float:
    """The ``p`` quantile of the slowest branch (one pass, seconds) of a log-normal or class federation."""
    spreads = {SPREAD_SYMBOLS["speed_sigma"].name: federation.speed_sigma,
               SPREAD_SYMBOLS["link_sigma"].name: federation.link_sigma}
    values = {**scenario.as_dict(), **coefficients, **spreads}
    function = _quantile_function(algorithm, federation.speed_classes, federation.link_classes)
    return quantile_from_numbers(_evaluate(function, values), federation, p)


def _without_replacement_quantile(visits: np.ndarray, draws: int, p: float) -> float:
    """Smallest ``v_(i)`` with ``C(i, d)/C(N, d) >= p``: the exact quantile of the largest of ``d`` drawn."""
    ordered = np.sort(visits)
    n = ordered.size
    i = np.arange(draws, n + 1, dtype=np.float64)
    lgamma = np.vectorize(math.lgamma, otypes=[np.float64])
    log_cdf = lgamma(i + 1) - lgamma(i - draws + 1) - (math.lgamma(n + 1) - math.lgamma(n - draws + 1))
    return float(ordered[draws - 1 + int(np.searchsorted(log_cdf, math.log(p) - 1e-12))])


@functools.cache
def _chain_count_function() -> NumericFunction:
    c, g, m, var = sp.symbols("c g m v", positive=True)
    return numeric_function(chain_count(c, g, m, var))


def table_chain_count(v: VisitNumbers, visits: np.ndarray) -> float:
    """``k`` for a client table: :func:`~costmodel.model.censored_chain.chain_count` at the table's visit
    mean and variance (the last mediator, holding the remainder, weighted as in the parametric form)."""
    variance = float(np.var(visits))
    if not variance > 0:
        return float(v.clients // v.per_branch + (v.clients % v.per_branch > 0))
    with np.errstate(all="ignore"):
        return float(_chain_count_function()(c=v.clients, g=v.per_branch, m=float(visits.mean()), v=variance))


def table_branch_quantile(v: VisitNumbers, visits: np.ndarray, p: float = QUANTILE) -> float:
    """The ``p`` quantile of the slowest branch for a client table's ``visits`` (module docstring)."""
    if v.per_branch == 1:
        return _without_replacement_quantile(visits, v.clients, p)
    g, k = v.per_branch, table_chain_count(v, visits)
    m = float(visits.mean())
    centred = visits - m
    tau, mu, s = sln_fit_values(g * m, g * float(np.mean(centred**2)), g * float(np.mean(centred**3)))
    if s == 0:
        return g * m
    return tau + math.exp(mu + s * NormalDist().inv_cdf(p**(1 / k)))
