"""How a cost grows: the leading term of a sympy expression as one input goes to infinity (or zero).

The report of Astraea's cost (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) states for every
overhead category and Astraea phase its growth order in the clients per round c, the model size P
and the client bandwidth b (:data:`GROWTH_VARIABLES`), read off the model's expressions, not guessed.

How: one input at a time, with every other input and coefficient at the scenario's value (exact
rationals, so cancellations are exact): ``c -> oo``, ``P -> oo`` and client bandwidth ``b -> 0``
(uplink = downlink = b). ``ceiling(x)`` is relaxed to ``x``, ``Min`` takes the branch that is smaller
in the limit (for ``c -> oo`` the shared server link), a ``Piecewise`` regime its asymptotic branch,
and Blom's ``z_k`` becomes ``sqrt(2*log(c))``, its leading term. The order depends on the scenario:
with E_m = 1, Astraea's extra communication stops growing with c once the server link is saturated,
with E_m > 1 it grows like c.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from costmodel.errors import InputError
from costmodel.model.order_statistic import BlomZ
from costmodel.model.quantities import INPUTS, NAME_OF, sym

__all__ = ["GROWTH_VARIABLES", "Growth", "growth_order"]

#: The limits of the growth table: (input varied, or 'bandwidth' for uplink = downlink; its symbol;
#: the column heading).
GROWTH_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("clients_per_round", "c", "c → ∞"),
    ("params", "P", "P → ∞"),
    ("bandwidth", "b", "b → 0"),
)


@dataclass(frozen=True)
class Growth:
    """Leading term ``coefficient * t**power * log(t)**log_power`` of an expression as ``t -> oo``.

    ``t`` is the varied input (``c`` or ``P``) or ``1/b`` for a bandwidth. ``power`` is None (and
    the coefficient 0) when the expression is identically zero at the scenario.
    """

    power: Fraction | None
    log_power: Fraction
    coefficient: float

    def order(self, symbol: str) -> str:
        """``Θ(c²)``, ``Θ(1)``, ``Θ(1/b)``, ``Θ(√log c)``; ``0`` for an identically zero expression."""
        if self.power is None:
            return "0"
        return f"Θ({_monomial(self.power, self.log_power, symbol)})"

    def leading(self, symbol: str) -> str:
        """The leading term with its coefficient, e.g. ``1.57e-07·c²``; ``0`` if identically zero."""
        if self.power is None:
            return "0"
        monomial = _monomial(self.power, self.log_power, symbol)
        if monomial == "1":
            return f"{self.coefficient:.3g}"
        if monomial.startswith("1/"):
            return f"{self.coefficient:.3g}{monomial[1:]}"
        return f"{self.coefficient:.3g}·{monomial}"


_SUPERSCRIPTS = str.maketrans("0123456789-/", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ")


def _monomial(power: Fraction, log_power: Fraction, symbol: str) -> str:
    """``t**power * log(t)**log_power`` written for ``symbol`` (``b`` stands for ``t = 1/b``)."""
    inverse = symbol == "b"
    variable = symbol
    parts = []
    if power != 0:
        shown = -power if inverse else power
        if shown == 1:
            parts.append(variable)
        elif shown == -1:
            parts.append(f"1/{variable}")
        else:
            parts.append(variable + str(shown).translate(_SUPERSCRIPTS))
    if log_power != 0:
        log_text = f"log(1/{variable})" if inverse else f"log {variable}"
        if log_power == Fraction(1, 2):
            parts.append(f"√{log_text}" if not inverse else f"√{log_text}")
        elif log_power == 1:
            parts.append(log_text)
        else:
            parts.append(f"({log_text}){str(log_power).translate(_SUPERSCRIPTS)}")
    return "·".join(parts) or "1"


_T = sp.Symbol("t", positive=True)
_LARGE_T = sp.Integer(10) ** 40


def _exact(value: float | int) -> sp.Expr:
    """A value as an exact sympy number (``oo`` for an infinite bandwidth)."""
    number = float(value)
    if math.isinf(number):
        return sp.oo
    if number.is_integer() and abs(number) < 2**53:
        return sp.Integer(int(number))
    return sp.Rational(number)


#: Unevaluated stand-ins for Min and Max while numbers are substituted (sympy's Min compares its
#: arguments on construction, which costs a second per report with exact rationals).
_LazyMin = sp.Function("LazyMin")
_LazyMax = sp.Function("LazyMax")


@functools.lru_cache(maxsize=256)
def _deferred(expression: sp.Expr) -> sp.Expr:
    return expression.replace(sp.Min, _LazyMin).replace(sp.Max, _LazyMax)


def _asymptotic_branch(piecewise: sp.Piecewise) -> sp.Expr:
    """The branch of a ``Piecewise`` in ``t`` that holds as ``t -> oo`` (its condition at ``t = 1e40``)."""
    for value, condition in piecewise.args:
        if bool(condition.xreplace({_T: _LARGE_T})):
            return value
    raise RuntimeError(f"growth_order: no branch of {piecewise} holds for large t")  # pragma: no cover


def growth_order(expression: sp.Expr, variable: str, values: Mapping[str, float]) -> Growth:
    """The leading term of ``expression`` as one input grows, every other symbol at ``values``.

    Parameters
    ----------
    expression : sympy.Expr
        A cost expression of :mod:`costmodel.model` (seconds or bytes).
    variable : str
        ``'clients_per_round'`` (c -> oo), ``'params'`` (P -> oo), or ``'bandwidth'`` (client
        uplink = downlink = b -> 0, written as ``t = 1/b -> oo``); any other input name also works
        (-> oo).
    values : Mapping[str, float]
        Every input and coefficient the expression depends on (the varied one is ignored).

    Returns
    -------
    Growth
        ``power`` and ``log_power`` of ``t`` in the leading term and its coefficient.

    Notes
    -----
    The expression is made asymptotic in ``t``: ``ceiling(x) -> x`` where ``x`` depends on ``t``,
    ``BlomZ(k) -> sqrt(2*log(t))`` (its leading term for ``k`` linear in ``t``), and each ``Min``
    takes the argument that is smaller at ``t = 1e40`` (each ``Max`` the larger, each ``Piecewise``
    the branch that holds there: a cost regime that starts above a size). The rest is expanded into monomials
    ``coefficient * t**p * log(t)**q`` in exact rational arithmetic; the largest ``(p, q)`` with a
    non-zero coefficient leads.
    """
    if variable == "bandwidth":
        replacements = {sym("uplink_bits_per_s"): 1 / _T, sym("downlink_bits_per_s"): 1 / _T}
    elif variable in INPUTS:
        replacements = {sym(variable): _T}
    else:
        raise InputError(f"'variable' must be 'bandwidth' or an input of the cost model (got {variable!r}).")
    for symbol in sorted(expression.free_symbols - set(replacements), key=str):
        name = NAME_OF.get(symbol, str(symbol))
        if name not in values:
            raise InputError(f"'values' must give {name!r}: the expression depends on it.")
        replacements[symbol] = _exact(values[name])
    shaped = _deferred(expression).xreplace(replacements)
    shaped = shaped.replace(sp.ceiling, lambda argument: argument if _T in argument.free_symbols
                            else sp.ceiling(argument))
    shaped = shaped.replace(BlomZ, lambda k: sp.sqrt(2 * sp.log(_T)) if _T in k.free_symbols
                            else BlomZ(k))
    shaped = shaped.replace(_LazyMin, lambda *arguments: min(arguments, key=lambda a: a.xreplace({_T: _LARGE_T})))
    shaped = shaped.replace(_LazyMax, lambda *arguments: max(arguments, key=lambda a: a.xreplace({_T: _LARGE_T})))
    shaped = shaped.replace(lambda e: isinstance(e, sp.Piecewise) and _T in e.free_symbols, _asymptotic_branch)
    terms: dict[tuple[Fraction, Fraction], sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand(shaped)):
        coefficient, dependent = term.as_independent(_T, as_Add=False)
        powers = dict(dependent.as_powers_dict())
        power = powers.pop(_T, sp.S.Zero)
        log_power = powers.pop(sp.log(_T), sp.S.Zero)
        if any(_T in base.free_symbols for base, exponent in powers.items() if exponent != 0):
            raise RuntimeError(f"growth_order: the term {term} is not a monomial in t")  # pragma: no cover
        key = (Fraction(str(sp.Rational(power))), Fraction(str(sp.Rational(log_power))))
        terms[key] = terms.get(key, sp.S.Zero) + coefficient * sp.Mul(*(b**e for b, e in powers.items()))
    nonzero = {key: value for key, value in terms.items()
               if (value if value.is_Number else sp.simplify(value)) != 0}
    if not nonzero:
        return Growth(power=None, log_power=Fraction(0), coefficient=0.0)
    power, log_power = max(nonzero)
    return Growth(power=power, log_power=log_power, coefficient=float(sp.N(nonzero[(power, log_power)])))
