"""Figures of what Astraea costs over FedAvg: one function per figure, each returns a Figure.

Astraea (Duan et al., ICCD 2019; "Self-Balancing Federated Learning With Global Imbalanced Data in
Mobile Systems", IEEE TPDS 32(1), 2021) trains each mediator's clients one after another and moves
the model to every client E_m times per round; the papers call its extra cost negligible and give a
traffic formula, ``2*|w|*(ceil(c/gamma) + c)``, without E_m. These figures show the modelled cost
against the inputs a deployment varies, and how predictions compare with measurements.

Every function draws on a fresh :class:`matplotlib.figure.Figure` (no pyplot, no global state), so
it works headless and in parallel; :func:`save_figure` writes one atomically. The functions take the
tidy frames of :mod:`costmodel.analysis.predict` (they render, they do not model):

* :func:`overhead_vs_clients`, :func:`overhead_vs_params`, :func:`overhead_vs_bandwidth`: the overhead
  per category (``predict_overhead`` frame), stacked bars, one bar per value of the varied input;
  positive parts stack upwards, negative parts (where Astraea is cheaper) downwards, and a black
  marker shows the net overhead.
* :func:`round_time_vs_clients`: Astraea and FedAvg round time (``predict_rounds`` frame).
* :func:`traffic_vs_clients`: bytes per round of both, plus the papers' Astraea formula (dashed)
  evaluated on the same inputs, to show the missing E_m.
* :func:`parity`: predicted against measured per phase, log-log, with y = x and a +-10% band.

A frame that varies more than the one input on the x axis is refused (one line naming the other
column), since a line through mixed scenarios would mean nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from costmodel.errors import InputError
from costmodel.files import atomic_path
from costmodel.contracts.vocabulary import CATEGORIES, CATEGORY_COLORS, CATEGORY_NAMES
from costmodel.model.bridge import numeric_function
from costmodel.model.papers import paper_round_bytes
from costmodel.model.protocols import ALGORITHM_COSTS, ALGORITHMS
from costmodel.model.quantities import INPUTS
from costmodel.units import format_bandwidth, format_count, format_value

__all__ = [
    "PARITY_BAND",
    "overhead_vs_bandwidth",
    "overhead_vs_clients",
    "overhead_vs_params",
    "parity",
    "round_time_vs_clients",
    "save_figure",
    "traffic_vs_clients",
    "traffic_vs_mediator_epochs",
]

#: Relative half-width of the parity plot's band.
PARITY_BAND = 0.10

_AXIS_LABELS = {
    "clients_per_round": "clients per round c",
    "params": "model parameters P",
    "uplink_bits_per_s": "client uplink bandwidth",
    "downlink_bits_per_s": "client downlink bandwidth",
    "server_bits_per_s": "server bandwidth",
    "mediator_size": "clients per mediator gamma",
    "mediator_epochs": "mediator epochs E_m",
}
_TICK_UNITS = {
    "params": "params",
    "uplink_bits_per_s": "bit/s",
    "downlink_bits_per_s": "bit/s",
    "server_bits_per_s": "bit/s",
}
_SCOPE_TEXT = {"round": "per round", "setup": "in setup", "total": "in total"}
_QUANTITY_TEXT = {"seconds": "time", "bytes": "bytes on the wire"}


def _new_figure(width: float = 7.0, height: float = 4.6) -> tuple[Figure, object]:
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"'{what}' must be a pandas DataFrame (got {type(frame).__name__}).")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"'{what}' must have the columns {', '.join(columns)} (missing {', '.join(missing)}).")
    if frame.empty:
        raise InputError(f"'{what}' must have at least one row (got an empty frame).")


def _single_varying(frame: pd.DataFrame, against: str, what: str) -> None:
    """Refuse a frame in which an input other than ``against`` takes more than one value."""
    for name in INPUTS:
        if name != against and name in frame.columns and frame[name].nunique(dropna=False) > 1:
            raise InputError(f"'{what}' must vary only {against!r} for this figure "
                             f"(column {name!r} takes {frame[name].nunique()} values); select one slice first.")


def _tick_text(value: float, against: str) -> str:
    unit = _TICK_UNITS.get(against)
    if unit == "bit/s":
        return "in-process" if np.isinf(value) else format_bandwidth(value)
    if unit == "params":
        return format_count(value)
    return f"{value:g}"


_TIME_SCALES = ((1e-6, "µs"), (1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d"))
_BYTE_SCALES = ((1.0, "B"), (1e3, "kB"), (1e6, "MB"), (1e9, "GB"), (1e12, "TB"))


def _scale_for(values: np.ndarray, scales: tuple[tuple[float, str], ...]) -> tuple[float, str]:
    """The largest unit in which the largest finite magnitude is still >= 1 (one unit per axis)."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    chosen = scales[0] if top > 0 else next(s for s in scales if s[0] == 1.0)
    for scale in scales:
        if top >= scale[0]:
            chosen = scale
    return chosen




