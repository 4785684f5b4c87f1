"""Predictions on a framework: the frames of :mod:`costmodel.analysis.predict` with a framework profile's costs added.

``predict --framework flower`` prices Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and
its baselines as they run on Flower: every phase of :func:`~costmodel.analysis.predict.predict_phases`
gains what Flower adds to it (:func:`~costmodel.model.framework.framework_phase_costs`, at the
profile's fitted values, :mod:`costmodel.contracts.framework_profile`), and the round, setup and
total times and bytes are the sums of the phases again, and the overhead categories gain Astraea's
minus the baseline's additions split by the model's attribution rule
(:func:`~costmodel.model.framework.framework_attributed_round`). The frames'
columns are the framework-free ones, so every table, CSV and JSON writer works unchanged.

``one_host``: every client on one machine, as ``astraea-cost run --engine flower`` deploys them
(concurrent ClientApp processes share the run's part of its cores, which ``host_load`` other busy
sessions share with it); the default prices clients on devices of their own.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.analysis.predict import DEFAULT_ALGORITHMS, predict_overhead, predict_phases, predict_rounds
from costmodel.contracts.framework_profile import PROFILE_COEFFICIENTS, FrameworkProfile
from costmodel.contracts.vocabulary import CATEGORIES, PHASE_SCOPE
from costmodel.errors import check_number, must
from costmodel.model.bridge import NumericFunction, numeric_function
from costmodel.model.framework import (FRAMEWORK_PHASES, HOST_LOAD, framework_attributed_round, framework_phase_costs,
                                       profile_symbol)
from costmodel.model.protocols import BASELINES, SUBJECT, check_algorithm
from costmodel.model.quantities import INPUTS

__all__ = ["framework_extras", "predict_overhead_on", "predict_phases_on", "predict_rounds_on"]


@functools.cache
def _extras_function(algorithm: str, one_host: bool) -> NumericFunction:
    costs = framework_phase_costs(algorithm, one_host=one_host)
    return numeric_function([getattr(costs[p], what) for p in FRAMEWORK_PHASES for what in ("seconds", "bytes")])


@functools.cache
def _categories_function(algorithm: str, one_host: bool) -> NumericFunction:
    attributed = framework_attributed_round(algorithm, one_host=one_host)
    return numeric_function([attributed[category] for category in CATEGORIES])


def _profile_values(profile: FrameworkProfile) -> dict[str, float]:
    if not isinstance(profile, FrameworkProfile):
        raise must("profile", "be a FrameworkProfile", type(profile).__name__)
    return {profile_symbol(spec.name).name: float(profile.coefficients[spec.name]) for spec in PROFILE_COEFFICIENTS}


def _values(coefficients: Mapping[str, float], profile: FrameworkProfile, host_load: float) -> dict[str, float]:
    return {**coefficients, **_profile_values(profile), HOST_LOAD.name: check_number("host_load", host_load, minimum=0)}


def framework_extras(rows: pd.DataFrame, coefficients: Mapping[str, float], profile: FrameworkProfile, *,
                     one_host: bool = False, host_load: float = 0.0) -> pd.DataFrame:
    """What the framework adds to each of :data:`~costmodel.model.framework.FRAMEWORK_PHASES`, for every row.

    ``rows`` has the input columns and ``algorithm`` (as :func:`predict_rounds` returns them). Returns
    one row per input row and phase: ``scenario``, ``algorithm``, ``phase``, ``scope``, ``seconds``, ``bytes``.
    """
    values = _values(coefficients, profile, host_load)
    out = []
    for algorithm, part in rows.groupby("algorithm", sort=False):
        function = _extras_function(check_algorithm(str(algorithm)), one_host)
        data = {name: part[name].to_numpy(dtype=np.float64) for name in INPUTS if name in function.arguments}
        with np.errstate(all="ignore"):
            result = function(data, **{k: v for k, v in values.items() if k in function.arguments})
        for p, phase in enumerate(FRAMEWORK_PHASES):
            out.append(pd.DataFrame({"scenario": part["scenario"].to_numpy(), "algorithm": algorithm, "phase": phase,
                                     "scope": PHASE_SCOPE[phase],
                                     "seconds": np.broadcast_to(result[2 * p], (len(part),)),
                                     "bytes": np.broadcast_to(result[2 * p + 1], (len(part),))}))
    return pd.concat(out, ignore_index=True)


def predict_phases_on(profile: FrameworkProfile, scenarios: Any, coefficients: Mapping[str, float], *,
                      algorithms: Sequence[str] = DEFAULT_ALGORITHMS, one_host: bool = False,
                      host_load: float = 0.0) -> pd.DataFrame:
    """:func:`~costmodel.analysis.predict.predict_phases` with the framework's costs added to its phases."""
    phases = predict_phases(scenarios, coefficients, algorithms=algorithms)
    rows = phases.drop_duplicates(["scenario", "algorithm"])
    extras = framework_extras(rows, coefficients, profile, one_host=one_host, host_load=host_load).set_index(
        ["scenario", "algorithm", "phase"])
    key = pd.MultiIndex.from_frame(phases[["scenario", "algorithm", "phase"]])
    added = extras.reindex(key)
    for what in ("seconds", "bytes"):
        phases[what] = phases[what].to_numpy() + added[what].fillna(0.0).to_numpy()
    return phases


def _sums(extras: pd.DataFrame, scope: str) -> pd.DataFrame:
    part = extras[extras["scope"] == scope]
    return part.groupby(["scenario", "algorithm"], sort=False)[["seconds", "bytes"]].sum()


