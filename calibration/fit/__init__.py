"""Fit the platform coefficients of the cost model to the trace rows of profiled runs.

The cost model of Astraea (Duan et al., ICCD 2019; "Self-Balancing Federated Learning With Global
Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) and of FedAvg (McMahan et al., AISTATS
2017) prices each event group with one statement that is linear in a few coefficients
(:mod:`costmodel.model.events`); the fit derives its design matrix from those statements
(:mod:`calibration.fit.rows`). Each coefficient is fitted on the trace rows of its own phase
(:mod:`reference_impl.trace` says what every column holds per phase), never on round totals:

=================  ==============================================================================
group              the model's formula for one event: marginal terms + the fixed term (coefficient)
=================  ==============================================================================
local_training     ``(flops + samples*conv_padding_flops)/flops_per_s
                   + samples*(conv_input_values*train_s_per_conv_value
                   + elementwise_values*train_s_per_elementwise_value) + steps*(step_overhead_s
                   + autograd_nodes*train_s_per_autograd_node + conv_calls*train_s_per_conv_call
                   + params*step_s_per_param)`` + ``train_s_per_visit``
augmentation       ``samples*sample_values*augment_s_per_value`` (one client) + ``augment_s_per_client``
augmentation_plan  ``K*augment_plan_s_per_class`` + ``augment_plan_s``
rescheduling       ``c*reschedule_s_per_step + kl_evaluations*kl_s_per_evaluation
                   + class_updates*reschedule_s_per_class_update`` + ``reschedule_s_per_round``
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
``t0`` is the model's fixed coefficient of that phase (the statement's ``fixed``; schema 2 of the
calibration file). A fixed term NNLS puts at 0 is stored as 0, which the file allows. The values
are also kept in :attr:`CalibrationFit.fixed_s` (and the file's ``fit.fixed_s``) for the report.

Training time per visit, across architecture families. One rate per FLOP (``flops_per_s``) does not
price a visit: on one torch thread at these sizes, much of it is per call and per value, not per FLOP.
Timing five families (dense-only, the TPDS CNN layout, residual with BatchNorm, depthwise-separable, a
small vision transformer; :mod:`calibration.family_study`) showed a dense-only model's step costs about
0.4 ms where the CNN's costs 1.6 ms (its six spatial convolution calls, about 170 us each), and
BatchNorm, activations, GELU and additions take 23-35% of the residual, depthwise and transformer
visits without any FLOP. So the statement prices the values element-wise operations write
(``V_e*t_val`` per sample), the autograd nodes (``N*t_node`` per step: each operator's forward and
backward call and each parameter tensor's update) and the spatial or grouped convolution calls
(``C_k*t_convcall`` per step) beside the FLOPs, the convolution inputs and the parameters. Splitting F
by operator class did not generalise (depthwise and attention FLOPs exist in one family each, so a
fit that leaves that family out cannot know their rate); a per-sample constant (the former
``train_s_per_sample``) added nothing once ``V_e`` was there.

How (tensorwaves' split: these are the *parameters*; the what-if inputs are fixed by the runs)

* **Non-negative least squares** (``scipy.optimize.nnls``) on *relative* residuals: each row is
  divided by its fitted value (iteratively reweighted, starting from the measurement), since the
  bar is a percentage error and slow events would otherwise decide alone.
* **Robust to a shared machine**: rows are down-weighted with Huber weights (k = 1.5 robust
  standard deviations of the relative residual), so an event stalled by another process does not
  drag a coefficient.
* **Per-configuration per-event medians**: a configuration's repetitions (interleaved rounds of the
  sweep, :mod:`calibration.protocol`) hold the same events; each event's duration is its median over
  them (:func:`calibration.protocol.median_events`), and the fit sees one run per configuration.
* **Every configuration counts equally**: a row's weight is divided by the rows its configuration
  contributes, so a configuration with more events does not outvote the others.
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

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from calibration.fit.groups import FIXED_TERM, GroupFit, check_identifiable, diagnostics, fit_group, visit_time_cv
from calibration.fit.result import LINK_COEFFICIENTS, CalibrationFit, LinkCoefficients, load_link_coefficients
from calibration.protocol import median_events
from calibration.fit.rows import DERIVED_COLUMNS, FIT_GROUPS, design_matrix, group_rows, regime_size, statement_of
from costmodel.contracts.calibration_file import (
    COEFFICIENT_UNITS,
    NONNEGATIVE_COEFFICIENTS,
    Calibration,
    default_calibration,
)
from costmodel.errors import InputError, check_int, must
from costmodel.model.events import EVENT_STATEMENTS
from costmodel.model.quantities import sym

if TYPE_CHECKING:
    from calibration.communication import CommunicationFit

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
    "group_rows",
    "load_link_coefficients",
    "visit_time_cv",
]

#: The phases each group is fitted on (from the statements).
GROUP_PHASES: Mapping[str, tuple[str, ...]] = MappingProxyType({g: s.phases for g, s in EVENT_STATEMENTS.items()})
#: The model's coefficient each group's fixed per-event term is exported as (from the statements).
FIXED_COEFFICIENT: Mapping[str, str] = MappingProxyType({g: s.fixed for g, s in EVENT_STATEMENTS.items()})
#: Trace columns the fit needs: those the statements read, and the event's identity and duration.
_REQUIRED: tuple[str, ...] = ("run_id", "phase", "duration_s", *dict.fromkeys(
    column for statement in EVENT_STATEMENTS.values() for column in statement.columns.values()
    if column not in DERIVED_COLUMNS))


def _typical(group: str, trace: pd.DataFrame, column: int) -> float:
    """Median duration over median regressor: the natural scale of a coefficient."""
    rows = group_rows(group, trace)
    x = design_matrix(group, rows)[:, column]
    return float(np.median(rows["duration_s"]) / np.median(x[x > 0])) if (x > 0).any() else 1.0


def _regime_terms(group: str) -> list[str]:
    """The linear coefficients a group's boundary switches on (their regressor holds the boundary)."""
    statement = statement_of(group)
    regressors = statement.regressors()
    bounds = {sym(name) for name in statement.boundaries}
    return [name for name in statement.linear_coefficients if regressors[name].free_symbols & bounds]


