"""Augmentation volume: hand-worked histograms, both target rules, the ICCD plan, the long tail symbolically,
the papers' stated histograms and the spread of the volume across clients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.model.augmentation_volume import (
    iccd_volume,
    long_tail_class_sizes,
    long_tail_expressions,
    long_tail_ratio_for_fraction,
    long_tail_volume,
    plan_volume,
    tpds_volume,
)
from costmodel.errors import InputError
from costmodel.model.label_mix import CINIC10_HISTOGRAM, EMNIST_HISTOGRAM, augmentation_inputs


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


def test_printed_target_by_hand() -> None:
    # Same histogram: mu = 82, sigma = 36, Z_5 = -2 < -1/3. Printed: 82 + 36*sqrt(2*3) = 170.18, above the mean.
    volume = tpds_volume([100, 100, 100, 100, 10], 3.0, target_rule="printed")
    target = 82 + 36 * math.sqrt(6)
    assert volume.plan == "tpds-printed" and volume.ratios[:4] == (1.0, 1.0, 1.0, 1.0)
    assert volume.ratios[4] == pytest.approx(target / 10, rel=1e-14)
    assert volume.augmented_fraction == pytest.approx((target - 10) / 410, rel=1e-14)
    assert plan_volume("tpds-printed", [100, 100, 100, 100, 10], threshold=3.0) == volume


def test_text_target_lies_between_the_class_and_the_threshold_the_printed_one_above_the_mean() -> None:
    sizes = np.array([500, 480, 450, 300, 200, 120, 60, 30], dtype=float)
    mu, sigma = sizes.mean(), sizes.std()
    z = (sizes - mu) / sigma
    text = tpds_volume(sizes, 3.0)
    augmented = np.array(text.ratios) > 1
    assert augmented.sum() >= 3 and np.array_equal(augmented, z < -1 / 3)
    targets = sizes[augmented] * np.array(text.ratios)[augmented]
    assert (targets > sizes[augmented]).all() and (targets < mu + sigma * (-1 / 3)).all()
    np.testing.assert_allclose(targets, mu - sigma * np.sqrt(np.abs(z[augmented]) / 3), rtol=1e-13)
    printed = tpds_volume(sizes, 3.0, target_rule="printed")
    printed_targets = sizes[augmented] * np.array(printed.ratios)[augmented]
    np.testing.assert_allclose(printed_targets, mu + sigma * np.sqrt(np.abs(z[augmented]) * 3), rtol=1e-13)
    assert (printed_targets > mu).all() and printed.augmented_fraction > 5 * text.augmented_fraction
    assert np.array_equal(np.array(printed.ratios) > 1, augmented)   # same classes, other targets


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


@pytest.mark.parametrize("rule,plan", [("text", "tpds"), ("printed", "tpds-printed")])
@pytest.mark.parametrize(("classes", "ratio", "threshold"), [(47, 0.05, 3.5), (10, 0.1, 3.0), (5, 0.01, 3.0)])
def test_long_tail_expression_agrees_with_the_numeric_plan(classes: int, ratio: float, threshold: float,
                                                           rule: str, plan: str) -> None:
    expressions = long_tail_expressions(rule)
    symbolic = expressions.evaluate(classes, ratio, threshold)
    numeric = long_tail_volume(classes, ratio, threshold, plan=plan)
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
def test_printed_rule_lifts_every_augmented_class_above_the_mean_and_downsamples_as_the_text(
        sizes: list, threshold: float) -> None:
    text, printed = tpds_volume(sizes, threshold), tpds_volume(sizes, threshold, target_rule="printed")
    c = np.array(sizes, dtype=float)
    lifted = np.array(printed.ratios) > 1
    assert np.array_equal(lifted, np.array(text.ratios) > 1)
    assert (c[lifted] * np.array(printed.ratios)[lifted] > c.mean()).all()
    assert printed.removed_fraction == text.removed_fraction
    assert printed.augmented_fraction >= text.augmented_fraction


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
    (lambda: tpds_volume([1, 2], 3, target_rule="plus"), r"^'target_rule' must be one of text, printed"),
    (lambda: long_tail_expressions("geometric"), r"^'target_rule' must be one of text, printed"),
    (lambda: long_tail_ratio_for_fraction(10, 5.0, 3.0), r"^'fraction' must be at most [0-9.]+, what tpds-printed"),
    (lambda: augmentation_inputs([1, 2], samples_per_client=0), r"^'samples_per_client' must be > 0 \(got 0\)\.$"),
    (lambda: augmentation_inputs([1, 2], samples_per_client=5, local_imbalance="shards"),
     r"^'local_imbalance' must be one of none, classes, dirichlet \(got 'shards'\)\.$"),
    (lambda: EMNIST_HISTOGRAM.inputs(alpha=1), r"^'changes' must name only "),
    (lambda: iccd_volume([1, 2], 1.5), r"^'alpha' must be <= 1 \(got 1\.5\)\.$"),
    (lambda: long_tail_class_sizes(1, 0.5), r"^'classes' must be >= 2 \(got 1\)\.$"),
    (lambda: long_tail_class_sizes(10, 0), r"^'imbalance_ratio' must be > 0 \(got 0\)\.$"),
    (lambda: long_tail_volume(10, 0.5, plan="smote"),
     r"^'plan' must be one of tpds, tpds-printed, iccd, none \(got 'smote'\)\.$"),
])
def test_bad_inputs_raise_one_line_errors(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("setup", [EMNIST_HISTOGRAM, CINIC10_HISTOGRAM], ids=lambda h: h.name)
def test_stated_histograms_give_the_papers_growth_with_the_printed_target_only(setup) -> None:
    printed = long_tail_volume(setup.classes, setup.imbalance_ratio, setup.threshold, plan="tpds-printed")
    assert printed.augmented_fraction == pytest.approx(setup.reported_growth, abs=5e-5)
    assert printed.removed_fraction == 0          # no class of a long tail reaches Z > tau_d: gross = net growth
    assert long_tail_volume(setup.classes, setup.imbalance_ratio, setup.threshold).augmented_fraction < 0.17
    assert setup.imbalance_ratio == pytest.approx(
        long_tail_ratio_for_fraction(setup.classes, setup.reported_growth, setup.threshold), rel=1e-3)
    assert setup.inputs().augmented_fraction == printed.augmented_fraction


def test_ratio_for_fraction_inverts_the_volume() -> None:
    rho = long_tail_ratio_for_fraction(20, 0.5, 3.0)
    assert long_tail_volume(20, rho, 3.0, plan="tpds-printed").augmented_fraction == pytest.approx(0.5, rel=1e-9)
    rho = long_tail_ratio_for_fraction(20, 0.05, 3.0, plan="tpds")
    assert long_tail_volume(20, rho, 3.0).augmented_fraction == pytest.approx(0.05, rel=1e-9)


def test_spread_by_hand_for_each_local_imbalance() -> None:
    # C = [10, 30], ICCD alpha = 1: the small class doubles (g = [1, 0], whole copies: no draw noise).
    # q = [1/4, 3/4]; V_q = 1/4 - 1/16 = 3/16.
    def variance(**partition) -> float:
        inputs = augmentation_inputs([10, 30], "iccd", alpha=1.0, samples_per_client=8, **partition)
        return inputs.augmented_fraction_sd ** 2

    assert variance(local_imbalance="none") == pytest.approx(3 / 16 / 8, rel=1e-12)
    assert variance(local_imbalance="classes", classes_per_client=3) == pytest.approx(3 / 16 / 3, rel=1e-12)
    b = 0.5 * 2
    assert variance(local_imbalance="dirichlet", dirichlet_alpha=0.5) == pytest.approx(
        3 / 16 * (1 / (b + 1) + b / ((b + 1) * 8)), rel=1e-12)


def test_spread_adds_the_draw_noise_of_fractional_ratios() -> None:
    # ICCD alpha = 0.5 on [10, 40]: mu = 25, R_0 = sqrt(2.5) = 1.5811, f = 0.5811, v_0 = f (1 - f); v_1 = 0.
    inputs = augmentation_inputs([10, 40], "iccd", alpha=0.5, samples_per_client=20, local_imbalance="classes",
                                 classes_per_client=2)
    g, f = math.sqrt(2.5) - 1, math.sqrt(2.5) - 1
    mix = (0.2 * g**2 - (0.2 * g) ** 2) / 2
    assert inputs.label_mix_sd ** 2 == pytest.approx(mix, rel=1e-12)
    assert inputs.augmented_fraction_sd ** 2 == pytest.approx(mix + 0.2 * f * (1 - f) / 20, rel=1e-12)


@pytest.mark.parametrize("partition", [dict(local_imbalance="none"),
                                       dict(local_imbalance="dirichlet", dirichlet_alpha=0.3),
                                       dict(local_imbalance="classes", classes_per_client=2)], ids=str)
def test_spread_matches_simulated_clients(partition: dict) -> None:
    # Clients drawn as the formula assumes (labels, then the plan's per-sample draw): the sample sd of
    # their net growth agrees with the formula within the sampling error of 4000 clients (about 2%).
    sizes = long_tail_class_sizes(12, 0.05, 3000)
    n, clients = 60, 4000
    inputs = augmentation_inputs(sizes, "tpds-printed", threshold=3.0, samples_per_client=n, **partition)
    ratios = np.array(inputs.volume.ratios)
    q = sizes / sizes.sum()
    rng = np.random.default_rng(7)
    if partition["local_imbalance"] == "none":
        mix = np.full((clients, 12), 1.0) * q
    elif partition["local_imbalance"] == "dirichlet":
        mix = rng.dirichlet(partition["dirichlet_alpha"] * 12 * q, size=clients)
    else:
        mix = None
    growth = np.empty(clients)
    for i in range(clients):
        if mix is None:   # two shards of n/2 samples, each all of one class drawn from q
            labels = np.repeat(rng.choice(12, size=2, p=q), n // 2)
        else:
            labels = rng.choice(12, size=n, p=mix[i])
        extra = ratios[labels] - 1
        made = np.floor(extra) + (rng.random(n) < extra - np.floor(extra))
        growth[i] = made.sum() / n
    assert growth.mean() == pytest.approx(inputs.augmented_fraction, rel=0.03)
    assert growth.std() == pytest.approx(inputs.augmented_fraction_sd, rel=0.05)