def _stacked_overhead(frame: pd.DataFrame, *, against: str, scope: str, quantity: str) -> Figure:
    what = "overhead"
    if scope not in _SCOPE_TEXT:
        raise InputError(f"'scope' must be one of {', '.join(_SCOPE_TEXT)} (got {scope!r}).")
    if quantity not in _QUANTITY_TEXT:
        raise InputError(f"'quantity' must be one of {', '.join(_QUANTITY_TEXT)} (got {quantity!r}).")
    _require(frame, ["category", "scope", against, quantity], what)
    rows = frame[frame["scope"] == scope]
    if rows.empty:
        raise InputError(f"'{what}' must hold rows of scope {scope!r} (got scopes {sorted(frame['scope'].unique())}).")
    _single_varying(rows, against, what)
    table = rows.pivot_table(index=against, columns="category", values=quantity, aggfunc="first", sort=True)
    table = table.reindex(columns=list(CATEGORIES)).fillna(0.0)
    # One unit for the whole axis, chosen from the tallest stack; values are drawn in that unit.
    heights = np.concatenate([table.clip(lower=0).sum(axis=1).to_numpy(), table.clip(upper=0).sum(axis=1).to_numpy()])
    factor, unit = _scale_for(heights, _TIME_SCALES if quantity == "seconds" else _BYTE_SCALES)
    table = table / factor

    figure, axis = _new_figure()
    positions = np.arange(len(table.index))
    upward = np.zeros(len(positions))
    downward = np.zeros(len(positions))
    for category in CATEGORIES:
        values = table[category].to_numpy(dtype=float)
        bottom = np.where(values >= 0, upward, downward)
        axis.bar(positions, values, bottom=bottom, width=0.7, color=CATEGORY_COLORS[category],
                 label=CATEGORY_NAMES[category])
        upward += np.where(values >= 0, values, 0.0)
        downward += np.where(values < 0, values, 0.0)
    axis.plot(positions, table.sum(axis=1).to_numpy(), linestyle="none", marker="D", color="black",
              markersize=5, label="net overhead")
    axis.axhline(0.0, color="0.3", linewidth=0.8)
    axis.set_xticks(positions, [_tick_text(value, against) for value in table.index])
    axis.set_xlabel(_AXIS_LABELS.get(against, against))
    axis.set_ylabel(f"Astraea overhead {_SCOPE_TEXT[scope]} ({unit})")
    axis.set_title(f"Astraea over FedAvg: {_QUANTITY_TEXT[quantity]} {_SCOPE_TEXT[scope]}, by category")
    figure.legend(loc="outside lower center", ncols=3, fontsize="small")
    return figure


def overhead_vs_clients(overhead: pd.DataFrame, *, scope: str = "round", quantity: str = "seconds") -> Figure:
    """Overhead per category against clients per round (stacked bars).

    Parameters
    ----------
    overhead
        A ``predict_overhead`` frame whose scenarios differ only in ``clients_per_round``.
    scope
        ``'round'``, ``'setup'`` or ``'total'``.
    quantity
        ``'seconds'`` or ``'bytes'``.
    """
    return _stacked_overhead(overhead, against="clients_per_round", scope=scope, quantity=quantity)


def overhead_vs_params(overhead: pd.DataFrame, *, scope: str = "round", quantity: str = "seconds") -> Figure:
    """Overhead per category against model size ``params`` (stacked bars); see :func:`overhead_vs_clients`."""
    return _stacked_overhead(overhead, against="params", scope=scope, quantity=quantity)


