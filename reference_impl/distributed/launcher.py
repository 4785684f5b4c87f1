"""The distributed engine's controller: a run over ``torch.distributed`` on loopback or emulated links.

The in-process engine (:mod:`reference_impl.engine.in_process`) measures every event on one machine and puts
it on a virtual clock; it cannot see a network. This engine runs the same protocol of Astraea
(Duan et al., ICCD 2019; TPDS 32(1), 2021) and FedAvg with one process per device over the gloo
backend, so model transfers are real point-to-point sends of the serialized model
(:mod:`reference_impl.engine.wire`) and their times are measured over real links:

``network="local"``
    every process on 127.0.0.1 on this machine (no root needed): real sockets, no bandwidth limit.
``network="emulated"``
    the server in its own network namespace and each worker in another, joined by veth pairs
    shaped with tbf to the given uplink and downlink rates (:mod:`reference_impl.network.lab`); needs
    root. Everything is torn down on exit, on failure and on Ctrl-C.

Rank 0 is the server (and hosts the virtual mediators), ranks 1..W client devices, each hosting a
fixed subset of the clients (client ``k`` on rank ``1 + k % W``). On a real deployment each client
is its own device (a round's c participants are c devices); on this 2-core machine
``W = min(N, workers)`` with ``workers`` = 4 by default, and when two of a round's clients live on
the same worker it serves them one after another. The virtual-clock ``round_s`` still places every
client on its own device (as the in-process engine does); the wall-clock ``wall_s`` shows the
sharing. ``workers >= N`` gives every client its own process. (W is bounded by N, not by c: with a
fixed placement, c workers cannot give each of a round's c clients its own device.) Each rank is one
process of :mod:`reference_impl.distributed.rank`; the message layout is
:mod:`reference_impl.distributed.peer` and how each transfer is timed on the server's clock
:mod:`reference_impl.distributed.server`.

What a run returns is what the in-process engine returns
(:class:`~reference_impl.engine.drive.RunResult`: the same trace rows, phases, entities and bytes,
and the per-round summary with the virtual-clock ``round_s``), with measured transfer times and the
real wall-clock round time ``wall_s``, plus the final global model. For the same seed the final
model equals the in-process engine's.

This module is the controller: it writes the job (:mod:`reference_impl.distributed.job`), starts
one process per rank, watches them and always reaps them; :func:`run_with_network` runs a
configuration on the network the ``--network`` options ask for
(:mod:`reference_impl.distributed.options`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from costmodel.errors import must
from reference_impl.config import RunConfig
from reference_impl.distributed.job import Job
from reference_impl.distributed.options import DEFAULT_WORKERS, DistributedOptions, require_namespaces
from reference_impl.engine.drive import RunResult, RunResultViews, run
from reference_impl.network.lab import emulated_network
from reference_impl.network.cpu_throttle import JOIN_ENV, cpu_throttle, remove_stale
from reference_impl.network.links import LinkSpec
from reference_impl.network.namespaces import NetlabError

__all__ = [
    "NETLAB_PREFIX",
    "DistributedRunError",
    "DistributedRunResult",
    "run_distributed",
    "run_with_network",
]

#: Namespace prefix of the emulated labs of distributed runs (``adist-<pid>-<n>-...``).
NETLAB_PREFIX = "adist"
_POLL_S = 0.02
_EMULATED_PORT = 29500  # inside the lab's private server namespace nothing else listens


class DistributedRunError(RuntimeError):
    """A distributed run failed; the one-line message names the rank that failed and how."""


@dataclass(frozen=True)
class DistributedRunResult(RunResultViews):
    """A finished distributed run: the same :class:`RunResult` as the in-process engine, and the model.

    Attributes
    ----------
    result : trace, per-round summary (``round_s`` on the virtual clock, ``wall_s`` real) and summary.
    global_vector : the final global model's parameters (float32, ``parameters_to_vector`` order).
    options : how the run was distributed.
    """

    result: RunResult
    global_vector: np.ndarray = field(repr=False)
    options: DistributedOptions

    def write(self, folder: str | Path) -> Path:
        """Write ``trace.csv`` and ``run.json`` (atomically), as :meth:`RunResult.write`."""
        return self.result.write(folder)


# =============================================================================================
# Processes
# =============================================================================================

def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _child_env(extra: dict[str, str], threads: int) -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra)
    return env


def _role(rank: int) -> str:
    return "server" if rank == 0 else "worker"


def _describe_exit(rank: int, code: int, folder: Path) -> str:
    error = folder / f"error-rank{rank}.txt"
    if error.exists():
        text = error.read_text(encoding="utf-8").strip()
        if text:
            return f"rank {rank} ({_role(rank)}): {text}"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"rank {rank} ({_role(rank)}) was killed by {name}"
    if code == 0:
        return f"rank {rank} ({_role(rank)}) exited before the run finished"
    return f"rank {rank} ({_role(rank)}) exited with status {code}"


class _Processes:
    """The run's processes by rank; :meth:`close` always ends and reaps every one still running."""

    def __init__(self) -> None:
        self.by_rank: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: list[BinaryIO] = []

    def add(self, rank: int, process: subprocess.Popen[bytes]) -> None:
        self.by_rank[rank] = process

    def log(self, folder: Path, rank: int) -> BinaryIO:
        handle = open(folder / f"rank{rank}.log", "wb")  # noqa: SIM115 - closed in close()
        self._logs.append(handle)
        return handle

    def close(self, grace_s: float = 0.0) -> None:
        deadline = time.monotonic() + grace_s
        for process in self.by_rank.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.by_rank.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for process in self.by_rank.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10.0)
        for handle in self._logs:
            handle.close()


