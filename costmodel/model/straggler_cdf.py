"""The slowest of ``k`` unequal clients from an explicit visit CDF: ``E[max] = int_0^oo (1 - F(t)^k) dt``.

FedAvg (McMahan et al., AISTATS 2017) waits for the slowest of its ``k = c`` clients. One visit is
``V = a + C*x*e^{sigma_s*Z} + L``: ``a`` the fixed part, ``C`` the training at the median speed, ``x``
a device class's slowness ``1/f`` (drawn with its share ``w``; one class ``x = 1`` without classes),
``Z`` standard normal and ``L`` the download + upload pair, matched by the shifted log-normal
``L = tau + e^{mu + s*Z'}`` with its cumulants ``L_1, L_2, L_3``
(:func:`~costmodel.model.lognormal_fit.sln_fit`; a constant ``L_1`` when ``L_2 = 0``). Its CDF is the
explicit mixture

``F(t) = sum_j w_j * E_Z[Phi((log(t - a - C*x_j*e^{sigma_s*Z} - tau) - mu)/s)]``

(a term is 0 where its logarithm's argument is not positive). ``E_Z`` is taken by the trapezoid
rule on evenly spaced nodes (:func:`normal_nodes`, step 1/4 on ``[-8, 8]``): the part with the
lighter tail (compute or links, judged by their levels at ``z = 4``, ``C*max(x)*e^{4*sigma_s}``
against ``e^{mu + 4*s}``) is put on the nodes and the other stays analytic; with no spread at all
the maximum is the exact ``sum_j x_(j)*(W_j^k - W_{j-1}^k)`` over sorted atoms. The integral is a
trapezoid rule in ``log(t - t_0)`` (:data:`POINTS` points, from ``1e-10`` of the range up to the
level exceeded with probability about ``1e-8/k``; ``t_0 = max(a, lowest offset, 0)``, below which
the integrand is taken as 1). The same CDF gives the ``p`` quantile of the maximum,
``F^{-1}(p^{1/k})``, and the largest ``k`` within a budget ``B`` with probability ``p``:
``floor(log(p)/log(F(B)))``. Without spread in the links and with one class the CDF is the exact
log-normal one, so the form is exact there; the links' shifted log-normal has a lighter far tail
than the sum of two log-normals, which shows in the 95% quantile at ``c = 1000`` (a few percent low).

:class:`StragglerMax` is this expectation as a sympy function (it rewrites to the ``Integral`` with
the sum over the nodes, differentiates under the integral sign, and the bridge
(:mod:`costmodel.model.bridge`) prints it as :func:`straggler_max_values`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from costmodel.model.lognormal_fit import skewness, sln_fit, sln_fit_values

__all__ = ["NODE_REACH", "NODE_STEP", "POINTS", "StragglerMax", "normal_nodes", "normal_sf_values",
           "straggler_log_cdf_grid", "straggler_max_values", "straggler_quantile_values"]

#: Spacing and reach (in standard deviations) of the nodes of the discretised part of a visit.
NODE_STEP, NODE_REACH = 0.25, 8.0
#: Points of the trapezoid rule in ``log(t - t_0)``.
POINTS = 1600
_CHEBYSHEV = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
              1.48851587, -0.82215223, 0.17087277)


def normal_sf_values(x: object) -> np.ndarray:
    """``1 - Phi(x)`` for arrays, relative error below ``1.2e-7`` everywhere (the Chebyshev fit of
    ``erfc`` in Press et al., *Numerical Recipes*, section 6.2; no scipy). The bridge prints sympy's
    ``erf`` and ``erfc`` with it; :func:`~costmodel.model.order_statistic.normal_cdf_values` is the
    exact (``math.erfc``) form, for scalars."""
    z = np.abs(np.asarray(x, dtype=np.float64)) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.zeros_like(t)
    for coefficient in reversed(_CHEBYSHEV):
        poly = poly * t + coefficient
    erfc = t * np.exp(-z * z + poly)
    return np.where(np.asarray(x) >= 0, 0.5 * erfc, 1.0 - 0.5 * erfc)


@functools.cache
def normal_nodes(step: float = NODE_STEP, reach: float = NODE_REACH) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) of ``E[f(Z)]``, ``Z`` standard normal: the trapezoid rule on
    ``[-reach, reach]`` with weights ``phi(z)`` (evenly spaced, so the tails that decide the maximum
    of many draws are covered as densely as the centre, unlike Gauss-Hermite nodes)."""
    nodes = np.arange(-reach, reach + step / 2, step)
    weights = np.exp(-nodes * nodes / 2)
    return nodes, weights / weights.sum()


#: The standard score at which the heavier tail of compute and links is judged.
_TAIL_Z = 4.0


