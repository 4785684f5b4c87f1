"""One event group's fit: its statement's coefficients from its trace rows, with errors and checks.

Each group of the cost model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg is
fitted on the trace rows of its own phases (:mod:`calibration.fit.rows`), never on round totals, as
its statement's linear coefficients plus the fixed per-event term (:mod:`calibration.fit.regression`):

* a design that cannot tell the coefficients apart is refused (:func:`check_identifiable`);
* a second-regime boundary (``cache_bytes``, ``aggregate_large_bytes``) is profiled over the
  midpoints between the measured sizes (:func:`choose_boundary`);
* standard errors come from a bootstrap over runs (resampling whole runs), R^2 on seconds, and the
  residual spread as the robust standard deviation of the relative residuals;
* :func:`diagnostics`: the median relative residual by the factors the formula claims not to depend
  on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from calibration.fit.regression import config_weights, irls, robust_scale
from calibration.fit.rows import design_matrix, group_rows, regime_size, statement_of
from costmodel.errors import InputError
from costmodel.model.quantities import COEFFICIENTS

__all__ = ["FIXED_TERM", "GroupFit", "check_identifiable", "choose_boundary", "diagnostics", "fit_group",
           "term_name", "visit_time_cv"]

#: Name of the fixed per-event term every group is fitted with.
FIXED_TERM = "fixed_s"


def term_name(coefficient: str) -> tuple[str, str]:
    """The name and unit under which a group fit reports ``coefficient``'s linear parameter: the
    coefficient itself, or ``1/coefficient`` (seconds per FLOP) for one that enters inverted."""
    unit = COEFFICIENTS[coefficient].unit
    if unit.endswith("/s"):
        return f"1/{coefficient}", f"s/{unit[:-2]}"
    return coefficient, unit


def _terms(group: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    statement = statement_of(group)
    named = [term_name(name) if name in statement.inverse else (name, COEFFICIENTS[name].unit)
             for name in statement.linear_coefficients[:-1]]
    return (*(n for n, _ in named), FIXED_TERM), (*(u for _, u in named), "s")


@dataclass(frozen=True)
class GroupFit:
    """One group's fitted formula (the model's terms, then the fixed per-event term).

    Attributes
    ----------
    group : str
        A fit group (an event statement of :mod:`costmodel.model.events`).
    terms, units : tuple of str
        The formula's terms (``per_flop_s`` is ``1/flops_per_s``), then :data:`FIXED_TERM`; units.
    values, stderr : tuple of float
        Fitted values (>= 0, NNLS) and bootstrap standard errors (NaN with fewer than 2 runs).
    r2 : float
        Coefficient of determination on seconds over all rows (formula + fixed term).
    residual_spread, residual_rms : float
        Robust standard deviation and root-mean-square of the relative residuals (fractions).
    spread_without_fixed : float
        Robust spread of the relative residuals when the fixed term is dropped: the model as it stands.
    fixed_share : float
        The fixed term over the mean event duration.
    boundary_bytes : float or None
        Serialization and aggregation: the size (message bytes; one model's bytes) where the
        second regime starts, chosen by profiling the fit over the boundaries between the measured
        sizes; ``None`` for other groups, or when no boundary fits better than one regime.
    rows, runs : int
        Trace rows and runs fitted.
    """

    group: str
    terms: tuple[str, ...]
    units: tuple[str, ...]
    values: tuple[float, ...]
    stderr: tuple[float, ...]
    r2: float
    residual_spread: float
    residual_rms: float
    spread_without_fixed: float
    fixed_share: float
    rows: int
    runs: int
    boundary_bytes: float | None = None

    def value(self, term: str) -> float:
        """The fitted value of ``term``."""
        return self.values[self.terms.index(term)]

    def error(self, term: str) -> float:
        """The bootstrap standard error of ``term``."""
        return self.stderr[self.terms.index(term)]

    @property
    def fixed_s(self) -> float:
        return self.values[-1]


def _candidates(size: np.ndarray) -> np.ndarray:
    """Regime boundaries worth trying: midpoints between distinct message sizes with at least two
    sizes on either side (geometric midpoints, sizes span decades)."""
    distinct = np.unique(size[size > 0])
    if distinct.size < 4:
        return np.array([])
    middle = np.sqrt(distinct[:-1] * distinct[1:])
    return middle[1:-1]


def _profile_score(rows: pd.DataFrame, relative: np.ndarray) -> float:
    """Misfit of one candidate boundary: the root mean square, over configurations, of each
    configuration's median relative residual. Every configuration votes once (the few beyond a
    boundary are what decides it; a spread over all rows would not see them) and a stalled event
    does not move a median."""
    key = rows["config_key"] if "config_key" in rows.columns else rows["run_id"]
    medians = pd.Series(relative, index=key.to_numpy()).groupby(level=0).median().to_numpy()
    medians = medians[np.isfinite(medians)]
    return float(np.sqrt(np.mean(medians ** 2))) if medians.size else float("inf")


def choose_boundary(group: str, rows: pd.DataFrame, y: np.ndarray, weights: np.ndarray) -> float | None:
    """A group's second-regime boundary: the candidate whose fit leaves the smallest misfit
    (:func:`_profile_score`; a profile over the one non-linear parameter); ``None`` if the sizes
    are too few, or if no boundary beats a single regime."""
    x0 = design_matrix(group, rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        best, best_score = None, _profile_score(rows, y / (x0 @ irls(x0, y, weights, iterations=3)) - 1.0)
    for candidate in _candidates(regime_size(group, rows)):
        x = design_matrix(group, rows, boundary_bytes=float(candidate))
        regime = (x0 == 0).all(axis=0) & (x != 0).any(axis=0)   # the terms the boundary switches on
        coefficients = irls(x, y, weights, iterations=3)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = _profile_score(rows, y / (x @ coefficients) - 1.0)
        if regime.any() and (coefficients[regime] > 0).all() and score < best_score:
            best, best_score = float(candidate), score
    return best


#: A design is rank-deficient when a singular value of its column-normalised matrix falls below this
#: fraction of the largest: such a term is a linear combination of the others in every row.
_RANK_TOLERANCE = 1e-9


def check_identifiable(group: str, rows: pd.DataFrame, x: np.ndarray) -> None:
    """Refuse a design whose rows cannot tell ``group``'s coefficients apart.

    ``x`` is the group's design matrix with the fixed column last. Columns that are zero in every row
    are terms the runs do not exercise (no convolution, no second regime): they are left out here
    and reported as absent by the fit. The rest must have full column rank; otherwise NNLS would
    return numbers that the data do not determine (one 2-round run gave flops_per_s = 1.77e15 FLOP/s).

    Raises
    ------
    InputError
        Naming the group, the coefficients that cannot be told apart and what the runs lack.
    """
    names = list(statement_of(group).linear_coefficients)
    used = np.flatnonzero(np.abs(x).max(axis=0) > 0)
    if used.size == 0:
        return
    xs = x[:, used] / np.linalg.norm(x[:, used], axis=0)
    singular = np.linalg.svd(xs, compute_uv=False)
    rank = int((singular > _RANK_TOLERANCE * singular[0]).sum())
    if rank == used.size:
        return
    configurations = int(rows["config_key"].nunique()) if "config_key" in rows.columns else \
        int(rows["run_id"].nunique())
    _, _, vt = np.linalg.svd(xs)
    null = np.abs(vt[rank:]).max(axis=0)
    tangled = [names[used[i]] for i in np.flatnonzero(null > 1e-6)]
    why = f"{', '.join(tangled)} cannot be told apart: their regressors are proportional in every row"
    raise InputError(f"'runs' must vary what the {group} formula counts: {why} ({len(rows)} events from "
                     f"{configurations} configuration(s)); profile a sweep ('astraea-cost profile', or "
                     f"--quick) and calibrate on it.")


def fit_group(group: str, trace: pd.DataFrame, *, bootstrap: int = 200, seed: int = 0) -> GroupFit:
    """Fit ``group``'s formula plus a fixed per-event term on its phase rows of ``trace``.

    Standard errors by bootstrap over runs (``bootstrap`` resamples; 0 for none).

    Raises
    ------
    InputError
        The trace holds no row of the group's phases with a positive duration.
    """
    statement = statement_of(group)
    rows = group_rows(group, trace)
    if rows.empty:
        raise InputError(f"'runs' must contain {group} events to fit {', '.join(statement.linear_coefficients)} "
                         f"(got none).")
    y = rows["duration_s"].to_numpy(dtype=np.float64)
    weights = config_weights(rows)
    check_identifiable(group, rows, design_matrix(group, rows))
    boundary = choose_boundary(group, rows, y, weights) if statement.boundaries else None
    x = design_matrix(group, rows, boundary_bytes=boundary)
    formula = x[:, :-1]
    check_identifiable(group, rows, x)
    coefficients = irls(x, y, weights)
    prediction = x @ coefficients
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = y / prediction - 1.0
        without = y / (formula @ coefficients[:-1]) - 1.0
    relative = np.where(prediction > 0, relative, np.nan)
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - prediction) ** 2).sum()) / total if total > 0 else float("nan")
    finite = relative[np.isfinite(relative)]
    rms = float(np.sqrt(np.mean(finite ** 2))) if finite.size else float("nan")

    run_ids = rows["run_id"].to_numpy()
    unique = np.unique(run_ids)
    errors = np.full(len(coefficients), np.nan)
    if bootstrap > 0 and len(unique) >= 2:
        rng = np.random.default_rng(seed)
        index_of = {run: np.flatnonzero(run_ids == run) for run in unique}
        codes = pd.factorize(rows["config_key"] if "config_key" in rows.columns else rows["run_id"])[0]
        draws = []
        for _ in range(bootstrap):
            chosen = rng.choice(unique, size=len(unique), replace=True)
            index = np.concatenate([index_of[run] for run in chosen])
            sample_codes = codes[index]
            weights = 1.0 / np.bincount(sample_codes)[sample_codes]
            draws.append(irls(x[index], y[index], weights, start=prediction[index], iterations=3))
        errors = np.std(np.array(draws), axis=0, ddof=1)
    terms, units = _terms(group)
    return GroupFit(group=group, terms=terms, units=units,
                    values=tuple(float(v) for v in coefficients), stderr=tuple(float(e) for e in errors),
                    r2=r2, residual_spread=robust_scale(relative), residual_rms=rms,
                    spread_without_fixed=robust_scale(without), fixed_share=float(coefficients[-1] / y.mean()),
                    rows=len(rows), runs=len(unique), boundary_bytes=boundary)


#: Factors each group's formula claims not to depend on (checked by median residual per level).
_CHECK_FACTORS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "local_training": ("batch_size", "params", "dataset", "algorithm", "local_epochs"),
    "augmentation": ("dataset", "plan"),
    "augmentation_plan": ("num_classes",),
    "rescheduling": ("clients_per_round", "num_classes", "local_imbalance"),
    "aggregation": ("params", "algorithm"),
    "serialization": ("phase",),
})


def diagnostics(trace: pd.DataFrame, fits: Mapping[str, GroupFit]) -> pd.DataFrame:
    """Median relative residual (formula + fixed term) by factor level, per group."""
    records: list[dict[str, Any]] = []
    for group, fit in fits.items():
        rows = group_rows(group, trace)
        prediction = design_matrix(group, rows, boundary_bytes=fit.boundary_bytes) @ np.asarray(fit.values)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = rows["duration_s"].to_numpy(dtype=np.float64) / prediction - 1.0
        frame = rows.assign(_relative=relative)
        for factor in _CHECK_FACTORS[group]:
            if factor not in frame.columns:
                continue
            for level, part in frame.groupby(factor, sort=True):
                records.append({"group": group, "factor": factor, "level": str(level), "n": len(part),
                                "median_residual_percent": 100 * float(np.nanmedian(part["_relative"]))})
    return pd.DataFrame.from_records(records, columns=["group", "factor", "level", "n", "median_residual_percent"])


def visit_time_cv(trace: pd.DataFrame) -> tuple[float, float, int]:
    """The jitter of a visit's training time: ``train_time_cv``.

    Local-training rows of one run with the same sample count (and so the same steps and FLOPs)
    differ only by chance; their coefficient of variation (sample standard deviation over mean),
    over every such group of at least 3 visits, summarizes the jitter. Returns the median over the
    groups, its standard error (1.2533 * sd of the group values / sqrt(groups), the median's
    asymptotic error) and the number of groups; ``(0, nan, 0)`` without any such group.
    """
    rows = group_rows("local_training", trace)
    grouped = rows.groupby(["run_id", "samples"])["duration_s"]
    size = grouped.size()
    cv = (grouped.std(ddof=1) / grouped.mean())[size >= 3].dropna().to_numpy(dtype=np.float64)
    if cv.size == 0:
        return 0.0, float("nan"), 0
    error = 1.2533 * float(np.std(cv, ddof=1)) / math.sqrt(cv.size) if cv.size >= 2 else float("nan")
    return float(np.median(cv)), error, int(cv.size)
