"""Run a configuration as a Flower App on a Flower deployment, and return what the other engines return.

:func:`run_flower` writes the run's Flower App (:func:`~reference_impl.flower.job.write_app`),
starts the deployment (:class:`~reference_impl.flower.deployment.Deployment`: a SuperLink and one
SuperNode per client, on loopback or over emulated links), submits the app with ``flwr run``,
waits for the ServerApp's result while watching every process, and always tears everything down.
What it returns is the in-process engine's :class:`~reference_impl.engine.drive.RunResult` (the
same trace rows, with Flower's measured durations and bytes, :mod:`reference_impl.flower.server`),
the final global model, and the log of every Flower message (:data:`MESSAGE_COLUMNS`), written
beside the trace as ``flower_messages.csv``. :func:`run_with_flower` is ``astraea-cost run --engine flower``.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from costmodel.errors import must
from costmodel.files import atomic_path
from reference_impl.config import RunConfig
from reference_impl.engine.drive import RunResult, RunResultViews
from reference_impl.flower.deployment import Deployment
from reference_impl.flower.job import FlowerJob, FlowerRunError, write_app
from reference_impl.flower.options import FlowerOptions
from reference_impl.network.links import LinkSpec
from reference_impl.network.namespaces import NetlabError, netlab_available
from reference_impl.protocols import protocol_of

__all__ = ["MESSAGES_FILE", "MESSAGE_COLUMNS", "FlowerRunResult", "run_flower", "run_with_flower"]

#: The message log beside a Flower run's trace.
MESSAGES_FILE = "flower_messages.csv"
#: Its columns: what was sent (kind, client, node, round, instruction bytes and objects), when
#: (``push_s``, ``pushed_s``, ``seen_s``: the ServerApp's ``time.time()``), how many messages were in
#: flight, the reply's bytes and objects, and the client's own times (process start, handler start,
#: work start and end, CPU seconds before the handler and before a visit's training, its work's measured
#: seconds).
MESSAGE_COLUMNS: tuple[str, ...] = (
    "kind", "client", "node", "round", "bytes", "objects", "encode_s", "push_s", "pushed_s", "in_flight", "seen_s",
    "reply_bytes", "reply_objects", "client_process_start_s", "client_handler_s", "client_cpu_at_handler_s",
    "client_cpu_at_work_s", "client_work_start_s", "client_work_end_s", "client_work_s", "client_pid")


@dataclass(frozen=True)
class FlowerRunResult(RunResultViews):
    """A finished Flower run: the :class:`RunResult` of every engine, the final model, the message log."""

    result: RunResult
    global_vector: np.ndarray = field(repr=False)
    messages: pd.DataFrame = field(repr=False)
    options: FlowerOptions | None = None

    def write(self, folder: str | Path) -> Path:
        """Write ``trace.csv``, ``run.json`` and ``flower_messages.csv`` (each atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / MESSAGES_FILE) as tmp:
            self.messages.to_csv(tmp, index=False, float_format="%.6f")
        return self.result.write(folder)


def run_flower(config: RunConfig, options: FlowerOptions | None = None, *, progress: bool = False,
               run_id: str | None = None, work_dir: str | Path | None = None) -> FlowerRunResult:
    """Run ``config`` as a Flower App on a Flower deployment on this machine (module docstring).

    Parameters
    ----------
    config : the run, as for the in-process engine.
    options : how it is deployed (:class:`FlowerOptions`; default: loopback).
    progress : a progress bar over the rounds on stderr.
    run_id : the trace's run id (default ``<algorithm>-<8 hex digits>``).
    work_dir : where the run's folder (app, logs, Flower homes) is made; the system's temporary folder
        by default. Deleted after a successful run, kept after a failure (the error names it).

    Raises
    ------
    InputError
        Bad options, Flower not installed, or ``emulated`` where namespaces are unavailable.
    FlowerRunError
        One line naming the client (or process) that failed. Every process has been ended, and an
        emulated network deleted, when it is raised.
    """
    if not isinstance(config, RunConfig):
        raise must("config", "be a RunConfig", type(config).__name__)
    options = options or FlowerOptions()
    if not isinstance(options, FlowerOptions):
        raise must("options", "be a FlowerOptions", type(options).__name__)
    protocol_of(config.algorithm).check(config)
    if options.network == "emulated":
        ok, reason = netlab_available()
        if not ok:
            raise must("network", f"not be 'emulated' on this machine: {reason}", options.network)
    run_id = run_id or f"{config.algorithm}-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="astraea-flower-", dir=work_dir))
    failed = True
    try:
        job = FlowerJob(config=config, run_id=run_id, folder=str(folder), timeout_s=options.timeout_s,
                        slowest_bits_per_s=options.slowest_bits_per_s)
        app = write_app(folder, job)
        link = LinkSpec(uplink_bits_per_s=options.uplink_bits_per_s, downlink_bits_per_s=options.downlink_bits_per_s)
        bar = tqdm(total=config.rounds, desc=f"flower rounds over {options.network} network", unit="round",
                   disable=not progress, leave=False)
        wall0, load_before = time.perf_counter(), os.getloadavg()[0]
        try:
            with Deployment(config.clients, network=options.network, link=link, folder=folder,
                            threads=config.threads) as deployment:
                ready_s = time.perf_counter() - wall0
                flower_run_id = deployment.submit(app)
                deployment.wait(job, silence_s=600.0 + 4.0 * options.timeout_s,
                                on_progress=lambda done: bar.update(done - bar.n))
        finally:
            bar.close()
        launch_wall_s = time.perf_counter() - wall0
        result = _load(job, options, launch_wall_s=launch_wall_s, ready_s=ready_s, flower_run_id=flower_run_id,
                       killed_at_teardown=sorted(deployment.left_behind),
                       load_average=[load_before, os.getloadavg()[0]], host_cores=os.cpu_count() or 1,
                       host_background_running=(float(np.mean(deployment.background_running))
                                                if deployment.background_running else float("nan")),
                       host_background_groups=(float(np.mean(deployment.background_groups))
                                               if deployment.background_groups else float("nan")))
        failed = False
        return result
    except NetlabError as exc:
        raise FlowerRunError(f"the emulated network failed: {exc}") from None
    finally:
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)


def _load(job: FlowerJob, options: FlowerOptions, **extra: Any) -> FlowerRunResult:
    with open(job.result_path, "rb") as handle:
        data = pickle.load(handle)  # written by our own ServerApp a moment ago
    summary = dict(data["summary"], network=options.network, timeout_s=options.timeout_s, **extra)
    if options.network == "emulated":
        summary.update(uplink_bits_per_s=options.uplink_bits_per_s, downlink_bits_per_s=options.downlink_bits_per_s)
    messages = pd.DataFrame(data["messages"])
    messages = messages.reindex(columns=[c for c in MESSAGE_COLUMNS] + [c for c in messages.columns
                                                                      if c not in MESSAGE_COLUMNS and c != "tag"])
    result = RunResult(run_id=data["run_id"], config=job.config, trace=data["trace"],
                       rounds=pd.DataFrame(data["rounds"]), summary=summary)
    return FlowerRunResult(result=result, global_vector=data["global_vector"], messages=messages, options=options)


def run_with_flower(options: FlowerOptions, config: RunConfig, out: str | Path, *, progress: bool = True
                    ) -> RunResult:
    """Run ``config`` on Flower (:func:`run_flower`), write it to ``out`` and return its :class:`RunResult`.

    A failed run raises :class:`FlowerRunError` (one line); the caller prints it.
    """
    outcome = run_flower(config, options, progress=progress)
    outcome.write(out)
    return outcome.result
