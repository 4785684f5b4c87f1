"""The two ends of a measured transfer: the server and the sender processes that run inside a lab.

:mod:`reference_impl.network.transfer_measurement` starts these processes in an emulated network's
namespaces (:mod:`reference_impl.network.lab`): one server in the server's namespace, one sender per
client host, each opening **one persistent TCP connection** to the server, as real FL stacks do
(gRPC keeps its channels open; a fresh connection per message would pay a handshake and TCP slow
start every time). They import nothing but the standard library, so they start fast and take no CPU
from a transfer measured next to them.

Framing (what goes on the socket for one message of ``W`` payload bytes)::

    8-byte big-endian unsigned length W | W payload bytes        -> receiver
                                          1-byte acknowledgement  <- receiver, once all W arrived

so ``wire_bytes = W + 8``. The 8 framing bytes, the acknowledgement and the TCP/IP/Ethernet headers
are what the fit calls ``message_overhead_bytes`` (the per-segment headers, being proportional to
``W``, land in ``link_efficiency`` instead). The payload is random bytes: neither TCP nor tbf looks
inside, so a model message of ``P`` float32 parameters is simply ``W = 16 + 4*P`` (see
:mod:`reference_impl.engine.wire`).

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

Timeouts: every socket operation has one, so a dead or stopped peer ends the process with an error,
never a hang; the server exits by itself after ``lifetime_s``.

Command line (started inside the namespaces by
:func:`~reference_impl.network.transfer_measurement.measure_transfers`)::

    python -m reference_impl.network.transfer_endpoints serve --port 0 --timeout-s 30 --lifetime-s 600
    python -m reference_impl.network.transfer_endpoints send --server 10.231.0.1 --port 41234 \\
        --direction uplink --sizes 65536,1048576 --repeats 3 --timeout-s 30
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence

__all__ = [
    "ACK",
    "CONNECTED",
    "DIRECTIONS",
    "FRAME_HEADER_BYTES",
    "STARTUP_S",
    "WARMUP_BYTES",
    "main",
    "send",
    "serve",
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
STARTUP_S = 10.0


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
            _await_start(timeout_s + STARTUP_S, out)
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
    """Entry point of ``python -m reference_impl.network.transfer_endpoints serve|send``."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.network.transfer_endpoints",
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


if __name__ == "__main__":
    raise SystemExit(main())
