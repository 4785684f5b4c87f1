"""The round of a heterogeneous federation in closed form: stragglers among unequal devices and links.

FedAvg (McMahan et al., AISTATS 2017) waits for the slowest of its ``c`` parallel clients; an
Astraea mediator (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) waits for the sum of its chain of
``g = Min(gamma, c)`` clients, ``E_m`` times, and the round for the slowest of its mediators. With
clients that differ (:class:`~costmodel.model.federation.Federation`) one visit of client ``i`` takes

``V_i = a + C*X_i + D*Yd_i + U*Yu_i``

with ``a`` the visit's fixed part (serialization, latency), ``C`` its training at the median speed
(:func:`~costmodel.model.blocks.training_seconds`), ``D`` and ``U`` its download and upload wire
terms at the median rate (``8*(W + h_net)/(eta*Min(b, b_srv/k))``), ``X = 1/S`` the client's slowness
and ``Yd``, ``Yu`` its links' (log-normal around 1 with sigma ``sigma_s``, ``sigma_b``, times a
class's ``1/f`` if classes are given). The spread applies to the client's effective rate at the
shared server link (a stated simplification: a client faster than its share of the server link is
still spread).

A branch (a FedAvg client; an Astraea mediator's pass) is a sum of ``g`` visits of distinct
clients, and the round waits for the largest of ``k`` branches: ``g = 1``, ``k = c`` for FedAvg;
``g = Min(gamma, c)`` for Astraea (the greedy rescheduling groups by labels, not by speed, so a
mediator's clients are a random draw with respect to speed; ``E_m`` passes revisit the same
devices, so the wait is ``E_m`` times one pass's). The approximation, stated:

1. **FedAvg: the integral of an explicit visit CDF.** ``E[max of c visits] = int_0^oo (1 - F(t)^c) dt``
   with ``F`` the mixture over device classes of the compute term convolved with the link pair,
   the pair a shifted log-normal fitted to its first three cumulants
   (:class:`~costmodel.model.straggler_cdf.StragglerMax`; exact without link spread).
2. **Astraea: a censored chain.** The visit's cumulants are exact (log-normal terms:
   :func:`~costmodel.model.lognormal_fit.lognormal_cumulants`; classes: from the mixture's raw
   moments); each log-normal term is censored at the level ``c`` clients exceed ``beta = 0.05``
   times (:mod:`~costmodel.model.censored_chain`), a chain's cumulants are ``g`` times the censored
   visit's, and a shifted log-normal ``tau + e^{mu + s*Z}`` is fitted to them
   (:func:`~costmodel.model.lognormal_fit.sln_fit`; a normal ``K_1 + sqrt(K_2)*z_k`` below skewness
   1e-3). Body:
   ``tau + e^mu*L_k(s)`` with the tilted log-normal maximum ``L_k``
   (:class:`~costmodel.model.order_statistic.TiltedMaxFactor`), plus the expected exceedances of
   the censoring levels ``k*g*sum coef*Delta_1``. ``k = floor(c/g) + min(r/g, 2*Phi((r - g)*m/
   sqrt((r + g)*v)))`` weights the last mediator's remainder ``r``.
3. **Big-jump floor (Astraea).** The slowest branch is at least the one holding the overall
   largest value of one term ``G`` (compute, download, upload) among its ``K = k*g`` draws:
   ``K_1 - g*m_G + E[max_K G] + (g - 1)*(K*m_G - E[max_K G])/(K - 1)`` (its other members at their
   mean below that largest); ``E[max_K G] = coef*L_K(sigma)`` for a log-normal term and
   ``coef*e^{sigma^2/2}*sum_j x_(j)*(W_j^K - W_{j-1}^K)`` over sorted class atoms ``x = 1/f``. The
   branch takes the largest of the body and the floors: the floors carry rare slow classes,
   which a three-moment fit spreads too thin.

The heterogeneous round is the homogeneous one (:func:`~costmodel.model.round_seconds`, which keeps
its own size-spread and jitter straggler term) plus ``E_m*(E[max of k branches] - g*v)``, ``v`` the
homogeneous visit: without spread the added term is exactly 0 (a ``Piecewise``), so the
homogeneous answer is reproduced to the bit. Constant phases (rescheduling, aggregation, broadcast)
do not change. The Monte Carlo evaluator (:mod:`costmodel.analysis.montecarlo`) simulates the
same protocol over the same distributions and checks this form.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from costmodel.model.censored_chain import censored_lognormal, censoring_level, chain_count
from costmodel.model.lognormal_fit import MIN_SKEW, lognormal_cumulants, skewness, sln_fit
from costmodel.model.order_statistic import BlomZ, TiltedMaxFactor
from costmodel.model.phase_costs import round_parts, round_seconds
from costmodel.model.protocols import check_algorithm
from costmodel.model.quantities import sym
from costmodel.model.straggler_cdf import StragglerMax

__all__ = [
    "SPREAD_SYMBOLS",
    "CensoredChain",
    "VisitParts",
    "censored_chain",
    "chain_max",
    "class_max",
    "heterogeneous_round_seconds",
    "straggler_max",
    "visit_parts",
]

#: The spread inputs of the closed form, by name: ``sigma_s`` (client speed) and ``sigma_b`` (links).
SPREAD_SYMBOLS: dict[str, sp.Symbol] = {
    "speed_sigma": sp.Symbol("sigma_s", nonnegative=True),
    "link_sigma": sp.Symbol("sigma_b", nonnegative=True),
}


@dataclass(frozen=True)
class VisitParts:
    """One visit of an algorithm split as ``a + C*X + D*Yd + U*Yu``, and its branches.

    Attributes
    ----------
    fixed, compute, wire_down, wire_up : sympy.Expr
        ``a``, ``C``, ``D``, ``U`` in seconds at the median client.
    per_branch : sympy.Expr
        ``g``, visits of distinct clients summed in one branch (1 for FedAvg, ``Min(gamma, c)``).
    branches : sympy.Expr
        ``k``, branches the round waits for the largest of (``c``; ``c/g``).
    passes : sympy.Expr
        Times a branch is repeated on the same devices (1; ``E_m``).
    """

    fixed: sp.Expr
    compute: sp.Expr
    wire_down: sp.Expr
    wire_up: sp.Expr
    per_branch: sp.Expr
    branches: sp.Expr
    passes: sp.Expr

    @property
    def visit(self) -> sp.Expr:
        """The homogeneous visit ``a + C + D + U`` (download + training + upload)."""
        return self.fixed + self.compute + self.wire_down + self.wire_up

    def visit_mean(self, speed_classes: tuple = (), link_classes: tuple = ()) -> sp.Expr:
        """The heterogeneous visit's mean ``E[V]``."""
        compute, _, link = _visit_cumulants(self, speed_classes, link_classes)
        return self.fixed + compute[0] + link[0]

    def visit_variance(self, speed_classes: tuple = (), link_classes: tuple = ()) -> sp.Expr:
        """The heterogeneous visit's variance."""
        compute, _, link = _visit_cumulants(self, speed_classes, link_classes)
        return compute[1] + link[1]