def fit_calibration(trace: pd.DataFrame, *, communication: CommunicationFit | LinkCoefficients | None = None,
                    base: Calibration | None = None, bootstrap: int = 200, seed: int = 0,
                    medians: bool = True) -> CalibrationFit:
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
    medians : bool
        Fit each configuration's per-event medians over its repetitions
        (:func:`calibration.protocol.median_events`: one run per configuration; the bootstrap then
        resamples configurations) instead of every run's rows. ``train_time_cv``, the jitter of
        visits within a run, is measured on the runs as they are either way.

    Raises
    ------
    InputError
        A required column is missing, or a group has no rows to fit.
    """
    if not isinstance(trace, pd.DataFrame):
        raise must("trace", "be a DataFrame of trace rows", type(trace).__name__)
    missing = [c for c in _REQUIRED if c not in trace.columns]
    if missing:
        raise InputError(f"'trace' must have the columns {', '.join(_REQUIRED)} (missing {', '.join(missing)}).")
    bootstrap = check_int("bootstrap", bootstrap, minimum=0)
    measured = trace
    trace = median_events(trace) if medians else trace
    groups = {group: fit_group(group, trace, bootstrap=bootstrap, seed=seed + i)
              for i, group in enumerate(FIT_GROUPS)}
    notes: list[str] = []
    values: dict[str, float] = {}
    errors: dict[str, float | None] = {}
    origin: dict[str, str] = {}
    for group, fit in groups.items():
        statement = statement_of(group)
        phases = ", ".join(statement.phases)
        rows = group_rows(group, trace)
        regressors = design_matrix(group, rows, boundary_bytes=fit.boundary_bytes)
        mean_event = float(rows["duration_s"].mean())
        for column, name in enumerate(statement.linear_coefficients[:-1]):
            value, error = fit.values[column], fit.stderr[column]
            share = float(np.mean(regressors[:, column]) * value / mean_event)
            term = fit.terms[column]
            if value <= 0 or share < 1e-4:
                may_be_zero = name in NONNEGATIVE_COEFFICIENTS
                notes.append(f"{term} is indistinguishable from 0 in the {group} rows (it explains "
                             f"{100 * max(share, 0.0):.2g}% of the mean event)"
                             + ("; stored as a tiny positive value." if value <= 0 and not may_be_zero else "."))
                if value <= 0 and not may_be_zero:
                    value = max(1e-6 * _typical(group, trace, column), np.finfo(float).tiny)
                    # a placeholder is indistinguishable from 0: its error is at least its value
                    error = max(error, value) if math.isfinite(error) else value
            elif math.isfinite(error) and value < 2 * error:
                notes.append(f"{term} is not significant: {value:.3g} +/- {error:.2g} (bootstrap), "
                             f"{100 * share:.2g}% of the mean {group} event.")
            if name in statement.inverse:        # fitted as its inverse (seconds per FLOP)
                values[name] = 1.0 / value
                errors[name] = error / value**2 if math.isfinite(error) else None
            else:
                values[name] = value
                errors[name] = error if math.isfinite(error) else None
            origin[name] = phases
        values[statement.fixed] = max(float(fit.fixed_s), 0.0)  # a fitted 0 is legitimate for a fixed cost
        errors[statement.fixed] = fit.stderr[-1] if math.isfinite(fit.stderr[-1]) else None
        origin[statement.fixed] = f"{phases} (fixed per-event term)"
        for boundary in statement.boundaries:
            errors[boundary] = None
            if fit.boundary_bytes is not None:
                values[boundary] = fit.boundary_bytes
                origin[boundary] = f"{group} (the boundary between measured sizes that fits best)"
            else:
                largest = float(regime_size(group, rows).max())
                values[boundary] = largest if largest > 0 else 1.0
                origin[boundary] = f"{group} (no second regime found: the largest size measured)"
                notes.append(f"no second {group} regime was found; {boundary} is the largest size measured and "
                             f"{', '.join(_regime_terms(group))} applies only beyond it.")
    jitter, jitter_error, jitter_groups = visit_time_cv(measured)
    values["train_time_cv"] = jitter
    errors["train_time_cv"] = jitter_error if math.isfinite(jitter_error) else None
    origin["train_time_cv"] = (f"local_training (median coefficient of variation of equal-size visits within a "
                               f"run, {jitter_groups} groups)")
    if jitter_groups == 0:
        notes.append("no run has 3 visits of equal size: train_time_cv is 0 (no timing jitter).")
    inprocess = float(values[EVENT_STATEMENTS["serialization"].fixed])
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
        inprocess_latency_s=float(inprocess),
        runs=int(measured["run_id"].nunique()), threads=threads, torch_version=torch_version, notes=tuple(notes),
        diagnostics=diagnostics(trace, groups))
