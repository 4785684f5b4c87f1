"""The measurement protocol of a profiling sweep on a noisy shared machine: interleaved repetitions,
per-configuration per-event medians, and the noise and machine speed it measured.

Why. The platform coefficients of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS 32(1),
2021) are fitted on trace rows timed by the thread's CPU time. A shared virtual machine's speed
still wanders: its neighbours slow it by a few percent to tens of percent in episodes of tens of
seconds. An earlier protocol re-ran every run whose speed probe looked slow; on a busy machine it
re-ran most of the sweep three times, never converged, and selected runs from lucky episodes. On a
2-core VM at load 5 (a study of 240 configurations, two passes back to back), the per-round machine
speed wandered by +-4%, and fitted models agreed between the passes within 5.7% (median, 8.9% max)
with one repetition per configuration, 3.5% (6.5%) with three and 2.1% (3.9%) with five. Normalising
each run by the probe timed next to it made the agreement worse; the median, the mean and a trimmed
mean of the repetitions were equivalent, the minimum worse (the lucky draw is noise, not speed).

The protocol, therefore:

* **Interleaved rounds** (:func:`interleaved_order`): repetition ``r`` of every configuration runs in
  round ``r``, the configurations of a round in a shuffled order (seeded: the order is reproducible).
  A configuration's repetitions land in different episodes of the host, and no configuration is
  always measured right after the same neighbour.
* **Per-configuration per-event medians** (:func:`median_events`): repetitions of one configuration
  share its seed, so they produce the same events (same clients, same counts); each event's duration
  is the median over the repetitions, and the fit sees one run per configuration. Nothing is re-run
  and nothing is thrown away.
* **The machine's speed is described, not corrected** (:func:`speed_distribution`): a speed probe
  (:func:`calibration.speed_probe.probe_seconds`, about 40 ms) runs before every
  :data:`PROBE_EVERY`-th run; its distribution is reported and its usual value stored with the
  calibration (to tell another machine, and for ``calibrate --quick``), but no run is scaled by it.
* **The noise is reported** (:func:`measured_noise`): the run-to-run coefficient of variation of a
  configuration's mean visit time across its repetitions, and each round's speed relative to the
  per-configuration medians. Both go into ``protocol.json`` in the sweep folder
  (:func:`write_protocol_report`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.commands import DEFAULT_REPETITIONS, PROBE_EVERY
from costmodel.errors import InputError, check_int
from costmodel.files import atomic_write_text

__all__ = [
    "DEFAULT_REPETITIONS",
    "PROBE_EVERY",
    "PROTOCOL_FILE",
    "interleaved_order",
    "measured_noise",
    "median_events",
    "noise_lines",
    "read_protocol_report",
    "speed_distribution",
    "write_protocol_report",
]

#: The protocol's report in a sweep folder.
PROTOCOL_FILE = "protocol.json"
#: The columns that identify one event within a run.
_EVENT_KEY: tuple[str, ...] = ("round", "phase", "entity")
#: The counts of an event: matched events of two repetitions hold the same.
_COUNTS: tuple[str, ...] = ("bytes", "flops", "samples", "steps")


def interleaved_order(configs: Sequence[Any], repetitions: Sequence[int], *, seed: int = 0) -> list[tuple[Any, int]]:
    """Every run as ``(config, repetition)`` in the order they run.

    Round ``r`` holds repetition ``r`` of every configuration with more than ``r`` repetitions, in an
    order drawn by ``numpy.random.default_rng([seed, r])``: each round is a new permutation, the same
    for the same seed.
    """
    if len(configs) != len(repetitions):
        raise InputError(f"'repetitions' must have one entry per config ({len(configs)}) (got {len(repetitions)}).")
    seed = check_int("seed", seed, minimum=0)
    order: list[tuple[Any, int]] = []
    for r in range(max(repetitions, default=0)):
        present = [i for i, reps in enumerate(repetitions) if reps > r]
        permutation = np.random.default_rng([seed, r]).permutation(len(present))
        order += [(configs[present[int(i)]], r) for i in permutation]
    return order


def median_events(trace: pd.DataFrame) -> pd.DataFrame:
    """One run per configuration, each event's ``duration_s`` the median over the repetitions.

    The rows of a configuration's repetitions are matched by ``config_key``, ``round``, ``phase``,
    ``entity``, their order among the run's rows with the same three, and their counts (``bytes``,
    ``flops``, ``samples``, ``steps``; the columns of these present). Repetitions share the seed, so
    they hold the same events. Each matched event keeps its first row, with the median duration,
    under the configuration's first run (smallest ``run_id``), so a bootstrap over runs resamples
    configurations. The runs of a configuration whose events do not all match (not repetitions of
    one seeded run) are kept as they are, and so are rows without a ``config_key`` (a probe timed
    alone); a trace without ``config_key`` is returned unchanged.
    """
    if "config_key" not in trace.columns or trace.empty:
        return trace
    keyed = trace["config_key"].notna().to_numpy()
    rows = trace[keyed]
    alone = trace[~keyed]
    event = [c for c in _EVENT_KEY if c in rows.columns]
    occurrence = rows.groupby(["run_id", *event], sort=False, dropna=False).cumcount().rename("_occurrence")
    keys = ["config_key", *event, "_occurrence", *(c for c in _COUNTS if c in rows.columns)]
    rows = rows.assign(_occurrence=occurrence.to_numpy())
    matched = rows.groupby(keys, sort=False, dropna=False)["run_id"].transform("size")
    repetitions = rows.groupby("config_key", sort=False)["run_id"].transform("nunique")
    whole = (matched == repetitions).groupby(rows["config_key"], sort=False).transform("all").to_numpy()
    alone = pd.concat([rows[~whole].drop(columns="_occurrence"), alone])
    rows = rows[whole]
    median = rows.groupby(keys, sort=False, dropna=False)["duration_s"].transform("median")
    first_run = rows.groupby("config_key", sort=False)["run_id"].transform("min")
    rows = rows.assign(duration_s=median.to_numpy(), run_id=first_run.to_numpy())
    kept = rows.drop_duplicates(subset=keys, keep="first").drop(columns="_occurrence")
    return pd.concat([kept, alone], ignore_index=True) if len(alone) else kept.reset_index(drop=True)


def speed_distribution(probes_s: Iterable[float]) -> dict[str, float]:
    """The distribution of a sweep's speed-probe times (finite, positive ones), in seconds.

    Returns ``count``, ``min_s``, ``q25_s``, ``median_s``, ``q90_s``, ``max_s`` and ``cv`` (standard
    deviation over mean, a fraction); NaN figures for fewer than one probe (``cv`` for fewer than two).
    """
    values = np.array([float(p) for p in probes_s], dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    out: dict[str, float] = {"count": float(values.size)}
    for name, q in (("min_s", 0.0), ("q25_s", 0.25), ("median_s", 0.5), ("q90_s", 0.9), ("max_s", 1.0)):
        out[name] = float(np.quantile(values, q)) if values.size else math.nan
    out["cv"] = float(values.std(ddof=1) / values.mean()) if values.size > 1 else math.nan
    return out


def _visit_means(trace: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    visits = trace[(trace["phase"] == "local_training") & (trace["duration_s"] > 0)]
    means = visits.groupby("run_id")["duration_s"].mean().rename("visit_s")
    table = runs[["run_id", "config_key", "repetition"]].merge(means, left_on="run_id", right_index=True)
    return table


def measured_noise(trace: pd.DataFrame, runs: pd.DataFrame) -> dict[str, Any]:
    """The run-to-run noise of a sweep's visit times and the machine's speed by round.

    Parameters
    ----------
    trace, runs : pandas.DataFrame
        As :func:`calibration.sweep.load_runs` returns them (``runs`` needs ``run_id``,
        ``config_key`` and ``repetition``).

    Returns
    -------
    dict
        ``configurations``: configurations with two or more repetitions; ``visit_cv_median``,
        ``visit_cv_p90``: the median and 90th percentile over them of the coefficient of variation
        (sample standard deviation over mean, a fraction) of the run's mean visit time across the
        configuration's repetitions; ``round_speed``: per repetition round ``r``, the geometric mean over
        configurations of (the run's mean visit time / its configuration's median), 1.02 = 2% slower
        (a geometric mean, not a median: with three repetitions a third of the ratios are exactly 1).
    """
    table = _visit_means(trace, runs)
    grouped = table.groupby("config_key")["visit_s"]
    counts = grouped.transform("size")
    repeated = table[counts >= 2]
    cvs = repeated.groupby("config_key")["visit_s"].agg(lambda v: float(np.std(v, ddof=1) / np.mean(v)))
    log_ratio = np.log(table["visit_s"] / grouped.transform("median"))
    by_round = np.exp(log_ratio[counts >= 2].groupby(table["repetition"][counts >= 2]).mean())
    return {
        "configurations": int(cvs.size),
        "visit_cv_median": float(cvs.median()) if cvs.size else math.nan,
        "visit_cv_p90": float(cvs.quantile(0.9)) if cvs.size else math.nan,
        "round_speed": [float(v) for v in by_round.to_numpy()],
    }


def noise_lines(noise: dict[str, Any], probes: dict[str, float]) -> list[str]:
    """The protocol's findings as printable lines (see :func:`measured_noise`, :func:`speed_distribution`)."""
    lines = []
    if noise.get("configurations"):
        lines.append(f"run-to-run noise of a visit: CV {100 * noise['visit_cv_median']:.1f}% median, "
                     f"{100 * noise['visit_cv_p90']:.1f}% p90 over {noise['configurations']} repeated configurations")
        speeds = noise.get("round_speed") or []
        if speeds:
            lines.append("machine speed by round (visit time / its configuration's median, geometric mean): "
                         + ", ".join(f"{s:.3f}" for s in speeds))
    if probes.get("count", 0) >= 1:
        lines.append(f"speed probe ({int(probes['count'])} probes, ms): min {1e3 * probes['min_s']:.2f}, "
                     f"q25 {1e3 * probes['q25_s']:.2f}, median {1e3 * probes['median_s']:.2f}, "
                     f"q90 {1e3 * probes['q90_s']:.2f}, max {1e3 * probes['max_s']:.2f}"
                     + (f" (CV {100 * probes['cv']:.1f}%)" if math.isfinite(probes["cv"]) else ""))
    return lines


def write_protocol_report(folder: str | os.PathLike[str], report: dict[str, Any]) -> Path:
    """Write ``report`` (JSON-ready) as :data:`PROTOCOL_FILE` in ``folder``; return its path."""
    path = Path(folder) / PROTOCOL_FILE
    atomic_write_text(path, json.dumps(report, indent=2, sort_keys=True, allow_nan=True) + "\n")
    return path


def read_protocol_report(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The protocol report in ``folder`` (``None`` when there is none or it cannot be read)."""
    try:
        data = json.loads((Path(folder) / PROTOCOL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
