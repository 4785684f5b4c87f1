"""The log-normal's cumulants and the three-cumulant shifted log-normal fit: the sympy statement against
hand derivations, and its numeric form (made from it) against the statement evaluated to 40 digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from costmodel.model.lognormal_fit import lognormal_cumulants, skewness, sln_fit, sln_fit_values


def test_lognormal_cumulants_are_those_of_its_raw_moments() -> None:
    coef, sigma = sp.symbols("coef sigma", positive=True)
    m1, m2, m3 = (coef**j * sp.exp(j * j * sigma**2 / 2) for j in (1, 2, 3))   # E[(coef*e^{sigma Z})^j]
    k1, k2, k3 = lognormal_cumulants(coef, sigma)
    assert k1 == m1
    assert sp.simplify(k2 - (m2 - m1**2)) == 0
    assert sp.simplify(k3 - (m3 - 3 * m1 * m2 + 2 * m1**3)) == 0
    assert lognormal_cumulants(coef, sp.S.Zero) == (coef, 0, 0)      # exactly 0 without spread


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_fitted_shifted_lognormal_has_the_given_cumulants(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k1, k2 = sp.Float(rng.uniform(0.5, 20), 40), sp.Float(rng.uniform(0.01, 9), 40)
    k3 = sp.Float(10 ** rng.uniform(-2, 1.5), 40) * k2**sp.Rational(3, 2)
    tau, mu, s = sln_fit(k1, k2, skewness(k2, k3))
    fitted = lognormal_cumulants(sp.exp(mu), s)        # e^{mu + s Z}, then shifted by tau
    got = [(tau + fitted[0]).evalf(40), fitted[1].evalf(40), fitted[2].evalf(40)]
    for value, given in zip(got, (k1, k2, k3)):
        assert float(abs(value / given - 1)) < 1e-30


def test_the_numeric_fit_is_the_sympy_statement() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        k1, k2 = rng.uniform(-5, 50), 10 ** rng.uniform(-4, 3)
        skew = 10 ** rng.uniform(-2, 1.5)
        k3 = skew * k2**1.5
        exact = [float(x.evalf(40)) for x in sln_fit(sp.Float(k1, 40), sp.Float(k2, 40), sp.Float(k3, 40)
                                                   / sp.Float(k2, 40)**sp.Rational(3, 2))]
        got = sln_fit_values(k1, k2, k3)
        scale = math.exp(exact[1])
        assert got[0] == pytest.approx(exact[0], rel=1e-11, abs=1e-11 * (abs(k1) + scale))   # tau = K_1 - e^mu*sqrt(omega)
        assert got[1] == pytest.approx(exact[1], abs=1e-11)
        assert got[2] == pytest.approx(exact[2], rel=1e-11)


def test_the_numeric_fit_guards() -> None:
    assert sln_fit_values(2.5, 0.0, 1.0) == (2.5, -math.inf, 0.0)         # no variance: the constant K_1
    assert sln_fit_values(2.5, -1e-18, 0.0) == (2.5, -math.inf, 0.0)
    floor = [float(x.evalf(40)) for x in sln_fit(sp.Float(2.5, 40), sp.Float(0.3, 40), sp.Float(1e-4, 40))]
    for k3 in (-0.2, 0.0, 1e-9):                                           # a skew below the floor is raised to it
        tau, mu, s = sln_fit_values(2.5, 0.3, k3)
        assert (tau, mu) == pytest.approx(floor[:2], rel=1e-10)
        assert s == pytest.approx(floor[2], rel=1e-7)     # s = sqrt(log(1 + y^2)) rounds 1 + y^2, y^2 ~ 1e-9 here