@functools.cache
def visit_parts(algorithm: str) -> VisitParts:
    """The :class:`VisitParts` of ``algorithm``'s round (from its
    :class:`~costmodel.model.protocols.base.RoundParts`)."""
    parts = round_parts(check_algorithm(algorithm))
    eta = sym("link_efficiency")
    down_fixed, up_fixed = parts.download.subs(eta, sp.oo), parts.upload.subs(eta, sp.oo)
    per_branch = sp.simplify(parts.chain / parts.passes)
    return VisitParts(fixed=down_fixed + up_fixed, compute=parts.train,
                      wire_down=parts.download - down_fixed, wire_up=parts.upload - up_fixed,
                      per_branch=per_branch, branches=sp.simplify(parts.visits / parts.chain), passes=parts.passes)


def _cumulants(raw: tuple[sp.Expr, sp.Expr, sp.Expr]) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    m1, m2, m3 = raw
    return m1, m2 - m1**2, m3 - 3 * m1 * m2 + 2 * m1**3


def _atom_moment(classes: tuple[tuple[float, float], ...], j: int) -> sp.Expr:
    return sp.Add(*(sp.Float(share) * sp.Float(1.0 / factor)**j for factor, share in classes))


def class_max(classes: tuple[tuple[float, float], ...], draws: sp.Expr) -> sp.Expr:
    """``E[max of K draws of x = 1/f]`` over classes (factor, share): ``sum_j x_(j)*(W_j^K - W_{j-1}^K)``,
    atoms sorted ascending, ``W_j`` the cumulative share (exact)."""
    atoms = sorted((1.0 / factor, share) for factor, share in classes)
    total, below, previous = sp.S.Zero, 0.0, sp.S.Zero
    for atom, share in atoms:
        below = min(1.0, below + share)
        current = sp.Float(below)**draws
        total += sp.Float(atom) * (current - previous)
        previous = current
    return total