def overhead_vs_bandwidth(overhead: pd.DataFrame, *, against: str = "uplink_bits_per_s", scope: str = "round",
                          quantity: str = "seconds") -> Figure:
    """Overhead per category against a bandwidth (stacked bars); see :func:`overhead_vs_clients`.

    ``against`` is ``uplink_bits_per_s`` (default), ``downlink_bits_per_s`` or ``server_bits_per_s``.
    """
    bandwidths = ("uplink_bits_per_s", "downlink_bits_per_s", "server_bits_per_s")
    if against not in bandwidths:
        raise InputError(f"'against' must be one of {', '.join(bandwidths)} (got {against!r}).")
    return _stacked_overhead(overhead, against=against, scope=scope, quantity=quantity)


def _algorithm_lines(rounds: pd.DataFrame, column: str, what: str,
                     scales: tuple[tuple[float, str], ...]) -> tuple[Figure, object, float, str]:
    _require(rounds, ["algorithm", "clients_per_round", column], what)
    unknown = sorted(set(rounds["algorithm"]) - set(ALGORITHMS))
    if unknown:
        raise InputError(f"'{what}' must hold algorithms {', '.join(ALGORITHMS)} only (got {', '.join(unknown)}).")
    _single_varying(rounds, "clients_per_round", what)
    factor, unit = _scale_for(rounds[column].to_numpy(dtype=float), scales)
    figure, axis = _new_figure()
    for algorithm in ALGORITHMS:
        part = rounds[rounds["algorithm"] == algorithm].sort_values("clients_per_round")
        if part.empty:
            continue
        axis.plot(part["clients_per_round"].to_numpy(), part[column].to_numpy(dtype=float) / factor,
                  label=ALGORITHM_COSTS[algorithm].title, color=ALGORITHM_COSTS[algorithm].color,
                  marker=ALGORITHM_COSTS[algorithm].marker)
    axis.set_xlabel(_AXIS_LABELS["clients_per_round"])
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    return figure, axis, factor, unit


def round_time_vs_clients(rounds: pd.DataFrame) -> Figure:
    """Round time of Astraea and FedAvg against clients per round (``predict_rounds`` frame)."""
    figure, axis, _, unit = _algorithm_lines(rounds, "round_seconds", "rounds", _TIME_SCALES)
    axis.set_ylabel(f"round time ({unit})")
    axis.set_title("Time per synchronization round")
    axis.legend(fontsize="small")
    return figure


def traffic_vs_clients(rounds: pd.DataFrame, *, paper_formula: bool = True) -> Figure:
    """Bytes on the wire per round of Astraea and FedAvg against clients per round.

    With ``paper_formula`` (default) a dashed line adds the papers' Astraea traffic,
    ``2*|w|*(ceil(c/gamma) + c)`` (:func:`costmodel.model.paper_round_bytes`), evaluated on the
    Astraea rows' inputs: where E_m > 1 it falls short of the modelled traffic by the E_m it omits.
    """
    figure, axis, factor, unit = _algorithm_lines(rounds, "round_bytes", "rounds", _BYTE_SCALES)
    astraea = rounds[rounds["algorithm"] == "astraea"].sort_values("clients_per_round")
    if paper_formula and not astraea.empty:
        function = numeric_function(paper_round_bytes("astraea"))
        missing = [name for name in function.arguments if name not in astraea.columns]
        if missing:
            raise InputError(f"'rounds' must have the input columns {', '.join(missing)} for the papers' formula.")
        paper = np.broadcast_to(function(astraea), (len(astraea),))
        axis.plot(astraea["clients_per_round"].to_numpy(), paper / factor, linestyle="--", color="0.35",
                  label="Astraea, papers' formula 2|w|(ceil(c/gamma) + c)")
    axis.set_ylabel(f"bytes on the wire per round ({unit})")
    axis.set_title("Traffic per synchronization round")
    axis.legend(fontsize="small")
    return figure


