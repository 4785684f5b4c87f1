"""Astraea's augmentation plans and their per-client draw."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.protocols.astraea import make_plan
from reference_impl.protocols.augmentation_plans import (
    AugmentationPlan,
    iccd_plan,
    plan_client_samples,
    tpds_plan,
    tpds_printed_plan,
)

# Ten classes of 10 and one of 120: mu = 20, sigma = sqrt((10 * 10^2 + 100^2) / 11) = sqrt(1000),
# Z_small = -10 / sqrt(1000) = -1/sqrt(10) = -0.3162, Z_big = 100 / sqrt(1000) = sqrt(10) = 3.1623.
SIZES = [10] * 10 + [120]


def test_tpds_hand_worked_tau_3_downsamples_the_big_class_only() -> None:
    plan = tpds_plan(SIZES, tau_d=3.0)
    # tau_a = -1/3 < Z_small: small classes stay. Z_big > 3: target = 20 + sqrt(1000 * sqrt(10) * 3).
    target = 20 + math.sqrt(3000 * math.sqrt(10))
    assert target == pytest.approx(117.40, abs=0.01)
    np.testing.assert_allclose(plan.ratios, [1.0] * 10 + [target / 120], rtol=1e-12)
    assert plan.downsampled_classes.tolist() == [10]
    assert plan.augmented_classes.size == 0
    assert plan.parameters["mean"] == 20.0
    assert plan.parameters["std"] == pytest.approx(math.sqrt(1000))  # population std (ddof = 0)


def test_tpds_hand_worked_tau_4_augments_the_small_classes_only() -> None:
    plan = tpds_plan(SIZES, tau_d=4.0)
    # tau_a = -1/4 > Z_small: augment to 20 - sqrt(1000 * (1/sqrt(10)) * (1/4)) = 11.109. Z_big < 4: unchanged.
    target = 20 - math.sqrt(250 / math.sqrt(10))
    assert target == pytest.approx(11.109, abs=0.001)
    np.testing.assert_allclose(plan.ratios, [target / 10] * 10 + [1.0], rtol=1e-12)
    assert plan.augmented_classes.tolist() == list(range(10))
    assert plan.parameters["tau_a"] == -0.25


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=60),
       st.sampled_from([1.0, 2.0, 3.0, 3.5, 5.0]))
def test_tpds_targets_lie_between_the_class_size_and_the_threshold(sizes: list[int], tau_d: float) -> None:
    if not any(sizes):
        return
    plan = tpds_plan(sizes, tau_d=tau_d)
    c = np.asarray(sizes, dtype=float)
    mu, sigma = c.mean(), c.std()
    up, down = plan.augmented_classes, plan.downsampled_classes
    targets = plan.targets
    # Minority: C_y < target <= mu + sigma * tau_a < mu (the minus form, the product under the root).
    assert np.all(targets[up] > c[up])
    assert np.all(targets[up] <= mu - sigma / tau_d + 1e-9)
    assert np.all(targets[up] < mu)
    assert np.all(plan.ratios[up] > 1.0)
    # Majority: mu + sigma * tau_d <= target < C_y.
    assert np.all(targets[down] < c[down])
    assert np.all(targets[down] >= mu + sigma * tau_d - 1e-9)
    assert np.all(plan.ratios[down] < 1.0)
    # Everything else is untouched, and so are empty classes.
    untouched = np.setdiff1d(np.arange(c.size), np.concatenate([up, down]))
    assert np.all(plan.ratios[untouched] == 1.0)
    assert np.all(plan.ratios[c == 0] == 1.0)


def test_tpds_printed_hand_worked_tau_4_lifts_the_small_classes_above_the_mean() -> None:
    plan = tpds_printed_plan(SIZES, tau_d=4.0)
    # Z_small = -1/sqrt(10) < tau_a = -1/4: target 20 + sqrt(1000) * sqrt(4/sqrt(10)) = 55.566 (text: 11.109).
    target = 20 + math.sqrt(1000 * 4 / math.sqrt(10))
    assert target == pytest.approx(55.566, abs=0.001)
    np.testing.assert_allclose(plan.ratios, [target / 10] * 10 + [1.0], rtol=1e-12)
    assert plan.kind == "tpds-printed" and plan.parameters["tau_a"] == -0.25
    # At tau_d = 3 nothing is augmented and the big class is downsampled exactly as the text plan does.
    np.testing.assert_array_equal(tpds_printed_plan(SIZES, tau_d=3.0).ratios, tpds_plan(SIZES, tau_d=3.0).ratios)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=60),
       st.sampled_from([1.0, 2.0, 3.0, 3.5, 5.0]))
def test_tpds_printed_targets_lie_above_the_mean_and_downsampling_is_the_text_plan_s(sizes: list[int],
                                                                                      tau_d: float) -> None:
    if not any(sizes):
        return
    printed, text = tpds_printed_plan(sizes, tau_d=tau_d), tpds_plan(sizes, tau_d=tau_d)
    c = np.asarray(sizes, dtype=float)
    mu, sigma = c.mean(), c.std()
    # At Z_y = tau_a exactly the text target is C_y itself (nothing added) while the printed one lifts
    # the class: the two readings part there, so the boundary (to rounding) is left out.
    assume(sigma == 0 or not np.any(np.isclose((c - mu) / sigma, -1.0 / tau_d, rtol=0, atol=1e-9)))
    up = printed.augmented_classes
    assert np.array_equal(up, text.augmented_classes)
    z = (c[up] - mu) / sigma if sigma > 0 else np.zeros(0)
    np.testing.assert_allclose(printed.targets[up], mu + sigma * np.sqrt(-z * tau_d), rtol=1e-12)
    assert np.all(printed.targets[up] > mu)
    np.testing.assert_array_equal(printed.ratios[printed.downsampled_classes], text.ratios[text.downsampled_classes])
    assert np.all(printed.ratios[c == 0] == 1.0)


@pytest.mark.parametrize("plan,expected", [("tpds", "tpds"), ("tpds-printed", "tpds-printed"), ("iccd", "iccd")])
def test_make_plan_builds_the_configured_plan(plan: str, expected: str) -> None:
    made = make_plan(RunConfig(plan=plan, tau_d=4.0, alpha=0.5), np.asarray(SIZES))
    assert made.kind == expected
    reference = {"tpds": tpds_plan(SIZES, tau_d=4.0), "tpds-printed": tpds_printed_plan(SIZES, tau_d=4.0),
                 "iccd": iccd_plan(SIZES, alpha=0.5)}[plan]
    np.testing.assert_array_equal(made.ratios, reference.ratios)


def test_make_plan_refuses_plan_none() -> None:
    with pytest.raises(InputError, match=r"^'plan' must name an augmentation plan .* \(got 'none'\)\.$"):
        make_plan(RunConfig(plan="none"), np.asarray(SIZES))


def test_tpds_equal_sizes_change_nothing() -> None:
    assert np.all(tpds_plan([7, 7, 7, 7]).ratios == 1.0)


def test_tpds_empty_class_cannot_be_augmented_but_counts_in_the_statistics() -> None:
    plan = tpds_plan([0, 100, 100, 100, 100], tau_d=3.0)
    assert plan.ratios[0] == 1.0
    assert plan.parameters["mean"] == 80.0


def test_iccd_plan_raises_classes_below_the_mean() -> None:
    plan = iccd_plan([10, 40, 70], alpha=0.5)  # mean 40
    np.testing.assert_allclose(plan.ratios, [2.0, 1.0, 1.0])
    np.testing.assert_allclose(iccd_plan([10, 40, 70], alpha=1.0).targets, [40, 40, 70])
    assert np.all(iccd_plan([10, 40, 70], alpha=0.0).ratios == 1.0)
    assert iccd_plan([0, 40, 80]).ratios[0] == 1.0
    assert plan.kind == "iccd"


def test_expected_counts_and_storage_growth() -> None:
    plan = AugmentationPlan(ratios=[3.0, 1.5, 0.5, 1.0], class_sizes=[10, 20, 40, 30], kind="tpds")
    client = np.array([2, 4, 10, 1])
    assert plan.expected_new_samples(client) == pytest.approx(2 * 2 + 4 * 0.5)
    assert plan.expected_kept(client) == pytest.approx(2 + 4 + 5 + 1)
    np.testing.assert_allclose(plan.expected_new_samples(np.stack([client, 2 * client])), [6.0, 12.0])
    # Globally: 10*3 + 20*1.5 + 40*0.5 + 30 = 110 samples from 100.
    assert plan.storage_growth([10, 20, 40, 30]) == pytest.approx(0.10)


def test_plan_is_frozen_and_read_only() -> None:
    plan = tpds_plan(SIZES)
    with pytest.raises(ValueError):
        plan.ratios[0] = 5.0
    with pytest.raises(TypeError):
        plan.parameters["tau_d"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        plan.kind = "iccd"  # type: ignore[misc]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: tpds_plan(SIZES, tau_d=0), "'tau_d' must be > 0 (got 0)."),
    (lambda: tpds_plan([5, -1]), "'class_sizes' must be >= 0 (got -1.0)."),
    (lambda: tpds_plan([5, 2.5]), "'class_sizes' must hold whole numbers (got 2.5)."),
    (lambda: tpds_plan([0, 0]), "'class_sizes' must have at least one class with samples (got [0, 0])."),
    (lambda: tpds_plan([]), "'class_sizes' must be a non-empty 1-D sequence of counts (got shape (0,))."),
    (lambda: iccd_plan(SIZES, alpha=1.5), "'alpha' must be <= 1 (got 1.5)."),
])
def test_bad_input_names_argument_rule_and_value(call, message: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value) == message


# ---- per-client draw ----------------------------------------------------------------------------

CONTROLLED = AugmentationPlan(ratios=[3.0, 2.5, 0.4, 1.0], class_sizes=[1, 1, 1, 1], kind="tpds")


def test_integer_ratio_gives_exact_copies_and_unit_ratio_nothing() -> None:
    labels = np.array([0, 3, 0, 3, 0])
    draw = plan_client_samples(labels, CONTROLLED, np.random.default_rng(0))
    assert draw.kept_indices.tolist() == [0, 1, 2, 3, 4]
    assert draw.augment_sources.tolist() == [0, 0, 2, 2, 4, 4]  # R - 1 = 2 copies of each class-0 sample
    assert draw.samples_removed == 0 and draw.samples_augmented == 6 and draw.num_final == 11


def test_fractional_and_downsampling_draws_match_their_expectation() -> None:
    n = 20_000
    labels = np.repeat([1, 2], n)
    draw = plan_client_samples(labels, CONTROLLED, np.random.default_rng(1))
    copies = np.bincount(draw.augment_sources, minlength=2 * n)[:n]
    assert set(np.unique(copies)) == {1, 2}  # floor(1.5) plus one more with probability 0.5
    # Binomial(n, p) is within 5 standard deviations of n p.
    assert abs((copies == 2).sum() - n * 0.5) < 5 * math.sqrt(n * 0.25)
    kept_class_2 = np.count_nonzero(draw.kept_indices >= n)
    assert abs(kept_class_2 - n * 0.4) < 5 * math.sqrt(n * 0.24)
    assert np.all(draw.augment_sources < n)  # downsampled classes are never augmented
    assert np.all(np.diff(draw.kept_indices) > 0)


def test_client_draw_is_reproducible_with_a_seed() -> None:
    labels = np.random.default_rng(5).integers(0, 4, 500)
    first = plan_client_samples(labels, CONTROLLED, np.random.default_rng(42))
    again = plan_client_samples(labels, CONTROLLED, np.random.default_rng(42))
    other = plan_client_samples(labels, CONTROLLED, np.random.default_rng(43))
    np.testing.assert_array_equal(first.kept_indices, again.kept_indices)
    np.testing.assert_array_equal(first.augment_sources, again.augment_sources)
    assert not np.array_equal(first.kept_indices, other.kept_indices)


def test_client_draw_rejects_labels_outside_the_plan() -> None:
    with pytest.raises(InputError, match=r"^'labels' must lie in 0\.\.3 \(got 4\)\.$"):
        plan_client_samples(np.array([0, 4]), CONTROLLED, np.random.default_rng(0))
