"""Validate a calibration on held-out measured runs: per phase, for the round, and for the bytes.

The cost model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg is trusted only
as far as its predictions match runs it was not fitted on (docs/design.md, the bar). This module runs a
held-out design *outside* the calibration sweep's ranges (:func:`heldout_design`), predicts each run
with the cost model from its configuration alone, and compares:

==================  ======================================================  ======================
row                 measured (mean per event of one run) vs predicted       target (MAPE)
==================  ======================================================  ======================
local_training      one client visit: ``t_train(n*(1 + a - r))``            10%
augmentation        one client: ``t_aug0 + V*n*(t_data + t_aug*a)``         10%
augmentation_plan   once: ``t_plan0 + t_plan*K``                            10%
rescheduling        one round: ``t_resch0 + t_greedy*c                      10%
                    + t_KL*K*c*(c + 1)/2``
aggregation         one round: ``t_agg0 + t_agg_m*m + t_agg_P*P             10%
                    + (t_agg + t_agg_L*[4P > S_agg])*P*m`` (m = M or c)
model_broadcast,    one message: ``t_msg + t_ser*W``                        10%
client_download,    ``+ t_mem*Max(0, W - S_c)`` (+ ``t_up0`` for a client
                    upload); in process there is no link, so the network
                    term and ``latency_s`` are 0
client_upload,
mediator_upload,
distribution_report
round               the virtual-clock round time vs ``round_seconds``       10%
round_bytes         bytes per round vs ``round_bytes``                      0.5%
setup_bytes         Astraea's setup bytes vs ``setup_bytes``                0.5%
==================  ======================================================  ======================

Inputs from the configuration, not from the run. Each run's scenario is
:func:`~calibration.scenario.scenario_from_workload` of :func:`reference_impl.workload.plan_workload`
of its configuration: the client sizes, the augmentation plan's draw and the rounds' mediators are
planned (deterministically, with the run's own seeds, no training), and the model's architecture
figures (parameters, FLOPs per sample, sample shape) are the run's. Nothing the run measured, and
no count the run produced, enters a prediction; the planned counts equal the run's (tested), so
what is validated is the timing model, not a guess of the data.

The predictions come from the model's own expressions (:mod:`costmodel.model`, compiled by
:func:`costmodel.model.bridge.numeric_function`) and frames (:func:`costmodel.analysis.predict.predict_rounds`),
so this checks the shipped model, not a re-derivation of it.

Columns of the table: ``phase, n`` (runs compared), ``mape_percent, max_ape_percent``,
``noise_percent`` (run-to-run noise: the coefficient of variation of the measured value across
repetitions of one configuration, averaged over configurations), ``target_percent``, ``verdict``.

Subsets labelled apart (:data:`LABELLED_SUBSETS`). Some held-out runs answer a question of their own,
so the phases that question is about form their own rows: another architecture (the Keras
cifar10_cnn: does the training-time form carry over to a CNN layout the sweep never ran?) labels its
``local_training`` and ``round`` points ``(keras-cifar)``; runs at the papers' augmentation volume
(the printed TPDS plan on the papers' long tails, a about 0.8 and 1.0) label their augmentation,
training and round points ``(papers' volume)``; runs of 1,000 clients per round and more label their
rescheduling, training and round points ``(c >= 1000)`` (the greedy timed alone up to 700 clients
per round by the calibration, :mod:`calibration.rescheduling_probe`; their clients hold 6 samples at
B = 6, where the steps model's smoothing is at its coarsest).
A run's other points stay in the ordinary rows.

Verdict (docs/design.md: within the target, "and never worse than twice the run-to-run noise"): ``pass``
when the MAPE is at most the target and at most twice the noise (timings; bytes have no noise and
answer to the target alone); otherwise ``fail: above target`` or ``fail: above 2x noise``.

In-process transfers. The engine has no link, so every bandwidth is ``inf`` and ``latency_s`` (a
link's latency) is set to 0: a transfer costs ``message_s + serialize_s_per_byte*W``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp
from matplotlib.figure import Figure

from calibration.machine import describe_machine
from calibration.scenario import ARCHITECTURE_COLUMNS, scenario_from_workload
from calibration.protocol import measured_noise, noise_lines, speed_distribution
from calibration.sweep import (
    CONFIG_COLUMNS,
    PROXIMAL_MU,
    SweepDesign,
    folder_probe_seconds,
    folder_probes,
    load_runs,
    run_sweep,
)
from costmodel import model as ex
from costmodel.analysis.predict import predict_rounds
from costmodel.contracts.calibration_file import Calibration
from costmodel.errors import InputError, must
from costmodel.model.bridge import numeric_function
from costmodel.model.protocols import ALGORITHMS
from costmodel.model.quantities import sym
from costmodel.report.plots import parity
from costmodel.model.label_mix import CINIC10_HISTOGRAM, PAPERS_DIRICHLET_ALPHA
from reference_impl.config import RunConfig
from reference_impl.protocols import PROTOCOLS
from reference_impl.workload import plan_workload

__all__ = [
    "BYTES_TARGET_PERCENT",
    "COMPUTE_TARGET_PERCENT",
    "LABELLED_SUBSETS",
    "OTHER_ARCHITECTURES",
    "ROUND_TARGET_PERCENT",
    "TABLE_COLUMNS",
    "ValidationResult",
    "compare_runs",
    "heldout_design",
    "parity_figure",
    "reference_probe_seconds",
    "run_validation",
    "subset_label",
    "summarize",
    "validate_runs",
    "validation_rows",
]

COMPUTE_TARGET_PERCENT = 10.0
ROUND_TARGET_PERCENT = 10.0
BYTES_TARGET_PERCENT = 0.5
TABLE_COLUMNS: tuple[str, ...] = ("phase", "n", "mape_percent", "max_ape_percent", "noise_percent",
                                  "target_percent", "verdict")
#: Architectures outside the calibration sweep's family: their training and round points are labelled apart.
OTHER_ARCHITECTURES: tuple[str, ...] = ("keras-cifar",)
#: Held-out subsets whose points are labelled apart: (label, phases labelled, which runs); the first
#: that matches a run labels a phase (module docstring).
LABELLED_SUBSETS: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("keras-cifar", ("local_training", "round"), lambda config: config.model in OTHER_ARCHITECTURES),
    ("papers' volume", ("augmentation", "local_training", "round"), lambda config: config.plan == "tpds-printed"),
    ("c >= 1000", ("rescheduling", "local_training", "round"), lambda config: config.clients_per_round >= 1000),
)


#: The TPDS layouts the held-out design's unlabelled rows are about; the training and round points of any
#: other model (a built-in family or a user's, ``validate --model``) carry its name.
TPDS_LAYOUTS: tuple[str, ...] = ("scaled", "tpds")


def subset_label(config: RunConfig, phase: str) -> str:
    """``phase``, or ``"phase (label)"`` when a subset of :data:`LABELLED_SUBSETS` claims it for ``config``;
    a model of another layout than :data:`TPDS_LAYOUTS` and :data:`OTHER_ARCHITECTURES` (``validate --model``:
    a built-in family, ``PATH.py:FUNCTION`` or ``module:FUNCTION``) labels its training and round points
    with its own name."""
    if config.model not in (*TPDS_LAYOUTS, *OTHER_ARCHITECTURES) and phase in ("local_training", "round"):
        return f"{phase} ({config.model})"
    for label, phases, applies in LABELLED_SUBSETS:
        if phase in phases and applies(config):
            return f"{phase} ({label})"
    return phase

_EVENT_PHASES: tuple[str, ...] = ("distribution_report", "augmentation_plan", "augmentation", "rescheduling",
                                  "model_broadcast", "client_download", "local_training", "client_upload",
                                  "mediator_upload", "aggregation")
_TRANSFERS = ("model_broadcast", "client_download", "client_upload", "mediator_upload", "distribution_report")
_BYTES_ROWS = ("round_bytes", "setup_bytes")


def heldout_design() -> SweepDesign:
    """Held-out runs outside the calibration sweep's ranges, each three times (for noise).

    * 160 clients per round (4x the sweep's largest, 40), mediators of 10, small clients (n = 30),
      batch 8, half-normal imbalance 0.2 with 3 classes per client;
    * the width-6.5 TPDS layout, 2,637,890 parameters (4.6x the sweep's largest, 574,157), batch 16,
      long-tail imbalance 0.3;
    * cinic-shape at width 1.5 with 32 of 40 clients per round, mediators of 8, E_m = 2, batch 20,
      lognormal client sizes (sigma 0.5), half-normal imbalance 0.1;
    * the Keras cifar10_cnn (1,250,858 parameters, another architecture), batch 32, n = 25;
    * the real digits with E = 2, batch 12, 24 of 30 clients per round, mediators of 6;
    * the papers' volume on cinic-shape: the printed TPDS plan at tau_d = 3.5 on the CINIC-10 long
      tail (rho = 0.05442, about +104% data), Dirichlet clients at the papers' concentration, width
      0.75, batch 15, 12 of 30 clients, mediators of 4;
    * rescheduling at scale: 1,000 IID clients and 2,000 clients of 2 classes per round (the sweep's
      largest is 500), 6 samples each, width 0.25, batch 6, mediators of 10 (Astraea only at 2,000);
      one round.

    Astraea and FedAvg each, and FedProx (mu = 0.01) on the 2.6 M-parameter model; two rounds (but
    the runs at scale), no evaluation, one torch thread.
    """
    common = dict(rounds=2, evaluate=False, threads=1, seed=7, local_epochs=1, mediator_epochs=1)
    configs = [
        RunConfig(dataset="emnist-shape", samples=160 * 30, model="scaled", model_width=0.5, clients=160,
                  clients_per_round=160, gamma=10, batch_size=8, global_imbalance="half-normal", imbalance_ratio=0.2,
                  classes_per_client=3, **common),
        RunConfig(dataset="emnist-shape", samples=20 * 40, model="scaled", model_width=6.5, clients=20,
                  clients_per_round=8, gamma=4, batch_size=16, global_imbalance="long-tail", imbalance_ratio=0.3,
                  **common),
        RunConfig(dataset="cinic-shape", samples=40 * 40, model="scaled", model_width=1.5, clients=40,
                  clients_per_round=32, gamma=8, batch_size=20, size_skew=0.5, global_imbalance="half-normal",
                  imbalance_ratio=0.1, **dict(common, mediator_epochs=2)),
        RunConfig(dataset="cinic-shape", samples=16 * 25, model="keras-cifar", clients=16, clients_per_round=6,
                  gamma=3, batch_size=32, global_imbalance="long-tail", imbalance_ratio=0.2, **common),
        RunConfig(dataset="digits", model="tpds", clients=30, clients_per_round=24, gamma=6, batch_size=12,
                  global_imbalance="long-tail", imbalance_ratio=0.2, **dict(common, local_epochs=2)),
        RunConfig(dataset="cinic-shape", samples=30 * 40, model="scaled", model_width=0.75, clients=30,
                  clients_per_round=12, gamma=4, batch_size=15, global_imbalance="long-tail",
                  imbalance_ratio=CINIC10_HISTOGRAM.imbalance_ratio, plan="tpds-printed",
                  tau_d=CINIC10_HISTOGRAM.threshold, local_imbalance="dirichlet",
                  dirichlet_alpha=PAPERS_DIRICHLET_ALPHA, **common),
        _many_clients(1000, common, local_imbalance="none"),
    ]
    both = [replace(c, algorithm=a) for c in configs for a in ("astraea", "fedavg")]
    both += [replace(_many_clients(2000, common, local_imbalance="classes"), algorithm="astraea")]
    # FedProx at the held-out model size and batch: its proximal term was fitted on smaller models
    both += [replace(configs[1], algorithm="fedprox", mu=PROXIMAL_MU)]
    return SweepDesign(configs=tuple(both), repetitions=(3,) * len(both), name="held-out")


def _many_clients(clients: int, common: dict[str, Any], *, local_imbalance: str) -> RunConfig:
    """``clients`` clients per round of 6 samples each on the smallest model: the round is mostly the
    rescheduling's and the visits' fixed costs. One round: each holds 1,000 or 2,000 visits, and the
    greedy at 2,000 clients (two million KL evaluations) made a third of the validation's time."""
    return RunConfig(dataset="emnist-shape", samples=clients * 6, model="scaled", model_width=0.25, clients=clients,
                     clients_per_round=clients, gamma=10, batch_size=6, global_imbalance="long-tail",
                     imbalance_ratio=0.2, local_imbalance=local_imbalance, **dict(common, rounds=1))


def _inprocess_coefficients(calibration: Calibration) -> dict[str, float]:
    """The calibration's coefficients for the in-process engine: no link, so no link latency."""
    return dict(calibration.coefficients) | {"latency_s": 0.0}


def _event_functions() -> dict[str, Any]:
    """One numeric function per compared event kind; training and aggregation per algorithm."""
    astraea = ex.phase_costs("astraea")
    n = sym("samples_per_client")
    per_client_augmentation = ex.augmentation_seconds_per_client(n, n * sym("augmented_fraction"))
    return {
        **{f"local_training_{name}": numeric_function(ex.training_seconds(
            ex.effective_samples(), ex.effective_samples_sd(), proximal=protocol.proximal))
           for name, protocol in PROTOCOLS.items()},
        **{f"aggregation_{name}": numeric_function(ex.phase_costs(name)["aggregation"].seconds) for name in ALGORITHMS},
        "augmentation": numeric_function(per_client_augmentation),
        "augmentation_plan": numeric_function(astraea["augmentation_plan"].seconds),
        "rescheduling": numeric_function(ex.rescheduling_seconds()),
        "model_message": numeric_function(ex.transfer_seconds(ex.model_message_bytes(), sp.oo)),
        "upload_message": numeric_function(ex.transfer_seconds(ex.model_message_bytes(), sp.oo, upload=True)),
        "report_message": numeric_function(ex.transfer_seconds(ex.report_message_bytes(), sp.oo)),
    }


def _call(function: Any, scenario: Mapping[str, float], coefficients: Mapping[str, float]) -> float:
    values = {**scenario, **coefficients}
    return float(function(**{name: values[name] for name in function.arguments}))


def compare_runs(trace: pd.DataFrame, runs: pd.DataFrame, calibration: Calibration) -> tuple[pd.DataFrame, list[str]]:
    """Measured against predicted, one row per run and compared quantity.

    Parameters
    ----------
    trace, runs : pandas.DataFrame
        As :func:`calibration.sweep.load_runs` returns them.
    calibration : Calibration
        The coefficients to check.

    Returns
    -------
    points : pandas.DataFrame
        ``run_id, config_key, algorithm, phase, events, measured, predicted, unit`` (``s`` or
        ``B``); ``measured`` is the mean per event of the run (per round for ``round`` and
        ``round_bytes``, the setup total for ``setup_bytes``); the training and round points of
        :data:`LABELLED_SUBSETS` carry the phase label ``"<phase> (<label>)"``.
    notes : list of str
    """
    coefficients = _inprocess_coefficients(calibration)
    notes: list[str] = []
    functions = _event_functions()
    records: list[dict[str, Any]] = []
    grouped = dict(tuple(trace.groupby("run_id", sort=False)))
    planned: dict[str, Any] = {}
    for run in runs.itertuples(index=False):
        rows = grouped.get(run.run_id)
        if rows is None:
            continue
        recorded = {name: getattr(run, name, None) for name in CONFIG_COLUMNS}   # older runs lack new fields
        config = RunConfig(**{name: value for name, value in recorded.items()
                              if value is not None and not (isinstance(value, float) and math.isnan(value))})
        architecture = {name: getattr(run, name) for name in ARCHITECTURE_COLUMNS}
        if run.config_key not in planned:        # repetitions share a configuration: plan it once
            planned[run.config_key] = scenario_from_workload(plan_workload(config), architecture)
        scenario = planned[run.config_key]
        inputs = scenario.as_dict()
        algorithm = run.algorithm

        def add(phase: str, events: int, measured: float, predicted: float, unit: str = "s") -> None:
            phase = subset_label(config, phase)
            records.append({"run_id": run.run_id, "config_key": run.config_key, "algorithm": algorithm,
                            "phase": phase, "events": int(events), "measured": float(measured),
                            "predicted": float(predicted), "unit": unit})

        for phase in _EVENT_PHASES:
            events = rows[rows["phase"] == phase]
            if events.empty:
                continue
            if phase in ("aggregation", "local_training"):
                function = functions[f"{phase}_{algorithm}"]
            elif phase == "distribution_report":
                function = functions["report_message"]
            elif phase == "client_upload":
                function = functions["upload_message"]
            elif phase in _TRANSFERS:
                function = functions["model_message"]
            else:
                function = functions[phase]
            add(phase, len(events), events["duration_s"].mean(), _call(function, inputs, coefficients))

        predicted_rounds = predict_rounds(scenario, coefficients, algorithms=(algorithm,))
        predicted_round = predicted_rounds[predicted_rounds["algorithm"] == algorithm].iloc[0]
        rounds = pd.DataFrame(list(run.round_table))
        add("round", len(rounds), rounds["round_s"].mean(), predicted_round["round_seconds"])
        add("round_bytes", len(rounds), rounds["bytes"].mean(), predicted_round["round_bytes"], unit="B")
        if algorithm == "astraea":
            setup = rows[rows["round"] < 0]
            add("setup_bytes", 1, setup["bytes"].sum(), predicted_round["setup_bytes"], unit="B")
    points = pd.DataFrame.from_records(records, columns=["run_id", "config_key", "algorithm", "phase", "events",
                                                         "measured", "predicted", "unit"])
    return points, notes


def _target(phase: str) -> float:
    phase = phase.split(" (")[0]
    if phase in _BYTES_ROWS:
        return BYTES_TARGET_PERCENT
    if phase == "round":
        return ROUND_TARGET_PERCENT
    return COMPUTE_TARGET_PERCENT


def _noise_percent(part: pd.DataFrame) -> float:
    cvs = []
    for _, same in part.groupby(["config_key", "algorithm"]):
        if len(same) >= 2 and same["measured"].mean() > 0:
            cvs.append(float(same["measured"].std(ddof=1) / same["measured"].mean()))
    return 100 * float(np.mean(cvs)) if cvs else float("nan")


def _verdict(phase: str, mape: float, noise: float, target: float) -> str:
    if not math.isfinite(mape):
        return "no data"
    if mape > target:
        return "fail: above target"
    if phase not in _BYTES_ROWS and math.isfinite(noise) and mape > 2 * noise:
        return "fail: above 2x noise"
    return "pass"


def summarize(points: pd.DataFrame) -> pd.DataFrame:
    """The validation table (:data:`TABLE_COLUMNS`) from :func:`compare_runs` points, in phase order."""
    base = [*_EVENT_PHASES, "round", *_BYTES_ROWS]
    labelled = sorted(set(points["phase"]) - set(base))
    order = [label for phase in base for label in
             (phase, *(other for other in labelled if other.split(" (")[0] == phase))]
    rows = []
    for phase in order:
        part = points[points["phase"] == phase]
        if part.empty:
            continue
        measured = part["measured"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ape = np.abs(part["predicted"].to_numpy(dtype=float) - measured) / measured * 100
        ape = ape[np.isfinite(ape)]
        mape = float(ape.mean()) if ape.size else float("nan")
        noise = 0.0 if phase in _BYTES_ROWS else _noise_percent(part)
        target = _target(phase)
        rows.append({"phase": phase, "n": int(ape.size), "mape_percent": mape,
                     "max_ape_percent": float(ape.max()) if ape.size else float("nan"), "noise_percent": noise,
                     "target_percent": target, "verdict": _verdict(phase, mape, noise, target)})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def validation_rows(table: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    """The table as the calibration file's ``validation`` rows (rows with a non-finite number are left out)."""
    out = []
    for row in table.to_dict(orient="records"):
        numbers = [row["mape_percent"], row["max_ape_percent"], row["noise_percent"]]
        if not all(math.isfinite(float(v)) for v in numbers):
            continue
        out.append({"phase": str(row["phase"]), "mape_percent": float(row["mape_percent"]),
                    "max_ape_percent": float(row["max_ape_percent"]), "noise_percent": float(row["noise_percent"]),
                    "n": int(row["n"]), "target_percent": float(row["target_percent"]), "verdict": str(row["verdict"])})
    return tuple(out)


def parity_figure(points: pd.DataFrame) -> Figure:
    """Predicted against measured seconds, per phase and for the round (costmodel.report.plots.parity)."""
    timed = points[(points["unit"] == "s") & (points["measured"] > 0) & (points["predicted"] > 0)]
    if timed.empty:
        raise InputError("'validation' must have timed points with positive values to plot (got none).")
    return parity(timed, predicted="predicted", measured="measured", group="phase", unit="s")


@dataclass(frozen=True, kw_only=True)
class ValidationResult:
    """A validation: the table, the points behind it, and notes.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`TABLE_COLUMNS`, one row per phase, then ``round``, ``round_bytes``, ``setup_bytes``.
    points : pandas.DataFrame
        One row per run and compared quantity (:func:`compare_runs`).
    runs : int
        Held-out runs compared.
    wall_s : float
        Wall time of running the held-out design (0 if the runs already existed).
    notes : tuple of str
    """

    table: Any = field(repr=False)
    points: Any = field(repr=False)
    runs: int
    wall_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Whether every row passed."""
        return bool((self.table["verdict"] == "pass").all())

    def report(self) -> str:
        """The table as text with a one-line summary."""
        shown = self.table.copy()
        for column in ("mape_percent", "max_ape_percent", "noise_percent", "target_percent"):
            shown[column] = shown[column].map(lambda v: f"{v:.3g}" if math.isfinite(v) else "-")
        passed = int((self.table["verdict"] == "pass").sum())
        lines = [f"Validation on {self.runs} held-out runs: {passed} of {len(self.table)} rows pass.",
                 shown.to_string(index=False)]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def calibration_rows(self) -> tuple[dict[str, Any], ...]:
        """Rows for the calibration file's ``validation`` field."""
        return validation_rows(self.table)


def reference_probe_seconds(calibration: Calibration) -> float | None:
    """The calibration's speed-probe time, if it was measured on this machine (the same CPU and torch
    version as now) and records one; else ``None``: another machine's probe time says nothing about
    this one's episodes."""
    machine = calibration.machine
    probe = machine.get("speed_probe_s")
    here = describe_machine(threads=1)
    if probe is None or machine.get("cpu") != here["cpu"] or machine.get("torch_version") != here["torch_version"]:
        return None
    return float(probe)


def validate_runs(folder: str | os.PathLike[str], calibration: Calibration, *,
                  reference_probe_s: float | None = None) -> ValidationResult:
    """Validate ``calibration`` on the finished runs under ``folder`` (no new runs).

    The notes give the held-out runs' measured noise and speed-probe distribution
    (:mod:`calibration.protocol`) and compare their usual probe time with the calibration's
    (``reference_probe_s`` given: the calibration was measured on this machine, as
    :func:`reference_probe_seconds` tells).
    """

    trace, runs = load_runs(folder)
    points, notes = compare_runs(trace, runs, calibration)
    notes += [f"protocol: {line}." for line in noise_lines(measured_noise(trace, runs),
                                                           speed_distribution(folder_probes(folder)))]
    recorded = calibration.machine.get("speed_probe_s")
    measured = folder_probe_seconds(folder)
    if recorded and math.isfinite(measured):
        mine = "" if reference_probe_s is not None else " (measured on another machine or torch)"
        notes.append(f"machine speed: the held-out runs' usual probe took {1e3 * measured:.2f} ms, the calibration's "
                     f"{1e3 * float(recorded):.2f} ms{mine} ({100 * (measured / float(recorded) - 1):+.1f}%; "
                     f"positive: slower than when it was calibrated).")
    return ValidationResult(table=summarize(points), points=points, runs=len(runs), notes=tuple(notes))


def run_validation(calibration: Calibration, folder: str | os.PathLike[str], *, design: SweepDesign | None = None,
                   progress: bool = True) -> ValidationResult:
    """Run the held-out design (resumable, :func:`calibration.sweep.run_sweep`: interleaved shuffled
    repetitions, speed probes that describe the machine) into ``folder`` and validate.

    ``design`` defaults to :func:`heldout_design`.
    """

    design = heldout_design() if design is None else design
    if not isinstance(design, SweepDesign):
        raise must("design", "be a SweepDesign", type(design).__name__)
    start = time.perf_counter()
    reference = reference_probe_seconds(calibration)
    run_sweep(design, folder, progress=progress)
    wall = time.perf_counter() - start
    result = validate_runs(folder, calibration, reference_probe_s=reference)
    return replace(result, wall_s=wall)
