"""Augmentation volume: hand-worked histograms, the target rule, the ICCD plan, the long tail symbolically."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.augmentation_volume import (
    iccd_volume,
    long_tail_class_sizes,
    long_tail_expressions,
    long_tail_volume,
    tpds_volume,
)
from costmodel.errors import InputError


def test_one_minority_class_by_hand() -> None:
    # C = [100, 100, 100, 100, 10]: mu = 82, population sigma = 36, Z = [0.5]*4 + [-2].
    # tau_d = 3, tau_a = -1/3: class 5 is augmented to 82 - 36*sqrt(2/3) = 52.606.
    volume = tpds_volume([100, 100, 100, 100, 10], 3.0)
    target = 82 - 36 * math.sqrt(2 / 3)
    assert volume.ratios[:4] == (1.0, 1.0, 1.0, 1.0)
    assert volume.ratios[4] == pytest.approx(target / 10, rel=1e-14)
    assert volume.augmented_samples == pytest.approx(target - 10, rel=1e-14)
    assert volume.augmented_fraction == pytest.approx((target - 10) / 410, rel=1e-14)
    assert round(volume.augmented_fraction, 5) == 0.10392
    assert volume.removed_fraction == 0 and volume.total_samples == 410


def test_one_majority_class_by_hand() -> None:
    # C = [1000] + [10]*19: mu = 59.5, sigma^2 = (940.5^2 + 19*49.5^2)/20 = 46554.75.
    # Z_big = 940.5/sigma = 4.359 > 3: kept down to mu + sigma*sqrt(3 Z); Z_small = -0.229 > -1/3: untouched.
    volume = tpds_volume([1000] + [10] * 19, 3.0)
    sigma = math.sqrt(46554.75)
    target = 59.5 + sigma * math.sqrt(3 * 940.5 / sigma)
    assert target == pytest.approx(839.745, abs=1e-3)
    assert volume.ratios[0] == pytest.approx(target / 1000, rel=1e-14)
    assert volume.removed_samples == pytest.approx(1000 - target, rel=1e-13)
    assert volume.removed_fraction == pytest.approx((1000 - target) / 1190, rel=1e-13)
    assert volume.augmented_fraction == 0 and set(volume.ratios[1:]) == {1.0}
    assert volume.growth_fraction == pytest.approx(-volume.removed_fraction)


def test_geometric_target_lies_between_the_class_and_the_threshold_the_printed_one_does_not() -> None:
    sizes = np.array([500, 480, 450, 300, 200, 120, 60, 30], dtype=float)
    mu, sigma = sizes.mean(), sizes.std()
    z = (sizes - mu) / sigma
    geometric = tpds_volume(sizes, 3.0)
    augmented = np.array(geometric.ratios) > 1
    assert augmented.sum() >= 3
    targets = sizes[augmented] * np.array(geometric.ratios)[augmented]
    assert (targets > sizes[augmented]).all() and (targets < mu + sigma * (-1 / 3)).all()
    # The printed sqrt(|Z/tau_a|) = sqrt(3|Z|) puts every class with |Z| < 3 below its own size.
    printed_targets = mu - sigma * np.sqrt(np.abs(z[augmented]) * 3)
    assert (printed_targets < sizes[augmented]).all()
    printed = tpds_volume(sizes, 3.0, target_rule="printed")
    assert printed.augmented_fraction == 0 and set(printed.ratios) == {1.0}


def test_balanced_and_empty_classes_are_left_alone() -> None:
    assert tpds_volume([50, 50, 50], 3.0).augmented_fraction == 0
    volume = tpds_volume([0, 100, 100, 100, 100, 100, 100], 3.0)
    assert volume.ratios[0] == 1.0 and volume.augmented_samples == 0


def test_iccd_plan_by_hand() -> None:
    # mean 60: class 30 grows by (60/30)^0.5 = sqrt(2), class 50 by (60/50)^0.5; 100 is above the mean.
    volume = iccd_volume([30, 50, 100], 0.5)
    added = 30 * (math.sqrt(2) - 1) + 50 * (math.sqrt(1.2) - 1)
    assert volume.augmented_samples == pytest.approx(added, rel=1e-14)
    assert volume.augmented_fraction == pytest.approx(added / 180, rel=1e-14)
    assert volume.ratios[2] == 1.0 and volume.removed_fraction == 0
    assert iccd_volume([30, 50, 100], 0).augmented_fraction == 0
    full = iccd_volume([30, 50, 100], 1)  # alpha = 1 lifts every small class to the mean
    assert full.augmented_samples == pytest.approx(30 + 10)


def test_long_tail_histogram_shape() -> None:
    sizes = long_tail_class_sizes(5, 0.0625, 1600)
    np.testing.assert_allclose(sizes, [1600, 800, 400, 200, 100])


@pytest.mark.parametrize(("classes", "ratio", "threshold"), [(47, 0.05, 3.5), (10, 0.1, 3.0), (5, 0.01, 3.0)])
def test_long_tail_expression_agrees_with_the_numeric_plan(classes: int, ratio: float, threshold: float) -> None:
    expressions = long_tail_expressions()
    symbolic = expressions.evaluate(classes, ratio, threshold)
    numeric = long_tail_volume(classes, ratio, threshold)
    assert symbolic[0] == pytest.approx(numeric.augmented_fraction, rel=1e-12)
    assert symbolic[1] == pytest.approx(numeric.removed_fraction, abs=1e-15)
    assert numeric.augmented_fraction > 0


def test_long_tail_expression_is_a_sum_of_piecewise_terms_and_scale_free() -> None:
    expressions = long_tail_expressions()
    numerator, denominator = expressions.augmented_fraction.as_numer_denom()
    assert isinstance(numerator, sp.Sum) and isinstance(numerator.function, sp.Piecewise)
    assert expressions.max_class_size in expressions.augmented_fraction.free_symbols
    a = tpds_volume(long_tail_class_sizes(12, 0.2, 1.0), 3.0).augmented_fraction
    b = tpds_volume(long_tail_class_sizes(12, 0.2, 5000.0), 3.0).augmented_fraction
    assert a == pytest.approx(b, rel=1e-12)
    assert long_tail_volume(12, 0.2, plan="iccd", alpha=0.5).plan == "iccd"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=60).filter(lambda c: sum(c) > 0),
       st.floats(0.5, 5.0))
def test_plans_move_every_class_toward_the_mean_and_never_past_it(sizes: list, threshold: float) -> None:
    volume = tpds_volume(sizes, threshold)
    c = np.array(sizes, dtype=float)
    mu = c.mean()
    new = c * np.array(volume.ratios)
    assert (np.abs(new - mu) <= np.abs(c - mu) + 1e-9).all()
    assert volume.augmented_fraction >= 0 and 0 <= volume.removed_fraction < 1


@pytest.mark.parametrize(("call", "message"), [
    (lambda: tpds_volume([10], 3.0), r"^'class_sizes' must hold at least 2 classes \(got 1\)\.$"),
    (lambda: tpds_volume([10, -1], 3.0), r"^'class_sizes' must be finite and >= 0 \(got -1\.0\)\.$"),
    (lambda: tpds_volume([0, 0], 3.0), r"^'class_sizes' must hold at least one sample \(got 0\)\.$"),
    (lambda: tpds_volume([1, 2], 0), r"^'threshold' must be > 0 \(got 0\)\.$"),
    (lambda: tpds_volume([1, 2], 3, target_rule="plus"), r"^'target_rule' must be one of geometric, printed"),
    (lambda: iccd_volume([1, 2], 1.5), r"^'alpha' must be <= 1 \(got 1\.5\)\.$"),
    (lambda: long_tail_class_sizes(1, 0.5), r"^'classes' must be >= 2 \(got 1\)\.$"),
    (lambda: long_tail_class_sizes(10, 0), r"^'imbalance_ratio' must be > 0 \(got 0\)\.$"),
    (lambda: long_tail_volume(10, 0.5, plan="smote"), r"^'plan' must be one of tpds, iccd \(got 'smote'\)\.$"),
])
def test_bad_inputs_raise_one_line_errors(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]
