"""Measured transfers of real payloads over real TCP through the emulated links of a lab.

This is where the communication coefficients of the cost model come from: the alpha-beta model
``latency_s + 8*(W + message_overhead_bytes)/(link_efficiency*b)`` that prices the model broadcasts,
downloads and uploads of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and FedAvg.
:func:`measure_transfers` is the controller: it runs outside the lab (:mod:`reference_impl.network.lab`),
starts the transfer server and one sender per client host inside it
(:mod:`reference_impl.network.transfer_endpoints`, which says what goes on the socket and what one
measurement is), releases the senders of a group together, and collects one row per message. It
talks to its processes through pipes only.

Timeouts everywhere: every socket operation of the endpoints has one (a dead or stopped peer ends the
sender with an error, never a hang), the controller gives every host a deadline per message and kills
a silent sender, and the server process exits by itself after ``lifetime_s``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from costmodel.errors import check_int, check_number, must
from reference_impl.network.lab import Host, Lab
from reference_impl.network.transfer_endpoints import CONNECTED, DIRECTIONS, FRAME_HEADER_BYTES, STARTUP_S

__all__ = [
    "LinkTransferError",
    "TRANSFER_COLUMNS",
    "TransferServer",
    "measure_transfers",
    "message_timeout_s",
    "path_rate_bits_per_s",
    "start_transfer_server",
]

TRANSFER_COLUMNS: dict[str, str] = {
    "host": "int64",
    "direction": "string",
    "rate_bits_per_s": "float64",
    "payload_bytes": "int64",
    "wire_bytes": "int64",
    "seconds": "float64",
    "repeat": "int64",
}


class LinkTransferError(RuntimeError):
    """A transfer failed or timed out; the message names the host, the direction and the cause."""


def _python_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reference_impl.network.transfer_endpoints", *args]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Lines:
    """Non-blocking line reader over a child's stdout."""

    def __init__(self, stream) -> None:
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self._pending = b""
        self.eof = False

    def read(self) -> list[str]:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            self.eof = True
            chunk = b"\n" if self._pending else b""
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        return [line.decode() for line in lines if line.strip()]


