"""An Astraea mediator's chain with its log-normal terms censored at the level that ``c`` clients reach.

An Astraea mediator (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) waits for the sum of ``g``
visits; with heavy link spreads the third cumulant of that sum is dominated by a far tail that
never shows up among the round's ``c`` clients, and a shifted log-normal fitted to it has too heavy
a tail. The chain is therefore split at ``y_c = coef*e^{sigma*z_c}`` for each log-normal term
``coef*e^{sigma*Z}``, ``z_c = Phi^{-1}(1 - beta/c)`` (:data:`BETA` = 0.05: exceeded ``beta`` times
on average among all ``c`` draws of the term):

* **Body**: the term censored at ``y_c``, whose raw moments are
  ``coef^j*(e^{j^2 sigma^2/2}*Phi(z_c - j*sigma) + e^{j*sigma*z_c}*Phibar(z_c))``, written here as the
  uncensored ones minus ``d_j = coef^j*Delta_j``,
  ``Delta_j = e^{j^2 sigma^2/2}*Phibar(z_c - j*sigma) - e^{j*sigma*z_c}*Phibar(z_c)``, so the
  cumulants stay exactly 0 without spread:
  ``kappa_1 - d_1``, ``kappa_2 - d_2 + 2*m_1*d_1 - d_1^2``,
  ``kappa_3 - d_3 + 3*(m_1*d_2 + d_1*m_2 - d_1*d_2) - 6*m_1^2*d_1 + 6*m_1*d_1^2 - 2*d_1^3``
  (``m_j = coef^j*e^{j^2 sigma^2/2}``).
* **Excess**: the expected exceedances ``k*g*coef*Delta_1`` (Black-Scholes form of
  ``E[(coef*e^{sigma Z} - y_c)^+]``), each landing on one chain.

The chains are ``k = floor(c/g) + min(r/g, 2*Phi((r - g)*m/sqrt((r + g)*v)))`` (``r = c mod g``,
``m``, ``v`` the visit's mean and variance): the last mediator, holding the remainder ``r``, counts
as a fraction of a chain, and not at all when it cannot compete with the full ones.

The 95% quantile of the round takes the same split:
``P(max <= t) = F_body(t)^k * exp(-k*g*sum_i Phibar(log(max(y_ci, t - r_i)/coef_i)/sigma_i))``,
``F_body`` the shifted log-normal of the censored chain and ``r_i`` the rest of the chain at its
censored mean (a term beyond ``y_c`` lifts its chain to about ``r_i`` plus that term).
"""

from __future__ import annotations

import sympy as sp

from costmodel.model.lognormal_fit import lognormal_cumulants

__all__ = ["BETA", "censored_lognormal", "chain_count", "censoring_level", "normal_sf"]

#: Expected exceedances of the censoring level among the round's draws of one term.
BETA = sp.Rational(1, 20)


def normal_sf(x: sp.Expr) -> sp.Expr:
    """``Phibar(x) = 1 - Phi(x) = erfc(x/sqrt(2))/2``."""
    return sp.erfc(x / sp.sqrt(2)) / 2


def censoring_level(clients: sp.Expr) -> sp.Expr:
    """``z_c = Phi^{-1}(1 - beta/c) = sqrt(2)*erfinv(1 - 2*beta/c)``."""
    return sp.sqrt(2) * sp.erfinv(1 - 2 * BETA / clients)


def censored_lognormal(coef: sp.Expr, sigma: sp.Expr, z: sp.Expr) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr], sp.Expr]:
    """Cumulants of ``coef*min(e^{sigma Z}, e^{sigma z})`` and the excess ``coef*Delta_1`` (module docstring)."""
    k1, k2, k3 = lognormal_cumulants(coef, sigma)
    m1, m2 = k1, coef**2 * sp.exp(2 * sigma**2)
    d1, d2, d3 = (coef**j * (sp.exp(j * j * sigma**2 / 2) * normal_sf(z - j * sigma)
                             - sp.exp(j * sigma * z) * normal_sf(z)) for j in (1, 2, 3))
    cumulants = (k1 - d1, k2 - d2 + 2 * m1 * d1 - d1**2,
                 k3 - d3 + 3 * (m1 * d2 + d1 * m2 - d1 * d2) - 6 * m1**2 * d1 + 6 * m1 * d1**2 - 2 * d1**3)
    return cumulants, d1


def chain_count(clients: sp.Expr, per_branch: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """``k``, the chains the round waits for, the remainder weighted (module docstring)."""
    full = sp.floor(clients / per_branch)
    rest = clients - per_branch * full
    weight = 2 * normal_sf((per_branch - rest) * mean / sp.sqrt((rest + per_branch) * variance))
    return sp.Piecewise((full, sp.Eq(rest, 0)), (full + sp.Min(rest / per_branch, weight), True))
