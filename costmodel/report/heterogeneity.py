"""The report's section on heterogeneous federations: what unequal devices and links do to Astraea's overhead.

FedAvg (McMahan et al., AISTATS 2017) waits for the slowest of its ``c`` parallel clients; an Astraea
(Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) mediator waits for the sum of its chain of ``gamma``
clients, ``E_m`` times, and the round for the slowest mediator. For each scenario of the report,
:func:`build_section` prices both with :func:`~costmodel.analysis.heterogeneous.predict_heterogeneous`
(closed form, and a seeded Monte Carlo of ``monte_carlo`` rounds):

* **Sweeps.** Astraea's overhead over FedAvg, as the ratio ``T_A/T_F`` of round times and the
  difference ``T_A - T_F`` in seconds, against the speed spread ``sigma_s`` in 0..1 and the link
  spread ``sigma_b`` in 0..1.5: closed form on :data:`SPEED_CURVE`/:data:`LINK_CURVE`, Monte Carlo
  on :data:`SPEED_POINTS`/:data:`LINK_POINTS`. The other spread (and any classes) stays at the user's
  federation (homogeneous by default; a client table cannot be swept, so then the sweeps start from
  the homogeneous federation).
* **Rounds.** Every headline federation's round by algorithm: the user's federation when one is
  given, else :data:`DEFAULT_FEDERATIONS` (two log-normal spreads and a device-class mix; each new mix
  costs a second or so to compile its closed form).
* **Capacity.** For each headline federation and algorithm, the largest ``c`` whose round fits a
  budget (:func:`~costmodel.analysis.heterogeneous.max_clients_heterogeneous`): by the closed form's
  mean, by the Monte Carlo's 95% quantile, and by the closed form's 95% quantile when the analysis
  gives it, next to the answer for identical clients. Budgets: :data:`BUDGET_FACTOR` times the
  scenario's Astraea round with identical clients (a budget with room at the scenario's ``c``; the
  round itself would leave none for any spread, whose mean is above the median), then the user's
  ``--budget`` values.
* **Evidence.** The stored closed-form-vs-Monte-Carlo grid's summary
  (:func:`~costmodel.report.heterogeneity_tables.grid_summary`).

:mod:`costmodel.report.heterogeneity_markdown` renders it and lists its figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from costmodel.analysis.heterogeneous import max_clients_heterogeneous, predict_heterogeneous
from costmodel.contracts.calibration_file import Calibration
from costmodel.contracts.heterogeneity_evidence import load_grid
from costmodel.errors import check_int, must
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario

__all__ = [
    "BUDGET_FACTOR",
    "CAPACITY_KEYS",
    "DEFAULT_FEDERATIONS",
    "DEFAULT_MONTE_CARLO",
    "HeterogeneitySection",
    "LINK_CURVE",
    "LINK_POINTS",
    "SPEED_CURVE",
    "SPEED_POINTS",
    "ScenarioHeterogeneity",
    "build_section",
    "check_table",
    "describe_federation",
]

#: Spreads the closed-form curves are drawn at, and the Monte Carlo points.
SPEED_CURVE: tuple[float, ...] = tuple(float(x) for x in np.round(np.linspace(0.0, 1.0, 21), 10))
LINK_CURVE: tuple[float, ...] = tuple(float(x) for x in np.round(np.linspace(0.0, 1.5, 16), 10))
SPEED_POINTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
LINK_POINTS: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5)
#: Simulated rounds per Monte Carlo point when the user gives no ``--monte-carlo``.
DEFAULT_MONTE_CARLO = 2000
#: The headline federations when the user gives none: (label, federation).
DEFAULT_FEDERATIONS: tuple[tuple[str, Federation], ...] = (
    ("speed sigma 0.5", Federation(speed_sigma=0.5)),
    ("link sigma 1", Federation(link_sigma=1.0)),
    ("phones 10× slower at a 20% share", Federation(speed_classes=((1.0, 0.8), (0.1, 0.2)))),
)
#: The capacity table's first budget: this many times the scenario's Astraea round with identical clients.
BUDGET_FACTOR = 2.0
#: Answers of ``max_clients_heterogeneous`` the capacity table shows, in order, when present.
CAPACITY_KEYS: tuple[str, ...] = ("closed_form_clients", "closed_form_q95_clients", "monte_carlo_q95_clients")
_ALGORITHMS = ("astraea", "fedavg")


def describe_federation(federation: Federation) -> str:
    """How the clients differ, in words: ``speed sigma 0.5, link classes 1:0.5,0.1:0.5``."""
    if federation.clients is not None:
        return f"the {federation.clients.size:,} clients of {federation.clients.source}"
    return ", ".join(federation.spreads()) or "all clients alike"


@dataclass(frozen=True, kw_only=True, eq=False)
class ScenarioHeterogeneity:
    """One scenario's part of the section.

    Attributes
    ----------
    key, title
        The report scenario's key (figure names) and title.
    sweeps
        ``{"speed_sigma" | "link_sigma": frame}``, columns ``sigma, method ('closed form' | 'Monte Carlo'),
        astraea_round_seconds, fedavg_round_seconds, ratio, difference_seconds`` (and the two
        ``*_stderr_seconds`` of the Monte Carlo rows, NaN for the closed form).
    rounds
        ``federation`` (label) then :func:`predict_heterogeneous`'s columns, one row per federation
        (the homogeneous one first) and algorithm.
    capacity
        ``budget_s, budget_origin, algorithm, federation, identical_clients`` (the answer with every
        client alike) and the :data:`CAPACITY_KEYS` the analysis answered (clients; 0: none fits).
    """

    key: str
    title: str
    sweeps: Mapping[str, pd.DataFrame]
    rounds: pd.DataFrame
    capacity: pd.DataFrame

    def __post_init__(self) -> None:
        object.__setattr__(self, "sweeps", MappingProxyType(dict(self.sweeps)))


@dataclass(frozen=True, kw_only=True, eq=False)
class HeterogeneitySection:
    """The section: the inputs it was built with, one :class:`ScenarioHeterogeneity` per scenario, and
    the stored grid (``None`` when not read)."""

    federation: Federation
    user_federation: bool
    monte_carlo: int
    seed: int
    budgets_s: tuple[float, ...]
    scenarios: tuple[ScenarioHeterogeneity, ...]
    grid: pd.DataFrame | None = field(default=None, repr=False)
    headline: tuple[tuple[str, Federation], ...] = ()


def _pair(scenario: Scenario, coefficients: Mapping[str, float], federation: Federation, draws: int,
          seed: int) -> pd.DataFrame:
    return predict_heterogeneous(scenario, coefficients, federation, algorithms=_ALGORITHMS, monte_carlo=draws,
                                 seed=seed).set_index("algorithm")


def _sweep(scenario: Scenario, coefficients: Mapping[str, float], base: Federation, axis: str,
           curve: Sequence[float], points: Sequence[float], draws: int, seed: int) -> pd.DataFrame:
    rows = []
    for method, sigmas, column in (("closed form", curve, "round_seconds"),
                                   ("Monte Carlo", points, "monte_carlo_round_seconds")):
        for sigma in sigmas:
            federation = dataclasses.replace(base, **{axis: float(sigma)})
            table = _pair(scenario, coefficients, federation, draws if method == "Monte Carlo" else 0, seed)
            astraea, fedavg = (float(table.loc[a, column]) for a in _ALGORITHMS)
            stderr = ((float(table.loc["astraea", "monte_carlo_stderr_seconds"]),
                       float(table.loc["fedavg", "monte_carlo_stderr_seconds"])) if method == "Monte Carlo"
                      else (np.nan, np.nan))
            rows.append({"sigma": float(sigma), "method": method, "astraea_round_seconds": astraea,
                         "fedavg_round_seconds": fedavg, "ratio": astraea / fedavg,
                         "difference_seconds": astraea - fedavg, "astraea_stderr_seconds": stderr[0],
                         "fedavg_stderr_seconds": stderr[1]})
    return pd.DataFrame(rows)


def _capacity(scenario: Scenario, coefficients: Mapping[str, float], headline: Sequence[tuple[str, Federation]],
              homogeneous: pd.DataFrame, budgets_s: Sequence[float], draws: int, seed: int) -> pd.DataFrame:
    own = BUDGET_FACTOR * float(homogeneous.loc["astraea", "homogeneous_round_seconds"])
    budgets = [(own, f"{BUDGET_FACTOR:g} × Astraea's round, identical clients")] + [(b, "--budget") for b in budgets_s]
    rows = []
    for budget, origin in budgets:
        for algorithm in _ALGORITHMS:
            alike = max_clients_heterogeneous(budget, scenario, coefficients, Federation(), algorithm)
            for label, federation in headline:
                answer = max_clients_heterogeneous(budget, scenario, coefficients, federation, algorithm,
                                                   monte_carlo=draws, seed=seed)
                rows.append({"budget_s": budget, "budget_origin": origin, "algorithm": algorithm, "federation": label,
                             "identical_clients": alike["closed_form_clients"],
                             **{key: answer[key] for key in CAPACITY_KEYS if key in answer}})
    return pd.DataFrame(rows)


def check_table(scenarios: Sequence[Scenario], federation: Federation | None) -> None:
    """Refuse a client table smaller than a scenario's ``c`` (a round draws its clients without replacement)."""
    if federation is None or federation.clients is None:
        return
    largest = max((int(s.clients_per_round) for s in scenarios), default=0)
    if federation.clients.size < largest:
        raise must("clients-file", f"hold at least the clients per round of every scenario of the report "
                                   f"({largest}), who are drawn without replacement", federation.clients.size)