def _watch(processes: _Processes, folder: Path, *, options: DistributedOptions, rounds: int,
           progress: bool) -> None:
    """Wait until the server has finished; raise :class:`DistributedRunError` on the first failure.

    A failure is any process ending before the server has written its result, or a server that has
    shown no sign of life (its progress file untouched) for ``3 * max(timeout_s, 30 s) + 10`` seconds
    (the server touches it whenever a message arrives, and idle links are pinged every
    ``timeout_s / 4``, so only a stopped or wedged server stays silent that long).
    """
    progress_path = folder / "progress"
    silence_s = 3.0 * max(options.timeout_s, 30.0) + 10.0
    bar = tqdm(total=rounds, desc=f"rounds over {options.network} network", unit="round", disable=not progress,
               leave=False)
    done = 0
    try:
        while True:
            if (folder / "result.pkl").exists():  # written atomically once the last round is done
                return
            codes = {rank: process.poll() for rank, process in processes.by_rank.items()}
            ended = [rank for rank, code in codes.items() if code is not None]
            if ended:
                time.sleep(0.2)  # let the cause (a killed process) and its consequences settle
                codes = {rank: process.poll() for rank, process in processes.by_rank.items()}
                ended = [rank for rank, code in codes.items() if code is not None]
                killed = [rank for rank in ended if codes[rank] < 0]
                cause = killed[0] if killed else (0 if 0 in ended else ended[0])
                raise DistributedRunError(f"distributed run failed: {_describe_exit(cause, codes[cause], folder)} "
                                          f"(logs in {folder}).")
            try:
                age_s = time.time() - progress_path.stat().st_mtime
                text = progress_path.read_text(encoding="utf-8").strip()
            except OSError:
                age_s, text = 0.0, ""
            if age_s > silence_s:
                raise DistributedRunError(f"distributed run failed: rank 0 (server) showed no progress for "
                                          f"{age_s:.0f} s (logs in {folder}).")
            if text.isdigit() and int(text) > done:
                bar.update(int(text) - done)
                done = int(text)
            time.sleep(_POLL_S)
    finally:
        bar.close()


