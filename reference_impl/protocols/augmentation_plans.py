"""Astraea's augmentation plan and each client's draw of it (setup step 2 and the sampling of step 3).

Astraea (Duan et al., "Astraea: Self-balancing Federated Learning for Improving Classification
Accuracy of Mobile Deep Learning Applications", ICCD 2019; "Self-Balancing Federated Learning With
Global Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) rebalances the *global* class
distribution before training. The server turns the summed label histograms C_1..C_K into one ratio
R_y per class; every client then augments or downsamples its own samples of class y by R_y. The
augmented samples stay in the client's data, so every later local epoch is longer: that is the
recurring part of the augmentation cost.

Plans (pure numpy)
------------------
The TPDS z-score plans. With mu and sigma the mean and the *population* standard deviation (ddof = 0:
the class sizes are the whole population of classes, not a sample of one) of the class sizes,
Z_y = (C_y - mu) / sigma and tau_a = -1 / tau_d, a class with Z_y < tau_a (minority) is augmented,
a class with Z_y > tau_d (majority) is downsampled to mu + sigma * sqrt(Z_y * tau_d), and every other
class keeps R_y = 1. The papers' text and their printed formula disagree on the minority target, so
there are two plans:

``tpds_plan`` (``kind="tpds"``, the text reading, the default): target_y = mu - sigma * sqrt(Z_y * tau_a).
In z units both targets are then the geometric mean of Z_y and the threshold it crossed, so the new
size lies strictly between C_y and the threshold: between C_y and mu + sigma * tau_a for minority
classes (what the papers' text says), between mu + sigma * tau_d and C_y for majority classes. It
departs from the printed formula twice, both forced by that text: the sign (the printed ``+`` puts
the target above the mean) and the root (the product Z_y * tau_a = |Z_y| / tau_d, mirroring the
majority rule, not the quotient |Z_y / tau_a| = |Z_y| * tau_d, with which a class at Z_y = -1 and
tau_d = 3 would get mu - 1.73 sigma, below its own size mu - sigma). The tests pin this: every
augmented target lies in (C_y, mu). On a long tail this plan adds at most about 16 % data.

``tpds_printed_plan`` (``kind="tpds-printed"``): the minority target exactly as printed,
target_y = mu + sigma * sqrt(|Z_y / tau_a|) = mu + sigma * sqrt(|Z_y| * tau_d), which lifts every
minority class *above* the mean (R_y > 1 always). It is the reading that reproduces the papers'
reported data growth (+81.8 % on imbalanced EMNIST at tau_d = 3.5, +103.8 % on CINIC-10) on
ordinary long tails (``C_k = rho ** (k / (K - 1))`` with rho = 0.099 and 0.054 at tau_d = 3.5), so
it is the plan to run when the papers' augmentation volume is what is being measured. Majority
classes are downsampled exactly as in ``tpds_plan``.

A class with C_y = 0 still counts in mu and sigma (it exists, it is just absent) but cannot be
augmented, having no sample to copy: its ratio is 1. All sizes equal (sigma = 0): every ratio is 1.

``iccd_plan`` (the ICCD 2019 plan): every class below the mean gets R_y = (mu / C_y) ** alpha,
0 <= alpha <= 1; classes at or above the mean, and empty classes, keep R_y = 1.

Per-client sampling
-------------------
``plan_client_samples`` draws, with one uniform number u_i per sample i of class y:
augmented class: floor(R_y - 1) copies plus one more if u_i < frac(R_y - 1) (expected R_y - 1);
downsampled class: kept if u_i < R_y (expected R_y). Seeded by a ``numpy.random.Generator``.

The warping itself (random shift, rotation, shear and zoom, batched in torch) is
:mod:`reference_impl.data.augmentation`; this module is numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from costmodel.errors import InputError, check_number, must

__all__ = [
    "PLAN_KINDS",
    "AugmentationPlan",
    "ClientAugmentationPlan",
    "iccd_plan",
    "plan_client_samples",
    "tpds_plan",
    "tpds_printed_plan",
]

#: The papers' plans: ``tpds`` (z-score, the text's minority target, the default), ``tpds-printed``
#: (z-score, the printed minority target) and ``iccd`` (mean ratio ** alpha).
PLAN_KINDS: tuple[str, ...] = ("iccd", "tpds", "tpds-printed")


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _class_sizes(class_sizes: object) -> np.ndarray:
    """Validate global class sizes: a non-empty 1-D array of non-negative integers, not all zero."""
    sizes = np.asarray(class_sizes)
    if sizes.ndim != 1 or sizes.size == 0:
        raise _bad_shape("class_sizes", "be a non-empty 1-D sequence of counts", sizes)
    if not (np.issubdtype(sizes.dtype, np.integer) or np.issubdtype(sizes.dtype, np.floating)):
        raise must("class_sizes", "hold numbers", sizes.dtype.name)
    as_float = sizes.astype(np.float64)
    if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
        bad = as_float[~np.isfinite(as_float) | (as_float != np.round(as_float))][0]
        raise must("class_sizes", "hold whole numbers", float(bad))
    if np.any(as_float < 0):
        raise must("class_sizes", "be >= 0", float(as_float[as_float < 0][0]))
    if not np.any(as_float > 0):
        raise must("class_sizes", "have at least one class with samples", sizes.tolist())
    return as_float.astype(np.int64)


def _bad_shape(name: str, rule: str, array: np.ndarray) -> InputError:
    """``'name' must rule (got shape (3, 4)).``"""
    return InputError(f"'{name}' must {rule} (got shape {array.shape}).")


@dataclass(frozen=True, kw_only=True, eq=False)
class AugmentationPlan:
    """The server's per-class ratios, sent to every client.

    Attributes
    ----------
    ratios : np.ndarray, shape (K,)
        R_y: > 1 augment (each sample yields R_y - 1 new ones on average), < 1 downsample (each
        sample kept with probability R_y), 1 unchanged. Read-only.
    class_sizes : np.ndarray, shape (K,)
        The global class sizes C_y the plan was made from. Read-only.
    kind : str
        ``"tpds"``, ``"tpds-printed"`` or ``"iccd"``.
    parameters : Mapping[str, float]
        The plan's inputs and statistics (``tau_d``, ``tau_a``, ``mean``, ``std`` or ``alpha``, ``mean``).
    """

    ratios: np.ndarray
    class_sizes: np.ndarray
    kind: str
    parameters: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in PLAN_KINDS:
            raise must("kind", f"be one of {', '.join(PLAN_KINDS)}", self.kind)
        ratios = np.asarray(self.ratios, dtype=np.float64)
        sizes = np.asarray(self.class_sizes, dtype=np.int64)
        if ratios.ndim != 1 or ratios.shape != sizes.shape:
            raise _bad_shape("ratios", f"have one entry per class ({sizes.size})", ratios)
        if not np.all(np.isfinite(ratios)) or np.any(ratios < 0):
            raise must("ratios", "be finite and >= 0", ratios.tolist())
        object.__setattr__(self, "ratios", _readonly(ratios))
        object.__setattr__(self, "class_sizes", _readonly(sizes))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    @property
    def num_classes(self) -> int:
        """K, the number of classes."""
        return int(self.ratios.size)

    @property
    def augmented_classes(self) -> np.ndarray:
        """Indices of the classes with R_y > 1."""
        return np.flatnonzero(self.ratios > 1.0)

    @property
    def downsampled_classes(self) -> np.ndarray:
        """Indices of the classes with R_y < 1."""
        return np.flatnonzero(self.ratios < 1.0)

    @property
    def targets(self) -> np.ndarray:
        """Expected class sizes after the plan, R_y * C_y (samples)."""
        return self.ratios * self.class_sizes

    def _histogram(self, name: str, histogram: object) -> np.ndarray:
        counts = np.asarray(histogram, dtype=np.float64)
        if counts.ndim not in (1, 2) or counts.shape[-1] != self.num_classes:
            raise _bad_shape(name, f"have {self.num_classes} classes in its last axis", counts)
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise must(name, "hold finite counts >= 0", counts.tolist())
        return counts

    def expected_new_samples(self, client_histogram: object) -> np.ndarray | float:
        """Expected augmented samples a client makes: sum_y max(R_y - 1, 0) * h_y.

        ``client_histogram`` is one histogram (K,) or a stack (clients, K); the result is a float
        or one value per client.
        """
        counts = self._histogram("client_histogram", client_histogram)
        result = counts @ np.maximum(self.ratios - 1.0, 0.0)
        return float(result) if counts.ndim == 1 else result

    def expected_kept(self, client_histogram: object) -> np.ndarray | float:
        """Expected original samples a client keeps after downsampling: sum_y min(R_y, 1) * h_y."""
        counts = self._histogram("client_histogram", client_histogram)
        result = counts @ np.minimum(self.ratios, 1.0)
        return float(result) if counts.ndim == 1 else result

    def storage_growth(self, class_sizes: object) -> float:
        """Fraction of extra data after augmentation and downsampling.

        growth = sum_y R_y * C_y / sum_y C_y - 1 (expected; 0.818 would be the +81.8 % the TPDS
        paper reports for imbalanced EMNIST at tau_d = 3.5).
        """
        counts = self._histogram("class_sizes", class_sizes)
        if counts.ndim != 1:
            raise _bad_shape("class_sizes", "be one histogram (K,)", counts)
        total = counts.sum()
        if total <= 0:
            raise must("class_sizes", "have at least one class with samples", counts.tolist())
        return float((self.expected_kept(counts) + self.expected_new_samples(counts)) / total - 1.0)


def _z_score_plan(class_sizes: object, tau_d: float, kind: str) -> AugmentationPlan:
    """The TPDS plan with the minority target of ``kind`` (see the module docstring)."""
    sizes = _class_sizes(class_sizes)
    tau_d = check_number("tau_d", tau_d, exclusive_minimum=0.0)
    tau_a = -1.0 / tau_d
    c = sizes.astype(np.float64)
    mu = float(c.mean())
    sigma = float(c.std(ddof=0))
    ratios = np.ones_like(c)
    if sigma > 0.0:
        z = (c - mu) / sigma
        augment = (z < tau_a) & (c > 0)
        down = z > tau_d
        if kind == "tpds":
            ratios[augment] = (mu - sigma * np.sqrt(z[augment] * tau_a)) / c[augment]
        else:
            ratios[augment] = (mu + sigma * np.sqrt(z[augment] / tau_a)) / c[augment]
        ratios[down] = (mu + sigma * np.sqrt(z[down] * tau_d)) / c[down]
    return AugmentationPlan(ratios=ratios, class_sizes=sizes, kind=kind,
                            parameters={"tau_d": tau_d, "tau_a": tau_a, "mean": mu, "std": sigma})


def tpds_plan(class_sizes: object, *, tau_d: float = 3.0) -> AugmentationPlan:
    """The TPDS z-score plan as the papers' text describes it (module docstring: rules, misprints).

    Minority target mu - sigma * sqrt(Z_y * tau_a), majority target mu + sigma * sqrt(Z_y * tau_d).

    Parameters
    ----------
    class_sizes : array-like of int, shape (K,)
        Global class sizes C_y (samples), the sum of the clients' reported histograms.
    tau_d : float
        Downsampling threshold in standard deviations, > 0 (the paper recommends 3.0 or 3.5);
        the augmentation threshold is tau_a = -1 / tau_d.

    Returns
    -------
    AugmentationPlan
        ``kind="tpds"``, parameters ``tau_d``, ``tau_a``, ``mean``, ``std``.
    """
    return _z_score_plan(class_sizes, tau_d, "tpds")


def tpds_printed_plan(class_sizes: object, *, tau_d: float = 3.0) -> AugmentationPlan:
    """The TPDS z-score plan with the minority target exactly as printed in the papers.

    Minority (Z_y < tau_a): target mu + sigma * sqrt(|Z_y / tau_a|) = mu + sigma * sqrt(|Z_y| * tau_d),
    above the mean; majority (Z_y > tau_d): mu + sigma * sqrt(Z_y * tau_d), as in :func:`tpds_plan`.
    Example: sizes [100, 100, 100, 100, 10] (mu = 82, sigma = 36, Z = -2 for the last) at tau_d = 3
    lift the last class to 82 + 36 * sqrt(6) = 170.18 samples, R = 17.018.

    Parameters and result as :func:`tpds_plan`, with ``kind="tpds-printed"``.
    """
    return _z_score_plan(class_sizes, tau_d, "tpds-printed")


def iccd_plan(class_sizes: object, *, alpha: float = 0.5) -> AugmentationPlan:
    """The ICCD 2019 plan: R_y = (mu / C_y) ** alpha for 0 < C_y < mu, else 1.

    Parameters
    ----------
    class_sizes : array-like of int, shape (K,)
        Global class sizes C_y (samples).
    alpha : float
        Augmentation strength, 0 <= alpha <= 1 (0: no augmentation; 1: every class up to the mean).
    """
    sizes = _class_sizes(class_sizes)
    alpha = check_number("alpha", alpha, minimum=0.0, maximum=1.0)
    c = sizes.astype(np.float64)
    mu = float(c.mean())
    ratios = np.ones_like(c)
    below = (c > 0) & (c < mu)
    ratios[below] = (mu / c[below]) ** alpha
    return AugmentationPlan(ratios=ratios, class_sizes=sizes, kind="iccd",
                            parameters={"alpha": alpha, "mean": mu})


@dataclass(frozen=True, kw_only=True, eq=False)
class ClientAugmentationPlan:
    """One client's draw of the plan.

    Attributes
    ----------
    kept_indices : np.ndarray of int64
        Ascending indices of the original samples kept after downsampling.
    augment_sources : np.ndarray of int64
        Ascending indices of the originals to augment, repeated once per copy to make.
    num_original : int
        The client's sample count before the plan.
    """

    kept_indices: np.ndarray
    augment_sources: np.ndarray
    num_original: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "kept_indices", _readonly(np.asarray(self.kept_indices, dtype=np.int64)))
        object.__setattr__(self, "augment_sources", _readonly(np.asarray(self.augment_sources, dtype=np.int64)))

    @property
    def samples_removed(self) -> int:
        """Originals dropped by downsampling."""
        return self.num_original - int(self.kept_indices.size)

    @property
    def samples_augmented(self) -> int:
        """New samples to make."""
        return int(self.augment_sources.size)

    @property
    def num_final(self) -> int:
        """The client's sample count after the plan."""
        return int(self.kept_indices.size) + self.samples_augmented


