"""Tidy prediction frames: phase by phase, per round and in total, and Astraea's overhead over FedAvg.

The numbers are the symbolic model of :mod:`costmodel.model` (Astraea: Duan et al., ICCD 2019
and TPDS 32(1), 2021; FedAvg: McMahan et al., AISTATS 2017) compiled once by
:func:`costmodel.model.bridge.numeric_function` and evaluated for every scenario at once.

``scenarios`` is a :class:`~costmodel.model.scenario.Scenario`, a list of them, or a DataFrame (or a
mapping of names to arrays) of input columns, one row per scenario; missing columns take the
inputs' defaults (the TPDS EMNIST setup), an optional ``scenario`` column names the rows (else they
are numbered from 0), and any other column is an error. ``coefficients`` is a mapping that holds
every name of :data:`~costmodel.model.quantities.COEFFICIENTS` (a calibration's ``.coefficients``).

Frames (columns fixed project-wide):

* :func:`predict_phases`: ``scenario``, the inputs, ``algorithm``, ``phase``, ``scope``
  (``setup``/``round``), ``seconds`` (the phase's share of the critical path), ``bytes`` (all the
  phase's messages in one round or in the setup), ``flops``. Every phase of
  :data:`~costmodel.model.MODEL_PHASES` appears for both algorithms (zero where an algorithm
  does not have it), so pivots and group-bys need no special cases.
* :func:`predict_rounds`: ``scenario``, the inputs, ``algorithm``, ``round_seconds``,
  ``round_bytes``, ``setup_seconds``, ``setup_bytes``, ``total_seconds`` (= setup + rounds*round),
  ``total_bytes``.
* :func:`predict_overhead`: ``scenario``, the inputs, ``category``, ``scope``
  (``round``/``setup``/``total``), ``seconds``, ``bytes``, ``fraction_of_fedavg`` (overhead seconds
  over FedAvg's seconds of that scope; NaN in setup, where FedAvg has none) and ``storage_bytes``
  (extra stored bytes *per client* from augmentation, in ``data_augmentation``'s setup and total
  rows; zero elsewhere).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel import model as ex
from costmodel.model.bridge import NumericFunction, numeric_function
from costmodel.errors import InputError, must
from costmodel.contracts.vocabulary import CATEGORIES
from costmodel.model.protocols import ALGORITHMS, BASELINES, SUBJECT, check_algorithm
from costmodel.model.quantities import INPUTS, check_coefficients, check_input_array
from costmodel.model.scenario import Scenario, check_cross_rules, default_classes_per_client

__all__ = ["DEFAULT_ALGORITHMS", "grid", "predict_overhead", "predict_phases", "predict_rounds", "scenario_frame",
           "summary_frame"]

_OVERHEAD_SCOPES = ex.OVERHEAD_SCOPES
#: The algorithms a prediction prices unless told otherwise: Astraea and its default baseline.
DEFAULT_ALGORITHMS: tuple[str, ...] = (SUBJECT, BASELINES[0])


# --------------------------------------------------------------------------- scenarios in

class _Inputs:
    """Validated inputs of ``count`` scenarios: each a scalar (same in all) or a full array."""

    def __init__(self, count: int, ids: np.ndarray, values: dict[str, float | np.ndarray]) -> None:
        self.count = count
        self.ids = ids
        self.values = values

    def column(self, name: str) -> np.ndarray:
        """The full column of ``name`` (integers as int64)."""
        value = np.broadcast_to(np.asarray(self.values[name], dtype=np.float64), (self.count,))
        if INPUTS[name].integer:
            return value.astype(np.int64)
        return np.array(value)


def _compact(name: str, values: Any) -> float | np.ndarray:
    array = check_input_array(name, values).reshape(-1)
    if array.size and (array == array[0]).all():
        return float(array[0])
    return array


def _inputs(scenarios: Any) -> _Inputs:
    if isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    if isinstance(scenarios, Sequence) and not isinstance(scenarios, (str, bytes)):
        if not scenarios:
            raise must("scenarios", "hold at least one scenario", "an empty list")
        for item in scenarios:
            if not isinstance(item, Scenario):
                raise must("scenarios", "be a Scenario, a list of Scenarios or a DataFrame of input columns",
                           type(item).__name__)
        columns: Mapping[str, Any] = {name: [getattr(s, name) for s in scenarios] for name in INPUTS}
        count = len(scenarios)
        ids = np.arange(count)
        return _Inputs(count, ids, {name: _compact(name, columns[name]) for name in INPUTS})
    if isinstance(scenarios, pd.DataFrame):
        count = len(scenarios.index)
        names = [str(c) for c in scenarios.columns]
        data: Mapping[str, Any] = {str(c): scenarios[c].to_numpy() for c in scenarios.columns}
    elif isinstance(scenarios, Mapping):
        raw = {str(k): np.asarray(v) for k, v in scenarios.items()}
        names = list(raw)
        lengths = sorted({v.reshape(-1).size for v in raw.values() if v.ndim > 0})
        if len(lengths) > 1:
            raise must("scenarios", "have columns of one length", lengths)
        count = lengths[0] if lengths else 1
        data = {k: np.broadcast_to(v.reshape(-1) if v.ndim else v, (count,)) for k, v in raw.items()}
    else:
        raise must("scenarios", "be a Scenario, a list of Scenarios or a DataFrame of input columns",
                   type(scenarios).__name__)
    unknown = [n for n in names if n not in INPUTS and n != "scenario"]
    if unknown:
        raise InputError(f"'{unknown[0]}' is not an input of the cost model (inputs: {', '.join(INPUTS)}).")
    if count == 0:
        raise must("scenarios", "hold at least one scenario", "0 rows")
    values = {name: _compact(name, data[name]) if name in data else float(INPUTS[name].default)  # type: ignore[arg-type]
              for name in INPUTS}
    if "classes_per_client" not in data:
        values["classes_per_client"] = default_classes_per_client(values["classes"])
    check_cross_rules({name: np.broadcast_to(np.asarray(value), (count,)) for name, value in values.items()})
    ids = np.asarray(data["scenario"]) if "scenario" in data else np.arange(count)
    return _Inputs(count, ids, values)


def scenario_frame(scenarios: Any) -> pd.DataFrame:
    """The scenarios as a validated DataFrame with every input column (defaults filled in) and a
    ``scenario`` column first."""
    inputs = _inputs(scenarios)
    return pd.DataFrame({"scenario": inputs.ids, **{name: inputs.column(name) for name in INPUTS}})


def grid(**ranges: Any) -> pd.DataFrame:
    """A cartesian grid of scenarios: one column per given input, one row per combination.

    Parameters
    ----------
    **ranges
        Input name -> values (a scalar, list or 1-D array). Inputs not given take their defaults
        when the grid is predicted.

    Examples
    --------
    >>> grid(clients_per_round=[10, 50], mediator_epochs=[1, 2, 3]).shape
    (6, 2)
    """
    axes = {}
    for name, values in ranges.items():
        if name not in INPUTS:
            raise InputError(f"'{name}' is not an input of the cost model (inputs: {', '.join(INPUTS)}).")
        array = np.atleast_1d(np.asarray(values))
        if array.ndim != 1 or array.size == 0:
            raise must(name, "be a scalar or a non-empty 1-D list of values", values)
        check_input_array(name, array)
        axes[name] = array
    if not axes:
        return pd.DataFrame(index=pd.RangeIndex(1))  # one scenario, every input at its default
    meshes = np.meshgrid(*axes.values(), indexing="ij")
    return pd.DataFrame({name: mesh.reshape(-1) for name, mesh in zip(axes, meshes)})


# --------------------------------------------------------------------------- compiled models

@functools.cache
def _phase_function(algorithm: str) -> NumericFunction:
    costs = ex.phase_costs(algorithm)
    return numeric_function([getattr(costs[p], what) for p in ex.MODEL_PHASES
                             for what in ("seconds", "bytes", "flops")])


@functools.cache
def _round_function(algorithm: str) -> NumericFunction:
    return numeric_function([ex.round_seconds(algorithm), ex.round_bytes(algorithm),
                             ex.setup_seconds(algorithm), ex.setup_bytes(algorithm)])


@functools.cache
def _overhead_function(baseline: str) -> NumericFunction:
    per_round, setup = ex.overhead("round", baseline), ex.overhead("setup", baseline)
    outputs = [ex.round_seconds(baseline)]
    for costs in (per_round, setup):
        for category in CATEGORIES:
            outputs += [costs[category].seconds, costs[category].bytes, costs[category].storage_bytes]
    return numeric_function(outputs)


def _evaluate(function: NumericFunction, inputs: _Inputs, coefficients: Mapping[str, float]) -> list[np.ndarray]:
    values = {**inputs.values, **coefficients}
    with np.errstate(all="ignore"):     # a non-finite result is refused below, in one line
        result = function(**{name: values[name] for name in function.arguments})
    parts = [np.broadcast_to(p, (inputs.count,)) for p in ([result] if function.outputs == 1 else list(result))]
    for part in parts:
        bad = ~np.isfinite(part)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"'scenarios' must give finite costs: scenario {inputs.ids[row]!r} gives "
                             f"{float(part[row])} (its inputs or coefficients are too extreme to evaluate).")
    return parts


def _input_columns(inputs: _Inputs, repeat: int) -> dict[str, np.ndarray]:
    columns = {"scenario": np.repeat(inputs.ids, repeat)}
    for name in INPUTS:
        columns[name] = np.repeat(inputs.column(name), repeat)
    return columns


# --------------------------------------------------------------------------- frames out

def _algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    if isinstance(algorithms, str) or not isinstance(algorithms, Sequence) or not algorithms:
        raise must("algorithms", f"be a non-empty list of algorithms ({', '.join(ALGORITHMS)})", algorithms)
    chosen = tuple(check_algorithm(name, label="algorithms") for name in algorithms)
    if len(set(chosen)) != len(chosen):
        raise must("algorithms", "name each algorithm once", list(algorithms))
    return chosen


def predict_phases(scenarios: Any, coefficients: Mapping[str, float], *,
                   algorithms: Sequence[str] = DEFAULT_ALGORITHMS) -> pd.DataFrame:
    """Seconds, bytes and FLOPs of every phase, for ``algorithms`` and every scenario.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, the inputs, ``algorithm``, ``phase``, ``scope``, ``seconds``,
        ``bytes``, ``flops``; rows ordered by scenario, algorithm (as given), phase.
    """
    chosen = _algorithms(algorithms)
    inputs = _inputs(scenarios)
    checked = check_coefficients(coefficients)
    phases = ex.MODEL_PHASES
    per = len(chosen) * len(phases)
    blocks = {what: np.empty((inputs.count, len(chosen), len(phases))) for what in ("seconds", "bytes", "flops")}
    for a, algorithm in enumerate(chosen):
        values = _evaluate(_phase_function(algorithm), inputs, checked)
        for p in range(len(phases)):
            blocks["seconds"][:, a, p] = values[3 * p]
            blocks["bytes"][:, a, p] = values[3 * p + 1]
            blocks["flops"][:, a, p] = values[3 * p + 2]
    columns = _input_columns(inputs, per)
    columns["algorithm"] = np.tile(np.repeat(np.array(chosen, dtype=object), len(phases)), inputs.count)
    columns["phase"] = np.tile(np.array(phases, dtype=object), len(chosen) * inputs.count)
    columns["scope"] = np.tile(np.array([ex.PHASE_SCOPE[p] for p in phases], dtype=object),
                               len(chosen) * inputs.count)
    for what, block in blocks.items():
        columns[what] = block.reshape(-1)
    return pd.DataFrame(columns)


def predict_rounds(scenarios: Any, coefficients: Mapping[str, float], *,
                   algorithms: Sequence[str] = DEFAULT_ALGORITHMS) -> pd.DataFrame:
    """Round, setup and total seconds and bytes of ``algorithms`` for every scenario.

    ``total = setup + rounds*round``.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, the inputs, ``algorithm``, ``round_seconds``, ``round_bytes``,
        ``setup_seconds``, ``setup_bytes``, ``total_seconds``, ``total_bytes``; rows ordered by
        scenario, then algorithm (as given).
    """
    chosen = _algorithms(algorithms)
    inputs = _inputs(scenarios)
    checked = check_coefficients(coefficients)
    results = np.empty((inputs.count, len(chosen), 4))
    for a, algorithm in enumerate(chosen):
        for i, value in enumerate(_evaluate(_round_function(algorithm), inputs, checked)):
            results[:, a, i] = value
    rounds = np.repeat(np.broadcast_to(np.asarray(inputs.values["rounds"], dtype=np.float64), (inputs.count,)),
                       len(chosen))
    columns = _input_columns(inputs, len(chosen))
    columns["algorithm"] = np.tile(np.array(chosen, dtype=object), inputs.count)
    flat = results.reshape(-1, 4)
    columns["round_seconds"], columns["round_bytes"] = flat[:, 0], flat[:, 1]
    columns["setup_seconds"], columns["setup_bytes"] = flat[:, 2], flat[:, 3]
    columns["total_seconds"] = flat[:, 2] + rounds * flat[:, 0]
    columns["total_bytes"] = flat[:, 3] + rounds * flat[:, 1]
    return pd.DataFrame(columns)


def predict_overhead(scenarios: Any, coefficients: Mapping[str, float], *,
                     baseline: str = BASELINES[0]) -> pd.DataFrame:
    """Astraea's overhead over ``baseline`` in the four categories, per round, in setup and in total.

    The categories of one scope sum exactly to Astraea's minus the baseline's seconds (bytes) of that
    scope; ``total = setup + rounds*round``.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, the inputs, ``category``, ``scope``, ``seconds``, ``bytes``,
        ``fraction_of_<baseline>`` (e.g. ``fraction_of_fedavg``), ``storage_bytes``; rows ordered by
        scenario, scope (round, setup, total), category
        (:data:`~costmodel.contracts.vocabulary.CATEGORIES` order).
    """
    baseline = check_algorithm(baseline, label="baseline", choices=BASELINES)
    inputs = _inputs(scenarios)
    checked = check_coefficients(coefficients)
    values = _evaluate(_overhead_function(baseline), inputs, checked)
    baseline_round = values[0]
    ncat = len(CATEGORIES)
    seconds = np.empty((inputs.count, len(_OVERHEAD_SCOPES), ncat))
    bytes_ = np.empty_like(seconds)
    storage = np.empty_like(seconds)
    for s in range(2):  # round, setup
        for k in range(ncat):
            base = 1 + 3 * (s * ncat + k)
            seconds[:, s, k], bytes_[:, s, k], storage[:, s, k] = values[base], values[base + 1], values[base + 2]
    rounds = np.broadcast_to(np.asarray(inputs.values["rounds"], dtype=np.float64), (inputs.count,))[:, None]
    seconds[:, 2, :] = seconds[:, 1, :] + rounds * seconds[:, 0, :]
    bytes_[:, 2, :] = bytes_[:, 1, :] + rounds * bytes_[:, 0, :]
    storage[:, 2, :] = storage[:, 1, :]
    fraction = np.full_like(seconds, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction[:, 0, :] = seconds[:, 0, :] / baseline_round[:, None]
        fraction[:, 2, :] = seconds[:, 2, :] / (rounds * baseline_round[:, None])
    per = len(_OVERHEAD_SCOPES) * ncat
    columns = _input_columns(inputs, per)
    columns["category"] = np.tile(np.array(CATEGORIES, dtype=object), len(_OVERHEAD_SCOPES) * inputs.count)
    columns["scope"] = np.tile(np.repeat(np.array(_OVERHEAD_SCOPES, dtype=object), ncat), inputs.count)
    columns["seconds"] = seconds.reshape(-1)
    columns["bytes"] = bytes_.reshape(-1)
    columns[f"fraction_of_{baseline}"] = fraction.reshape(-1)
    columns["storage_bytes"] = storage.reshape(-1)
    return pd.DataFrame(columns)


def summary_frame(rounds: pd.DataFrame, overhead: pd.DataFrame, *, scope: str = "round",
                  baseline: str = BASELINES[0]) -> pd.DataFrame:
    """One row per scenario: inputs, Astraea's and ``baseline``'s round/setup/total seconds and bytes
    (:func:`predict_rounds`), and the overhead per category of ``scope`` (:func:`predict_overhead`
    against the same baseline), seconds and bytes, with its fraction of the baseline (SI units).

    Columns: ``scenario``, the inputs, ``astraea_round_seconds``, ..., ``<baseline>_total_bytes``, then
    ``<category>_seconds`` and ``<category>_bytes`` per category, ``overhead_seconds``,
    ``overhead_bytes`` and ``overhead_fraction_of_<baseline>``.
    """
    keys = ["scenario", *INPUTS]
    subject = rounds[rounds["algorithm"] == SUBJECT].set_index("scenario")
    other = rounds[rounds["algorithm"] == baseline].set_index("scenario")
    frame = subject[list(INPUTS)].copy()
    for prefix, part in ((SUBJECT, subject), (baseline, other)):
        for column in ("round_seconds", "round_bytes", "setup_seconds", "setup_bytes", "total_seconds", "total_bytes"):
            frame[f"{prefix}_{column}"] = part[column]
    rows = overhead[overhead["scope"] == scope].set_index("scenario")
    for category in CATEGORIES:
        part = rows[rows["category"] == category]
        frame[f"{category}_seconds"] = part["seconds"]
        frame[f"{category}_bytes"] = part["bytes"]
    net = rows.groupby(level=0)["seconds"].sum()
    frame["overhead_seconds"] = net
    frame["overhead_bytes"] = rows.groupby(level=0)["bytes"].sum()
    denominator = other["round_seconds"] if scope == "round" else other["total_seconds"]
    frame[f"overhead_fraction_of_{baseline}"] = net / denominator
    frame = frame.reset_index()
    frame.attrs["scope"] = scope
    frame.attrs["baseline"] = baseline
    return pd.DataFrame(frame, columns=[*keys, *[c for c in frame.columns if c not in keys]])