def _term(coef: sp.Expr, sigma: sp.Expr, classes: tuple[tuple[float, float], ...]):
    """Cumulants and ``E[max_K]`` (as a function of K) of ``coef*x*e^{sigma*Z}``, x a class atom."""
    if not classes:
        return lognormal_cumulants(coef, sigma), (lambda draws: coef * TiltedMaxFactor(draws, sigma))
    raw = tuple(coef**j * _atom_moment(classes, j) * sp.exp(j * j * sigma**2 / 2) for j in (1, 2, 3))
    return _cumulants(raw), (lambda draws: coef * sp.exp(sigma**2 / 2) * class_max(classes, draws))


def _link_pair_cumulants(down: sp.Expr, up: sp.Expr, sigma: sp.Expr,
                         classes: tuple[tuple[float, float], ...]) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    if not classes:
        return tuple(a + b for a, b in zip(lognormal_cumulants(down, sigma), lognormal_cumulants(up, sigma)))
    raw = []
    for j in (1, 2, 3):
        pair = sp.Add(*(sp.binomial(j, i) * down**i * up**(j - i) * sp.exp((i * i + (j - i)**2) * sigma**2 / 2)
                        for i in range(j + 1)))
        raw.append(_atom_moment(classes, j) * pair)
    return _cumulants(tuple(raw))


def chain_max(k1: sp.Expr, k2: sp.Expr, k3: sp.Expr, branches: sp.Expr) -> sp.Expr:
    """``E[max of k iid branches]`` whose cumulants are ``K_1, K_2, K_3``: a shifted log-normal fitted
    to them (:func:`~costmodel.model.lognormal_fit.sln_fit`) and the tilted maximum ``tau + e^mu*L_k(s)``
    (steps 1-2 of the module docstring); a normal ``K_1 + sqrt(K_2)*z_k`` below the skewness
    :data:`~costmodel.model.lognormal_fit.MIN_SKEW`."""
    skew = skewness(k2, k3)
    tau, mu, s = sln_fit(k1, k2, skew)
    shifted = tau + sp.exp(mu) * TiltedMaxFactor(branches, s)
    return sp.Piecewise((shifted, skew > MIN_SKEW), (k1 + sp.sqrt(k2) * BlomZ(branches), True))


def _floor(chain_mean: sp.Expr, per_branch: sp.Expr, draws: sp.Expr, mean: sp.Expr, largest: sp.Expr) -> sp.Expr:
    others = (per_branch - 1) * (draws * mean - largest) / sp.Max(draws - 1, 1, evaluate=False)
    return chain_mean - per_branch * mean + largest + others


@functools.cache
def straggler_max(algorithm: str, speed_classes: tuple[tuple[float, float], ...] = (),
                  link_classes: tuple[tuple[float, float], ...] = ()) -> StragglerMax:
    """The slowest of a FedAvg round's ``c`` visits (one branch per client) as a
    :class:`~costmodel.model.straggler_cdf.StragglerMax`: the median link's pair by its cumulants, device
    and link classes as mixtures."""
    parts = visit_parts(algorithm)
    sigma_s, sigma_b = SPREAD_SYMBOLS["speed_sigma"], SPREAD_SYMBOLS["link_sigma"]
    link_cumulants = _link_pair_cumulants(parts.wire_down, parts.wire_up, sigma_b, ())   # the median link's pair
    classes = []
    for given in (speed_classes, link_classes):
        classes.append(sp.Tuple(*(sp.Float(f) for f, _ in given)) if given else sp.Tuple(sp.S.One))
        classes.append(sp.Tuple(*(sp.Float(w) for _, w in given)) if given else sp.Tuple(sp.S.One))
    return StragglerMax(parts.branches, parts.fixed, parts.compute, sigma_s, *link_cumulants, *classes)


@dataclass(frozen=True)
class CensoredChain:
    """An Astraea branch split as in :mod:`costmodel.model.censored_chain` (sympy, one pass).

    Attributes
    ----------
    cumulants : tuple of sympy.Expr
        ``K_1, K_2, K_3`` of the censored chain (``K_1`` includes ``g*a``).
    chains, per_branch : sympy.Expr
        ``k`` (the remainder weighted) and ``g``.
    terms : tuple of (coef, sigma, censored mean, excess)
        The censored log-normal terms of one visit: ``coef*e^{sigma Z}``, its censored mean and
        ``coef*Delta_1``.
    level : sympy.Expr
        ``z_c``.
    """

    cumulants: tuple[sp.Expr, sp.Expr, sp.Expr]
    chains: sp.Expr
    per_branch: sp.Expr
    terms: tuple[tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr], ...]
    level: sp.Expr


