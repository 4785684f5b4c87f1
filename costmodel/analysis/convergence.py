"""Rounds to a target accuracy from measured curves, with bootstrap intervals.

The curves are a checked :class:`~costmodel.contracts.curves_file.Curves` (the file format and its
checks are :mod:`costmodel.contracts.curves_file`).

Rounds to target and their uncertainty
--------------------------------------
For algorithm ``a`` and seed ``s``, ``r_s`` is the smallest ``round`` whose accuracy is ``>= target``
(:func:`rounds_to_target`), or ``inf`` when the curve never gets there: "never reaches the target in
the measured rounds" is an answer, kept as ``inf`` (and the last measured round) rather than an
error. Over the ``S`` seeds of ``a`` (:func:`rounds_summary`):

* the estimate is the mean ``r_bar = (1/S) * sum_s r_s`` (``inf`` if any seed never reaches: its
  time to target is then unbounded by the measurements); the mean, not the median, because time and
  bytes to target are linear in the rounds, so their means follow from it;
* the interval is a percentile bootstrap (Efron): ``B`` resamples, each ``S`` seeds drawn uniformly
  with replacement, the statistic the mean of the drawn ``r_s``; the bounds are the empirical
  quantiles at ``(1 - confidence)/2`` and ``(1 + confidence)/2`` by the inverted CDF (the smallest
  resampled mean with at least that share of the ``B`` means at or below it; no interpolation, so
  ``inf`` stays ``inf``). Each algorithm's resamples come from its own stream of one seeded generator
  (``numpy.random.default_rng(numpy.random.SeedSequence(seed).spawn(A)[i])``, ``i`` the algorithm's
  position in :data:`~costmodel.model.protocols.ALGORITHMS` and ``A`` their number), so the same
  curves, seed and ``B`` give the same interval on every machine, whichever other algorithms the
  file holds. Defaults: :data:`BOOTSTRAP_RESAMPLES` resamples,
  :data:`BOOTSTRAP_SEED`, :data:`CONFIDENCE`. Seeds are resampled independently per algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from costmodel.contracts.curves_file import Curves
from costmodel.errors import check_int, check_number, must
from costmodel.model.protocols import ALGORITHMS

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "MAX_RESAMPLES",
    "RoundsSummary",
    "bootstrap_means",
    "percentile_interval",
    "rounds_summary",
    "rounds_to_target",
]

#: Bootstrap resamples by default, the generator's seed and the interval's coverage.
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
#: Most resamples a question takes (memory: resamples x seeds indices).
MAX_RESAMPLES = 1_000_000


# --------------------------------------------------------------------------- rounds to target

def _target(target: float) -> float:
    return check_number("target", target, exclusive_minimum=0, maximum=1)


def rounds_to_target(curves: Curves, target: float) -> pd.DataFrame:
    """The rounds each algorithm and seed took to reach ``target`` accuracy.

    Returns
    -------
    pandas.DataFrame
        One row per (algorithm, seed), algorithms in :data:`ALGORITHMS` order and seeds ascending:
        ``algorithm``, ``seed``, ``rounds`` (the smallest ``round`` with ``accuracy >= target``;
        ``inf`` if none), ``reached`` (bool), ``measured_rounds`` (the curve's last round), and, when
        the curves have the measured columns, ``measured_seconds`` and ``measured_bytes``: the run's
        setup plus its rounds up to and including the one that reached the target (NaN if never).
        Measured seconds need ``round_seconds`` and ``setup_seconds`` on every row up to that round
        and rounds numbered 1, 2, ... without gaps.
    """
    if not isinstance(curves, Curves):
        raise must("curves", "be Curves (costmodel.contracts.curves_file.load_curves)", type(curves).__name__)
    goal = _target(target)
    rows = []
    frame = curves.frame
    for algorithm in curves.algorithms:
        own = frame[frame["algorithm"] == algorithm]
        for seed, curve in sorted(own.groupby("seed"), key=lambda item: int(item[0])):
            hits = np.flatnonzero(curve["accuracy"].to_numpy() >= goal)
            reached = hits.size > 0
            rounds = curve["round"].to_numpy()
            record = {"algorithm": algorithm, "seed": int(seed),
                      "rounds": float(rounds[hits[0]]) if reached else math.inf, "reached": bool(reached),
                      "measured_rounds": int(rounds[-1])}
            for quantity, round_column, setup_column in (("seconds", "round_seconds", "setup_seconds"),
                                                         ("bytes", "round_bytes", "setup_bytes")):
                if not (curves.has(round_column) and curves.has(setup_column)):
                    continue
                value = math.nan
                if reached:
                    upto = curve.iloc[:hits[0] + 1]
                    counted = upto[upto["round"] >= 1]
                    contiguous = np.array_equal(counted["round"].to_numpy(), np.arange(1, len(counted) + 1))
                    if contiguous:
                        value = float(curve[setup_column].iloc[0]) + float(counted[round_column].sum())
                record[f"measured_{quantity}"] = value
            rows.append(record)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- bootstrap

def bootstrap_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` bootstrap means of ``values``: each the mean of ``len(values)`` values drawn
    uniformly with replacement (``rng.integers(0, S, size=(resamples, S))``); ``inf`` stays ``inf``."""
    values = np.asarray(values, dtype=np.float64)
    indices = rng.integers(0, values.size, size=(int(resamples), values.size))
    drawn = values[indices]
    with np.errstate(invalid="ignore"):
        return drawn.mean(axis=1)


def percentile_interval(statistics: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap ``statistics``: the inverted-CDF quantiles at
    ``(1 - confidence)/2`` and ``(1 + confidence)/2`` (the smallest statistic with at least that
    share of all at or below it)."""
    data = np.sort(np.asarray(statistics, dtype=np.float64))
    count = data.size
    lower_share, upper_share = (1 - confidence) / 2, (1 + confidence) / 2
    # inverted CDF: the k-th smallest (1-based) with k = ceil(share * B), at least 1
    lower = data[max(1, math.ceil(lower_share * count - 1e-9)) - 1]
    upper = data[max(1, math.ceil(upper_share * count - 1e-9)) - 1]
    return float(lower), float(upper)


@dataclass(frozen=True, kw_only=True)
class RoundsSummary:
    """Rounds to a target accuracy of one algorithm over its seeds, with a bootstrap interval.

    Attributes
    ----------
    algorithm : str
    target : float
    seeds : int
        Seeds (curves) of the algorithm.
    reached : int
        Seeds whose curve reaches the target.
    mean_rounds : float
        Mean rounds to target over the seeds (``inf`` if a seed never reaches it).
    low_rounds, high_rounds : float
        The bootstrap percentile interval of the mean (``inf`` when too many resamples hold a seed
        that never reaches the target).
    measured_rounds : int
        The fewest rounds any of its curves measured (what "never" is bounded by).
    resampled_means : numpy.ndarray
        The ``B`` bootstrap means (for the question "which is faster" and tests).
    per_seed : mapping of seed -> rounds
    """

    algorithm: str
    target: float
    seeds: int
    reached: int
    mean_rounds: float
    low_rounds: float
    high_rounds: float
    measured_rounds: int
    resampled_means: np.ndarray = field(repr=False, compare=False)
    per_seed: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_seed", MappingProxyType(dict(self.per_seed)))

    @property
    def always_reached(self) -> bool:
        """Whether every seed reaches the target in its measured rounds."""
        return self.reached == self.seeds


def _bootstrap_options(resamples: int, confidence: float, seed: int) -> tuple[int, float, int]:
    resamples = check_int("resamples", resamples, minimum=1, maximum=MAX_RESAMPLES)
    confidence = check_number("confidence", confidence, exclusive_minimum=0)
    if not confidence < 1:
        raise must("confidence", "be < 1 (for example 0.95)", confidence)
    seed = check_int("bootstrap_seed", seed, minimum=0)
    return resamples, confidence, seed


def rounds_summary(curves: Curves, target: float, *, resamples: int = BOOTSTRAP_RESAMPLES,
                   confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> dict[str, RoundsSummary]:
    """Rounds to ``target`` per algorithm over its seeds: the mean and its bootstrap interval
    (module docstring). Returns ``{algorithm: RoundsSummary}`` in :data:`ALGORITHMS` order."""
    resamples, confidence, seed = _bootstrap_options(resamples, confidence, seed)
    table = rounds_to_target(curves, target)
    streams = np.random.SeedSequence(seed).spawn(len(ALGORITHMS))
    out = {}
    for algorithm in curves.algorithms:
        own = table[table["algorithm"] == algorithm]
        values = own["rounds"].to_numpy(dtype=np.float64)
        rng = np.random.default_rng(streams[ALGORITHMS.index(algorithm)])
        means = bootstrap_means(values, resamples, rng)
        low, high = percentile_interval(means, confidence)
        out[algorithm] = RoundsSummary(
            algorithm=algorithm, target=float(target), seeds=int(values.size), reached=int(own["reached"].sum()),
            mean_rounds=float(values.mean()), low_rounds=low, high_rounds=high,
            measured_rounds=int(own["measured_rounds"].min()), resampled_means=means,
            per_seed=dict(zip(own["seed"].astype(int), values.astype(float))))
    return out
