"""Fit Flower's framework profile from Flower runs: what every message pays beyond the framework-free model.

A Flower run (``astraea-cost run --engine flower``) leaves its trace, its ``run.json`` and
``flower_messages.csv``, one row per Flower message with the ServerApp's and the ClientApp's
timestamps and both directions' Flower bytes (:mod:`reference_impl.flower.launcher`). From the
visits' messages (``train``; the first message a node gets, ``query.hello``, also fetches the app
and is left out):

* ``download_framing_bytes``, ``upload_framing_bytes``: the median of a message's Flower bytes minus
  the model's wire message ``W = 16 + 4P`` (instruction, reply); ``report_framing_bytes`` from the
  distribution reports' replies minus ``16 + 8K``. The spread is a few bytes (the objects' length
  fields), stored as ``fit.framing_spread_bytes``.
* ``dispatch_cpu_s``: the mean CPU seconds a visit's ClientApp process had spent when its training
  started (its start and the app's setup: measured by the process itself). ``dispatch_s``: the mean
  *dispatch residual* beyond that CPU work stretched on the run's host, ``Max(1, k*(L + 1)/C)``:
  ``k`` the round's concurrent branches (Astraea's M mediators, FedAvg's c clients), ``L`` the other
  sessions with a runnable task on the host (:func:`host_load`), ``C`` its cores. The residual is
  the trace's ``client_download`` (the server's encoding, then push to the ClientApp's training
  start) minus what the framework-free model prices for that transfer
  (:func:`~costmodel.model.blocks.transfer_seconds` of ``W`` at the run's downlink, with the
  calibration's coefficients) minus the framing's own link time.
* ``return_s``: the mean *return residual*, the trace's ``client_upload`` (training end to the
  reply at the server) minus the model's upload transfer without its link time and minus the moment
  the server's object pulls see the reply (:func:`~costmodel.model.framework.seen_at` of the upload's
  link time, framing included), at the runs' own pull schedule (``pull_retry_s``,
  ``pull_retry_cap_s``: Flower's constants, which every run's summary records).
* ``hop_sd_s``: the standard deviation of a message's dispatch plus return residual about the fit.

The breakdown (:func:`hop_breakdown`) splits the same messages by what happened when, for the
documentation: push to the ClientApp process's start, the process's cold start, the app's setup,
the training, and the reply's way back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from costmodel.contracts.calibration_file import CALIBRATION_SCHEMA_VERSION, Calibration
from costmodel.contracts.framework_profile import FrameworkProfile
from costmodel.errors import InputError
from costmodel.model import blocks
from costmodel.model.bridge import numeric_function
from costmodel.model.framework import profile_symbol, seen_at
from costmodel.model.quantities import sym
from reference_impl.engine.trace import RUN_FILE, RunRecord, read_run
from reference_impl.flower.launcher import MESSAGES_FILE

__all__ = ["FlowerRun", "branches", "fit_flower_profile", "hop_breakdown", "host_load", "message_residuals",
           "pull_schedule", "read_flower_runs", "seen_at_function"]


@dataclass(frozen=True)
class FlowerRun:
    """One Flower run folder: its record (trace, configuration, summary) and its message log."""

    folder: Path
    record: RunRecord
    messages: pd.DataFrame

    @property
    def rates(self) -> tuple[float, float]:
        """``(uplink, downlink)`` bits/s of the clients' links; ``inf`` on loopback."""
        summary = self.record.summary
        return (float(summary.get("uplink_bits_per_s", math.inf)), float(summary.get("downlink_bits_per_s", math.inf)))


def read_flower_runs(folders: str | Path | Iterable[str | Path]) -> list[FlowerRun]:
    """Every Flower run in ``folders`` (each a run folder, or a folder of run folders), sorted by path."""
    if isinstance(folders, (str, Path)):
        folders = [folders]
    found: list[Path] = []
    for folder in map(Path, folders):
        if (folder / RUN_FILE).exists():
            found.append(folder)
        elif folder.is_dir():
            found += sorted(p.parent for p in folder.glob(f"*/{RUN_FILE}"))
        else:
            raise InputError(f"'runs' must be an existing folder (got {str(folder)!r}).")
    runs = []
    for path in sorted(set(found)):
        record = read_run(path)
        if record.summary.get("engine") != "flower" or not (path / MESSAGES_FILE).exists():
            continue
        runs.append(FlowerRun(path, record, pd.read_csv(path / MESSAGES_FILE)))
    if not runs:
        raise InputError(f"'runs' must hold Flower runs (run folders with {MESSAGES_FILE}, made by "
                         f"'astraea-cost run --engine flower') (got none in {', '.join(map(str, folders))}).")
    return runs


def branches(config: Mapping[str, Any]) -> int:
    """Concurrent branches of a round: Astraea's ``ceil(c/gamma)`` mediators, else the c clients."""
    c = int(config["clients_per_round"])
    return math.ceil(c / int(config["gamma"])) if config["algorithm"] == "astraea" else c


