"""Fit the platform coefficients of the cost model to the trace rows of profiled runs.

The cost model of Astraea (Duan et al., ICCD 2019; "Self-Balancing Federated Learning With Global
Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) and of FedAvg (McMahan et al., AISTATS
2017) prices each phase with a formula that is linear in a few coefficients
(:mod:`costmodel.expressions`). Each coefficient is fitted on the trace rows of its own phase
(:mod:`reference_impl.engine.trace` says what every column holds per phase), never on round totals:

=================  ==============================================================================
group              the model's formula for one event: marginal terms + the fixed term (coefficient)
=================  ==============================================================================
local_training     ``flops/flops_per_s + samples*(train_s_per_sample + conv_input_values*train_s_per_conv_value)
                   + steps*(step_overhead_s + params*step_s_per_param)`` + ``train_s_per_visit``
augmentation       ``samples*sample_values*augment_s_per_value`` (one client) + ``augment_s_per_client``
augmentation_plan  ``K*augment_plan_s_per_class`` + ``augment_plan_s``
rescheduling       ``c*reschedule_s_per_step + kl_evaluations*K*kl_s_per_term``
                   + ``reschedule_s_per_round``
aggregation        ``models*aggregate_s_per_model + params*aggregate_s_per_output_param
                   + models*params*(aggregate_s_per_param + [4*params > aggregate_large_bytes]
                   *aggregate_s_per_large_param)`` + ``aggregate_s_per_round``
serialization      ``bytes*serialize_s_per_byte`` (every in-process transfer) + ``message_s``
=================  ==============================================================================

**Marginal and fixed costs are fitted together and both exported.** Every event pays a cost that
does not grow with what its formula counts (a Python call, a plan look-up, an allocation, the
Adam state of a visit). Fitted through the origin, it would leak into the marginal coefficient and
mispredict by a growing factor away from the sweep (for augmentation, the fixed 0.4 ms per client
would inflate ``augment_s_per_value`` about 7x). So each group is fitted as formula + ``t0``, and
``t0`` is the model's fixed coefficient of that phase (:data:`FIXED_COEFFICIENT`; schema 2 of the
calibration file). A fixed term NNLS puts at 0 is stored as 0, which the file allows. The values
are also kept in :attr:`CalibrationFit.fixed_s` (and the file's ``fit.fixed_s``) for the report.

Training time per visit. ``train_s_per_sample`` is a per-sample cost beyond the FLOPs (kernel
launches, im2col, activations' memory traffic): profiling one torch thread (``time.thread_time``,
Adam, batch 5..50) of the TPDS-layout CNN at widths 0.25..3, the cinic-shape variants and the Keras
cifar10_cnn showed that ``t_step + P*t_param + B*F/theta`` fitted on the scaled family misses the
Keras CNN by 8..43% (convolutions there run ~2x more FLOP/s), while adding ``B*t_samp`` predicts it
within 1..15% (mean 8%) and width 6.5 within 8.5% without fitting either; splitting F into
convolution and dense FLOPs did not help (it made the Keras CNN worse: 28..69%), so the model keeps
one F.

How (tensorwaves' split: these are the *parameters*; the what-if inputs are fixed by the runs)

* **Non-negative least squares** (``scipy.optimize.nnls``) on *relative* residuals: each row is
  divided by its fitted value (iteratively reweighted, starting from the measurement), since the
  bar is a percentage error and slow events would otherwise decide alone.
* **Robust to a shared machine**: rows are down-weighted with Huber weights (k = 1.5 robust
  standard deviations of the relative residual), so an event stalled by another process does not
  drag a coefficient.
* **Every configuration counts equally**: a row's weight is divided by the rows its configuration
  contributes, so the repeated base run does not outvote the one-off variations.
* **Standard errors** by bootstrap over runs (resampling whole runs with replacement, refitting),
  so correlated events of one run do not pass for independent evidence.
* **R^2** per group on seconds (unweighted, all rows, formula + ``t0``), and the **residual
  spread**: the robust standard deviation (1.4826 * median absolute deviation) of the relative
  residuals, as a fraction; the root-mean-square relative residual (stalls included) besides.
* A coefficient the data cannot tell from zero (NNLS at its bound) is stored as a tiny positive
  value (the calibration file requires > 0) and reported in :attr:`CalibrationFit.notes`.

Checking the formulas against the data (:attr:`CalibrationFit.diagnostics`): the median relative
residual of each group by the factors the formula claims not to depend on (batch size, model
size, dataset, algorithm and E for training; clients per round and K for rescheduling; model
size for aggregation; phase for transfers), and each group's fixed term as a share of its mean
event together with the residual spread without it (the model as it stands).

Link coefficients. ``latency_s``, ``link_efficiency`` and ``message_overhead_bytes`` describe real
links; they come from :mod:`calibration.communication`'s :class:`CommunicationFit` (TCP transfers
through shaped links) when one is given, else they are carried over from a base calibration (the
embedded default) with a note. ``latency_s`` is the link's own latency (>= 0; a negative fit, as on
emulated links, is stored as 0 with a note). The per-message software cost every transfer pays,
in process or over a link (encode + decode of a header, allocations), is the serialization group's
``t0``, exported as ``message_s`` (:attr:`CalibrationFit.inprocess_latency_s` is the same value,
kept for the report). :mod:`calibration.validate` prices the in-process engine with ``latency_s = 0``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.errors import InputError, check_int, must

if TYPE_CHECKING:
    import pandas as pd

    from calibration.communication import CommunicationFit
    from costmodel.calibration_file import Calibration

__all__ = [
    "FIT_GROUPS",
    "FIXED_COEFFICIENT",
    "FIXED_TERM",
    "GROUP_PHASES",
    "LINK_COEFFICIENTS",
    "CalibrationFit",
    "GroupFit",
    "LinkCoefficients",
    "check_identifiable",
    "design_matrix",
    "fit_calibration",
    "fit_group",
    "load_link_coefficients",
    "visit_time_cv",
]

#: The groups fitted, each on the trace rows of its own phase(s).
GROUP_PHASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "local_training": ("local_training",),
    "augmentation": ("augmentation",),
    "augmentation_plan": ("augmentation_plan",),
    "rescheduling": ("rescheduling",),
    "aggregation": ("aggregation",),
    "serialization": ("model_broadcast", "client_download", "client_upload", "mediator_upload",
                      "distribution_report"),
})
FIT_GROUPS: tuple[str, ...] = tuple(GROUP_PHASES)
#: Coefficients of real links, not fitted here.
LINK_COEFFICIENTS: tuple[str, ...] = ("latency_s", "link_efficiency", "message_overhead_bytes")
#: Name of the fixed per-event term every group is fitted with.
FIXED_TERM = "fixed_s"
#: The model's coefficient each group's fixed per-event term is exported as.
FIXED_COEFFICIENT: Mapping[str, str] = MappingProxyType({
    "local_training": "train_s_per_visit",
    "augmentation": "augment_s_per_client",
    "augmentation_plan": "augment_plan_s",
    "rescheduling": "reschedule_s_per_round",
    "aggregation": "aggregate_s_per_round",
    "serialization": "message_s",
})

#: Terms of each group's formula: (term name, unit). ``per_flop_s`` is 1/flops_per_s.
_TERMS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType({
    "local_training": (("per_flop_s", "s/FLOP"), ("train_s_per_sample", "s/sample"),
                       ("train_s_per_conv_value", "s/value"), ("step_overhead_s", "s"), ("step_s_per_param", "s/param")),
    "augmentation": (("augment_s_per_value", "s/value"), ("augment_s_per_data_value", "s/value")),
    "augmentation_plan": (("augment_plan_s_per_class", "s/class"),),
    "rescheduling": (("reschedule_s_per_step", "s/step"), ("kl_s_per_term", "s/term")),
    "aggregation": (("aggregate_s_per_model", "s/model"), ("aggregate_s_per_output_param", "s/param"),
                    ("aggregate_s_per_param", "s/param"), ("aggregate_s_per_large_param", "s/param")),
    "serialization": (("serialize_s_per_byte", "s/B"), ("serialize_s_per_uncached_byte", "s/B"),
                      ("upload_message_s", "s")),
})
_HUBER_K = 1.5
_IRLS_ITERATIONS = 6
_REQUIRED = ("run_id", "phase", "duration_s", "bytes", "flops", "samples", "steps", "params", "conv_input_values",
             "sample_values", "num_classes")


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=np.float64)


def design_matrix(group: str, rows: pd.DataFrame, *, boundary_bytes: float | None = None) -> np.ndarray:
    """The regressors of ``group``'s formula for its trace rows, one column per formula term
    (without the fixed term).

    ``rows`` are trace rows with ``params``, ``sample_values`` and ``num_classes`` joined (as
    :func:`calibration.sweep.load_runs` gives them); augmentation rows also need ``client_samples``
    (the client's original size, from its distribution report: :func:`group_rows` adds it).
    ``boundary_bytes`` is the second regime's boundary of the serialization group (message bytes
    beyond it, ``Max(0, bytes - boundary)``) and of the aggregation group (every parameter of every
    model once one model's ``params*4`` bytes exceed it); ``None``: no second regime, the column is 0.
    """
    if group == "local_training":
        steps, samples = _column(rows, "steps"), _column(rows, "samples")
        return np.column_stack([_column(rows, "flops"), samples, samples * _column(rows, "conv_input_values"),
                                steps, steps * _column(rows, "params")])
    if group == "augmentation":
        values = _column(rows, "sample_values")
        return np.column_stack([_column(rows, "samples") * values, _column(rows, "client_samples") * values])
    if group == "augmentation_plan":
        return _column(rows, "num_classes")[:, None]
    if group == "rescheduling":
        return np.column_stack([_column(rows, "samples"), _column(rows, "steps") * _column(rows, "num_classes")])
    if group == "aggregation":
        models, params = _column(rows, "samples"), _column(rows, "params")
        large = np.zeros_like(params) if boundary_bytes is None else (4.0 * params > boundary_bytes) * params * models
        return np.column_stack([models, params, models * params, large])
    if group == "serialization":
        size = _column(rows, "bytes")
        beyond = np.zeros_like(size) if boundary_bytes is None else np.maximum(0.0, size - boundary_bytes)
        upload = (rows["phase"] == "client_upload").to_numpy(dtype=np.float64)
        return np.column_stack([size, beyond, upload])
    raise must("group", f"be one of {', '.join(FIT_GROUPS)}", group)


def _with_fixed(x: np.ndarray) -> np.ndarray:
    return np.column_stack([x, np.ones(len(x))])


def _robust_scale(relative: np.ndarray) -> float:
    relative = relative[np.isfinite(relative)]
    if relative.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(relative - np.median(relative))))


def _irls(x: np.ndarray, y: np.ndarray, base_weight: np.ndarray, *, start: np.ndarray | None = None,
          iterations: int = _IRLS_ITERATIONS) -> np.ndarray:
    """Robust relative NNLS of ``y ~ x``: IRLS with weights 1/fitted and Huber down-weighting.

    ``start`` (fitted values to begin from, e.g. the full-sample fit's in a bootstrap) saves
    iterations; without it the first pass weights by the measurements themselves.
    """
    from scipy.optimize import nnls

    top = np.abs(x).max(axis=0)
    scale_cols = np.where(top > 0, top, 1.0)
    xs = x / scale_cols
    tiny = np.finfo(float).tiny
    fitted = np.maximum(y if start is None else np.where(start > 0, start, y), tiny)
    huber = np.ones_like(y)
    if start is not None:
        relative = y / fitted - 1.0
        scale = _robust_scale(relative)
        if scale > 0:
            huber = np.minimum(1.0, _HUBER_K * scale / np.maximum(np.abs(relative), 1e-300))
    coefficients = np.zeros(x.shape[1])
    for _ in range(iterations):
        row = np.sqrt(base_weight * huber) / fitted
        solution, _ = nnls(xs * row[:, None], y * row, maxiter=50 * x.shape[1] + 100)
        coefficients = solution / scale_cols
        prediction = x @ coefficients
        fitted = np.where(prediction > 0, prediction, np.maximum(y, tiny))
        relative = y / fitted - 1.0
        scale = _robust_scale(relative)
        if scale > 0:
            huber = np.minimum(1.0, _HUBER_K * scale / np.maximum(np.abs(relative), 1e-300))
    return coefficients


@dataclass(frozen=True)
class GroupFit:
    """One group's fitted formula (the model's terms, then the fixed per-event term).

    Attributes
    ----------
    group : str
        A name of :data:`FIT_GROUPS`.
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


def _config_weights(rows: pd.DataFrame) -> np.ndarray:
    key = rows["config_key"] if "config_key" in rows.columns else rows["run_id"]
    counts = key.map(key.value_counts()).to_numpy(dtype=np.float64)
    return 1.0 / counts


def group_rows(group: str, trace: pd.DataFrame) -> pd.DataFrame:
    """The trace rows ``group`` is fitted on (its phases, positive durations); augmentation rows get
    ``client_samples``, the client's original size from its ``distribution_report`` row (0 when
    the run has none, or the trace no entity column)."""
    rows = trace[trace["phase"].isin(GROUP_PHASES[group])]
    rows = rows[rows["duration_s"].to_numpy() > 0]
    if group == "augmentation":
        if "entity" not in trace.columns:   # no way to tell whose data was copied
            return rows.assign(client_samples=0.0)
        reports = trace[trace["phase"] == "distribution_report"].drop_duplicates(["run_id", "entity"])
        size = reports.set_index(["run_id", "entity"])["samples"]
        keys = list(zip(rows["run_id"], rows["entity"]))
        rows = rows.assign(client_samples=size.reindex(keys).fillna(0.0).to_numpy(dtype=np.float64))
    return rows


_group_rows = group_rows


def _cache_candidates(size: np.ndarray) -> np.ndarray:
    """Regime boundaries worth trying: midpoints between distinct message sizes with at least two
    sizes on either side (geometric midpoints, sizes span decades)."""
    distinct = np.unique(size[size > 0])
    if distinct.size < 4:
        return np.array([])
    middle = np.sqrt(distinct[:-1] * distinct[1:])
    return middle[1:-1]


#: The groups with a second regime above a size (a boundary profiled by :func:`_choose_boundary`).
_BOUNDARY_GROUPS = ("serialization", "aggregation")


def _regime_size(group: str, rows: pd.DataFrame) -> np.ndarray:
    if group == "serialization":
        return _column(rows, "bytes")
    return 4.0 * _column(rows, "params")     # one float32 model: the running average's size


def _profile_score(rows: pd.DataFrame, relative: np.ndarray) -> float:
    """Misfit of one candidate boundary: the root mean square, over configurations, of each
    configuration's median relative residual. Every configuration votes once (the few beyond a
    boundary are what decides it; a spread over all rows would not see them) and a stalled event
    does not move a median."""
    import pandas as pd

    key = rows["config_key"] if "config_key" in rows.columns else rows["run_id"]
    medians = pd.Series(relative, index=key.to_numpy()).groupby(level=0).median().to_numpy()
    medians = medians[np.isfinite(medians)]
    return float(np.sqrt(np.mean(medians ** 2))) if medians.size else float("inf")


def _choose_boundary(group: str, rows: pd.DataFrame, y: np.ndarray, weights: np.ndarray) -> float | None:
    """A group's second-regime boundary: the candidate whose fit leaves the smallest misfit
    (:func:`_profile_score`; a profile over the one non-linear parameter); ``None`` if the sizes
    are too few, or if no boundary beats a single regime."""
    x0 = _with_fixed(design_matrix(group, rows))
    with np.errstate(divide="ignore", invalid="ignore"):
        best, best_score = None, _profile_score(rows, y / (x0 @ _irls(x0, y, weights, iterations=3)) - 1.0)
    for candidate in _cache_candidates(_regime_size(group, rows)):
        x = _with_fixed(design_matrix(group, rows, boundary_bytes=float(candidate)))
        coefficients = _irls(x, y, weights, iterations=3)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = _profile_score(rows, y / (x @ coefficients) - 1.0)
        if coefficients[1] > 0 and score < best_score:
            best, best_score = float(candidate), score
    return best


#: A design is rank-deficient when a singular value of its column-normalised matrix falls below this
#: fraction of the largest: such a term is a linear combination of the others in every row.
_RANK_TOLERANCE = 1e-9


def _coefficient_names(group: str) -> list[str]:
    names = ["flops_per_s" if term == "per_flop_s" else term for term, _ in _TERMS[group]]
    return [*names, FIXED_COEFFICIENT[group]]


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
    names = _coefficient_names(group)
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
    if group not in GROUP_PHASES:
        raise must("group", f"be one of {', '.join(FIT_GROUPS)}", group)
    rows = _group_rows(group, trace)
    if rows.empty:
        raise InputError(f"'runs' must contain {group} events to fit {', '.join(t for t, _ in _TERMS[group])} "
                         f"(got none).")
    y = _column(rows, "duration_s")
    weights = _config_weights(rows)
    check_identifiable(group, rows, _with_fixed(design_matrix(group, rows)))
    boundary = _choose_boundary(group, rows, y, weights) if group in _BOUNDARY_GROUPS else None
    formula = design_matrix(group, rows, boundary_bytes=boundary)
    x = _with_fixed(formula)
    check_identifiable(group, rows, x)
    coefficients = _irls(x, y, weights)
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
        import pandas as pd

        codes = pd.factorize(rows["config_key"] if "config_key" in rows.columns else rows["run_id"])[0]
        draws = []
        for _ in range(bootstrap):
            chosen = rng.choice(unique, size=len(unique), replace=True)
            index = np.concatenate([index_of[run] for run in chosen])
            sample_codes = codes[index]
            weights = 1.0 / np.bincount(sample_codes)[sample_codes]
            draws.append(_irls(x[index], y[index], weights, start=prediction[index], iterations=3))
        errors = np.std(np.array(draws), axis=0, ddof=1)
    terms, units = zip(*_TERMS[group])
    return GroupFit(group=group, terms=(*terms, FIXED_TERM), units=(*units, "s"),
                    values=tuple(float(v) for v in coefficients), stderr=tuple(float(e) for e in errors),
                    r2=r2, residual_spread=_robust_scale(relative), residual_rms=rms,
                    spread_without_fixed=_robust_scale(without), fixed_share=float(coefficients[-1] / y.mean()),
                    rows=len(rows), runs=len(unique), boundary_bytes=boundary)


#: Factors each group's formula claims not to depend on (checked by median residual per level).
_CHECK_FACTORS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "local_training": ("batch_size", "params", "dataset", "algorithm", "local_epochs"),
    "augmentation": ("dataset", "plan"),
    "augmentation_plan": ("num_classes",),
    "rescheduling": ("clients_per_round", "num_classes"),
    "aggregation": ("params", "algorithm"),
    "serialization": ("phase",),
})


