"""Rounds to a target and their bootstrap interval, against hand derivations and an exact enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from costmodel.analysis.convergence import (
    bootstrap_means,
    percentile_interval,
    rounds_summary,
    rounds_to_target,
)
from costmodel.contracts.curves_file import check_curves
from costmodel.errors import InputError

COLUMNS = ("algorithm", "seed", "round", "accuracy")


def curves_of(rows, columns=COLUMNS):
    return check_curves([dict(zip(columns, row)) for row in rows], columns, source="hand")


#: astraea seed 0 reaches 0.5 at round 2, seed 1 at round 3; fedavg seed 0 at 3, seed 1 at 4
#: (it first touches 0.5 exactly: ">= target"), and never 0.65 in seed 1.
TINY = curves_of([
    ("astraea", 0, 1, 0.3), ("astraea", 0, 2, 0.55), ("astraea", 0, 3, 0.7),
    ("astraea", 1, 1, 0.2), ("astraea", 1, 2, 0.4), ("astraea", 1, 3, 0.66),
    ("fedavg", 0, 1, 0.1), ("fedavg", 0, 2, 0.3), ("fedavg", 0, 3, 0.5), ("fedavg", 0, 4, 0.52),
    ("fedavg", 0, 5, 0.7), ("fedavg", 1, 1, 0.1), ("fedavg", 1, 2, 0.2), ("fedavg", 1, 4, 0.5),
    ("fedavg", 1, 5, 0.6),
])


def test_rounds_to_target_by_hand():
    table = rounds_to_target(TINY, 0.5)
    assert table[["algorithm", "seed", "rounds"]].values.tolist() == [
        ["astraea", 0, 2.0], ["astraea", 1, 3.0], ["fedavg", 0, 3.0], ["fedavg", 1, 4.0]]
    assert table["measured_rounds"].tolist() == [3, 3, 5, 5]
    never = rounds_to_target(TINY, 0.65).set_index(["algorithm", "seed"])
    assert never.loc[("astraea", 1), "rounds"] == 3.0 and never.loc[("fedavg", 0), "rounds"] == 5.0
    assert math.isinf(never.loc[("fedavg", 1), "rounds"]) and not never.loc[("fedavg", 1), "reached"]


def test_percentile_interval_by_hand():
    # B = 5, 60%: the 20% quantile is the 1st smallest (ceil(0.2*5) = 1), the 80% the 4th
    assert percentile_interval(np.array([5.0, 1.0, 4.0, 2.0, 3.0]), 0.6) == (1.0, 4.0)
    # B = 4, 50%: the 25% quantile is the 1st (ceil(1) = 1), the 75% the 3rd
    assert percentile_interval(np.array([40.0, 10.0, 30.0, 20.0]), 0.5) == (10.0, 30.0)
    # infinite statistics stay infinite, never NaN (the 75% quantile is the 3rd of 1, inf, inf, inf)
    assert percentile_interval(np.array([1.0, math.inf, math.inf, math.inf]), 0.5) == (1.0, math.inf)


class _FixedIndices:
    """A generator stand-in whose draws are given: each row of ``indices`` is one resample."""

    def __init__(self, indices):
        self.indices = np.asarray(indices)

    def integers(self, low, high, size):
        assert (low, high, size) == (0, self.indices.shape[1], self.indices.shape)
        return self.indices


def test_bootstrap_means_by_hand():
    values = np.array([2.0, 4.0, 9.0])
    means = bootstrap_means(values, 3, _FixedIndices([[0, 0, 0], [0, 1, 2], [2, 2, 1]]))
    assert means.tolist() == [2.0, 5.0, 22.0 / 3.0]


def test_the_bootstrap_interval_is_the_exact_one_when_resamples_are_many():
    # All 4^4 = 256 equally likely resamples of four seeds, enumerated: the exact 2.5% and 97.5%
    # inverted-CDF quantiles of the mean are 4.0 and 16.25, and the empirical CDF crosses both levels
    # at least 0.0055 away from a jump, about 12 standard errors at 100,000 resamples.
    values = np.array([3.0, 5.0, 8.0, 20.0])
    means = sorted(float(np.mean(c)) for c in itertools.product(values, repeat=4))
    assert means[math.ceil(0.025 * 256) - 1] == 4.0 and means[math.ceil(0.975 * 256) - 1] == 16.25
    drawn = bootstrap_means(values, 100_000, np.random.default_rng(1))
    assert percentile_interval(drawn, 0.95) == (4.0, 16.25)


def test_rounds_summary_of_the_tiny_set():
    # astraea's rounds {2, 3}: resampled means are 2, 2.5, 3 with chances 1/4, 1/2, 1/4, so the 95%
    # interval is [2, 3] (each end holds 25% > 2.5%); fedavg's {3, 4}: [3, 4]
    summary = rounds_summary(TINY, 0.5, resamples=10_000, seed=0)
    assert list(summary) == ["astraea", "fedavg"]
    a, f = summary["astraea"], summary["fedavg"]
    assert (a.mean_rounds, a.low_rounds, a.high_rounds, a.seeds, a.reached) == (2.5, 2.0, 3.0, 2, 2)
    assert (f.mean_rounds, f.low_rounds, f.high_rounds) == (3.5, 3.0, 4.0)
    assert dict(a.per_seed) == {0: 2.0, 1: 3.0} and a.resampled_means.shape == (10_000,)
    assert set(np.unique(a.resampled_means)) == {2.0, 2.5, 3.0}
    # one seed of fedavg never reaches 0.65: its mean is unbounded, and so is the interval's top
    never = rounds_summary(TINY, 0.65)["fedavg"]
    assert math.isinf(never.mean_rounds) and math.isinf(never.high_rounds) and never.reached == 1
    assert never.low_rounds == 5.0 and never.measured_rounds == 5 and not never.always_reached


def test_the_bootstrap_is_seeded_and_each_algorithm_has_its_own_stream():
    rows = [("astraea", s, r, min(1.0, 0.1 * r * (1 + 0.15 * s))) for s in range(6) for r in range(1, 11)]
    alone = curves_of(rows)
    both = curves_of(rows + [("fedavg", s, r, 0.05 * r) for s in range(6) for r in range(1, 11)])
    first = rounds_summary(alone, 0.5, resamples=500, seed=3)["astraea"]
    again = rounds_summary(both, 0.5, resamples=500, seed=3)["astraea"]
    np.testing.assert_array_equal(first.resampled_means, again.resampled_means)
    other = rounds_summary(alone, 0.5, resamples=500, seed=4)["astraea"]
    assert not np.array_equal(first.resampled_means, other.resampled_means)


def test_measured_time_to_target_is_setup_plus_the_rounds_up_to_it():
    columns = (*COLUMNS, "round_seconds", "round_bytes", "setup_seconds", "setup_bytes")
    rows = [("astraea", 0, r, acc, 0.1 * r, 100, 2.0, 7) for r, acc in ((1, 0.2), (2, 0.4), (3, 0.6), (4, 0.7))]
    rows += [("fedavg", 0, r, acc, 1.0, 50, 0.0, 0) for r, acc in ((1, 0.2), (3, 0.6))]   # a gap: not summable
    table = rounds_to_target(curves_of(rows, columns), 0.6).set_index("algorithm")
    assert table.loc["astraea", "measured_seconds"] == pytest.approx(2.0 + 0.1 + 0.2 + 0.3)
    assert table.loc["astraea", "measured_bytes"] == 7 + 3 * 100
    assert math.isnan(table.loc["fedavg", "measured_seconds"])


@pytest.mark.parametrize("kwargs,message", [
    (dict(target=0), "'target' must be > 0 (got 0)."),
    (dict(target=1.5), "'target' must be <= 1 (got 1.5)."),
    (dict(target=0.5, resamples=0), "'resamples' must be >= 1 (got 0)."),
    (dict(target=0.5, confidence=1.0), "'confidence' must be < 1 (for example 0.95) (got 1.0)."),
    (dict(target=0.5, seed=-1), "'bootstrap_seed' must be >= 0 (got -1)."),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InputError) as info:
        rounds_summary(TINY, **kwargs)
    assert str(info.value) == message