@functools.cache
def censored_chain(algorithm: str, speed_classes: tuple[tuple[float, float], ...] = (),
                   link_classes: tuple[tuple[float, float], ...] = ()) -> CensoredChain:
    """The :class:`CensoredChain` of ``algorithm``'s branch: log-normal terms (compute without speed
    classes, download and upload without link classes) censored at ``z_c``, class terms kept whole."""
    parts = visit_parts(algorithm)
    sigma_s, sigma_b = SPREAD_SYMBOLS["speed_sigma"], SPREAD_SYMBOLS["link_sigma"]
    g = parts.per_branch
    clients = sp.simplify(parts.branches * g)
    z = censoring_level(clients)
    visit, kept, terms = [parts.fixed, sp.S.Zero, sp.S.Zero], [], []
    if speed_classes:
        kept.append(_term(parts.compute, sigma_s, speed_classes)[0])
    else:
        terms.append((parts.compute, sigma_s))
    if link_classes:
        kept.append(_link_pair_cumulants(parts.wire_down, parts.wire_up, sigma_b, link_classes))
    else:
        terms += [(parts.wire_down, sigma_b), (parts.wire_up, sigma_b)]
    described = []
    for cumulants in kept:
        visit = [v + c for v, c in zip(visit, cumulants)]
    for coef, sigma in terms:
        cumulants, excess = censored_lognormal(coef, sigma, z)
        visit = [v + c for v, c in zip(visit, cumulants)]
        described.append((coef, sigma, cumulants[0], excess))
    mean = parts.visit_mean(speed_classes, link_classes)
    variance = parts.visit_variance(speed_classes, link_classes)
    return CensoredChain(cumulants=tuple(g * v for v in visit), chains=chain_count(clients, g, mean, variance),
                         per_branch=g, terms=tuple(described), level=z)


def _visit_cumulants(parts: VisitParts, speed_classes: tuple, link_classes: tuple):
    sigma_s, sigma_b = SPREAD_SYMBOLS["speed_sigma"], SPREAD_SYMBOLS["link_sigma"]
    compute_cumulants, compute_max = _term(parts.compute, sigma_s, speed_classes)
    link_cumulants = _link_pair_cumulants(parts.wire_down, parts.wire_up, sigma_b, link_classes)
    return compute_cumulants, compute_max, link_cumulants


@functools.cache
def heterogeneous_round_seconds(algorithm: str, speed_classes: tuple[tuple[float, float], ...] = (),
                                link_classes: tuple[tuple[float, float], ...] = ()) -> sp.Expr:
    """``algorithm``'s round time in a heterogeneous federation (see the module docstring), in the
    model's symbols plus ``sigma_s`` and ``sigma_b`` (:data:`SPREAD_SYMBOLS`); classes are numbers
    built into the expression (factor, share)."""
    parts = visit_parts(algorithm)
    sigma_s, sigma_b = SPREAD_SYMBOLS["speed_sigma"], SPREAD_SYMBOLS["link_sigma"]
    g = parts.per_branch
    compute_cumulants, compute_max, link_cumulants = _visit_cumulants(parts, speed_classes, link_classes)
    if g == 1:
        slowest = straggler_max(algorithm, speed_classes, link_classes)
    else:
        chain = censored_chain(algorithm, speed_classes, link_classes)
        k = chain.chains
        k1 = g * (parts.fixed + compute_cumulants[0] + link_cumulants[0])
        draws = k * g
        body = chain_max(*chain.cumulants, k) + draws * sp.Add(*(term[3] for term in chain.terms))
        floors = [_floor(k1, g, draws, compute_cumulants[0], compute_max(draws))]
        for coef in (parts.wire_down, parts.wire_up):
            cumulants, largest = _term(coef, sigma_b, link_classes)
            floors.append(_floor(k1, g, draws, cumulants[0], largest(draws)))
        slowest = sp.Max(body, *floors, evaluate=False)
    excess = parts.passes * (slowest - g * parts.visit)
    if speed_classes or link_classes:
        return round_seconds(algorithm) + excess
    spread_free = sp.And(sp.Eq(sigma_s, 0), sp.Eq(sigma_b, 0))
    return round_seconds(algorithm) + sp.Piecewise((0, spread_free), (excess, True))
