"""How much data Astraea's augmentation plan adds (and downsampling removes): the model's
``augmented_fraction`` and ``removed_fraction`` inputs, from a class histogram or a long-tail shape.

Plans (Duan et al., ICCD 2019; TPDS 32(1), 2021), on the global class sizes ``C_1..C_K``:

TPDS z-score plans
    ``mu``, ``sigma`` = mean and *population* standard deviation of the class sizes,
    ``Z_y = (C_y - mu)/sigma``, threshold ``tau_d`` (the papers recommend 3.0 or 3.5),
    ``tau_a = -1/tau_d``.

    * ``Z_y < tau_a``: class y is augmented, to a target that depends on the reading (below).
    * ``Z_y > tau_d``: class y is downsampled to ``mu + sigma*sqrt(Z_y*tau_d)``.

    The ratio ``R_y = target/C_y``; each client makes ``R_y - 1`` new samples per original sample
    (in expectation: the fractional part is one extra copy with that probability), or keeps each
    sample with probability ``R_y`` when downsampling.

    **Two readings of the augmentation target.** The papers' text puts it between ``C_y`` and
    ``mu + sigma*tau_a`` (just as the downsampling target lies between ``mu + sigma*tau_d`` and
    ``C_y``: the geometric mean of ``Z_y`` and the threshold in z units); their printed formula is
    ``mu + sigma*sqrt(|Z_y/tau_a|)``, which lifts every augmented class above the mean.

    * ``target_rule='text'`` (default; plan ``'tpds'``): ``mu - sigma*sqrt(|Z_y*tau_a|)``. It adds
      at most about 16% data on a long tail.
    * ``target_rule='printed'`` (plan ``'tpds-printed'``): ``mu + sigma*sqrt(|Z_y/tau_a|)``
      ``= mu + sigma*sqrt(|Z_y|*tau_d)``. It reproduces the papers' reported growth (+81.8% on
      EMNIST at ``tau_d = 3.5``, +103.8% on CINIC-10) on ordinary long tails
      (:data:`EMNIST_HISTOGRAM`, :data:`CINIC10_HISTOGRAM`).

    Both are exactly what the reference implementation's plans of the same names compute
    (``reference_impl.augmentation.tpds_plan`` and ``tpds_printed_plan``; tested).

ICCD plan
    Every class below the mean is augmented by the factor ``(mu/C_y)**alpha``, ``alpha`` in [0, 1];
    nothing is removed.

An empty class (``C_y = 0``) has nothing to augment from and is left alone.

``augmented_fraction = sum_y max(target_y - C_y, 0)/sum_y C_y`` over augmented classes and
``removed_fraction = sum_y (C_y - target_y)/sum_y C_y`` over downsampled classes: per original
sample, as the cost model's inputs (:mod:`costmodel.model.quantities`) expect. Both follow from the global
histogram alone, however the classes are spread over the clients; how the clients' label mix spreads
the growth over them, and the papers' stated setups, are in :mod:`costmodel.model.label_mix`.

Long tail. :func:`long_tail_expressions` gives the fractions as sympy ``Sum``\\ s of ``Piecewise``
terms for ``C_k = C_max*rho**(k/(K - 1))``, ``k = 0..K-1`` (``rho = C_min/C_max``, the imbalance
ratio); ``C_max`` cancels. :func:`long_tail_volume` evaluates the same numerically, and
:func:`long_tail_ratio_for_fraction` finds the ratio at which a plan adds a given fraction.

"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from costmodel.errors import InputError, check_int, check_number, must

__all__ = [
    "PLANS",
    "TARGET_RULES",
    "AugmentationVolume",
    "LongTailExpressions",
    "iccd_volume",
    "long_tail_class_sizes",
    "long_tail_expressions",
    "long_tail_ratio_for_fraction",
    "long_tail_volume",
    "plan_volume",
    "tpds_volume",
]

#: Augmentation-target rules of the TPDS plan (see the module docstring).
TARGET_RULES: tuple[str, ...] = ("text", "printed")
#: The plans, named as the reference implementation names them (``RunConfig.plan``).
PLANS: tuple[str, ...] = ("tpds", "tpds-printed", "iccd", "none")


@dataclass(frozen=True, kw_only=True)
class AugmentationVolume:
    """What a plan does to a class histogram (expected values).

    Attributes
    ----------
    plan : str
        One of :data:`PLANS`.
    class_sizes : tuple of float
        The global class sizes ``C_y``.
    ratios : tuple of float
        ``R_y`` per class: > 1 augmented, < 1 downsampled, 1 untouched.
    augmented_samples, removed_samples, total_samples : float
        New samples made, samples dropped, original samples (sums over classes).
    augmented_fraction, removed_fraction : float
        Per original sample: the cost model's ``augmented_fraction`` and ``removed_fraction``.
    """

    plan: str
    class_sizes: tuple[float, ...]
    ratios: tuple[float, ...]
    augmented_samples: float
    removed_samples: float
    total_samples: float
    augmented_fraction: float
    removed_fraction: float

    @property
    def growth_fraction(self) -> float:
        """Net data growth per original sample: ``augmented_fraction - removed_fraction``."""
        return self.augmented_fraction - self.removed_fraction


def _class_sizes(class_sizes: Any) -> np.ndarray:
    try:
        sizes = np.asarray(class_sizes, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise must("class_sizes", "be a list of numbers", class_sizes) from None
    if sizes.size < 2:
        raise must("class_sizes", "hold at least 2 classes", sizes.size)
    bad = ~np.isfinite(sizes) | (sizes < 0)
    if bad.any():
        raise must("class_sizes", "be finite and >= 0", float(sizes[int(np.argmax(bad))]))
    if not sizes.sum() > 0:
        raise must("class_sizes", "hold at least one sample", 0)
    return sizes


def _volume(plan: str, sizes: np.ndarray, targets: np.ndarray) -> AugmentationVolume:
    ratios = np.ones_like(sizes)
    present = sizes > 0
    ratios[present] = targets[present] / sizes[present]
    added = np.where(ratios > 1, sizes * (ratios - 1), 0.0)
    removed = np.where(ratios < 1, sizes * (1 - ratios), 0.0)
    total = float(sizes.sum())
    return AugmentationVolume(plan=plan, class_sizes=tuple(float(s) for s in sizes),
                              ratios=tuple(float(r) for r in ratios),
                              augmented_samples=float(added.sum()), removed_samples=float(removed.sum()),
                              total_samples=total, augmented_fraction=float(added.sum()) / total,
                              removed_fraction=float(removed.sum()) / total)


def tpds_volume(class_sizes: Sequence[float], threshold: float = 3.0, *,
                target_rule: str = "text") -> AugmentationVolume:
    """The TPDS z-score plan applied to a global class histogram.

    Parameters
    ----------
    class_sizes : sequence of float
        ``C_1..C_K`` (at least two classes, >= 0, not all zero).
    threshold : float
        ``tau_d`` > 0; ``tau_a = -1/tau_d``.
    target_rule : {'text', 'printed'}
        Augmentation target ``mu - sigma*sqrt(|Z*tau_a|)`` (the papers' text, plan ``'tpds'``) or
        ``mu + sigma*sqrt(|Z/tau_a|)`` (as printed, plan ``'tpds-printed'``); see the module docstring.

    Examples
    --------
    >>> round(tpds_volume([100, 100, 100, 100, 10], 3.0).augmented_fraction, 5)
    0.10392
    >>> round(tpds_volume([100, 100, 100, 100, 10], 3.0, target_rule="printed").augmented_fraction, 5)
    0.39069
    """
    sizes = _class_sizes(class_sizes)
    tau_d = check_number("threshold", threshold, exclusive_minimum=0)
    if target_rule not in TARGET_RULES:
        raise InputError(f"'target_rule' must be one of {', '.join(TARGET_RULES)} (got {target_rule!r}).")
    mu, sigma = float(sizes.mean()), float(sizes.std())
    targets = sizes.copy()
    if sigma > 0:
        z = (sizes - mu) / sigma
        low = z < -1.0 / tau_d
        depth = np.where(low, -z, 0.0)  # |Z_y| of the augmented classes
        if target_rule == "text":
            targets = np.where(low, mu - sigma * np.sqrt(depth / tau_d), targets)
        else:
            targets = np.where(low, mu + sigma * np.sqrt(depth * tau_d), targets)
        high = z > tau_d
        targets = np.where(high, mu + sigma * np.sqrt(np.where(high, z, 0.0) * tau_d), targets)
    return _volume("tpds" if target_rule == "text" else "tpds-printed", sizes, targets)


def iccd_volume(class_sizes: Sequence[float], alpha: float) -> AugmentationVolume:
    """The ICCD plan: classes below the mean grow by ``(mean/C_y)**alpha``, alpha in [0, 1]."""
    sizes = _class_sizes(class_sizes)
    power = check_number("alpha", alpha, minimum=0, maximum=1)
    mu = float(sizes.mean())
    targets = sizes.copy()
    below = (sizes < mu) & (sizes > 0)
    targets[below] = sizes[below] * (mu / sizes[below]) ** power
    return _volume("iccd", sizes, targets)


def plan_volume(plan: str, class_sizes: Sequence[float], *, threshold: float = 3.0,
                alpha: float = 0.5) -> AugmentationVolume:
    """The volume of the reference implementation's plan ``plan`` (one of :data:`PLANS`).

    ``'tpds'`` and ``'tpds-printed'`` use ``threshold`` (:func:`tpds_volume`), ``'iccd'`` uses
    ``alpha`` (:func:`iccd_volume`), ``'none'`` leaves every class as it is.
    """
    if plan == "tpds":
        return tpds_volume(class_sizes, threshold, target_rule="text")
    if plan == "tpds-printed":
        return tpds_volume(class_sizes, threshold, target_rule="printed")
    if plan == "iccd":
        return iccd_volume(class_sizes, alpha)
    if plan == "none":
        sizes = _class_sizes(class_sizes)
        return _volume("none", sizes, sizes.copy())
    raise InputError(f"'plan' must be one of {', '.join(PLANS)} (got {plan!r}).")


def long_tail_class_sizes(classes: int, imbalance_ratio: float, max_class_size: float = 1.0) -> np.ndarray:
    """``C_k = C_max*rho**(k/(K - 1))`` for ``k = 0..K-1``: from ``C_max`` down to ``rho*C_max``."""
    count = check_int("classes", classes, minimum=2)
    rho = check_number("imbalance_ratio", imbalance_ratio, exclusive_minimum=0, maximum=1)
    top = check_number("max_class_size", max_class_size, exclusive_minimum=0)
    return top * rho ** (np.arange(count) / (count - 1))


def long_tail_volume(classes: int, imbalance_ratio: float, threshold: float = 3.0, *, plan: str = "tpds",
                     alpha: float = 1.0) -> AugmentationVolume:
    """The plan's volume on a long-tail histogram (numeric twin of :func:`long_tail_expressions`)."""
    return plan_volume(plan, long_tail_class_sizes(classes, imbalance_ratio), threshold=threshold, alpha=alpha)


def long_tail_ratio_for_fraction(classes: int, fraction: float, threshold: float = 3.0, *,
                                 plan: str = "tpds-printed", alpha: float = 1.0) -> float:
    """The imbalance ratio rho at which ``plan`` adds ``fraction`` new samples per original sample on
    the long tail of ``classes`` classes (:func:`long_tail_volume`).

    Bisection in ``log rho`` over ``[1e-6, 1]`` (the added fraction falls as rho grows; at rho = 1
    nothing is added), to a relative width of 1e-12. Raises :class:`InputError` when no ratio in the
    range gives ``fraction``.
    """
    target = check_number("fraction", fraction, exclusive_minimum=0)

    def added(rho: float) -> float:
        return long_tail_volume(classes, rho, threshold, plan=plan, alpha=alpha).augmented_fraction

    low, high = 1e-6, 1.0
    if not added(low) >= target:
        raise must("fraction", f"be at most {added(low):.6g}, what {plan} adds at rho = {low:g}", fraction)
    while math.log(high / low) > 1e-12:
        middle = math.sqrt(low * high)
        if added(middle) > target:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


@dataclass(frozen=True)
class LongTailExpressions:
    """The TPDS plan on a long tail, symbolically (one target rule).

    Attributes
    ----------
    class_size : sympy.Expr
        ``C_k = C_max*rho**(k/(K - 1))``.
    mean, std : sympy.Expr
        ``mu`` and population ``sigma`` as sums over ``k``.
    augmented_fraction, removed_fraction : sympy.Expr
        ``Sum(Piecewise(...), (k, 0, K - 1))/Sum(C_k, (k, 0, K - 1))``.
    classes, imbalance_ratio, threshold, max_class_size, k : sympy.Symbol
        The symbols ``K``, ``rho``, ``tau_d``, ``C_max`` and the summation index.
    """

    class_size: sp.Expr
    mean: sp.Expr
    std: sp.Expr
    augmented_fraction: sp.Expr
    removed_fraction: sp.Expr
    classes: sp.Symbol
    imbalance_ratio: sp.Symbol
    threshold: sp.Symbol
    max_class_size: sp.Symbol
    k: sp.Symbol

    def evaluate(self, classes: int, imbalance_ratio: float, threshold: float = 3.0) -> tuple[float, float]:
        """``(augmented_fraction, removed_fraction)`` by expanding the sums symbolically.

        The two inner sums (of ``C_k`` and ``C_k**2``) are expanded once and replaced by their
        values before the outer sum over the classes is expanded. ``C_max`` cancels; 1 is used.
        """
        values = {self.classes: check_int("classes", classes, minimum=2),
                  self.imbalance_ratio: sp.Float(check_number("imbalance_ratio", imbalance_ratio,
                                                              exclusive_minimum=0, maximum=1), 30),
                  self.threshold: sp.Float(check_number("threshold", threshold, exclusive_minimum=0), 30),
                  self.max_class_size: sp.S.One}
        inner = {total: total.subs(values).doit().evalf(30) for total in self.inner_sums}
        return tuple(float(expression.xreplace(inner).subs(values).doit().evalf(30))  # type: ignore[return-value]
                     for expression in (self.augmented_fraction, self.removed_fraction))

    @property
    def inner_sums(self) -> tuple[sp.Sum, sp.Sum]:
        """``Sum(C_k)`` and ``Sum(C_k**2)`` over ``k = 0..K-1``."""
        last = self.classes - 1
        return (sp.Sum(self.class_size, (self.k, 0, last)), sp.Sum(self.class_size**2, (self.k, 0, last)))


@functools.cache
def long_tail_expressions(target_rule: str = "text") -> LongTailExpressions:
    """The TPDS plan's ``augmented_fraction`` and ``removed_fraction`` on ``C_k = C_max*rho**(k/(K-1))``
    as sympy expressions, with the augmentation target of ``target_rule`` (:data:`TARGET_RULES`)."""
    if target_rule not in TARGET_RULES:
        raise InputError(f"'target_rule' must be one of {', '.join(TARGET_RULES)} (got {target_rule!r}).")
    big_k = sp.Symbol("K", positive=True, integer=True)
    rho = sp.Symbol("rho", positive=True)
    tau = sp.Symbol("tau_d", positive=True)
    top = sp.Symbol("C_max", positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    size = top * rho ** (k / (big_k - 1))
    total = sp.Sum(size, (k, 0, big_k - 1))
    mean = total / big_k
    std = sp.sqrt(sp.Sum(size**2, (k, 0, big_k - 1)) / big_k - mean**2)
    z = (size - mean) / std
    target = mean - std * sp.sqrt(-z / tau) if target_rule == "text" else mean + std * sp.sqrt(-z * tau)
    added = sp.Piecewise((target - size, z < -1 / tau), (0, True))
    removed = sp.Piecewise((size - mean - std * sp.sqrt(z * tau), z > tau), (0, True))
    return LongTailExpressions(class_size=size, mean=mean, std=std,
                               augmented_fraction=sp.Sum(added, (k, 0, big_k - 1)) / total,
                               removed_fraction=sp.Sum(removed, (k, 0, big_k - 1)) / total,
                               classes=big_k, imbalance_ratio=rho, threshold=tau, max_class_size=top, k=k)