def _headline(federation: Federation, user: bool) -> tuple[tuple[str, Federation], ...]:
    return ((describe_federation(federation), federation),) if user else DEFAULT_FEDERATIONS


def build_section(scenarios: Sequence[tuple[str, str, Scenario]], calibration: Calibration, *,
                  federation: Federation | None = None, monte_carlo: int = DEFAULT_MONTE_CARLO, seed: int = 0,
                  budgets_s: Sequence[float] = (), include_grid: bool = True) -> HeterogeneitySection:
    """Compute the section for ``scenarios`` (``(key, title, scenario)`` each) with ``calibration``.

    Parameters
    ----------
    federation
        The user's federation (``None`` or homogeneous: the generic sweeps and
        :data:`DEFAULT_FEDERATIONS`).
    monte_carlo, seed
        Simulated rounds per Monte Carlo point (>= 2) and their seed.
    budgets_s
        Extra round-time budgets of the capacity table.
    include_grid
        Whether to read the stored closed-form-vs-Monte-Carlo grid.
    """
    if not isinstance(calibration, Calibration):
        raise must("calibration", "be a Calibration", type(calibration).__name__)
    federation = Federation() if federation is None else federation
    if not isinstance(federation, Federation):
        raise must("federation", "be a Federation", type(federation).__name__)
    draws = check_int("monte_carlo", monte_carlo, minimum=2, maximum=10**8)
    seed = check_int("seed", seed, minimum=0)
    check_table([scenario for _, _, scenario in scenarios], federation)
    user = not federation.homogeneous
    headline = _headline(federation, user)
    base = Federation() if federation.clients is not None else federation
    coefficients = calibration.coefficients
    parts = []
    for key, title, scenario in scenarios:
        homogeneous = _pair(scenario, coefficients, Federation(), 0, seed)
        rounds = [homogeneous.reset_index().assign(federation="all clients alike")]
        for label, item in headline:
            rounds.append(_pair(scenario, coefficients, item, draws, seed).reset_index().assign(federation=label))
        frame = pd.concat(rounds, ignore_index=True)
        frame = frame[["federation", *[c for c in frame.columns if c != "federation"]]]
        sweeps = {"speed_sigma": _sweep(scenario, coefficients, base, "speed_sigma", SPEED_CURVE, SPEED_POINTS,
                                        draws, seed),
                  "link_sigma": _sweep(scenario, coefficients, base, "link_sigma", LINK_CURVE, LINK_POINTS,
                                       draws, seed)}
        parts.append(ScenarioHeterogeneity(
            key=key, title=title, sweeps=sweeps, rounds=frame,
            capacity=_capacity(scenario, coefficients, headline, homogeneous, budgets_s, draws, seed)))
    return HeterogeneitySection(federation=federation, user_federation=user, monte_carlo=draws, seed=seed,
                                budgets_s=tuple(budgets_s), scenarios=tuple(parts),
                                grid=load_grid() if include_grid else None, headline=headline)