def host_load(run: FlowerRun) -> float:
    """``L``: the mean number of other sessions with a runnable task on the run's host while it ran
    (``host_background_groups`` of its summary, sampled once a second; Linux shares the cores between
    sessions, and the run's processes are one), 0 when the run had no sample."""
    summary = run.record.summary
    if "host_background_groups" not in summary:
        raise InputError(f"'runs' must record the other sessions on their host (host_background_groups in "
                         f"run.json) (got none in {run.folder}; re-run it with this version).")
    load = float(summary["host_background_groups"])
    return 0.0 if math.isnan(load) else load


def _base_transfers() -> Any:
    w = blocks.model_message_bytes()
    return numeric_function([blocks.transfer_seconds(w, sym("downlink_bits_per_s")),
                             blocks.transfer_seconds(w, sym("uplink_bits_per_s"), upload=True)])


def seen_at_function() -> Any:
    """``seen_at(upload_s)`` compiled: called with ``upload_s`` and the schedule of :func:`pull_schedule`."""
    upload = sp.Symbol("upload_s", nonnegative=True)
    return numeric_function(seen_at(upload))


def pull_schedule(run: FlowerRun) -> dict[str, float]:
    """The object-pull retry schedule the run's Flower used, as the profile's symbols name it."""
    summary = run.record.summary
    if "flower_pull_retry_s" not in summary:
        raise InputError(f"'runs' must record Flower's object-pull schedule (flower_pull_retry_s in run.json) "
                         f"(got none in {run.folder}; re-run it with this version).")
    return {profile_symbol("pull_retry_s").name: float(summary["flower_pull_retry_s"]),
            profile_symbol("pull_retry_cap_s").name: float(summary["flower_pull_retry_cap_s"])}


def message_residuals(run: FlowerRun, calibration: Calibration) -> pd.DataFrame:
    """One row per visit message of ``run``: ``k``, framing bytes and the dispatch and return residuals
    (module docstring), with the message's own timestamps relative to its push."""
    config, summary = run.record.config, run.record.summary
    params = int(summary["params"])
    model_bytes = int(summary["model_message_bytes"])
    up, down = run.rates
    coefficients = dict(calibration.coefficients)
    base_down, base_up = _base_transfers()(params=params, bytes_per_param=4, message_header_bytes=16,
                                           downlink_bits_per_s=down, uplink_bits_per_s=up,
                                           **{k: v for k, v in coefficients.items()})
    eta, h_net = coefficients["link_efficiency"], coefficients["message_overhead_bytes"]
    visits = run.messages[run.messages["kind"] == "train"]
    f_in = visits["bytes"].to_numpy(dtype=float) - model_bytes
    f_out = visits["reply_bytes"].to_numpy(dtype=float) - model_bytes
    download = visits["encode_s"] + visits["client_work_start_s"] - visits["push_s"]
    upload = visits["seen_s"] - visits["client_work_end_s"]
    link_up = 8 * (model_bytes + h_net) / (eta * up)
    seen = seen_at_function()(upload_s=link_up + 8 * f_out / (eta * up), **pull_schedule(run))
    load, cores = host_load(run), float(summary.get("host_cores", 1))
    frame = pd.DataFrame({
        "run": str(run.folder), "algorithm": config["algorithm"], "k": branches(config),
        "stretch": max(1.0, branches(config) * (load + 1) / cores), "host_cores": cores,
        "download_s": download.to_numpy(), "upload_s": upload.to_numpy(),
        "base_download_s": float(base_down), "base_upload_s": float(base_up) - link_up,
        "dispatch_residual_s": download.to_numpy() - float(base_down) - 8 * f_in / (eta * down),
        "return_residual_s": upload.to_numpy() - (float(base_up) - link_up) - np.asarray(seen, dtype=float),
        "framing_in_bytes": f_in, "framing_out_bytes": f_out,
    })
    for name, column in (("to_process_s", "client_process_start_s"), ("to_handler_s", "client_handler_s"),
                         ("to_work_s", "client_work_start_s")):
        frame[name] = (visits[column] - visits["push_s"]).to_numpy()
    frame["cpu_at_handler_s"] = visits["client_cpu_at_handler_s"].to_numpy()
    frame["cpu_at_work_s"] = visits["client_cpu_at_work_s"].to_numpy()
    frame["work_s"] = (visits["client_work_end_s"] - visits["client_work_start_s"]).to_numpy()
    return frame


def _report_framing(runs: Sequence[FlowerRun]) -> np.ndarray:
    values = []
    for run in runs:
        reports = run.messages[run.messages["kind"] == "query.report"]
        classes = int(run.record.summary["num_classes"])
        values += list(reports["reply_bytes"].to_numpy(dtype=float) - (16 + 8 * classes))
    return np.asarray(values)