def predict_rounds_on(profile: FrameworkProfile, scenarios: Any, coefficients: Mapping[str, float], *,
                      algorithms: Sequence[str] = DEFAULT_ALGORITHMS, one_host: bool = False,
                      host_load: float = 0.0) -> pd.DataFrame:
    """:func:`~costmodel.analysis.predict.predict_rounds` on the framework: rounds and setup gain the sums
    of their phases' additions, totals are ``setup + rounds*round`` again."""
    rounds = predict_rounds(scenarios, coefficients, algorithms=algorithms)
    extras = framework_extras(rounds, coefficients, profile, one_host=one_host, host_load=host_load)
    key = pd.MultiIndex.from_frame(rounds[["scenario", "algorithm"]])
    for scope in ("round", "setup"):
        added = _sums(extras, scope).reindex(key).fillna(0.0)
        rounds[f"{scope}_seconds"] = rounds[f"{scope}_seconds"].to_numpy() + added["seconds"].to_numpy()
        rounds[f"{scope}_bytes"] = rounds[f"{scope}_bytes"].to_numpy() + added["bytes"].to_numpy()
    for what in ("seconds", "bytes"):
        rounds[f"total_{what}"] = rounds[f"setup_{what}"] + rounds["rounds"] * rounds[f"round_{what}"]
    return rounds


def _net_categories(rounds: pd.DataFrame, extras: pd.DataFrame, coefficients: Mapping[str, float],
                    profile: FrameworkProfile, *, one_host: bool, host_load: float) -> pd.DataFrame:
    """Astraea's minus the baseline's framework additions per (scenario, scope, category): a round's
    seconds by :func:`~costmodel.model.framework.framework_attributed_round`, its bytes all
    communication, the setup's seconds and bytes all data augmentation (the model's rule)."""
    values = _values(coefficients, profile, host_load)
    out = []
    for algorithm, part in rounds.groupby("algorithm", sort=False):
        sign = 1.0 if algorithm == SUBJECT else -1.0
        function = _categories_function(check_algorithm(str(algorithm)), one_host)
        data = {name: part[name].to_numpy(dtype=np.float64) for name in INPUTS if name in function.arguments}
        with np.errstate(all="ignore"):
            result = function(data, **{k: v for k, v in values.items() if k in function.arguments})
        mine = extras[extras["algorithm"] == algorithm].set_index("scenario")
        for scope in ("round", "setup"):
            added = _sums(mine.reset_index(), scope).reindex(
                pd.MultiIndex.from_arrays([part["scenario"], part["algorithm"]])).fillna(0.0)
            for k, category in enumerate(CATEGORIES):
                if scope == "round":
                    seconds = np.broadcast_to(result[k], (len(part),))
                    moved = added["bytes"].to_numpy() if category == "communication" else 0.0
                else:
                    on = category == "data_augmentation"
                    seconds = added["seconds"].to_numpy() if on else np.zeros(len(part))
                    moved = added["bytes"].to_numpy() if on else 0.0
                out.append(pd.DataFrame({"scenario": part["scenario"].to_numpy(), "scope": scope,
                                         "category": category, "seconds": sign * seconds,
                                         "bytes": sign * np.broadcast_to(moved, (len(part),))}))
    return pd.concat(out, ignore_index=True).groupby(["scenario", "scope", "category"])[["seconds", "bytes"]].sum()


def predict_overhead_on(profile: FrameworkProfile, scenarios: Any, coefficients: Mapping[str, float], *,
                        baseline: str = BASELINES[0], one_host: bool = False, host_load: float = 0.0) -> pd.DataFrame:
    """:func:`~costmodel.analysis.predict.predict_overhead` on the framework: each category gains Astraea's
    minus the baseline's additions to its phases; totals and fractions follow."""
    overhead = predict_overhead(scenarios, coefficients, baseline=baseline)
    rounds = predict_rounds(scenarios, coefficients, algorithms=(SUBJECT, baseline))
    extras = framework_extras(rounds, coefficients, profile, one_host=one_host, host_load=host_load)
    net = _net_categories(rounds, extras, coefficients, profile, one_host=one_host, host_load=host_load)
    key = pd.MultiIndex.from_frame(overhead[["scenario", "scope", "category"]].replace({"scope": {"total": "round"}}))
    per_round = net.reindex(key).fillna(0.0)
    setup_key = pd.MultiIndex.from_frame(overhead[["scenario", "scope", "category"]].assign(scope="setup"))
    per_setup = net.reindex(setup_key).fillna(0.0)
    total = overhead["scope"].to_numpy() == "total"
    for what in ("seconds", "bytes"):
        added = per_round[what].to_numpy().copy()
        added[total] = per_setup[what].to_numpy()[total] + overhead["rounds"].to_numpy()[total] * added[total]
        overhead[what] = overhead[what].to_numpy() + added
    base = predict_rounds_on(profile, scenarios, coefficients, algorithms=(baseline,), one_host=one_host,
                             host_load=host_load)
    base_round = base.set_index("scenario")["round_seconds"].reindex(overhead["scenario"]).to_numpy()
    fraction = f"fraction_of_{baseline}"
    with np.errstate(divide="ignore", invalid="ignore"):
        overhead[fraction] = np.where(overhead["scope"] == "round", overhead["seconds"] / base_round,
                                      np.where(total, overhead["seconds"] / (overhead["rounds"] * base_round), np.nan))
    return overhead
