"""The clients' batched affine augmentation, and applying a drawn plan to a client's data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from costmodel.errors import InputError
from reference_impl.data.augmentation import (
    AugmentationParams,
    affine_theta,
    apply_plan_to_client,
    augment,
    random_theta,
    warp,
)
from reference_impl.protocols.augmentation_plans import AugmentationPlan, plan_client_samples

#: A plan with controlled ratios (as in the plan tests): class 0 gets exactly two copies per sample.
CONTROLLED = AugmentationPlan(ratios=[3.0, 2.5, 0.4, 1.0], class_sizes=[1, 1, 1, 1], kind="tpds")


@pytest.mark.parametrize(("call", "message"), [
    (lambda: AugmentationParams(shear_deg=90), "'shear_deg' must be < 90 (got 90)."),
    (lambda: AugmentationParams(zoom_range=(1.2, 1.1)), "'zoom_range' must have low <= high (got (1.2, 1.1))."),
    (lambda: AugmentationParams(shift_fraction=-0.1), "'shift_fraction' must be >= 0 (got -0.1)."),
])
def test_bad_ranges_name_argument_rule_and_value(call, message: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value) == message


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
