"""A log-normal term's first three cumulants, and the shifted log-normal matched to three cumulants.

Both waits of a heterogeneous round (:mod:`costmodel.model.heterogeneity`: FedAvg's link pair in
:mod:`costmodel.model.straggler_cdf`, an Astraea chain in :mod:`costmodel.model.censored_chain`) are
priced by the first three cumulants of sums of log-normal terms. A term ``coef*e^{sigma*Z}``, ``Z``
standard normal, has (:func:`lognormal_cumulants`)

``kappa_1 = coef*e^{sigma^2/2}``, ``kappa_2 = coef^2*e^{sigma^2}*(e^{sigma^2} - 1)``,
``kappa_3 = coef^3*e^{3*sigma^2/2}*(e^{sigma^2} - 1)^2*(e^{sigma^2} + 2)``

(written so the second and third are exactly 0 at ``sigma = 0``). A sum with cumulants ``K_1, K_2,
K_3`` is matched by the shifted log-normal ``tau + e^{mu + s*Z}`` with the same three (:func:`sln_fit`):
its skewness is ``(omega + 2)*sqrt(omega - 1)``, ``omega = e^{s^2}``, so ``y = sqrt(omega - 1)`` is the
real root of ``y^3 + 3*y = gamma_1``, ``gamma_1 = K_3/K_2^{3/2}`` (Cardano):

``y = A - 1/A``, ``A = ((gamma_1 + sqrt(gamma_1^2 + 4))/2)^{1/3}``, ``omega = 1 + y^2``,
``s = sqrt(log(omega))``, ``e^mu = sqrt(K_2/(omega*(omega - 1)))``, ``tau = K_1 - e^mu*sqrt(omega)``.

The fit needs a positive skewness: below :data:`MIN_SKEW` a chain is taken as normal
(:func:`~costmodel.model.heterogeneity.chain_max`, :mod:`costmodel.analysis.round_quantile`).
:func:`sln_fit_values` is the same statement for numbers, made from :func:`sln_fit` by
``sympy.lambdify`` (Python's ``math``: it is called with scalars, a few times per prediction), with
its own guards: a constant ``K_1`` when ``K_2 <= 0``, the skewness taken at least :data:`SKEW_FLOOR`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import sympy as sp

__all__ = ["MIN_SKEW", "SKEW_FLOOR", "lognormal_cumulants", "skewness", "sln_fit", "sln_fit_values"]

#: Below this skewness a fitted chain is taken as normal (a shifted log-normal needs positive skew).
MIN_SKEW = sp.Rational(1, 1000)
#: The least skewness :func:`sln_fit_values` fits (a smaller or negative one is raised to it).
SKEW_FLOOR = 1e-4


def lognormal_cumulants(coef: sp.Expr, sigma: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Cumulants of ``coef*e^{sigma*Z}``, written so the second and third are exactly 0 at ``sigma = 0``."""
    w = sp.exp(sigma**2)
    return (coef * sp.exp(sigma**2 / 2), coef**2 * w * (w - 1),
            coef**3 * sp.exp(3 * sigma**2 / 2) * (w - 1)**2 * (w + 2))


def skewness(k2: sp.Expr, k3: sp.Expr) -> sp.Expr:
    """``gamma_1 = K_3/K_2^{3/2}``."""
    return k3 / k2**sp.Rational(3, 2)


def sln_fit(k1: sp.Expr, k2: sp.Expr, skew: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """``(tau, mu, s)`` of the shifted log-normal ``tau + e^{mu + s*Z}`` with mean ``k1``, variance ``k2``
    and skewness ``skew`` (:func:`skewness`; the module docstring's formulas, valid for ``skew > 0``)."""
    a = sp.cbrt((skew + sp.sqrt(skew**2 + 4)) / 2)
    omega = 1 + (a - 1 / a)**2
    scale = sp.sqrt(k2 / (omega * (omega - 1)))
    return k1 - scale * sp.sqrt(omega), sp.log(scale), sp.sqrt(sp.log(omega))


@functools.cache
def _fit_function() -> Callable[[float, float, float], tuple[float, float, float]]:
    k1, k2, k3 = sp.symbols("k1 k2 k3")
    fit = sln_fit(k1, k2, sp.Max(skewness(k2, k3), sp.Float(SKEW_FLOOR)))
    return sp.lambdify((k1, k2, k3), fit, modules="math", cse=True)


def sln_fit_values(k1: float, k2: float, k3: float) -> tuple[float, float, float]:
    """Numeric :func:`sln_fit` from the cumulants ``k1, k2, k3`` (scalars): ``(tau, mu, s)``; ``(k1, -inf, 0)``,
    a constant, when ``k2 <= 0``; the skewness taken at least :data:`SKEW_FLOOR`."""
    if not k2 > 0:
        return k1, -math.inf, 0.0
    tau, mu, s = _fit_function()(k1, k2, k3)
    return tau, mu, s