def _mixture(a, compute, sigma_s, link, factors, shares, link_factors=(1.0,), link_shares=(1.0,)):
    """``F(t) = sum_n W_n*Phi((log(t - o_n) - m_n)/sigma)``: offsets, log-scales, weights, sigma.

    Device classes ``x_i = 1/f_i`` scale the compute, link classes ``u_j = 1/f_j`` the link pair
    (``u_j*(tau + e^{mu + s*Z'})``: offset ``u_j*tau``, log-scale ``mu + log(u_j)``); a pair of classes
    has weight ``w_i*w_j``."""
    tau, mu, s = sln_fit_values(*link)
    x = compute / np.asarray(factors, dtype=np.float64)
    w = np.asarray(shares, dtype=np.float64)
    u = 1.0 / np.asarray(link_factors, dtype=np.float64)
    wl = np.asarray(link_shares, dtype=np.float64)
    pair_w = np.outer(w, wl)                                                   # (device class, link class)
    nodes, weights = normal_nodes()
    # links analytic when they have the heavier tail, or when the compute has no spread to put on nodes
    if s > 0 and (sigma_s <= 0 or mu + math.log(float(u.max())) + s * _TAIL_Z
                  >= math.log(float(x.max())) + sigma_s * _TAIL_Z):
        spread = np.exp(sigma_s * nodes) if sigma_s > 0 else np.ones(1)
        hw = weights if sigma_s > 0 else np.ones(1)
        offsets = a + u[None, :, None] * tau + (x[:, None] * spread[None, :])[:, None, :]
        scales = np.broadcast_to((mu + np.log(u))[None, :, None], offsets.shape)
        return offsets.ravel(), scales.ravel(), (pair_w[:, :, None] * hw[None, None, :]).ravel(), s
    links = tau + np.exp(mu + s * nodes) if s > 0 else np.array([link[0]])
    hw = weights if s > 0 else np.ones(1)
    offsets = np.broadcast_to(a + u[None, :, None] * links[None, None, :], (x.size, u.size, links.size))
    scales = np.broadcast_to(np.log(x)[:, None, None], offsets.shape)
    return offsets.ravel(), scales.ravel(), (pair_w[:, :, None] * hw[None, None, :]).ravel(), sigma_s


def straggler_log_cdf_grid(k, a, compute, sigma_s, link, factors, shares, link_factors=(1.0,), link_shares=(1.0,)):
    """``(t, log F(t))`` on the quadrature grid and ``t_0`` (one scenario, numbers); ``None`` for
    ``t`` when there is no spread (the visit is then discrete)."""
    offsets, scales, weights, sigma = _mixture(a, compute, sigma_s, link, factors, shares, link_factors, link_shares)
    t0 = max(float(offsets.min()), a, 0.0)
    if sigma <= 0:
        return None, None, t0
    z_high = math.sqrt(2 * math.log(max(k, 1.0) * 1e8))
    heavy = weights * max(k, 1.0) > 1e-12
    top = float(np.max((offsets + np.exp(scales + sigma * z_high))[heavy])) - t0
    y = np.exp(np.linspace(math.log(top * 1e-10), math.log(top), POINTS))
    t = t0 + y
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = t[:, None] - offsets[None, :]
        z = np.where(gap > 0, (np.log(np.where(gap > 0, gap, 1.0)) - scales[None, :]) / sigma, -np.inf)
        tail = normal_sf_values(z) @ weights
        return t, np.log1p(-np.minimum(tail, 1.0)), t0


def _discrete(a, compute, link, factors, shares, link_factors=(1.0,), link_shares=(1.0,)):
    u = 1.0 / np.asarray(link_factors, dtype=np.float64)
    atoms = (a + compute / np.asarray(factors, dtype=np.float64)[:, None] + link[0] * u[None, :]).ravel()
    share = np.outer(np.asarray(shares, dtype=np.float64), np.asarray(link_shares, dtype=np.float64)).ravel()
    order = np.argsort(atoms)
    return atoms[order], np.cumsum(share[order])


def _one_max(k, a, compute, sigma_s, l1, l2, l3, factors, shares, link_factors=(1.0,), link_shares=(1.0,)) -> float:
    link = (l1, l2, l3)
    t, log_f, t0 = straggler_log_cdf_grid(k, a, compute, sigma_s, link, factors, shares, link_factors, link_shares)
    if t is None:
        atoms, cumulative = _discrete(a, compute, link, factors, shares, link_factors, link_shares)
        cumulative = np.minimum(cumulative, 1.0)
        return float(np.sum(atoms * (cumulative**k - np.concatenate([[0.0], cumulative[:-1]])**k)))
    y = t - t0
    integrand = -np.expm1(k * log_f) * y
    u = np.log(y)
    return t0 + y[0] + float(np.sum((integrand[1:] + integrand[:-1]) * np.diff(u)) / 2)


