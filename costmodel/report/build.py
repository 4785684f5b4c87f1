"""The overhead report: what Astraea costs over FedAvg, computed from the model, rendered as Markdown.

Astraea (Duan et al., "Astraea: Self-balancing Federated Learning for Improving Classification
Accuracy of Mobile Deep Learning Applications", ICCD 2019; "Self-Balancing Federated Learning With
Global Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) is set against FedAvg (McMahan et
al., AISTATS 2017) on the papers' two setups (:meth:`Scenario.emnist`, :meth:`Scenario.cinic10`) and
on any scenario the user adds. Three steps, kept apart so tests can check each:

1. :func:`build_report` (this module) computes everything into a frozen :class:`Report`: the tidy frames of
   :mod:`costmodel.analysis.predict` (phases, rounds, overhead per category), the growth order of every
   category and Astraea phase read off the sympy expressions (:func:`growth_order`), the papers'
   claims next to the model's numbers, the capacity answers of :mod:`costmodel.analysis.solve`, the sweeps
   the figures draw, the calibration's validation table, and the sections built by their own modules
   (time to accuracy, :mod:`costmodel.report.time_to_accuracy`; unequal devices and links,
   :mod:`costmodel.report.heterogeneity`).
2. :func:`costmodel.report.markdown.render_markdown` turns a Report into Markdown text (it computes
   nothing).
3. :func:`costmodel.report.write.write_report` draws the figures (:mod:`costmodel.report.plots`) and writes ``report.md`` and
   ``figures/*.png`` into a folder. Everything is rendered into a hidden staging folder first and
   moved into place by renames only after all of it succeeded, so an error never leaves a
   half-written report; ``report.md`` is moved last.

Every number in the report is computed; the only constants are the papers' own claims (storage
growth, taken from the presets of :mod:`costmodel.model.quantities`, and E_m = 1..4, the range the papers
ran) and the sweep grids, which the report states.

Choices where the papers and the brief are silent
-------------------------------------------------
* Growth orders are asymptotic, for one input at a time with every other input and coefficient at
  the scenario's value (exact rationals, so cancellations are exact): ``c -> oo``, ``P -> oo`` and
  client bandwidth ``b -> 0`` (uplink = downlink = b). ``ceiling(x)`` is relaxed to ``x``,
  ``Min`` takes the branch that is smaller in the limit (for ``c -> oo`` the shared server link),
  and Blom's ``z_k`` becomes ``sqrt(2*log(c))``, its leading term. The order depends on the
  scenario: with E_m = 1, Astraea's extra communication stops growing with c once the server link
  is saturated (both algorithms then move c models through it), with E_m > 1 it grows like c.
* Capacity: the round-time budgets are the scenario's own FedAvg and Astraea round times (how many
  clients each algorithm could take in the other's round time), plus any budget the user gives;
  break-even is against the scenario's ``rounds`` FedAvg rounds; the crossover bandwidth is where
  Astraea's communication time equals its compute time.
* Storage: the papers' growth (+81.8% EMNIST at tau_d = 3.5, +103.8% CINIC-10) is set against the
  augmentation volume of the TPDS z-score plan (and of the ICCD plan with alpha = 1) on a long-tail
  histogram ``C_k = C_max*rho**(k/(K - 1))``, scanned over the imbalance ratio
  ``rho`` in :data:`IMBALANCE_RATIOS` at the recommended thresholds tau_d = 3.0 and 3.5.
* Validation bars: a row's own ``target_percent`` when it carries one (``calibration.validate``
  writes it), else the bar of docs/design.md: 0.5% for bytes rows, 10% for seconds. A seconds row also
  says whether its MAPE is within twice its run-to-run noise; bytes have no noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from costmodel import model as ex
from costmodel.analysis import solve
from costmodel.analysis.predict import predict_overhead, predict_phases, predict_rounds, scenario_frame
from costmodel.contracts.calibration_file import Calibration, default_calibration
from costmodel.contracts.vocabulary import CATEGORIES, ROUND_PHASES
from costmodel.errors import InputError, check_number, must
from costmodel.model.augmentation_volume import long_tail_ratio_for_fraction, long_tail_volume
from costmodel.model.label_mix import CINIC10_HISTOGRAM, EMNIST_HISTOGRAM
from costmodel.model.bridge import numeric_function
from costmodel.model.papers import PAPER_ALGORITHMS
from costmodel.model.protocols import ALGORITHMS, BASELINES
from costmodel.model.quantities import NAME_OF
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario
from costmodel.report.growth import GROWTH_VARIABLES, growth_order
from costmodel.report.heterogeneity import DEFAULT_MONTE_CARLO, HeterogeneitySection, check_table
from costmodel.report.heterogeneity import build_section as build_heterogeneity
from costmodel.report.time_to_accuracy import TimeToAccuracySection, build_section
from costmodel.units import format_seconds

__all__ = [
    "CLAIM_MEDIATOR_EPOCHS",
    "FIGURE_KINDS",
    "IMBALANCE_RATIOS",
    "PRESETS",
    "Report",
    "ReportScenario",
    "THRESHOLDS",
    "build_report",
]
#: Mediator epochs of the papers' runs (TPDS, EMNIST: E_m = 1..4), for the claims tables.
CLAIM_MEDIATOR_EPOCHS: tuple[int, ...] = (1, 2, 3, 4)
#: Augmentation thresholds the papers recommend (tau_d).
THRESHOLDS: tuple[float, ...] = (3.0, 3.5)
#: Imbalance ratios rho = C_min/C_max scanned for the long-tail storage comparison.
IMBALANCE_RATIOS: tuple[float, ...] = tuple(float(x) for x in np.geomspace(1e-4, 1.0, 161))
#: Figures drawn per scenario: (kind, caption); the file is ``figures/<scenario key>_<kind>.png``.
FIGURE_KINDS: tuple[tuple[str, str], ...] = (
    ("overhead_vs_clients", "Overhead per round by category against clients per round c"),
    ("round_time_vs_clients", "Round time of Astraea and FedAvg against clients per round c"),
    ("overhead_vs_params", "Overhead per round by category against model size P"),
    ("overhead_vs_bandwidth", "Overhead per round by category against the client uplink (downlink as given)"),
    ("traffic_vs_clients", "Bytes per round against clients per round, with the papers' Astraea formula"),
    ("traffic_vs_mediator_epochs", "Bytes per round against mediator epochs E_m: the model and the papers' "
                                   "formula"),
)


@dataclass(frozen=True, kw_only=True)
class ReportScenario:
    """One scenario of the report: a short key (file names), a title, the inputs, and how they were
    chosen (one sentence, optional)."""

    key: str
    title: str
    scenario: Scenario
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", self.key):
            raise must("key", "be lower-case letters, digits, '_' or '-' (it names the figure files)", self.key)
        if not isinstance(self.scenario, Scenario):
            raise must("scenario", "be a Scenario", type(self.scenario).__name__)


def _presets() -> tuple[ReportScenario, ...]:
    return (ReportScenario(key="emnist", title="Imbalanced EMNIST (TPDS setup)", scenario=Scenario.emnist()),
            ReportScenario(key="cinic10", title="Imbalanced CINIC-10 (TPDS setup)", scenario=Scenario.cinic10()))


#: The papers' two setups, always in the report.
PRESETS: tuple[ReportScenario, ...] = _presets()
#: The stated setup (histogram, plan, reported growth) each preset's augmentation inputs come from.
_STATED_SETUPS = {"emnist": EMNIST_HISTOGRAM, "cinic10": CINIC10_HISTOGRAM}


@dataclass(frozen=True, kw_only=True)
class Report:
    """Everything the report shows, computed (frames and values); :func:`render_markdown` renders it.

    In every frame, ``scenario`` is the position in :attr:`scenarios` (0 = EMNIST, 1 = CINIC-10,
    then the user's), as in the frames of :mod:`costmodel.analysis.predict`.

    Attributes
    ----------
    scenarios
        The scenarios, in order.
    calibration, calibration_origin
        The calibration used (its coefficients are the device and link speeds) and where it came from.
    phases, rounds, overhead
        ``predict_phases``, ``predict_rounds`` (every algorithm) and ``predict_overhead`` (over the
        default baseline, FedAvg) of the scenarios.
    baselines
        Astraea against every baseline (:data:`~costmodel.model.protocols.BASELINES`): columns
        ``scenario, baseline, scope ('round'|'total'), category, seconds, bytes, fraction`` (of the
        baseline's round, or of its whole run), from ``predict_overhead(..., baseline=...)``.
    growth
        Columns ``scenario, subject, kind ('overhead'|'setup'|'phase'|'round'), variable, power,
        log_power, coefficient, order, leading, supported_order, rests_on``: the leading term of each
        subject's seconds as one input grows (:func:`growth_order`; coefficients in seconds per unit
        of ``t``), and the order with the coefficients the calibration does not pin down
        (:meth:`Calibration.unsupported_coefficients`) set to 0; where that differs, ``rests_on``
        names them (the order is then not claimed by the data).
    time_claims
        Per scenario and E_m in :data:`CLAIM_MEDIATOR_EPOCHS`: the papers' round times
        (``E*T``, ``E_m*gamma*E*T``) and ratio ``E_m*gamma``, the model's round times, round ratio and
        local-training ratio.
    traffic_claims
        Per scenario and E_m: bytes per round by the papers' formulas and by the model, and the
        share of Astraea's traffic the papers' formula leaves out.
    negligible_claims
        Per scenario: the setup phases and rescheduling, their seconds and shares of a round and of
        the whole run, at the scenario's c and (rescheduling) at c = clients_total.
    storage_claims
        Per preset and threshold: the papers' data growth against the long-tail maxima of the TPDS
        and ICCD plans, and the extra bytes stored per client at the papers' growth.
    capacity
        Columns ``scenario, question, algorithm, condition, value, unit, text``: the capacity answers
        (``value`` NaN and ``text`` the reason where a question has no answer).
    sweeps
        ``{scenario key: {figure kind: frame}}``: the prediction frames the figures draw.
    validation
        The calibration's validation rows with the bar each is held to (may be empty).
    budgets_s
        Extra round-time budgets the user asked about.
    time_to_accuracy
        The time-to-accuracy section (:class:`costmodel.report.time_to_accuracy.TimeToAccuracySection`:
        the stored digits curves priced by this calibration), or ``None`` when not built.
    heterogeneity
        The section on unequal devices and links (:class:`costmodel.report.heterogeneity.HeterogeneitySection`:
        spread sweeps, round times and capacity of the headline federations), or ``None`` when not built.
    """

    scenarios: tuple[ReportScenario, ...]
    calibration: Calibration
    calibration_origin: str
    phases: pd.DataFrame
    rounds: pd.DataFrame
    overhead: pd.DataFrame
    baselines: pd.DataFrame
    growth: pd.DataFrame
    time_claims: pd.DataFrame
    traffic_claims: pd.DataFrame
    negligible_claims: pd.DataFrame
    storage_claims: pd.DataFrame
    capacity: pd.DataFrame
    sweeps: Mapping[str, Mapping[str, pd.DataFrame]]
    validation: pd.DataFrame
    budgets_s: tuple[float, ...] = field(default=())
    time_to_accuracy: TimeToAccuracySection | None = None
    heterogeneity: HeterogeneitySection | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sweeps", MappingProxyType({k: MappingProxyType(dict(v))
                                                             for k, v in self.sweeps.items()}))

    @property
    def coefficients(self) -> Mapping[str, float]:
        """The coefficients every number was computed with."""
        return self.calibration.coefficients


def _values(scenario: Scenario, coefficients: Mapping[str, float]) -> dict[str, float]:
    return {**{k: float(v) for k, v in scenario.as_dict().items()}, **dict(coefficients)}


def _growth_frame(scenarios: Sequence[ReportScenario], coefficients: Mapping[str, float],
                  unsupported: Sequence[str] = ()) -> pd.DataFrame:
    subjects: list[tuple[str, str, sp.Expr]] = []
    for category in CATEGORIES:
        subjects.append((category, "overhead", ex.overhead("round")[category].seconds))
    subjects.append(("data_augmentation", "setup", ex.overhead("setup")["data_augmentation"].seconds))
    astraea = ex.phase_costs("astraea")
    for phase in ("rescheduling", *ROUND_PHASES):
        subjects.append((phase, "phase", astraea[phase].seconds))
    for algorithm in ALGORITHMS:
        subjects.append((algorithm, "round", ex.round_seconds(algorithm)))
    rows = []
    for index, item in enumerate(scenarios):
        values = _values(item.scenario, coefficients)
        supported = {**values, **{name: 0.0 for name in unsupported}}
        for subject, kind, expression in subjects:
            depends = {NAME_OF[s] for s in expression.free_symbols if s in NAME_OF}
            rests = sorted(set(unsupported) & depends)
            for variable, symbol, _ in GROWTH_VARIABLES:
                growth = growth_order(expression, variable, values)
                alone = growth_order(expression, variable, supported) if rests else growth
                claim = alone.order(symbol) == growth.order(symbol)
                rows.append({"scenario": index, "subject": subject, "kind": kind, "variable": variable,
                             "power": np.nan if growth.power is None else float(growth.power),
                             "log_power": float(growth.log_power), "coefficient": growth.coefficient,
                             "order": growth.order(symbol), "leading": growth.leading(symbol),
                             "supported_order": alone.order(symbol),
                             "rests_on": "" if claim else ", ".join(rests)})
    return pd.DataFrame(rows)


def _evaluate(expression: sp.Expr, frame: pd.DataFrame, coefficients: Mapping[str, float]) -> np.ndarray:
    function = numeric_function(expression)
    return np.broadcast_to(function(frame, **dict(coefficients)), (len(frame),)).astype(float)


def _claims(scenarios: Sequence[ReportScenario], coefficients: Mapping[str, float]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time-per-round and traffic claims for E_m = 1..4 per scenario."""
    time_rows, traffic_rows = [], []
    for index, item in enumerate(scenarios):
        variants = [item.scenario.replace(mediator_epochs=m) for m in CLAIM_MEDIATOR_EPOCHS]
        frame = scenario_frame(variants)
        rounds = predict_rounds(variants, coefficients)
        phases = predict_phases(variants, coefficients)
        training = phases[phases["phase"] == "local_training"].pivot(index="scenario", columns="algorithm",
                                                                      values="seconds")
        by_algorithm = rounds.pivot(index="scenario", columns="algorithm", values=["round_seconds", "round_bytes"])
        paper_seconds = {a: _evaluate(ex.paper_round_seconds(a), frame, coefficients) for a in PAPER_ALGORITHMS}
        paper_bytes = {a: _evaluate(ex.paper_round_bytes(a), frame, coefficients) for a in PAPER_ALGORITHMS}
        paper_ratio = _evaluate(ex.paper_time_ratio(), frame, coefficients)
        for row, mediator_epochs in enumerate(CLAIM_MEDIATOR_EPOCHS):
            astraea_s = float(by_algorithm.loc[row, ("round_seconds", "astraea")])
            fedavg_s = float(by_algorithm.loc[row, ("round_seconds", "fedavg")])
            time_rows.append({
                "scenario": index, "mediator_epochs": mediator_epochs,
                "paper_astraea_round_seconds": paper_seconds["astraea"][row],
                "paper_fedavg_round_seconds": paper_seconds["fedavg"][row],
                "paper_ratio": paper_ratio[row],
                "astraea_round_seconds": astraea_s, "fedavg_round_seconds": fedavg_s,
                "model_ratio": astraea_s / fedavg_s,
                "training_ratio": float(training.loc[row, "astraea"] / training.loc[row, "fedavg"]),
            })
            astraea_b = float(by_algorithm.loc[row, ("round_bytes", "astraea")])
            fedavg_b = float(by_algorithm.loc[row, ("round_bytes", "fedavg")])
            traffic_rows.append({
                "scenario": index, "mediator_epochs": mediator_epochs,
                "paper_astraea_round_bytes": paper_bytes["astraea"][row],
                "astraea_round_bytes": astraea_b,
                "missing_bytes": astraea_b - paper_bytes["astraea"][row],
                "missing_fraction": (astraea_b - paper_bytes["astraea"][row]) / astraea_b,
                "paper_fedavg_round_bytes": paper_bytes["fedavg"][row],
                "fedavg_round_bytes": fedavg_b,
            })
    return pd.DataFrame(time_rows), pd.DataFrame(traffic_rows)


def _negligible(scenarios: Sequence[ReportScenario], phases: pd.DataFrame, rounds: pd.DataFrame,
                coefficients: Mapping[str, float]) -> pd.DataFrame:
    """What the papers call negligible: setup phases and rescheduling, as shares of round and run."""
    rows = []
    for index, item in enumerate(scenarios):
        own = phases[(phases["scenario"] == index) & (phases["algorithm"] == "astraea")].set_index("phase")
        run = rounds[rounds["scenario"] == index].set_index("algorithm")
        astraea_round = float(run.loc["astraea", "round_seconds"])
        fedavg_round = float(run.loc["fedavg", "round_seconds"])
        astraea_total = float(run.loc["astraea", "total_seconds"])
        rounds_run = item.scenario.rounds
        for phase in ("distribution_report", "augmentation_plan", "augmentation", "rescheduling"):
            seconds = float(own.loc[phase, "seconds"])
            per_run = seconds * (rounds_run if ex.PHASE_SCOPE[phase] == "round" else 1)
            rows.append({"scenario": index, "phase": phase, "scope": ex.PHASE_SCOPE[phase],
                         "clients_per_round": item.scenario.clients_per_round, "seconds": seconds,
                         "share_of_astraea_round": seconds / astraea_round,
                         "share_of_fedavg_round": seconds / fedavg_round,
                         "share_of_astraea_run": per_run / astraea_total})
        everyone = item.scenario.replace(clients_per_round=item.scenario.clients_total)
        if everyone != item.scenario:
            full_phases = predict_phases(everyone, coefficients)
            full_rounds = predict_rounds(everyone, coefficients).set_index("algorithm")
            seconds = float(full_phases[(full_phases["algorithm"] == "astraea")
                                        & (full_phases["phase"] == "rescheduling")]["seconds"].iloc[0])
            rows.append({"scenario": index, "phase": "rescheduling", "scope": "round",
                         "clients_per_round": everyone.clients_per_round, "seconds": seconds,
                         "share_of_astraea_round": seconds / float(full_rounds.loc["astraea", "round_seconds"]),
                         "share_of_fedavg_round": seconds / float(full_rounds.loc["fedavg", "round_seconds"]),
                         "share_of_astraea_run": seconds * everyone.rounds
                                                 / float(full_rounds.loc["astraea", "total_seconds"])})
    return pd.DataFrame(rows)


def _baselines(scenarios: Sequence[Scenario], coefficients: Mapping[str, float]) -> pd.DataFrame:
    """Astraea's overhead by category over each baseline, per round and per run."""
    frames = []
    for baseline in BASELINES:
        overhead = predict_overhead(scenarios, coefficients, baseline=baseline)
        overhead = overhead[overhead["scope"] != "setup"]
        frames.append(pd.DataFrame({"scenario": overhead["scenario"].to_numpy(), "baseline": baseline,
                                    "scope": overhead["scope"].to_numpy(),
                                    "category": overhead["category"].to_numpy(),
                                    "seconds": overhead["seconds"].to_numpy(), "bytes": overhead["bytes"].to_numpy(),
                                    "fraction": overhead[f"fraction_of_{baseline}"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def _ratio_for_fraction(classes: int, threshold: float, fraction: float) -> float:
    """The long-tail imbalance ratio at which the printed TPDS target adds ``fraction`` (NaN if none)."""
    try:
        return long_tail_ratio_for_fraction(classes, fraction, threshold, plan="tpds-printed")
    except InputError:
        return math.nan


def _storage() -> pd.DataFrame:
    """The papers' storage growth against the plans' augmentation volume on long-tail histograms
    (no platform coefficient enters: storage is bytes)."""
    rows = []
    for item in PRESETS:
        scenario = item.scenario
        iccd = [long_tail_volume(scenario.classes, rho, plan="iccd", alpha=1.0).augmented_fraction
                for rho in IMBALANCE_RATIOS]
        best_iccd = int(np.argmax(iccd))
        for threshold in THRESHOLDS:
            tpds = [long_tail_volume(scenario.classes, rho, threshold).augmented_fraction for rho in IMBALANCE_RATIOS]
            best = int(np.argmax(tpds))
            per_client = ex.STORED_BYTES_PER_VALUE * scenario.samples_per_client * scenario.sample_values
            paper_fraction = _STATED_SETUPS[item.key].reported_growth
            rows.append({
                "dataset": item.key, "title": item.title, "classes": scenario.classes, "threshold": threshold,
                "paper_fraction": paper_fraction,
                "tpds_max_fraction": tpds[best], "tpds_max_ratio": IMBALANCE_RATIOS[best],
                "iccd_max_fraction": iccd[best_iccd], "iccd_max_ratio": IMBALANCE_RATIOS[best_iccd],
                "printed_ratio": _ratio_for_fraction(scenario.classes, threshold, paper_fraction),
                "paper_storage_bytes_per_client": per_client * paper_fraction,
                "tpds_storage_bytes_per_client": per_client * tpds[best],
            })
    return pd.DataFrame(rows)


def _capacity(scenarios: Sequence[ReportScenario], rounds: pd.DataFrame, coefficients: Mapping[str, float],
              budgets_s: Sequence[float]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []

    def ask(index: int, question: str, algorithm: str, condition: str, call: Callable[[], Any]) -> None:
        solution = call()     # a question without an answer says why in solution.reason
        rows.append({"scenario": index, "question": question, "algorithm": algorithm, "condition": condition,
                     "value": float(solution.value), "unit": solution.unit if solution.exists else "",
                     "text": solution.reason,
                     **{f"detail_{k}": float(v) for k, v in solution.details.items()}})

    for index, item in enumerate(scenarios):
        scenario = item.scenario
        run = rounds[rounds["scenario"] == index].set_index("algorithm")["round_seconds"]
        budgets = [("FedAvg's round time", float(run["fedavg"])), ("Astraea's round time", float(run["astraea"]))]
        budgets += [("your budget", float(b)) for b in budgets_s]
        for label, budget in budgets:
            for algorithm in ALGORITHMS:
                ask(index, "max_clients_per_round", algorithm, f"{label}, {format_seconds(budget)}",
                    lambda b=budget, a=algorithm: solve.max_clients_per_round(b, scenario, coefficients, a))
        ask(index, "crossover_bandwidth", "astraea", "uplink = downlink",
            lambda: solve.crossover_bandwidth(scenario, coefficients))
        ask(index, "break_even_rounds", "astraea", f"against {scenario.rounds} FedAvg rounds",
            lambda: solve.break_even_rounds(scenario, coefficients, scenario.rounds))
    return pd.DataFrame(rows)


def _bar_percent(row: Mapping[str, Any]) -> float:
    """The MAPE a validation row is held to: its own ``target_percent`` if the row carries one (as
    ``calibration.validate`` writes), else the bar of docs/design.md: 0.5% for bytes, 10% for seconds."""
    target = row.get("target_percent")
    if isinstance(target, (int, float)) and not isinstance(target, bool) and math.isfinite(target):
        return float(target)
    return 0.5 if "byte" in str(row["phase"]) else 10.0


def _validation(calibration: Calibration) -> pd.DataFrame:
    """The calibration's validation rows with their bar; bytes rows answer to the bar alone (no noise)."""
    columns = ["phase", "mape_percent", "max_ape_percent", "noise_percent", "n", "bar_percent", "meets_bar",
               "within_twice_noise"]
    rows = []
    for row in calibration.validation:
        phase = str(row["phase"])
        mape, noise = float(row["mape_percent"]), float(row["noise_percent"])
        bar = _bar_percent(row)
        rows.append({"phase": phase, "mape_percent": mape, "max_ape_percent": float(row["max_ape_percent"]),
                     "noise_percent": noise, "n": int(row["n"]), "bar_percent": bar, "meets_bar": mape <= bar,
                     "within_twice_noise": None if "byte" in phase else bool(mape <= 2 * noise)})
    return pd.DataFrame(rows, columns=columns)


def _sweep_values(scenario: Scenario) -> dict[str, list[float]]:
    clients = {float(c) for c in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
               if c <= scenario.clients_total}
    clients.add(float(scenario.clients_per_round))
    params = sorted({float(max(1, round(scenario.params * 10.0**k))) for k in (-2, -1, 0, 1, 2)})
    uplink = scenario.uplink_bits_per_s if math.isfinite(scenario.uplink_bits_per_s) else 1e7
    bandwidths = [uplink * 10.0**k for k in (-2, -1, 0, 1, 2)] + [math.inf]
    return {"clients_per_round": sorted(clients), "params": params, "uplink_bits_per_s": bandwidths,
            "mediator_epochs": [float(m) for m in CLAIM_MEDIATOR_EPOCHS]}


def _sweeps(scenarios: Sequence[ReportScenario], coefficients: Mapping[str, float]
            ) -> dict[str, dict[str, pd.DataFrame]]:
    sweeps = {}
    for item in scenarios:
        base = item.scenario.as_dict()
        values = _sweep_values(item.scenario)

        def frame(name: str) -> pd.DataFrame:
            grid = pd.DataFrame({key: [value] * len(values[name]) for key, value in base.items()})  # noqa: B023
            grid[name] = values[name]  # noqa: B023
            return grid

        clients = frame("clients_per_round")
        rounds_by_clients = predict_rounds(clients, coefficients)
        sweeps[item.key] = {
            "overhead_vs_clients": predict_overhead(clients, coefficients),
            "round_time_vs_clients": rounds_by_clients,
            "overhead_vs_params": predict_overhead(frame("params"), coefficients),
            "overhead_vs_bandwidth": predict_overhead(frame("uplink_bits_per_s"), coefficients),
            "traffic_vs_clients": rounds_by_clients,
            "traffic_vs_mediator_epochs": predict_rounds(frame("mediator_epochs"), coefficients),
        }
    return sweeps


def build_report(*, scenarios: Sequence[ReportScenario] = (), calibration: Calibration | None = None,
                 calibration_origin: str = "embedded default", budgets_s: Sequence[float] = (),
                 include_presets: bool = True, include_time_to_accuracy: bool = True,
                 federation: Federation | None = None, monte_carlo: int = DEFAULT_MONTE_CARLO, seed: int = 0,
                 include_heterogeneity: bool = True) -> Report:
    """Compute the report's content.

    Parameters
    ----------
    scenarios
        Scenarios added after the papers' two setups (a scenario equal to a preset is not repeated).
    calibration
        The coefficients to use (default: the embedded default calibration).
    calibration_origin
        Where the calibration came from, as the report should say it (a file name).
    budgets_s
        Extra round-time budgets (seconds) for the clients-per-round question.
    include_presets
        Whether to start from the papers' two setups (True for the command; tests may pass False).
    include_time_to_accuracy
        Whether to add the time-to-accuracy section (:mod:`costmodel.report.time_to_accuracy`) from the
        convergence stored with the package.
    federation, monte_carlo, seed
        The heterogeneity section's inputs (:func:`costmodel.report.heterogeneity.build_section`): the
        user's federation (``None``: identical clients, the generic sweeps), simulated rounds per Monte
        Carlo point and their seed.
    include_heterogeneity
        Whether to add the heterogeneity section.

    Raises
    ------
    InputError
        For a bad scenario list, budget or an empty report.
    """
    calibration = calibration if calibration is not None else default_calibration()
    if not isinstance(calibration, Calibration):
        raise must("calibration", "be a Calibration", type(calibration).__name__)
    chosen: list[ReportScenario] = list(PRESETS) if include_presets else []
    for item in scenarios:
        if not isinstance(item, ReportScenario):
            raise must("scenarios", "hold ReportScenario items", type(item).__name__)
        if any(item.scenario == other.scenario for other in chosen):
            continue
        if any(item.key == other.key for other in chosen):
            raise must("scenarios", "have distinct keys", item.key)
        chosen.append(item)
    if not chosen:
        raise must("scenarios", "hold at least one scenario", "none")
    budgets = tuple(check_number("budget_s", b, exclusive_minimum=0) for b in budgets_s)
    if include_heterogeneity:
        check_table([item.scenario for item in chosen], federation)
    coefficients = calibration.coefficients
    plain = [item.scenario for item in chosen]
    phases = predict_phases(plain, coefficients)
    rounds = predict_rounds(plain, coefficients, algorithms=ALGORITHMS)
    time_claims, traffic_claims = _claims(chosen, coefficients)
    return Report(
        scenarios=tuple(chosen), calibration=calibration, calibration_origin=calibration_origin,
        phases=phases, rounds=rounds, overhead=predict_overhead(plain, coefficients),
        baselines=_baselines(plain, coefficients),
        growth=_growth_frame(chosen, coefficients, calibration.unsupported_coefficients()), time_claims=time_claims, traffic_claims=traffic_claims,
        negligible_claims=_negligible(chosen, phases, rounds, coefficients), storage_claims=_storage(),
        capacity=_capacity(chosen, rounds, coefficients, budgets), sweeps=_sweeps(chosen, coefficients),
        validation=_validation(calibration), budgets_s=budgets,
        time_to_accuracy=build_section(calibration) if include_time_to_accuracy else None,
        heterogeneity=(build_heterogeneity([(item.key, item.title, item.scenario) for item in chosen], calibration,
                                           federation=federation, monte_carlo=monte_carlo, seed=seed,
                                           budgets_s=budgets) if include_heterogeneity else None))
