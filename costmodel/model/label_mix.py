"""What the clients' label mix does to the model's inputs: how unequally augmentation lands on the
clients (``augmented_fraction_sd``) and how many classes a client holds (``classes_per_client``), from
a global class histogram, an augmentation plan (:mod:`costmodel.model.augmentation_volume`) and a
local-imbalance setting; and the papers' stated setups, from which the presets' inputs are derived.

Spread across clients (:func:`augmentation_inputs`)
    A client of ``n`` samples with label proportions ``pi`` grows by ``G = sum_y pi_y*g_y`` plus the
    plan's draw noise, ``g_y = R_y - 1`` (net: new samples minus dropped ones, per sample). Over the
    clients ``G`` has mean ``a - r`` and variance

    ``s_a**2 = w*V_q + sum_y q_y*v_y/n``,

    ``q`` the global class frequencies, ``V_q = sum_y q_y*g_y**2 - (sum_y q_y*g_y)**2`` (how unequal
    the classes' growth is), ``v_y`` the per-sample draw variance (``f*(1 - f)`` for an augmented
    class, ``f = frac(R_y - 1)``; ``R_y*(1 - R_y)`` for a downsampled one) and ``w`` the weight of
    the label mix, set by the local imbalance (``reference_impl.data.partition``):

    * ``'none'`` (IID): ``w = 1/n``;
    * ``'classes'`` (``m`` label-sorted shards, each in class y with probability ``q_y``): ``w = 1/m``;
    * ``'dirichlet'`` (``pi ~ Dirichlet(alpha*K*q)``, then ``n`` draws): with ``b = alpha*K``,
      ``w = 1/(b + 1) + b/((b + 1)*n)``.

    ``s_a`` is the model's ``augmented_fraction_sd`` as the calibration measures it (the population
    standard deviation of each client's ``trained/original - 1``). It ignores shards that straddle a
    class boundary and classes that run out while clients are filled; the tests compare it with
    planned partitions. Clients holding few classes get very different fractions: with two classes
    per client ``s_a`` is ``sqrt(V_q/2)``, of the order of the mean growth itself.

Classes a client holds (:func:`mean_classes_held`)
    The greedy rescheduling updates, for every candidate client, the classes that client holds
    (``reference_impl.protocols.rescheduling``), so its cost grows with ``K_c``, the mean number of
    classes with at least one sample per client, not with ``K``. Expected over the partition:

    * ``'none'``: ``n`` draws from ``q``: ``K_c = sum_y 1 - (1 - q_y)**n``;
    * ``'classes'``: ``m`` shards: ``K_c = min(m, K)`` (a shard straddling a class boundary adds one
      class now and then; ignored);
    * ``'dirichlet'``: the count of class y is Beta-binomial with ``a_y = alpha*K*q_y`` and
      ``b_y = alpha*K*(1 - q_y)``, so ``P(0) = B(a_y, b_y + n)/B(a_y, b_y)`` and
      ``K_c = sum_y 1 - P(0)``.

    Augmentation adds samples of classes a client already holds and downsampling keeps most, so
    ``K_c`` is that of the original data.

The papers' setups (:data:`EMNIST_HISTOGRAM`, :data:`CINIC10_HISTOGRAM`)
    Long tails whose imbalance ratio makes the printed plan add the papers' reported growth:
    rho = 0.09897 for 47 classes at tau_d = 3.5 (+81.8%), rho = 0.05442 for 10 classes at
    tau_d = 3.5 (+103.8%; 0.04392 at tau_d = 3.0). No class of such a tail lies ``tau_d`` standard
    deviations above the mean (``Z_max = sqrt(K - 1)`` at most, 2.36 and 2.19 here), so nothing is
    downsampled: gross and net growth are the same figure. Local imbalance: Dirichlet with
    ``alpha = 2`` (:data:`PAPERS_DIRICHLET_ALPHA`), which gives the TPDS paper's mean client KL to
    uniform of 0.550 nats on EMNIST (``reference_impl.imbalance_study``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.errors import InputError, check_int, check_number, must
from costmodel.model.augmentation_volume import AugmentationVolume, long_tail_class_sizes, plan_volume

__all__ = [
    "CINIC10_HISTOGRAM",
    "EMNIST_HISTOGRAM",
    "LOCAL_IMBALANCES",
    "PAPERS_DIRICHLET_ALPHA",
    "AugmentationInputs",
    "StatedHistogram",
    "augmentation_inputs",
    "mean_classes_held",
]

#: Local imbalances, named as ``reference_impl.data.partition`` names them.
LOCAL_IMBALANCES: tuple[str, ...] = ("none", "classes", "dirichlet")
#: Dirichlet concentration of the papers' clients (mean KL to uniform 0.550 nats on TPDS's EMNIST).
PAPERS_DIRICHLET_ALPHA = 2.0


def _local_imbalance(local_imbalance: str) -> str:
    if local_imbalance not in LOCAL_IMBALANCES:
        raise InputError(f"'local_imbalance' must be one of {', '.join(LOCAL_IMBALANCES)} "
                         f"(got {local_imbalance!r}).")
    return local_imbalance


def mean_classes_held(class_sizes: Sequence[float], *, samples_per_client: float, local_imbalance: str = "dirichlet",
                      classes_per_client: int = 2, dirichlet_alpha: float = PAPERS_DIRICHLET_ALPHA) -> float:
    """``K_c``: the expected number of classes a client of ``samples_per_client`` samples holds
    (module docstring).

    Examples
    --------
    Two equal classes, IID clients of 2 samples: both classes with probability 1/2, so 1.5.

    >>> mean_classes_held([5, 5], samples_per_client=2, local_imbalance="none")
    1.5
    """
    sizes = np.asarray(plan_volume("none", class_sizes).class_sizes)
    n = check_number("samples_per_client", samples_per_client, exclusive_minimum=0)
    q = sizes / sizes.sum()
    kind = _local_imbalance(local_imbalance)
    if kind == "classes":
        return float(min(check_int("classes_per_client", classes_per_client, minimum=1), int((q > 0).sum())))
    present = q[q > 0]
    if kind == "none":
        return float(np.sum(1.0 - (1.0 - present) ** n))
    concentration = check_number("dirichlet_alpha", dirichlet_alpha, exclusive_minimum=0) * sizes.size
    held = 0.0
    for share in present:
        a, b = concentration * share, concentration * (1.0 - share)
        log_empty = math.lgamma(b + n) + math.lgamma(a + b) - math.lgamma(b) - math.lgamma(a + b + n)
        held += 1.0 - math.exp(log_empty)
    return float(held)


@dataclass(frozen=True, kw_only=True)
class AugmentationInputs:
    """The cost model's augmentation inputs derived from a histogram, a plan and a partition.

    Attributes
    ----------
    volume : AugmentationVolume
        The plan on the global histogram.
    augmented_fraction, removed_fraction : float
        ``a`` and ``r`` (from ``volume``).
    augmented_fraction_sd : float
        ``s_a``, the spread across clients of their net growth (module docstring).
    label_mix_sd : float
        The part of ``s_a`` due to the clients' label mixes alone, ``sqrt(w*V_q)``.
    local_imbalance : str
    samples_per_client : float
    """

    volume: AugmentationVolume
    augmented_fraction: float
    removed_fraction: float
    augmented_fraction_sd: float
    label_mix_sd: float
    local_imbalance: str
    samples_per_client: float

    def as_inputs(self) -> dict[str, float]:
        """``{augmented_fraction, augmented_fraction_sd, removed_fraction}``, as a Scenario takes them."""
        return {"augmented_fraction": self.augmented_fraction, "augmented_fraction_sd": self.augmented_fraction_sd,
                "removed_fraction": self.removed_fraction}


def augmentation_inputs(class_sizes: Sequence[float], plan: str = "tpds-printed", *, samples_per_client: float,
                        threshold: float = 3.0, alpha: float = 0.5, local_imbalance: str = "dirichlet",
                        classes_per_client: int = 2,
                        dirichlet_alpha: float = PAPERS_DIRICHLET_ALPHA) -> AugmentationInputs:
    """``a``, ``s_a`` and ``r`` of ``plan`` on the global ``class_sizes``, with clients of
    ``samples_per_client`` samples drawn by ``local_imbalance`` (formula in the module docstring).

    Parameters
    ----------
    class_sizes : sequence of float
        Global class sizes ``C_y``.
    plan : str
        One of :data:`PLANS`; ``threshold`` (tau_d) and ``alpha`` as :func:`plan_volume`.
    samples_per_client : float
        ``n``, the clients' original size (> 0).
    local_imbalance : {'none', 'classes', 'dirichlet'}
        With ``classes_per_client`` (``m`` >= 1) or ``dirichlet_alpha`` (> 0).

    Examples
    --------
    Two classes of 10 and 30 samples, ICCD with alpha = 1: the small class doubles (g = 1, no draw
    noise), so a = 10/40, V_q = 0.25*1 - 0.25**2 = 0.1875; one class per client gives s_a = sqrt(V_q).

    >>> inputs = augmentation_inputs([10, 30], "iccd", alpha=1.0, samples_per_client=4,
    ...                              local_imbalance="classes", classes_per_client=1)
    >>> inputs.augmented_fraction, round(inputs.augmented_fraction_sd ** 2, 6)
    (0.25, 0.1875)
    """
    volume = plan_volume(plan, class_sizes, threshold=threshold, alpha=alpha)
    n = check_number("samples_per_client", samples_per_client, exclusive_minimum=0)
    _local_imbalance(local_imbalance)
    sizes = np.asarray(volume.class_sizes)
    q = sizes / sizes.sum()
    ratios = np.asarray(volume.ratios)
    growth = ratios - 1.0
    spread_q = max(float(q @ growth**2 - (q @ growth) ** 2), 0.0)
    extra = np.maximum(growth, 0.0)
    fraction = extra - np.floor(extra)
    draw = np.where(ratios > 1, fraction * (1 - fraction), ratios * (1 - ratios) * (ratios < 1))
    if local_imbalance == "none":
        weight = 1.0 / n
    elif local_imbalance == "classes":
        weight = 1.0 / check_int("classes_per_client", classes_per_client, minimum=1)
    else:
        b = check_number("dirichlet_alpha", dirichlet_alpha, exclusive_minimum=0) * sizes.size
        weight = 1.0 / (b + 1.0) + b / ((b + 1.0) * n)
    return AugmentationInputs(volume=volume, augmented_fraction=volume.augmented_fraction,
                              removed_fraction=volume.removed_fraction,
                              augmented_fraction_sd=math.sqrt(weight * spread_q + float(q @ draw) / n),
                              label_mix_sd=math.sqrt(weight * spread_q), local_imbalance=local_imbalance,
                              samples_per_client=n)


@dataclass(frozen=True, kw_only=True)
class StatedHistogram:
    """A stated setup from which a preset's augmentation inputs are derived, not typed.

    Attributes
    ----------
    name : str
    classes, imbalance_ratio : int, float
        The long tail ``C_k = rho**(k/(K - 1))``.
    threshold : float
        tau_d.
    plan : str
        One of :data:`PLANS`.
    reported_growth : float
        The data growth the paper reports for this setup (the ratio is chosen to give it).
    samples_per_client : float
        ``n``.
    local_imbalance, dirichlet_alpha, classes_per_client :
        The clients' label mix (as :func:`augmentation_inputs`).
    """

    name: str
    classes: int
    imbalance_ratio: float
    threshold: float
    plan: str
    reported_growth: float
    samples_per_client: float
    local_imbalance: str = "dirichlet"
    dirichlet_alpha: float = PAPERS_DIRICHLET_ALPHA
    classes_per_client: int = 2

    def class_sizes(self) -> np.ndarray:
        """The long tail, largest class 1."""
        return long_tail_class_sizes(self.classes, self.imbalance_ratio)

    def inputs(self, **changes: Any) -> AugmentationInputs:
        """:func:`augmentation_inputs` of this setup; ``changes`` override its partition or plan
        arguments (``local_imbalance``, ``dirichlet_alpha``, ``classes_per_client``,
        ``samples_per_client``, ``threshold``, ``plan``)."""
        arguments = dict(plan=self.plan, samples_per_client=self.samples_per_client, threshold=self.threshold,
                         local_imbalance=self.local_imbalance, classes_per_client=self.classes_per_client,
                         dirichlet_alpha=self.dirichlet_alpha)
        unknown = sorted(set(changes) - set(arguments))
        if unknown:
            raise must("changes", f"name only {', '.join(sorted(arguments))}", unknown)
        arguments.update(changes)
        plan = arguments.pop("plan")
        return augmentation_inputs(self.class_sizes(), plan, **arguments)

    def preset_inputs(self) -> dict[str, float]:
        """The cost model's inputs this setup determines: ``augmented_fraction``,
        ``augmented_fraction_sd``, ``removed_fraction`` (:meth:`inputs`) and ``classes_per_client``
        (:func:`mean_classes_held`)."""
        held = mean_classes_held(self.class_sizes(), samples_per_client=self.samples_per_client,
                                 local_imbalance=self.local_imbalance, classes_per_client=self.classes_per_client,
                                 dirichlet_alpha=self.dirichlet_alpha)
        return {**self.inputs().as_inputs(), "classes_per_client": held}


#: TPDS imbalanced EMNIST: 47 classes, 500 clients of 112,800/500 samples, tau_d = 3.5, +81.8%.
EMNIST_HISTOGRAM = StatedHistogram(name="emnist", classes=47, imbalance_ratio=0.09897, threshold=3.5,
                                   plan="tpds-printed", reported_growth=0.818, samples_per_client=112_800 / 500)
#: TPDS imbalanced CINIC-10: 10 classes, 100 clients of 90,000/100 samples, tau_d = 3.5, +103.8%.
CINIC10_HISTOGRAM = StatedHistogram(name="cinic10", classes=10, imbalance_ratio=0.05442, threshold=3.5,
                                    plan="tpds-printed", reported_growth=1.038, samples_per_client=90_000 / 100)