@dataclass(eq=False)
class TransferServer:
    """The transfer server running in a lab's server namespace (see :func:`start_transfer_server`)."""

    lab: Lab
    address: str
    port: int
    process: subprocess.Popen[bytes]

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the server process at once (SIGKILL), as a crashed peer would vanish."""
        if self.alive():
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5.0)

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 2 s)."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> TransferServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def start_transfer_server(lab: Lab, *, timeout_s: float = 30.0, lifetime_s: float = 3600.0) -> TransferServer:
    """Start the transfer server in the lab's server namespace and wait until it listens.

    ``timeout_s`` bounds every socket operation of the server; ``lifetime_s`` its whole life.
    """
    timeout_s = check_number("timeout_s", timeout_s, exclusive_minimum=0.0)
    lifetime_s = check_number("lifetime_s", lifetime_s, exclusive_minimum=0.0)
    process = lab.popen(lab.server, *_python_command("serve", "--port", "0", "--timeout-s", repr(timeout_s),
                                                     "--lifetime-s", repr(lifetime_s)),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env())
    lines = _Lines(process.stdout)
    deadline = time.monotonic() + STARTUP_S
    with selectors.DefaultSelector() as selector:
        selector.register(lines.fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None and lines.eof:
                break
            selector.select(timeout=min(remaining, 0.2))
            for line in lines.read():
                if line.startswith("ready "):
                    return TransferServer(lab=lab, address=lab.server.address, port=int(line.split()[1]),
                                          process=process)
            if lines.eof:
                break
    process.kill()
    process.wait(timeout=5.0)
    stderr = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
    raise LinkTransferError(f"the transfer server did not start within {STARTUP_S:g} s"
                            + (f": {stderr.splitlines()[-1]}" if stderr else "."))


def path_rate_bits_per_s(lab: Lab, host: Host, direction: str) -> float:
    """Nominal bottleneck rate of a host's path to or from the server.

    ``uplink`` crosses the client's uplink and the server's downlink; ``downlink`` the server's
    uplink and the client's downlink. Unshaped directions count as ``inf``.
    """
    client = host.link.rate_bits_per_s(direction) if host.link is not None else math.inf
    opposite = "downlink" if direction == "uplink" else "uplink"
    server = lab.server.link.rate_bits_per_s(opposite) if lab.server.link is not None else math.inf
    return min(client, server)


def message_timeout_s(payload_bytes: int, rate_bits_per_s: float) -> float:
    """Default per-message deadline: ``5 + 3 * 8*(payload + 8)/rate`` seconds (5 s if unshaped)."""
    if rate_bits_per_s == math.inf:
        return 5.0
    return 5.0 + 3.0 * 8.0 * (payload_bytes + FRAME_HEADER_BYTES) / rate_bits_per_s


@dataclass
class _Job:
    host: Host
    rate_bits_per_s: float
    timeout_s: float
    process: subprocess.Popen[bytes] | None = None
    lines: _Lines | None = None
    deadline: float = 0.0
    expected: int = 0
    received: int = 0


def _check_sizes(sizes_bytes: Sequence[int]) -> list[int]:
    if isinstance(sizes_bytes, (int, str)):
        raise must("sizes_bytes", "be a sequence of payload sizes", sizes_bytes)
    sizes = [check_int("sizes_bytes", size, minimum=1, maximum=1 << 31) for size in sizes_bytes]
    if not sizes:
        raise must("sizes_bytes", "hold at least one size", list(sizes_bytes))
    return sizes


def measure_transfers(lab: Lab, sizes_bytes: Sequence[int], repeats: int, direction: str, *,
                      hosts: Sequence[Host | int] | None = None, concurrent: bool = False,
                      timeout_s: float | None = None, warmup: int = 1, progress: bool | None = None,
                      server: TransferServer | None = None):
    """Measure real transfers of each size, ``repeats`` times, between the server and each host.

    Parameters
    ----------
    lab
        A running lab (:func:`reference_impl.network.lab.emulated_network`).
    sizes_bytes
        Payload sizes ``W`` in bytes (a model of ``P`` float32 parameters is ``16 + 4*P``).
    repeats
        Passes over the sizes per host (>= 1).
    direction
        ``'uplink'`` (client -> server) or ``'downlink'`` (server -> client).
    hosts
        Client hosts to measure (default: all).
    concurrent
        Measure all hosts at once (their transfers then share the server's link) instead of one
        after another.
    timeout_s
        Deadline for each message; default :func:`message_timeout_s` of the largest size at the
        host's rate. A peer that dies or stalls ends the call with :class:`LinkTransferError`
        within about this long.
    warmup
        Unrecorded 64 KiB messages sent first on each connection.
    progress
        Show a tqdm bar (``None``: only on a terminal).
    server
        A running :class:`TransferServer` to use; by default one is started and stopped here.

    Returns
    -------
    pandas.DataFrame
        One row per message, columns :data:`TRANSFER_COLUMNS`: host (client index), direction,
        rate_bits_per_s (nominal bottleneck of the path, :func:`path_rate_bits_per_s`),
        payload_bytes, wire_bytes (``payload + 8``), seconds (sender's first byte to the
        acknowledgement), repeat.
    """
    if lab.closed:
        raise must("lab", "be a running lab", lab)
    sizes = _check_sizes(sizes_bytes)
    repeats = check_int("repeats", repeats, minimum=1, maximum=100_000)
    if direction not in DIRECTIONS:
        raise must("direction", "be 'uplink' or 'downlink'", direction)
    warmup = check_int("warmup", warmup, minimum=0, maximum=100)
    if timeout_s is not None:
        timeout_s = check_number("timeout_s", timeout_s, exclusive_minimum=0.0)
    chosen = list(lab.clients) if hosts is None else [lab.host(h) for h in hosts]
    if not chosen:
        raise must("hosts", "name at least one client host", list(hosts or []))
    if any(h.index is None for h in chosen):
        raise must("hosts", "name client hosts only (the server is the other end)", [h.name for h in chosen])

    jobs = []
    for host in chosen:
        rate = path_rate_bits_per_s(lab, host, direction)
        per_message = timeout_s if timeout_s is not None else message_timeout_s(max(sizes), rate)
        jobs.append(_Job(host=host, rate_bits_per_s=rate, timeout_s=per_message))
    total = len(jobs) * len(sizes) * repeats
    rows: list[tuple] = []
    owned = server is None
    if owned:
        longest = max(job.timeout_s for job in jobs)
        server = start_transfer_server(
            lab, timeout_s=longest,
            lifetime_s=STARTUP_S + sum(job.timeout_s for job in jobs) * (len(sizes) * repeats + warmup) + 60.0)
    bar = tqdm(total=total, desc=f"{direction} transfers", unit="msg", disable=None if progress is None else not progress,
               leave=False)
    try:
        waves = [jobs] if concurrent else [[job] for job in jobs]
        for wave in waves:
            _run_wave(lab, server, wave, sizes, repeats, warmup, direction, rows, bar)
    finally:
        bar.close()
        if owned:
            server.close()
    frame = pd.DataFrame(rows, columns=list(TRANSFER_COLUMNS))
    return frame.astype(TRANSFER_COLUMNS)


def _run_wave(lab: Lab, server: TransferServer, wave: list[_Job], sizes: list[int], repeats: int,
              warmup: int, direction: str, rows: list[tuple], bar) -> None:
    """Run one group of senders together: start, wait until all are connected, release, collect."""
    env = _child_env()
    started = time.monotonic()
    for job in wave:
        job.process = lab.popen(job.host, *_python_command(
            "send", "--server", server.address, "--port", str(server.port), "--direction", direction,
            "--sizes", ",".join(map(str, sizes)), "--repeats", str(repeats), "--warmup", str(warmup),
            "--timeout-s", repr(job.timeout_s), "--barrier"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        job.lines = _Lines(job.process.stdout)
        job.expected = len(sizes) * repeats
        job.deadline = started + STARTUP_S + job.timeout_s  # start-up and connection
    waiting = {id(job) for job in wave}
    try:
        with selectors.DefaultSelector() as selector:
            for job in wave:
                selector.register(job.lines.fd, selectors.EVENT_READ, job)
            active = list(wave)
            while active:
                wait = max(0.0, min(job.deadline for job in active) - time.monotonic())
                selector.select(timeout=min(wait, 0.5))
                for job in list(active):
                    for line in job.lines.read():
                        if line == CONNECTED:
                            if waiting is not None:
                                waiting.discard(id(job))
                            continue
                        record = json.loads(line)
                        rows.append((job.host.index, direction, job.rate_bits_per_s, record["payload_bytes"],
                                     record["payload_bytes"] + FRAME_HEADER_BYTES, record["seconds"],
                                     record["repeat"]))
                        job.received += 1
                        job.deadline = time.monotonic() + job.timeout_s
                        bar.update(1)
                    if job.lines.eof:
                        selector.unregister(job.lines.fd)
                        active.remove(job)
                        _finish(job, direction)
                    elif time.monotonic() > job.deadline:
                        if waiting is not None:
                            raise LinkTransferError(
                                f"{job.host.name} ({direction}): the sender did not connect within "
                                f"{STARTUP_S + job.timeout_s:.1f} s; the server is dead or the link is down.")
                        raise LinkTransferError(
                            f"{job.host.name} ({direction}): no measurement within {job.timeout_s:.1f} s after "
                            f"{job.received} of {job.expected} messages; the peer is dead or the link is down.")
                if waiting is not None and not waiting:
                    # everyone is connected: release them together; the warm-up and one message are next
                    released = time.monotonic()
                    for job in wave:
                        with contextlib.suppress(BrokenPipeError):  # a dead sender is reported at its EOF
                            job.process.stdin.write(b"go\n")
                            job.process.stdin.close()
                        job.deadline = released + job.timeout_s * (warmup + 1)
                    waiting = None
    finally:
        for job in wave:
            if job.process is not None and job.process.poll() is None:
                job.process.kill()
            if job.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    job.process.wait(timeout=5.0)
                for stream in (job.process.stdin, job.process.stdout, job.process.stderr):
                    if stream is not None:
                        with contextlib.suppress(OSError):
                            stream.close()


def _finish(job: _Job, direction: str) -> None:
    """Reap a sender that closed its output; raise if it failed or fell short."""
    try:
        code = job.process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        job.process.kill()
        code = job.process.wait(timeout=5.0)
    stderr = job.process.stderr.read().decode(errors="replace").strip() if job.process.stderr else ""
    if code != 0 or job.received != job.expected:
        cause = stderr.splitlines()[-1] if stderr else f"exit status {code}"
        if cause.startswith("error: "):
            cause = cause[len("error: "):]
        raise LinkTransferError(f"{job.host.name} ({direction}): transfer failed after {job.received} of "
                                f"{job.expected} messages: {cause}.")