def _one_quantile(p, k, a, compute, sigma_s, l1, l2, l3, factors, shares, link_factors=(1.0,),
                  link_shares=(1.0,)) -> float:
    link = (l1, l2, l3)
    t, log_f, _ = straggler_log_cdf_grid(k, a, compute, sigma_s, link, factors, shares, link_factors, link_shares)
    target = math.log(p) / k
    if t is None:
        atoms, cumulative = _discrete(a, compute, link, factors, shares, link_factors, link_shares)
        return float(atoms[np.searchsorted(np.log(np.minimum(cumulative, 1.0)), target - 1e-15)])
    return float(np.interp(target, log_f, t))


def _broadcast(function, *args, classes) -> np.ndarray | float:
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in args))
    out = np.array([function(*values, *classes) for values in zip(*(x.ravel() for x in arrays))])
    return out.reshape(arrays[0].shape) if arrays[0].ndim else float(out[0])


def straggler_max_values(k, a, compute, sigma_s, l1, l2, l3, factors=(1.0,), shares=(1.0,), link_factors=(1.0,),
                         link_shares=(1.0,)):
    """Numeric :class:`StragglerMax` (arrays broadcast; one quadrature per element)."""
    return _broadcast(_one_max, k, a, compute, sigma_s, l1, l2, l3,
                      classes=(tuple(factors), tuple(shares), tuple(link_factors), tuple(link_shares)))


def straggler_quantile_values(p, k, a, compute, sigma_s, l1, l2, l3, factors=(1.0,), shares=(1.0,),
                              link_factors=(1.0,), link_shares=(1.0,)):
    """The ``p`` quantile of the slowest of ``k`` visits, ``F^{-1}(p^{1/k})`` (module docstring)."""
    return _broadcast(_one_quantile, p, k, a, compute, sigma_s, l1, l2, l3,
                      classes=(tuple(factors), tuple(shares), tuple(link_factors), tuple(link_shares)))


class StragglerMax(sp.Function):
    r"""``E[max of k visits]`` from the explicit visit CDF of the module docstring.

    Arguments ``(k, a, C, sigma_s, L_1, L_2, L_3, factors, shares[, link_factors, link_shares])``:
    clients, fixed seconds, training seconds at the median speed, the speed's log-sigma, the
    cumulants of the download + upload pair at the median link, and the device classes (and link
    classes) as ``Tuple`` of numbers (``(1,), (1,)`` without classes). ``rewrite(sp.Integral)`` gives ``Integral(1 - F(t)**k, (t, 0, oo))`` with
    ``F`` on the nodes of :func:`normal_nodes`; derivatives are taken under the integral sign.
    """

    nargs = (9, 11)
    is_real = True

    def _eval_is_positive(self) -> bool | None:
        return True

    def _integrand(self, t: sp.Symbol, args: tuple[sp.Expr, ...] | None = None) -> sp.Expr:
        args = self.args if args is None else args
        k, a, compute, sigma_s, l1, l2, l3, factors, shares = args[:9]
        link_factors, link_shares = args[9:] if len(args) == 11 else ((sp.S.One,), (sp.S.One,))
        tau, mu, s = sln_fit(l1, l2, skewness(l2, l3))
        nodes, weights = normal_nodes()
        cdf = sp.S.Zero
        for factor, share in zip(factors, shares):
            for link_factor, link_share in zip(link_factors, link_shares):
                for node, weight in zip(nodes, weights):
                    gap = t - a - compute / factor * sp.exp(sigma_s * sp.Float(node)) - tau / link_factor
                    phi = (1 + sp.erf((sp.log(gap) - mu + sp.log(link_factor)) / (s * sp.sqrt(2)))) / 2
                    cdf += share * link_share * sp.Float(weight) * sp.Piecewise((phi, gap > 0), (0, True))
        return 1 - cdf**k

    def _eval_rewrite_as_Integral(self, *args: sp.Expr, **kwargs: object) -> sp.Expr:
        t = sp.Dummy("t", positive=True)
        return sp.Integral(self._integrand(t), (t, 0, sp.oo))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex == 1 or argindex > 7:
            raise sp.ArgumentIndexError(self, argindex)
        t, x = sp.Dummy("t", positive=True), sp.Dummy("x")
        args = list(self.args)
        args[argindex - 1] = x
        slope = sp.diff(self._integrand(t, tuple(args)), x).subs(x, self.args[argindex - 1])
        return sp.Integral(slope, (t, 0, sp.oo))

    def _eval_derivative(self, symbol: sp.Symbol) -> sp.Expr:
        # the chain rule over the seven numeric arguments (the class tuples are constants)
        total = sp.S.Zero
        for index, arg in enumerate(self.args[:7], start=1):
            slope = sp.diff(arg, symbol)
            if slope != 0:
                total += self.fdiff(index) * slope
        return total

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if not all(arg.is_number for arg in self.args[:7]):
            return None
        values = [float(arg) for arg in self.args[:7]]
        classes = [tuple(float(x) for x in arg) for arg in self.args[7:]]
        return sp.Float(straggler_max_values(*values, *classes), prec)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return r"\mathrm{E}\left[\max_{%s} V\right]" % printer._print(self.args[0])