@contextlib.contextmanager
def _launch(options: DistributedOptions, *, world_size: int, job_path: Path, folder: Path,
            threads: int) -> Iterator[_Processes]:
    """Start one process per rank on the chosen network; end and reap them all on the way out.

    On success the workers get ``timeout_s`` to finish after the server; on any failure (and on
    Ctrl-C) every process still running is killed at once, then the emulated network is torn down.
    """
    command = [sys.executable, "-m", "reference_impl.distributed.rank", str(job_path)]
    if options.network == "local":
        port = _free_loopback_port()
        with _reaped(options) as processes:
            for rank in range(world_size):
                env = _child_env({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                                  "WORLD_SIZE": str(world_size), "GLOO_SOCKET_IFNAME": "lo"}, threads)
                processes.add(rank, subprocess.Popen(command, env=env, stdout=processes.log(folder, rank),
                                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            yield processes
        return
    if options.devices:
        links = [LinkSpec(uplink_bits_per_s=up, downlink_bits_per_s=down) for _, up, down in options.devices]
        throttled = cpu_throttle({rank: speed for rank, (speed, _, _) in enumerate(options.devices, start=1)},
                                 prefix=NETLAB_PREFIX)
    else:
        links = [LinkSpec(uplink_bits_per_s=options.uplink_bits_per_s,
                          downlink_bits_per_s=options.downlink_bits_per_s)]
        throttled = contextlib.nullcontext()
    # exit order: processes reaped, then the (emptied) cgroups removed, then the namespaces deleted
    with emulated_network(world_size - 1, links, prefix=NETLAB_PREFIX) as lab, throttled as throttle, \
            _reaped(options) as processes:
        for rank, host in enumerate([lab.server, *lab.clients]):
            extra = lab.gloo_env(host, rank=rank, world_size=world_size, port=_EMULATED_PORT)
            if throttle is not None and rank in throttle.groups:
                # the worker joins its cgroup itself before its first visit (cpu_throttle.join_from_env), so it
                # starts (imports torch, builds and augments its data) at the machine's speed; `ip netns exec`
                # mounts its own /sys, so the path goes through this process's root
                extra = dict(extra, **{JOIN_ENV: f"/proc/{os.getpid()}/root{throttle.procs_path(rank)}"})
            env = _child_env(extra, threads)
            process = lab.popen(host, *command, env=env, stdout=processes.log(folder, rank),
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            processes.add(rank, process)
        yield processes


@contextlib.contextmanager
def _reaped(options: DistributedOptions) -> Iterator[_Processes]:
    processes = _Processes()
    try:
        yield processes
    except BaseException:
        processes.close(grace_s=0.0)
        raise
    processes.close(grace_s=options.timeout_s)


def run_distributed(config: RunConfig, *, network: str = "local", workers: int = DEFAULT_WORKERS,
                    uplink_bits_per_s: float = 5e6, downlink_bits_per_s: float = 20e6, timeout_s: float = 60.0,
                    progress: bool = False, run_id: str | None = None,
                    work_dir: str | Path | None = None,
                    devices: tuple[tuple[float, float, float], ...] = ()) -> DistributedRunResult:
    """Run ``config`` with one process per device over ``torch.distributed`` (gloo) and return its trace.

    Parameters
    ----------
    config : the run (:class:`~reference_impl.config.RunConfig`), as for the in-process engine.
    network : ``"local"`` (loopback) or ``"emulated"`` (namespaces, tbf-shaped links; needs root).
    workers : client-device processes at most; ``W = min(config.clients, workers)``.
    uplink_bits_per_s, downlink_bits_per_s : each worker's link (emulated only).
    timeout_s : longest silence on any link, and the rendezvous deadline.
    progress : show a progress bar on stderr.
    run_id : the trace's run id (default ``<algorithm>-<8 hex digits>``).
    devices : one ``(speed_factor, uplink_bits_per_s, downlink_bits_per_s)`` per worker (emulated
        only; see :class:`~reference_impl.distributed.options.DistributedOptions`); needs
        ``min(config.clients, workers)`` rows.
    work_dir : where the run's scratch folder (job, per-rank logs, result) is made; the system's
        temporary folder by default. The scratch folder is deleted after a successful run and kept
        after a failure, for its logs (the error message names it).

    Returns
    -------
    DistributedRunResult
        The trace (same rows, phases, entities and bytes as the in-process engine, measured
        transfer times), the per-round summary (``round_s`` virtual clock, ``wall_s`` real) and the
        final global model.

    Raises
    ------
    InputError
        For bad options, or ``network="emulated"`` where namespaces are unavailable (the reason).
    DistributedRunError
        When a process fails, is killed or falls silent; one line naming the rank. Every process
        has been ended and reaped, and an emulated network torn down, when it is raised.
    """
    if not isinstance(config, RunConfig):
        raise must("config", "be a RunConfig", type(config).__name__)
    options = DistributedOptions(network=network, workers=workers, uplink_bits_per_s=uplink_bits_per_s,
                                 downlink_bits_per_s=downlink_bits_per_s, timeout_s=timeout_s, devices=devices)
    world_size = min(config.clients, options.workers) + 1
    if options.devices and len(options.devices) != world_size - 1:
        raise must("devices", f"have one row per worker, min(clients, workers) = {world_size - 1}",
                   f"{len(options.devices)} rows")
    if options.network == "emulated":
        require_namespaces(devices=bool(options.devices))
        if options.devices:
            remove_stale(NETLAB_PREFIX)
    run_id = run_id or f"{config.algorithm}-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="astraea-distributed-", dir=work_dir))
    failed = True
    try:
        job = Job(config=config.as_dict(), run_id=run_id, workers=world_size - 1, timeout_s=options.timeout_s,
                  slowest_bits_per_s=options.slowest_bits_per_s, folder=str(folder), parent_pid=os.getpid())
        job_path = folder / "job.json"
        job_path.write_text(job.to_json(), encoding="utf-8")
        (folder / "progress").write_text("0\n", encoding="utf-8")
        wall0 = time.perf_counter()
        with _launch(options, world_size=world_size, job_path=job_path, folder=folder,
                     threads=config.threads) as processes:
            _watch(processes, folder, options=options, rounds=config.rounds, progress=progress)
        launch_wall_s = time.perf_counter() - wall0
        result = _load_result(folder, config, options, launch_wall_s)
        failed = False
        return result
    finally:
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)


def _load_result(folder: Path, config: RunConfig, options: DistributedOptions,
                 launch_wall_s: float) -> DistributedRunResult:
    with open(folder / "result.pkl", "rb") as handle:
        data = pickle.load(handle)  # written by our own server process a moment ago
    summary = dict(data["summary"], network=options.network, timeout_s=options.timeout_s,
                   launch_wall_s=launch_wall_s)
    if options.network == "emulated":
        summary.update(uplink_bits_per_s=options.uplink_bits_per_s, downlink_bits_per_s=options.downlink_bits_per_s)
    if options.devices:
        summary["devices"] = [list(device) for device in options.devices]
    result = RunResult(run_id=data["run_id"], config=config, trace=data["trace"],
                       rounds=pd.DataFrame(data["rounds"]), summary=summary)
    return DistributedRunResult(result=result, global_vector=data["global_vector"], options=options)


def run_with_network(options: DistributedOptions | None, config: RunConfig, out: str | Path, *,
                     progress: bool = True) -> RunResult:
    """Run ``config`` on the network ``options`` ask for
    (:func:`~reference_impl.distributed.options.options_from_args`; ``None``: in process), write it to
    ``out``, and return it.

    ``inprocess`` runs the in-process engine; ``local`` and ``emulated`` run :func:`run_distributed`.
    A failed distributed run exits with status 1 and its one-line reason on stderr, never a traceback.
    """
    if options is None:
        result = run(config, progress=progress)
    else:
        try:
            result = run_distributed(config, network=options.network, workers=options.workers,
                                     uplink_bits_per_s=options.uplink_bits_per_s,
                                     downlink_bits_per_s=options.downlink_bits_per_s, timeout_s=options.timeout_s,
                                     progress=progress, devices=options.devices).result
        except (DistributedRunError, NetlabError) as exc:
            raise SystemExit(f"astraea-cost run: error: {exc}") from None
    result.write(out)
    return result