def parity(frame: pd.DataFrame, *, predicted: str = "predicted", measured: str = "measured",
           group: str = "phase", unit: str = "s", band: float = PARITY_BAND) -> Figure:
    """Predicted against measured values, log-log, one marker series per ``group`` value (phase).

    Draws the identity ``y = x`` and a shaded band ``x*(1 - band) .. x*(1 + band)`` (default +-10%,
    the project's bar for compute phases). The title gives the mean and the largest absolute
    percentage error over all points. Values must be > 0 (log axes).
    """
    _require(frame, [predicted, measured, group], "parity")
    if not 0 < band < 1:
        raise InputError(f"'band' must be in (0, 1) (got {band!r}).")
    x = frame[measured].to_numpy(dtype=float)
    y = frame[predicted].to_numpy(dtype=float)
    for name, values in ((measured, x), (predicted, y)):
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            raise InputError(f"'{name}' must be finite and > 0 for a log-log parity plot "
                             f"(got {float(values[bad][0])!r}).")
    figure, axis = _new_figure(6.0, 5.5)
    for index, (name, part) in enumerate(frame.groupby(group, sort=True)):
        axis.scatter(part[measured].to_numpy(dtype=float), part[predicted].to_numpy(dtype=float),
                     s=22, label=str(name), color=f"C{index % 10}", alpha=0.85)
    low = min(x.min(), y.min()) / 1.5
    high = max(x.max(), y.max()) * 1.5
    line = np.geomspace(low, high, 64)
    axis.fill_between(line, line * (1 - band), line * (1 + band), color="0.85", label=f"+-{band:.0%}")
    axis.plot(line, line, color="black", linewidth=1.0, label="y = x")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlim(low, high)
    axis.set_ylim(low, high)
    axis.set_aspect("equal")
    unit_text = f" ({unit})" if unit else ""
    axis.set_xlabel(f"measured{unit_text}")
    axis.set_ylabel(f"predicted{unit_text}")
    ape = np.abs(y - x) / x * 100
    axis.set_title(f"Prediction against measurement: MAPE {ape.mean():.3g}%, max {ape.max():.3g}%")
    axis.legend(fontsize="small", loc="upper left")
    axis.grid(True, which="both", alpha=0.2)
    if unit:
        formatter = FuncFormatter(lambda value, _: format_value(value, unit))
        axis.xaxis.set_major_formatter(formatter)
        axis.yaxis.set_major_formatter(formatter)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Write ``figure`` as PNG to ``path`` atomically (temporary name, then rename); return the path."""
    destination = Path(path)
    if not destination.parent.is_dir():
        raise InputError(f"'out' must be an existing folder (got {str(destination.parent)!r}).")
    with atomic_path(destination) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return destination


def traffic_vs_mediator_epochs(rounds: pd.DataFrame) -> Figure:
    """Bars of bytes per round against E_m: the model's Astraea and FedAvg and the papers' Astraea formula."""
    astraea = rounds[rounds["algorithm"] == "astraea"].sort_values("mediator_epochs")
    fedavg = rounds[rounds["algorithm"] == "fedavg"].sort_values("mediator_epochs")
    paper = np.broadcast_to(numeric_function(paper_round_bytes("astraea"))(astraea), (len(astraea),))
    values = np.concatenate([astraea["round_bytes"].to_numpy(float), paper, fedavg["round_bytes"].to_numpy(float)])
    factor, unit = next(((scale, unit) for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))
                         if values.max() >= scale), (1.0, "B"))
    figure = Figure(figsize=(7.0, 4.6), layout="constrained")
    axis = figure.add_subplot()
    positions = np.arange(len(astraea))
    axis.bar(positions - 0.2, astraea["round_bytes"].to_numpy(float) / factor, width=0.4, color="#D55E00",
             label="Astraea, model 2|w|(ceil(c/gamma) + E_m c)")
    axis.bar(positions + 0.2, paper / factor, width=0.4, color="0.6", label="Astraea, papers' 2|w|(ceil(c/gamma) + c)")
    axis.plot(positions, fedavg["round_bytes"].to_numpy(float) / factor, color="#0072B2", marker="s",
              label="FedAvg 2c|w|")
    axis.set_xticks(positions, [f"{m:g}" for m in astraea["mediator_epochs"]])
    axis.set_xlabel("mediator epochs E_m")
    axis.set_ylabel(f"bytes on the wire per round ({unit})")
    axis.set_title("Traffic per round: the papers' formula leaves out E_m")
    axis.grid(True, axis="y", alpha=0.3)
    axis.legend(fontsize="small")
    return figure