def fit_flower_profile(runs: Sequence[FlowerRun], calibration: Calibration, *, created: str, version: str,
                       machine: Mapping[str, Any] | None = None, source: str = "") -> FrameworkProfile:
    """The profile of ``runs`` (module docstring), with the calibration priced against (its date and
    schema version in ``fit``: the residuals are what that calibration's model leaves)."""
    rows = pd.concat([message_residuals(run, calibration) for run in runs], ignore_index=True)
    if rows.empty:
        raise InputError("'runs' must hold visits ('train' messages) to fit a profile (got none).")
    reports = _report_framing(runs)
    x = rows["stretch"].to_numpy(dtype=float)
    y = rows["dispatch_residual_s"].to_numpy()
    cpu = float(rows["cpu_at_work_s"].mean())
    dispatch = max(0.0, float(np.mean(y - cpu * x)))
    return_s = float(rows["return_residual_s"].mean())
    spread = (y - dispatch - cpu * x) + (rows["return_residual_s"].to_numpy() - return_s)
    n = len(rows)
    framing = {"download_framing_bytes": rows["framing_in_bytes"].to_numpy(),
               "upload_framing_bytes": rows["framing_out_bytes"].to_numpy()}
    if reports.size:
        framing["report_framing_bytes"] = reports
    coefficients = {name: float(np.median(values)) for name, values in framing.items()}
    coefficients.setdefault("report_framing_bytes", 0.0)
    schedules = {tuple(pull_schedule(run).values()) for run in runs}
    if len(schedules) != 1:
        raise InputError(f"'runs' must share one Flower object-pull schedule (got {sorted(schedules)}).")
    (first, cap), = schedules
    hosts = sorted(set(rows["host_cores"]))
    if len(hosts) != 1:
        raise InputError(f"'runs' must come from one host (got runs on hosts of {hosts} cores).")
    coefficients.update(dispatch_s=dispatch, dispatch_cpu_s=cpu, return_s=max(0.0, return_s),
                        hop_sd_s=float(np.std(spread, ddof=1)) if n > 1 else 0.0, pull_retry_s=first,
                        pull_retry_cap_s=cap, host_cores=float(hosts[0]))
    stderr = {"dispatch_s": float(np.std(y - cpu * x, ddof=1) / math.sqrt(n)) if n > 1 else None,
              "dispatch_cpu_s": float(rows["cpu_at_work_s"].std(ddof=1) / math.sqrt(n)) if n > 1 else None,
              "return_s": float(rows["return_residual_s"].std(ddof=1) / math.sqrt(n)) if n > 1 else None}
    fit = {"runs": len(runs), "messages": n, "reports": int(reports.size),
           "concurrency": sorted(int(k) for k in rows["k"].unique()),
           "stretch": [float(x.min()), float(x.max())],
           "framing_spread_bytes": {name: float(np.max(np.abs(values - np.median(values))))
                                    for name, values in framing.items()},
           "calibration_created": calibration.created, "calibration_schema_version": CALIBRATION_SCHEMA_VERSION}
    return FrameworkProfile(framework="flower", version=version, created=created, source=source,
                            coefficients=coefficients, stderr=stderr, machine=dict(machine or {}), fit=fit,
                            breakdown=tuple(hop_breakdown(rows)))


#: The breakdown's components: (name, how it is measured), in the order a message lives them.
BREAKDOWN: tuple[tuple[str, str], ...] = (
    ("to_process_s", "push -> ClientApp process started (SuperNode poll, download, SuperExec poll, spawn)"),
    ("cold_start_s", "process start -> handler (Python, Flower, the app and torch imported)"),
    ("app_setup_s", "handler -> training starts (data, model, decode, warm-up)"),
    ("work_s", "training (the visit, wall clock)"),
    ("upload_s", "training end -> reply at the ServerApp (encode, SuperNode poll, upload, object pulls)"),
)


def hop_breakdown(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean seconds of every component of a visit's message (:data:`BREAKDOWN`), by algorithm and ``k``,
    and the CPU seconds its ClientApp process spent before the handler."""
    parts = rows.assign(cold_start_s=rows["to_handler_s"] - rows["to_process_s"],
                        app_setup_s=rows["to_work_s"] - rows["to_handler_s"])
    out = []
    for (algorithm, k), group in parts.groupby(["algorithm", "k"], sort=True):
        row: dict[str, Any] = {"algorithm": str(algorithm), "k": int(k), "messages": int(len(group))}
        for name, _ in BREAKDOWN:
            row[name] = float(group[name].mean())
        row["hop_s"] = float(sum(row[name] for name, _ in BREAKDOWN))
        row["cpu_at_handler_s"] = float(group["cpu_at_handler_s"].mean())
        out.append(row)
    return json.loads(json.dumps(out))
