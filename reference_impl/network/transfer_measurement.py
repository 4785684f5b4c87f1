"""Measured transfers of real payloads over real TCP through the emulated links of :mod:`.netlab`.

This is where the communication coefficients of the cost model come from: the alpha-beta model
``latency_s + 8*(W + message_overhead_bytes)/(link_efficiency*b)`` that prices the model broadcasts,
downloads and uploads of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and FedAvg. A server
process runs in the lab's server namespace; a client process per host runs in the host's namespace
and opens **one persistent TCP connection** to it, as real FL stacks do (gRPC keeps its channels
open; a fresh connection per message would pay a handshake and TCP slow start every time).

Framing (what goes on the socket for one message of ``W`` payload bytes)::

    8-byte big-endian unsigned length W | W payload bytes        -> receiver
                                          1-byte acknowledgement  <- receiver, once all W arrived

so ``wire_bytes = W + 8``. The 8 framing bytes, the acknowledgement and the TCP/IP/Ethernet headers
are what the fit calls ``message_overhead_bytes`` (the per-segment headers, being proportional to
``W``, land in ``link_efficiency`` instead). The payload is random bytes: neither TCP nor tbf looks
inside, so a model message of ``P`` float32 parameters is simply ``W = 16 + 4*P`` (see
:mod:`reference_impl.wire`).

What one measurement is: the **sender's** wall time from handing the first byte of the frame to
the socket to receiving the receiver's acknowledgement, in both directions. It is what a
synchronous FL server experiences for "send the model and know it arrived", and it needs one
clock only (the sender's). It includes one small packet on the reverse path (the acknowledgement),
which the fit's ``latency_s`` absorbs.

Directions: ``uplink`` is client -> server (the client sends), ``downlink`` server -> client (the
client asks for a size, the server sends, the client acknowledges, and the server reports the time
it measured back over the connection after the measurement has ended).

Order and warm-up: the senders of one group connect, report ``connected`` and wait until all of
them have (a barrier: otherwise one host's interpreter start-up steals CPU from another's transfer
on a 2-core machine, which showed as +3 ms on 2 ms messages); then each sends one unrecorded
64 KiB message (the connection's congestion state settles, the code paths are warm), then
``repeats`` passes over the sizes, each pass in the given size order, so drift touches every size
alike.

Timeouts everywhere: every socket operation has one (a dead or stopped peer ends the sender with an
error, never a hang), the controller gives every host a deadline per message and kills a silent
sender, and the server process exits by itself after ``lifetime_s``.

Command line (started inside the namespaces by :func:`measure_transfers`)::

    python -m reference_impl.link_transfer serve --port 0 --timeout-s 30 --lifetime-s 600
    python -m reference_impl.link_transfer send --server 10.231.0.1 --port 41234 \\
        --direction uplink --sizes 65536,1048576 --repeats 3 --timeout-s 30
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import select
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from costmodel.errors import check_int, check_number, must
from reference_impl.netlab import Host, Lab

__all__ = [
    "ACK",
    "DIRECTIONS",
    "FRAME_HEADER_BYTES",
    "LinkTransferError",
    "TRANSFER_COLUMNS",
    "TransferServer",
    "WARMUP_BYTES",
    "main",
    "measure_transfers",
    "message_timeout_s",
    "path_rate_bits_per_s",
    "start_transfer_server",
]

FRAME_HEADER_BYTES = 8
_LENGTH = struct.Struct("!Q")
_SECONDS = struct.Struct("!d")
ACK = b"\x06"
_END = (1 << 64) - 1
DIRECTIONS = ("uplink", "downlink")
WARMUP_BYTES = 65536
CONNECTED = "connected"
_MODES = {"uplink": b"U", "downlink": b"D"}
_CHUNK = 1 << 20
#: Seconds a process gets to start, import and connect before its first answer is due.
_STARTUP_S = 10.0

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


# --------------------------------------------------------------------------------------------
# Socket primitives (both ends)
# --------------------------------------------------------------------------------------------

def _recv_exact(sock: socket.socket, view: memoryview, what: str) -> None:
    got = 0
    total = len(view)
    while got < total:
        n = sock.recv_into(view[got:], min(total - got, _CHUNK))
        if n == 0:
            raise ConnectionError(f"the peer closed the connection after {got} of {total} bytes of {what}")
        got += n


def _recv_struct(sock: socket.socket, layout: struct.Struct, what: str) -> tuple:
    buffer = bytearray(layout.size)
    _recv_exact(sock, memoryview(buffer), what)
    return layout.unpack(buffer)


def _timed_send(sock: socket.socket, frame: memoryview) -> float:
    """Send one frame and wait for its acknowledgement; return the elapsed seconds."""
    ack = bytearray(1)
    start = time.perf_counter()
    sock.sendall(frame)
    _recv_exact(sock, memoryview(ack), "the acknowledgement")
    elapsed = time.perf_counter() - start
    if bytes(ack) != ACK:
        raise ConnectionError(f"expected acknowledgement {ACK!r}, got {bytes(ack)!r}")
    return elapsed


def _receive_frame(sock: socket.socket, buffer: bytearray) -> int:
    """Receive one frame into ``buffer`` (grown as needed), acknowledge it, return its size."""
    (size,) = _recv_struct(sock, _LENGTH, "a frame header")
    if size > len(buffer):
        buffer.extend(bytes(size - len(buffer)))
    _recv_exact(sock, memoryview(buffer)[:size], f"a {size}-byte payload")
    sock.sendall(ACK)
    return size


class _Frames:
    """One random buffer; frame ``W`` is its first ``8 + W`` bytes with the length written in front."""

    def __init__(self, largest: int) -> None:
        self._buffer = bytearray(FRAME_HEADER_BYTES) + bytearray(os.urandom(largest))

    def frame(self, size: int) -> memoryview:
        _LENGTH.pack_into(self._buffer, 0, size)
        return memoryview(self._buffer)[: FRAME_HEADER_BYTES + size]


def _configure(sock: socket.socket, timeout_s: float) -> None:
    sock.settimeout(timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# --------------------------------------------------------------------------------------------
# Server (runs in the server namespace)
# --------------------------------------------------------------------------------------------

def _serve_connection(conn: socket.socket, timeout_s: float) -> None:
    with conn:
        _configure(conn, timeout_s)
        mode = bytearray(1)
        _recv_exact(conn, memoryview(mode), "the greeting")
        if bytes(mode) == _MODES["uplink"]:
            buffer = bytearray()
            while True:
                header = bytearray(FRAME_HEADER_BYTES)
                n = conn.recv_into(header, 1)
                if n == 0:
                    return  # the client finished and closed
                _recv_exact(conn, memoryview(header)[1:], "a frame header")
                (size,) = _LENGTH.unpack(header)
                if size > len(buffer):
                    buffer.extend(bytes(size - len(buffer)))
                _recv_exact(conn, memoryview(buffer)[:size], f"a {size}-byte payload")
                conn.sendall(ACK)
        elif bytes(mode) == _MODES["downlink"]:
            frames: _Frames | None = None
            largest = 0
            while True:
                (size,) = _recv_struct(conn, _LENGTH, "a request")
                if size == _END:
                    return
                if frames is None or size > largest:
                    largest = size
                    frames = _Frames(largest)
                elapsed = _timed_send(conn, frames.frame(size))
                conn.sendall(_SECONDS.pack(elapsed))
        else:
            raise ConnectionError(f"unknown greeting {bytes(mode)!r}")


def serve(*, bind: str, port: int, timeout_s: float, lifetime_s: float) -> int:
    """Accept connections until ``lifetime_s`` has passed; print ``ready <port>`` once listening."""
    deadline = time.monotonic() + lifetime_s
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((bind, port))
        listener.listen(128)
        listener.settimeout(0.5)
        print(f"ready {listener.getsockname()[1]}", flush=True)
        while time.monotonic() < deadline:
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue

            def handle(conn: socket.socket = conn, peer: tuple = peer) -> None:
                try:
                    _serve_connection(conn, timeout_s)
                except (OSError, ConnectionError) as exc:
                    print(f"connection from {peer[0]}: {exc}", file=sys.stderr, flush=True)

            threading.Thread(target=handle, daemon=True).start()
    return 0


# --------------------------------------------------------------------------------------------
# Client (runs in a client namespace)
# --------------------------------------------------------------------------------------------

def _await_start(timeout_s: float, out) -> None:
    """Print ``connected`` and wait for a line on stdin (the controller's common start signal)."""
    print(CONNECTED, file=out, flush=True)
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    if not ready or not sys.stdin.readline():
        raise TimeoutError("no start signal from the controller")


def send(*, server: str, port: int, direction: str, sizes: Sequence[int], repeats: int,
         timeout_s: float, warmup: int, barrier: bool = False, out=sys.stdout) -> int:
    """Measure ``repeats`` passes over ``sizes``; print one JSON line per measured message.

    With ``barrier``, wait after connecting for a line on stdin before the warm-up, so that hosts
    measured together start together (and no host's start-up steals CPU from another's transfer).
    """
    deadline = time.monotonic() + timeout_s
    while True:  # the server prints "ready" before this starts; retry only a refused race
        try:
            sock = socket.create_connection((server, port), timeout=timeout_s)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with sock:
        _configure(sock, timeout_s)
        sock.sendall(_MODES[direction])
        if barrier:
            _await_start(timeout_s + _STARTUP_S, out)
        schedule = [(-1, WARMUP_BYTES)] * warmup + [(r, s) for r in range(repeats) for s in sizes]
        if direction == "uplink":
            frames = _Frames(max(s for _, s in schedule))
            for repeat, size in schedule:
                elapsed = _timed_send(sock, frames.frame(size))
                if repeat >= 0:
                    print(json.dumps({"payload_bytes": size, "seconds": elapsed, "repeat": repeat}),
                          file=out, flush=True)
        else:
            buffer = bytearray(max(s for _, s in schedule))
            for repeat, size in schedule:
                sock.sendall(_LENGTH.pack(size))
                received = _receive_frame(sock, buffer)
                if received != size:
                    raise ConnectionError(f"asked for {size} bytes, received {received}")
                (elapsed,) = _recv_struct(sock, _SECONDS, "the measured time")
                if repeat >= 0:
                    print(json.dumps({"payload_bytes": size, "seconds": elapsed, "repeat": repeat}),
                          file=out, flush=True)
            sock.sendall(_LENGTH.pack(_END))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m reference_impl.link_transfer serve|send``."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.link_transfer",
                                     description="Timed TCP transfers inside an emulated network.")
    commands = parser.add_subparsers(dest="command", required=True)
    srv = commands.add_parser("serve", help="accept connections and receive or send frames")
    srv.add_argument("--bind", default="0.0.0.0")
    srv.add_argument("--port", type=int, default=0)
    srv.add_argument("--timeout-s", type=float, default=30.0)
    srv.add_argument("--lifetime-s", type=float, default=600.0)
    snd = commands.add_parser("send", help="connect, transfer frames, print one JSON line per message")
    snd.add_argument("--server", required=True)
    snd.add_argument("--port", type=int, required=True)
    snd.add_argument("--direction", choices=DIRECTIONS, required=True)
    snd.add_argument("--sizes", required=True, help="comma-separated payload sizes in bytes")
    snd.add_argument("--repeats", type=int, default=1)
    snd.add_argument("--warmup", type=int, default=1)
    snd.add_argument("--timeout-s", type=float, default=30.0)
    snd.add_argument("--barrier", action="store_true",
                     help="after connecting, print 'connected' and wait for a line on stdin")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(bind=args.bind, port=args.port, timeout_s=args.timeout_s, lifetime_s=args.lifetime_s)
        sizes = [int(token) for token in args.sizes.split(",") if token]
        return send(server=args.server, port=args.port, direction=args.direction, sizes=sizes,
                    repeats=args.repeats, timeout_s=args.timeout_s, warmup=args.warmup, barrier=args.barrier)
    except TimeoutError:
        print(f"error: no progress within {args.timeout_s:g} s (the peer is dead, stopped or the link "
              f"is down)", file=sys.stderr, flush=True)
    except ConnectionResetError:
        print("error: the peer reset the connection (it died or closed its socket)", file=sys.stderr, flush=True)
    except BrokenPipeError:
        print("error: the peer closed the connection", file=sys.stderr, flush=True)
    except (OSError, ConnectionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr, flush=True)
    return 1


# --------------------------------------------------------------------------------------------
# Controller (runs outside the lab; talks to its processes through pipes only)
# --------------------------------------------------------------------------------------------

def _python_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reference_impl.link_transfer", *args]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
    deadline = time.monotonic() + _STARTUP_S
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
    raise LinkTransferError(f"the transfer server did not start within {_STARTUP_S:g} s"
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
        A running lab (:func:`reference_impl.netlab.emulated_network`).
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
    import pandas as pd
    from tqdm.auto import tqdm

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
            lifetime_s=_STARTUP_S + sum(job.timeout_s for job in jobs) * (len(sizes) * repeats + warmup) + 60.0)
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
        job.deadline = started + _STARTUP_S + job.timeout_s  # start-up and connection
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
                                f"{_STARTUP_S + job.timeout_s:.1f} s; the server is dead or the link is down.")
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


if __name__ == "__main__":
    raise SystemExit(main())