def _diagnostics(trace: pd.DataFrame, fits: Mapping[str, GroupFit]) -> pd.DataFrame:
    """Median relative residual (formula + fixed term) by factor level, per group."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for group, fit in fits.items():
        rows = _group_rows(group, trace)
        prediction = _with_fixed(design_matrix(group, rows, boundary_bytes=fit.boundary_bytes)) @ np.asarray(fit.values)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = _column(rows, "duration_s") / prediction - 1.0
        frame = rows.assign(_relative=relative)
        for factor in _CHECK_FACTORS[group]:
            if factor not in frame.columns:
                continue
            for level, part in frame.groupby(factor, sort=True):
                records.append({"group": group, "factor": factor, "level": str(level), "n": len(part),
                                "median_residual_percent": 100 * float(np.nanmedian(part["_relative"]))})
    return pd.DataFrame.from_records(records, columns=["group", "factor", "level", "n", "median_residual_percent"])


@dataclass(frozen=True, kw_only=True)
class CalibrationFit:
    """The fitted coefficients of one calibration, with errors, statistics and checks (immutable).

    Attributes
    ----------
    coefficients : Mapping[str, float]
        Every coefficient of :data:`costmodel.calibration_file.COEFFICIENT_UNITS`, > 0.
    stderr : Mapping[str, float | None]
        Bootstrap standard errors (link coefficients: the communication fit's, or the base's).
    fitted_from : Mapping[str, str]
        The phase(s) each coefficient was fitted on, or where it came from.
    groups : Mapping[str, GroupFit]
        Each group's fit.
    fixed_s : Mapping[str, float]
        Each group's fixed per-event seconds, also exported as the model's fixed coefficients
        (:data:`FIXED_COEFFICIENT`; serialization's is :attr:`inprocess_latency_s`).
    inprocess_latency_s : float
        Fixed cost of one in-process message (> 0).
    diagnostics : pandas.DataFrame
        ``group, factor, level, n, median_residual_percent``.
    runs : int
        Runs in the trace.
    threads : int
        Torch threads per device in those runs.
    torch_version : str
        As the runs recorded it.
    notes : tuple of str
        What was carried over, clamped or found negligible.
    """

    coefficients: Mapping[str, float]
    stderr: Mapping[str, float | None]
    fitted_from: Mapping[str, str]
    groups: Mapping[str, GroupFit]
    fixed_s: Mapping[str, float]
    inprocess_latency_s: float
    diagnostics: Any = field(repr=False, compare=False)
    runs: int
    threads: int = 1
    torch_version: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("coefficients", "stderr", "fitted_from", "groups", "fixed_s"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def r2(self) -> dict[str, float]:
        """R^2 on seconds per group."""
        return {group: fit.r2 for group, fit in self.groups.items() if math.isfinite(fit.r2)}

    @property
    def residual_spread(self) -> dict[str, float]:
        """Robust relative residual spread per group (fraction)."""
        return {group: fit.residual_spread for group, fit in self.groups.items()
                if math.isfinite(fit.residual_spread)}

    def report(self) -> str:
        """Coefficients with standard errors, per-group fit statistics, formula checks and notes."""
        from costmodel.calibration_file import COEFFICIENT_UNITS

        lines = [f"Calibration fit on {self.runs} runs ({self.threads} torch thread(s) per device, "
                 f"torch {self.torch_version or 'unknown'})", "  coefficients:"]
        width = max(len(name) for name in COEFFICIENT_UNITS)
        for name, unit in COEFFICIENT_UNITS.items():
            value = self.coefficients[name]
            error = self.stderr.get(name)
            shown = ""
            if error is not None and math.isfinite(error):
                shown = f" +/- {error:.3g}" + (f" ({100 * error / value:.1f}%)" if value > 0 else "")
            lines.append(f"    {name:<{width}}  {value:.4g} {unit}{shown}  [{self.fitted_from.get(name, '')}]")
        lines.append("  fit per group: formula + fixed per-event term t0 (R^2 on seconds; relative residuals)")
        lines.append(f"    {'group':<18} {'R^2':>7} {'spread':>7} {'rms':>8} {'t0':>10} {'t0/mean':>8} "
                     f"{'spread w/o t0':>13} {'rows':>6} {'runs':>5}")
        for group, fit in self.groups.items():
            lines.append(f"    {group:<18} {fit.r2:7.4f} {100 * fit.residual_spread:6.2f}% {100 * fit.residual_rms:7.2f}% "
                         f"{fit.fixed_s:10.3g} {100 * fit.fixed_share:7.1f}% {100 * fit.spread_without_fixed:12.2f}% "
                         f"{fit.rows:6d} {fit.runs:5d}")
        diagnostics = self.diagnostics
        if diagnostics is not None and len(diagnostics):
            lines.append("  formula checks: median relative residual by factor level")
            for (group, factor), part in diagnostics.groupby(["group", "factor"], sort=False):
                levels = ", ".join(f"{row.level}: {row.median_residual_percent:+.1f}%" for row in part.itertuples())
                lines.append(f"    {group} by {factor}: {levels}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_calibration(self, machine: Mapping[str, Any] | None = None, *, created: str | None = None,
                       source: str | None = None) -> Calibration:
        """The calibration file's object; ``machine`` defaults to :func:`calibration.machine.describe_machine`.

        ``fit`` holds ``r2`` and ``residual_spread`` per group, ``runs``, ``fixed_s`` per group and
        ``inprocess_latency_s`` (= ``message_s``), kept for the report.
        """
        from calibration.machine import describe_machine
        from costmodel.calibration_file import Calibration

        machine = dict(machine) if machine is not None else describe_machine(
            threads=self.threads, torch_version=self.torch_version or None)
        text = source or (f"fitted by 'astraea-cost calibrate' on {self.runs} profiled runs of the reference "
                          f"implementation (calibration.fit: robust relative NNLS per phase with a fixed "
                          f"per-event term kept apart in fit.fixed_s, bootstrap standard errors over runs)."
                          + (" " + " ".join(self.notes) if self.notes else ""))
        return Calibration(
            coefficients=dict(self.coefficients),
            stderr={name: (None if error is None or not math.isfinite(error) else float(error))
                    for name, error in self.stderr.items()},
            fitted_from=dict(self.fitted_from), machine=machine,
            fit={"r2": self.r2, "residual_spread": self.residual_spread, "runs": int(self.runs),
                 "fixed_s": {group: float(value) for group, value in self.fixed_s.items()},
                 "inprocess_latency_s": float(self.inprocess_latency_s)},
            validation=(), source=text, created=created or _dt.date.today().isoformat())


@dataclass(frozen=True, kw_only=True)
class LinkCoefficients:
    """Link coefficients with standard errors, as :class:`~calibration.communication.CommunicationFit`
    holds them (``fit_calibration`` takes either); read from a ``link-sweep`` result with
    :func:`load_link_coefficients`."""

    latency_s: float
    link_efficiency: float
    message_overhead_bytes: float
    latency_s_stderr: float = 0.0
    link_efficiency_stderr: float = 0.0
    message_overhead_bytes_stderr: float = 0.0


def load_link_coefficients(path: str | os.PathLike[str]) -> LinkCoefficients:
    """Read ``communication_fit.json`` as written by ``astraea-cost link-sweep --out DIR``.

    Raises
    ------
    InputError
        One line naming the file: unreadable, not JSON, or a coefficient missing or not a number.
    """
    import json

    origin = os.fspath(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"'communication' must be a readable file (got {origin!r}: {error.strerror}).") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"'communication' must be the JSON written by link-sweep (got {origin!r}).") from None
    block = data.get("coefficients") if isinstance(data, dict) else None
    values: dict[str, float] = {}
    for name in LINK_COEFFICIENTS:
        entry = block.get(name) if isinstance(block, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        error = entry.get("stderr", 0.0) if isinstance(entry, dict) else None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in (value, error)):
            raise InputError(f"'communication' file {origin!r} must give coefficients.{name} a numeric value and "
                             f"stderr (got {entry!r}).")
        values[name], values[f"{name}_stderr"] = float(value), float(error)
    return LinkCoefficients(**values)


def _typical(group: str, trace: pd.DataFrame, column: int) -> float:
    """Median duration over median regressor: the natural scale of a coefficient."""
    rows = _group_rows(group, trace)
    x = design_matrix(group, rows)[:, column]
    return float(np.median(rows["duration_s"]) / np.median(x[x > 0])) if (x > 0).any() else 1.0


def visit_time_cv(trace: pd.DataFrame) -> tuple[float, float, int]:
    """The jitter of a visit's training time: ``train_time_cv``.

    Local-training rows of one run with the same sample count (and so the same steps and FLOPs)
    differ only by chance; their coefficient of variation (sample standard deviation over mean),
    over every such group of at least 3 visits, summarizes the jitter. Returns the median over the
    groups, its standard error (1.2533 * sd of the group values / sqrt(groups), the median's
    asymptotic error) and the number of groups; ``(0, nan, 0)`` without any such group.
    """
    rows = _group_rows("local_training", trace)
    grouped = rows.groupby(["run_id", "samples"])["duration_s"]
    size = grouped.size()
    cv = (grouped.std(ddof=1) / grouped.mean())[size >= 3].dropna().to_numpy(dtype=np.float64)
    if cv.size == 0:
        return 0.0, float("nan"), 0
    error = 1.2533 * float(np.std(cv, ddof=1)) / math.sqrt(cv.size) if cv.size >= 2 else float("nan")
    return float(np.median(cv)), error, int(cv.size)


def fit_calibration(trace: pd.DataFrame, *, communication: CommunicationFit | LinkCoefficients | None = None,
                    base: Calibration | None = None, bootstrap: int = 200, seed: int = 0) -> CalibrationFit:
    """Fit every coefficient of the cost model from profiled trace rows.

    Parameters
    ----------
    trace : pandas.DataFrame
        Trace rows of the profiled runs with their configuration joined
        (:func:`calibration.sweep.load_runs`): needs ``run_id, phase, duration_s, bytes, flops,
        samples, steps, params, sample_values, num_classes`` (``config_key`` and the configuration
        columns, when present, weight configurations equally and feed the checks).
    communication : CommunicationFit or LinkCoefficients, optional
        Link coefficients measured over shaped links (:mod:`calibration.communication`, or
        :func:`load_link_coefficients` of a ``link-sweep`` result).
    base : Calibration, optional
        Where link coefficients come from without ``communication`` (default: the embedded default).
    bootstrap : int
        Bootstrap resamples of the runs for standard errors (0: none).
    seed : int
        Seed of the bootstrap.

    Raises
    ------
    InputError
        A required column is missing, or a group has no rows to fit.
    """
    import pandas as pd

    from costmodel.calibration_file import COEFFICIENT_UNITS, NONNEGATIVE_COEFFICIENTS, default_calibration

    if not isinstance(trace, pd.DataFrame):
        raise must("trace", "be a DataFrame of trace rows", type(trace).__name__)
    missing = [c for c in _REQUIRED if c not in trace.columns]
    if missing:
        raise InputError(f"'trace' must have the columns {', '.join(_REQUIRED)} (missing {', '.join(missing)}).")
    bootstrap = check_int("bootstrap", bootstrap, minimum=0)
    groups = {group: fit_group(group, trace, bootstrap=bootstrap, seed=seed + i)
              for i, group in enumerate(FIT_GROUPS)}
    notes: list[str] = []
    values: dict[str, float] = {}
    errors: dict[str, float | None] = {}
    origin: dict[str, str] = {}
    for group, fit in groups.items():
        phases = ", ".join(GROUP_PHASES[group])
        rows = _group_rows(group, trace)
        regressors = design_matrix(group, rows, boundary_bytes=fit.boundary_bytes)
        mean_event = float(rows["duration_s"].mean())
        for column, term in enumerate(fit.terms[:-1]):
            value, error = fit.values[column], fit.stderr[column]
            share = float(np.mean(regressors[:, column]) * value / mean_event)
            if value <= 0 or share < 1e-4:
                may_be_zero = term in NONNEGATIVE_COEFFICIENTS
                notes.append(f"{term} is indistinguishable from 0 in the {group} rows (it explains "
                             f"{100 * max(share, 0.0):.2g}% of the mean event)"
                             + ("; stored as a tiny positive value." if value <= 0 and not may_be_zero else "."))
                if value <= 0 and not may_be_zero:
                    value = max(1e-6 * _typical(group, trace, column), np.finfo(float).tiny)
                    error = float("nan")
            elif math.isfinite(error) and value < 2 * error:
                notes.append(f"{term} is not significant: {value:.3g} +/- {error:.2g} (bootstrap), "
                             f"{100 * share:.2g}% of the mean {group} event.")
            if term == "per_flop_s":
                values["flops_per_s"] = 1.0 / value
                errors["flops_per_s"] = error / value**2 if math.isfinite(error) else None
                origin["flops_per_s"] = phases
            else:
                values[term] = value
                errors[term] = error if math.isfinite(error) else None
                origin[term] = phases
        name = FIXED_COEFFICIENT[group]
        values[name] = max(float(fit.fixed_s), 0.0)  # a fitted 0 is legitimate for a fixed cost
        errors[name] = fit.stderr[-1] if math.isfinite(fit.stderr[-1]) else None
        origin[name] = f"{phases} (fixed per-event term)"
    jitter, jitter_error, jitter_groups = visit_time_cv(trace)
    values["train_time_cv"] = jitter
    errors["train_time_cv"] = jitter_error if math.isfinite(jitter_error) else None
    origin["train_time_cv"] = (f"local_training (median coefficient of variation of equal-size visits within a "
                               f"run, {jitter_groups} groups)")
    if jitter_groups == 0:
        notes.append("no run has 3 visits of equal size: train_time_cv is 0 (no timing jitter).")
    for group, name, extra in (("serialization", "cache_bytes", "serialize_s_per_uncached_byte"),
                               ("aggregation", "aggregate_large_bytes", "aggregate_s_per_large_param")):
        fit = groups[group]
        errors[name] = None
        if fit.boundary_bytes is not None:
            values[name] = fit.boundary_bytes
            origin[name] = f"{group} (the boundary between measured sizes that fits best)"
        else:
            largest = float(_regime_size(group, _group_rows(group, trace)).max())
            values[name] = largest if largest > 0 else 1.0
            origin[name] = f"{group} (no second regime found: the largest size measured)"
            notes.append(f"no second {group} regime was found; {name} is the largest size measured and "
                         f"{extra} applies only beyond it.")
    inprocess = float(values["message_s"])
    fixed = {group: fit.fixed_s for group, fit in groups.items() if group != "serialization"}

    if communication is not None:
        latency = float(communication.latency_s)
        if latency < 0:
            notes.append(f"the link latency was fitted as {latency:.3g} s (< 0, error "
                         f"{communication.latency_s_stderr:.2g} s); stored as 0.")
            latency = 0.0
        values["latency_s"] = latency
        errors["latency_s"] = float(communication.latency_s_stderr)
        values["link_efficiency"] = min(1.0, float(communication.link_efficiency))
        errors["link_efficiency"] = float(communication.link_efficiency_stderr)
        overhead = float(communication.message_overhead_bytes)
        if overhead <= 0:
            notes.append(f"message_overhead_bytes was fitted as {overhead:.3g} B (<= 0); stored as 1 B.")
            overhead = 1.0
        values["message_overhead_bytes"] = overhead
        errors["message_overhead_bytes"] = float(communication.message_overhead_bytes_stderr)
        origin.update(latency_s="link transfers (calibration.communication)",
                      link_efficiency="link transfers (calibration.communication)",
                      message_overhead_bytes="link transfers (calibration.communication)")
    else:
        carried = base if base is not None else default_calibration()
        for name in LINK_COEFFICIENTS:
            values[name] = float(carried.coefficients[name])
            errors[name] = carried.stderr.get(name)
            origin[name] = f"carried over ({carried.fitted_from.get(name) or 'base calibration'})"
        notes.append("latency_s, link_efficiency and message_overhead_bytes are carried over from the base "
                     "calibration: no link measurement was given (run 'astraea-cost link-sweep' as root).")

    threads = int(trace["threads"].iloc[0]) if "threads" in trace.columns else 1
    torch_version = str(trace["torch_version"].iloc[0]) if "torch_version" in trace.columns else ""
    return CalibrationFit(
        coefficients={name: values[name] for name in COEFFICIENT_UNITS},
        stderr={name: errors.get(name) for name in COEFFICIENT_UNITS},
        fitted_from={name: origin.get(name, "") for name in COEFFICIENT_UNITS}, groups=groups, fixed_s=fixed,
        inprocess_latency_s=float(inprocess), diagnostics=_diagnostics(trace, groups),
        runs=int(trace["run_id"].nunique()), threads=threads, torch_version=torch_version, notes=tuple(notes))
