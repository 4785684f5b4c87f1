"""Astraea's augmentation plans, their per-client draw and the batched affine augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from costmodel.errors import InputError
from reference_impl.augmentation import (
    AugmentationParams,
    AugmentationPlan,
    affine_theta,
    apply_plan_to_client,
    augment,
    iccd_plan,
    plan_client_samples,
    random_theta,
    tpds_plan,
    tpds_printed_plan,
    warp,
)
from reference_impl.astraea import make_plan
from reference_impl.config import RunConfig

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
    (lambda: AugmentationParams(shear_deg=90), "'shear_deg' must be < 90 (got 90)."),
    (lambda: AugmentationParams(zoom_range=(1.2, 1.1)), "'zoom_range' must have low <= high (got (1.2, 1.1))."),
    (lambda: AugmentationParams(shift_fraction=-0.1), "'shift_fraction' must be >= 0 (got -0.1)."),
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


# ---- batched affine augmentation ----------------------------------------------------------------

def one_hot_image(height: int, width: int, row: int, col: int, n: int = 1) -> torch.Tensor:
    x = torch.zeros(n, 1, height, width)
    x[:, 0, row, col] = 1.0
    return x


def zeros(n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.float64)


def theta_for(n: int = 1, *, height: int, width: int, dx: float = 0.0, dy: float = 0.0, rot: float = 0.0,
              shear: float = 0.0, zx: float = 1.0, zy: float = 1.0) -> torch.Tensor:
    full = lambda v: torch.full((n,), float(v), dtype=torch.float64)  # noqa: E731
    return affine_theta(shift_x_px=full(dx), shift_y_px=full(dy), rotation_rad=full(rot), shear_rad=full(shear),
                        zoom_x=full(zx), zoom_y=full(zy), height=height, width=width)


def test_identity_params_return_the_input() -> None:
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = augment(x, AugmentationParams.identity(), torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("dx", "dy"), [(3, 0), (0, -2), (-4, 5)])
def test_a_shift_of_k_pixels_moves_a_pixel_by_k(dx: int, dy: int) -> None:
    x = one_hot_image(16, 20, row=8, col=9)
    out = warp(x, theta_for(height=16, width=20, dx=dx, dy=dy))
    expected = one_hot_image(16, 20, row=8 + dy, col=9 + dx)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_rotation_and_zoom_move_pixels_about_the_centre() -> None:
    # 9x9: centre pixel (4, 4). Pixel (row 4, col 5) is at centred (x, y) = (1, 0).
    x = one_hot_image(9, 9, row=4, col=5)
    rotated = warp(x, theta_for(height=9, width=9, rot=math.pi / 2))  # (1, 0) -> (0, 1): row 5, col 4
    torch.testing.assert_close(rotated, one_hot_image(9, 9, row=5, col=4), atol=1e-5, rtol=0)
    zoomed = warp(x, theta_for(height=9, width=9, zx=2.0, zy=2.0))  # (1, 0) -> (2, 0): col 6 holds the full value
    assert zoomed[0, 0, 4, 6].item() == pytest.approx(1.0, abs=1e-5)
    assert int(zoomed[0, 0].argmax()) == 4 * 9 + 6


def test_theta_is_the_normalised_inverse_of_rotation_shear_zoom() -> None:
    rng = np.random.default_rng(0)
    height, width = 24, 40  # not square: the aspect correction matters
    for _ in range(20):
        dx, dy, rot, shear = rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(-1, 1), rng.uniform(-0.5, 0.5)
        zx, zy = rng.uniform(0.8, 1.2, 2)
        rotation = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
        shearing = np.array([[1.0, -math.sin(shear)], [0.0, math.cos(shear)]])
        forward = rotation @ shearing @ np.diag([zx, zy])
        scale = np.diag([2.0 / width, 2.0 / height])
        inverse = np.linalg.inv(forward)
        expected = np.hstack([scale @ inverse @ np.linalg.inv(scale), (-scale @ inverse @ [dx, dy])[:, None]])
        got = theta_for(height=height, width=width, dx=dx, dy=dy, rot=rot, shear=shear, zx=zx, zy=zy)[0]
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_and_dtype_are_preserved(dtype: torch.dtype) -> None:
    x = torch.rand(10, 3, 32, 32, dtype=dtype)
    out = augment(x, AugmentationParams(), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == dtype
    assert not torch.equal(out, x)


def test_augmentation_is_reproducible_and_independent_of_chunking() -> None:
    x = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    params = AugmentationParams()
    first = augment(x, params, torch.Generator().manual_seed(7))
    again = augment(x, params, torch.Generator().manual_seed(7), chunk_size=7)
    other = augment(x, params, torch.Generator().manual_seed(8))
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert not torch.allclose(first, other)


def test_random_shifts_stay_within_their_range() -> None:
    n, size = 400, 40
    x = torch.zeros(n, 1, size, size)
    x[:, 0, 18:22, 18:22] = 1.0  # a 4x4 block around the centre
    params = AugmentationParams(shift_fraction=0.1, rotation_deg=0, shear_deg=0, zoom_range=(1.0, 1.0))
    out = augment(x, params, torch.Generator().manual_seed(3))
    grid = torch.arange(size, dtype=torch.float32)
    mass = out.sum(dim=(1, 2, 3))
    cx = (out.sum(dim=(1, 2)) * grid).sum(dim=1) / mass - 19.5
    cy = (out.sum(dim=(1, 3)) * grid).sum(dim=1) / mass - 19.5
    assert torch.allclose(mass, torch.full((n,), 16.0), atol=1e-3)  # shifts only: nothing lost or made
    assert cx.abs().max() <= 0.1 * size + 1e-4 and cy.abs().max() <= 0.1 * size + 1e-4
    assert cx.abs().max() > 0.08 * size  # the range is used, not just its centre


def test_draws_cover_the_requested_ranges() -> None:
    theta = random_theta(5000, AugmentationParams(), height=28, width=28,
                         generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # With zero shear and zoom in 0.9..1.1 and rotation within 15 degrees, |det A^-1| = 1 / (zx zy cos s).
    det = theta[:, 0, 0] * theta[:, 1, 1] - theta[:, 0, 1] * theta[:, 1, 0]
    assert det.min() >= 1 / (1.1 * 1.1) - 1e-9 and det.max() <= 1 / (0.9 * 0.9 * math.cos(math.radians(15))) + 1e-9


def test_augment_rejects_non_image_input() -> None:
    with pytest.raises(InputError, match=r"^'x' must be a 4-D tensor \(N, C, H, W\) \(got \(3, 28, 28\)\)\.$"):
        augment(torch.zeros(3, 28, 28), AugmentationParams())
    with pytest.raises(InputError, match="'x' must hold floating-point values"):
        augment(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), AugmentationParams())


# ---- applying the plan to a client --------------------------------------------------------------

def test_apply_plan_keeps_originals_first_and_appends_augmented_copies() -> None:
    labels = np.array([0, 2, 2, 3, 1, 0, 2, 2])
    x = torch.rand(labels.size, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.from_numpy(labels)
    draw = plan_client_samples(labels, CONTROLLED, np.random.default_rng(3))
    x_new, y_new, stats = apply_plan_to_client(x, y, draw, AugmentationParams(), torch.Generator().manual_seed(0))
    kept = torch.tensor(draw.kept_indices)
    sources = torch.tensor(draw.augment_sources)
    assert x_new.shape == (stats.samples_final, 1, 28, 28)
    assert stats.samples_final == labels.size - stats.samples_removed + stats.samples_augmented
    torch.testing.assert_close(x_new[:kept.numel()], x[kept], atol=0, rtol=0)
    assert torch.equal(y_new, torch.cat([y[kept], y[sources]]))
    assert stats.samples_augmented == 2 * 2 + int(np.sum(draw.augment_sources == 4))  # class 0: exactly 2 each
    assert stats.augmented_values == stats.samples_augmented * 28 * 28
    assert stats.samples_removed == labels.size - draw.kept_indices.size


def test_apply_plan_rejects_a_draw_for_another_client() -> None:
    draw = plan_client_samples(np.array([0, 1]), CONTROLLED, np.random.default_rng(0))
    with pytest.raises(InputError, match=r"^'client_plan' must be drawn for 3 samples \(got 2\)\.$"):
        apply_plan_to_client(torch.zeros(3, 1, 4, 4), torch.zeros(3, dtype=torch.long), draw, AugmentationParams())
