"""Astraea's augmentation plan and the clients' batched augmentation (setup steps 2 and 3).

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

Batched augmentation (torch)
----------------------------
The papers name random shift, rotation, shear and zoom (the parameter names of Keras'
``ImageDataGenerator``) but give no ranges. Defaults: +-10 % shift, +-15 deg rotation, +-15 deg shear,
zoom 0.9..1.1, all parameters of :class:`AugmentationParams`. Each sample gets its own draw; all
samples are warped at once by ``affine_grid`` + ``grid_sample`` (bilinear, zeros padding,
``align_corners=False``) in chunks, never image by image. The parameters describe what happens to the
*content* (a shift of +k pixels moves the content k pixels right); Keras parametrises the inverse map
instead, which differs only in the zoom draw (z versus 1/z) and not in cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from costmodel.errors import InputError, check_int, check_number, must

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "PLAN_KINDS",
    "AugmentationParams",
    "AugmentationPlan",
    "AugmentationStats",
    "ClientAugmentationPlan",
    "affine_theta",
    "apply_plan_to_client",
    "augment",
    "iccd_plan",
    "plan_client_samples",
    "random_theta",
    "tpds_plan",
    "tpds_printed_plan",
    "warp",
]

#: Samples warped per ``grid_sample`` call: bounds the sampling grid to chunk * H * W * 2 numbers
#: (1024 measured 2-2.5x faster than 4096 on 28x28 and 32x32 images: the grid stays in cache).
DEFAULT_CHUNK_SIZE = 1024

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


@dataclass(frozen=True, kw_only=True)
class AugmentationParams:
    """Ranges of the random affine augmentation (each sample draws its own values uniformly).

    Attributes
    ----------
    shift_fraction : float
        Shift range as a fraction of the width (x) and of the height (y), 0..1; default 0.1.
    rotation_deg : float
        Rotation range +-rotation_deg degrees, 0..180; default 15.
    shear_deg : float
        Shear range +-shear_deg degrees, 0 <= shear < 90; default 15.
    zoom_range : tuple[float, float]
        Content scale (low, high), 0 < low <= high, drawn independently for x and y; default (0.9, 1.1).
    """

    shift_fraction: float = 0.1
    rotation_deg: float = 15.0
    shear_deg: float = 15.0
    zoom_range: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift_fraction",
                           check_number("shift_fraction", self.shift_fraction, minimum=0.0, maximum=1.0))
        object.__setattr__(self, "rotation_deg",
                           check_number("rotation_deg", self.rotation_deg, minimum=0.0, maximum=180.0))
        shear = check_number("shear_deg", self.shear_deg, minimum=0.0)
        if not shear < 90.0:
            raise must("shear_deg", "be < 90", self.shear_deg)
        object.__setattr__(self, "shear_deg", shear)
        try:
            low, high = self.zoom_range
        except (TypeError, ValueError):
            raise must("zoom_range", "be a pair (low, high)", self.zoom_range) from None
        low = check_number("zoom_range[0]", low, exclusive_minimum=0.0)
        high = check_number("zoom_range[1]", high, exclusive_minimum=0.0)
        if low > high:
            raise must("zoom_range", "have low <= high", self.zoom_range)
        object.__setattr__(self, "zoom_range", (low, high))

    @classmethod
    def identity(cls) -> AugmentationParams:
        """All ranges zero and zoom (1, 1): every draw is the identity."""
        return cls(shift_fraction=0.0, rotation_deg=0.0, shear_deg=0.0, zoom_range=(1.0, 1.0))


def affine_theta(*, shift_x_px: torch.Tensor, shift_y_px: torch.Tensor, rotation_rad: torch.Tensor,
                 shear_rad: torch.Tensor, zoom_x: torch.Tensor, zoom_y: torch.Tensor,
                 height: int, width: int) -> torch.Tensor:
    """Compose one 2x3 ``affine_grid`` matrix per sample from content-space parameters.

    In pixel coordinates centred on the image (x right, y down) the content moves by
    p_out = A p_in + t with A = Rot(rotation) @ Shear(shear) @ Zoom(zoom_x, zoom_y),
    Rot = [[cos r, -sin r], [sin r, cos r]], Shear = [[1, -sin s], [0, cos s]] (Keras' form),
    Zoom = diag(zoom_x, zoom_y), t = (shift_x_px, shift_y_px). ``grid_sample`` needs the inverse map
    in normalised coordinates (``align_corners=False``: n = S p, S = diag(2/W, 2/H)), so
    theta = [S A^-1 S^-1 | -S A^-1 t]. All inputs are 1-D tensors of one length N; returns (N, 2, 3).
    """
    cos_r, sin_r = torch.cos(rotation_rad), torch.sin(rotation_rad)
    sin_s, cos_s = torch.sin(shear_rad), torch.cos(shear_rad)
    # A = Rot @ Shear @ Zoom, written out.
    a = cos_r * zoom_x
    b = (-cos_r * sin_s - sin_r * cos_s) * zoom_y
    c = sin_r * zoom_x
    d = (-sin_r * sin_s + cos_r * cos_s) * zoom_y
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    sx, sy = 2.0 / width, 2.0 / height
    theta = torch.empty((rotation_rad.shape[0], 2, 3), dtype=rotation_rad.dtype, device=rotation_rad.device)
    theta[:, 0, 0] = ia
    theta[:, 0, 1] = ib * (sx / sy)
    theta[:, 1, 0] = ic * (sy / sx)
    theta[:, 1, 1] = id_
    theta[:, 0, 2] = -sx * (ia * shift_x_px + ib * shift_y_px)
    theta[:, 1, 2] = -sy * (ic * shift_x_px + id_ * shift_y_px)
    return theta


def random_theta(n: int, params: AugmentationParams, *, height: int, width: int,
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Draw N independent augmentations and return their ``affine_grid`` matrices, (N, 2, 3).

    Uniform draws: shift_x ~ U(-f, f) * W and shift_y ~ U(-f, f) * H pixels, rotation ~ U(-r, r),
    shear ~ U(-s, s), zoom_x and zoom_y ~ U(low, high). One (N, 6) block of uniforms is drawn from
    ``generator`` in float64, so the result does not depend on how the samples are later chunked.
    """
    n = check_int("n", n, minimum=0)
    u = torch.rand((n, 6), generator=generator, dtype=torch.float64)
    sym = 2.0 * u - 1.0
    low, high = params.zoom_range
    theta = affine_theta(
        shift_x_px=sym[:, 0] * (params.shift_fraction * width),
        shift_y_px=sym[:, 1] * (params.shift_fraction * height),
        rotation_rad=sym[:, 2] * math.radians(params.rotation_deg),
        shear_rad=sym[:, 3] * math.radians(params.shear_deg),
        zoom_x=low + (high - low) * u[:, 4],
        zoom_y=low + (high - low) * u[:, 5],
        height=height, width=width,
    )
    return theta.to(dtype)


def _check_images(x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise must("x", "be a torch.Tensor", type(x).__name__)
    if x.ndim != 4:
        raise must("x", "be a 4-D tensor (N, C, H, W)", tuple(x.shape))
    if not x.is_floating_point():
        raise must("x", "hold floating-point values", str(x.dtype))
    return x


def warp(x: torch.Tensor, theta: torch.Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Apply one affine matrix per sample: bilinear ``grid_sample``, zeros outside, chunked.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, H, W), floating point
    theta : torch.Tensor, shape (N, 2, 3)
        Output-to-input maps in normalised coordinates (see :func:`affine_theta`).
    chunk_size : int
        Samples per ``grid_sample`` call (memory bound), >= 1.
    """
    x = _check_images(x)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    if tuple(theta.shape) != (x.shape[0], 2, 3):
        raise must("theta", f"have shape ({x.shape[0]}, 2, 3)", tuple(theta.shape))
    out = torch.empty_like(x)
    theta = theta.to(dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for start in range(0, x.shape[0], chunk_size):
            block = x[start:start + chunk_size]
            grid = F.affine_grid(theta[start:start + chunk_size], list(block.shape), align_corners=False)
            out[start:start + chunk_size] = F.grid_sample(block, grid, mode="bilinear", padding_mode="zeros",
                                                          align_corners=False)
    return out


def augment(x: torch.Tensor, params: AugmentationParams, generator: torch.Generator | None = None,
            *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Randomly shift, rotate, shear and zoom every sample of ``x``; shape and dtype preserved.

    The draws come from ``generator`` (a seeded ``torch.Generator`` reproduces them) and are made for
    all N samples before warping, so ``chunk_size`` changes memory use, never the result.
    """
    x = _check_images(x)
    if not isinstance(params, AugmentationParams):
        raise must("params", "be an AugmentationParams", type(params).__name__)
    theta = random_theta(x.shape[0], params, height=x.shape[2], width=x.shape[3],
                         generator=generator, dtype=x.dtype)
    return warp(x, theta, chunk_size=chunk_size)


@dataclass(frozen=True, kw_only=True)
class AugmentationStats:
    """What applying the plan did to one client.

    Attributes
    ----------
    samples_original, samples_removed, samples_augmented, samples_final : int
        Counts before, dropped by downsampling, created by augmentation, after.
    augmented_values : int
        Values written by augmentation, samples_augmented * C * H * W (the papers' O(N mu^2) term).
    """

    samples_original: int
    samples_removed: int
    samples_augmented: int
    samples_final: int
    augmented_values: int


def apply_plan_to_client(x: torch.Tensor, y: torch.Tensor, client_plan: ClientAugmentationPlan,
                         params: AugmentationParams, generator: torch.Generator | None = None,
                         *, chunk_size: int = DEFAULT_CHUNK_SIZE
                         ) -> tuple[torch.Tensor, torch.Tensor, AugmentationStats]:
    """Return the client's data after downsampling and augmentation, and what it took.

    The kept originals come first (in their original order), then the augmented samples in the order
    of ``client_plan.augment_sources``, with their source's label. The augmented samples stay in the
    client's data: every later local epoch trains on ``samples_final`` samples.
    """
    x = _check_images(x)
    if not isinstance(client_plan, ClientAugmentationPlan):
        raise must("client_plan", "be a ClientAugmentationPlan", type(client_plan).__name__)
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise must("y", f"be a 1-D tensor of {x.shape[0]} labels", tuple(getattr(y, "shape", ())))
    if client_plan.num_original != x.shape[0]:
        raise must("client_plan", f"be drawn for {x.shape[0]} samples", client_plan.num_original)
    kept = torch.tensor(client_plan.kept_indices, device=x.device)
    sources = torch.tensor(client_plan.augment_sources, device=x.device)
    new_x = augment(x[sources], params, generator, chunk_size=chunk_size)
    x_out = torch.cat([x[kept], new_x])
    y_out = torch.cat([y[kept], y[sources]])
    per_sample = int(x.shape[1] * x.shape[2] * x.shape[3])
    stats = AugmentationStats(samples_original=int(x.shape[0]), samples_removed=client_plan.samples_removed,
                              samples_augmented=client_plan.samples_augmented,
                              samples_final=int(x_out.shape[0]),
                              augmented_values=client_plan.samples_augmented * per_sample)
    return x_out, y_out, stats