def plan_client_samples(labels: object, plan: AugmentationPlan,
                        rng: np.random.Generator) -> ClientAugmentationPlan:
    """Draw which of a client's samples are kept and which are copied into augmented ones.

    For sample i of class y with u_i ~ U[0, 1): if R_y > 1 it yields floor(R_y - 1) + [u_i < frac(R_y - 1)]
    augmented copies (expected R_y - 1) and is kept; if R_y < 1 it is kept when u_i < R_y (expected R_y).
    Exactly ``len(labels)`` uniforms are drawn from ``rng``, so a seeded generator reproduces the draw.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        The client's labels, each in 0..K-1.
    plan : AugmentationPlan
    rng : numpy.random.Generator
    """
    if not isinstance(plan, AugmentationPlan):
        raise must("plan", "be an AugmentationPlan", type(plan).__name__)
    if not isinstance(rng, np.random.Generator):
        raise must("rng", "be a numpy.random.Generator", type(rng).__name__)
    y = np.asarray(labels)
    if y.ndim != 1:
        raise _bad_shape("labels", "be 1-D", y)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise must("labels", "hold integers", y.dtype.name)
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= plan.num_classes):
        bad = y[(y < 0) | (y >= plan.num_classes)][0]
        raise must("labels", f"lie in 0..{plan.num_classes - 1}", int(bad))
    ratio = plan.ratios[y]
    u = rng.random(y.size)
    keep = ~((ratio < 1.0) & (u >= ratio))
    extra = np.maximum(ratio - 1.0, 0.0)
    whole = np.floor(extra)
    copies = (whole + (u < extra - whole)).astype(np.int64)
    return ClientAugmentationPlan(kept_indices=np.flatnonzero(keep),
                                  augment_sources=np.repeat(np.arange(y.size, dtype=np.int64), copies),
                                  num_original=int(y.size))
