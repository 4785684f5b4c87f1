"""One side of the conversation between two ranks of a distributed run: messages, each with a deadline.

Messages (three gloo tags, one conversation per server-worker pair, strictly in order)
---------------------------------------------------------------------------------------
``CONTROL`` (tag 0)
    a fixed 8-element float64 tensor (64 bytes): ``[kind, a, b, c, d, e, f, g]``.
``MODEL`` (tag 1)
    a uint8 tensor of exactly ``16 + 4P`` bytes (:func:`reference_impl.engine.wire.message_bytes`): the
    wire-format model. The size is fixed for a run, so no length travels with it and the receiver
    can post the receive before the message is announced.
``DATA`` (tag 2)
    a uint8 tensor whose length is fixed by the protocol or announced by the preceding control
    message: label histograms (wire format, ``16 + 8K`` bytes) and the workers' setup reports.

The trace's ``bytes`` are the wire-format payloads only (model and histogram messages), exactly the
in-process engine's; the control messages (acknowledgements, keep-alives) are framing, like TCP's
headers, and are what the cost model's ``message_overhead_bytes`` absorbs.

Deadlines
---------
Every send and receive waits at most ``timeout_s`` (plus, for a payload, twice its time at the
slowest configured rate); ``init_process_group`` waits at most ``max(timeout_s, 30 s)``
(:attr:`~reference_impl.distributed.job.Job.rendezvous_timeout_s`), since every rank first imports
torch, which on a loaded 2-core machine takes seconds (a rank that dies meanwhile is seen by the
controller at once). Silence is never legitimate: the server pings an idle worker every
``timeout_s / 4`` and a worker that computes (data, augmentation, training) sends ``BUSY`` at the
same period, so a wait that runs out means a dead or stuck peer. Any failure ends the
process at once with a one-line message in ``error-rank<r>.txt`` naming the peer's rank; the
controller then ends the others. Children die with their controller (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import datetime
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from reference_impl.engine import wire

__all__ = [
    "ACK",
    "AUGMENT",
    "BUSY",
    "CONTROL_FIELDS",
    "CONTROL_TAG",
    "DATA_TAG",
    "GO",
    "HELLO",
    "KIND_NAMES",
    "MODEL_TAG",
    "PING",
    "READY",
    "REPORT",
    "RESULT",
    "STOP",
    "VISIT",
    "Heartbeat",
    "LinkError",
    "Peer",
    "Pending",
    "as_payload",
    "decode_model",
    "encode_model",
    "first_line",
]

CONTROL_TAG = 0
MODEL_TAG = 1
DATA_TAG = 2
CONTROL_FIELDS = 8

# control message kinds
HELLO, BUSY, PING, STOP, REPORT, AUGMENT, VISIT, ACK, READY, GO, RESULT = range(1, 12)
KIND_NAMES = {HELLO: "HELLO", BUSY: "BUSY", PING: "PING", STOP: "STOP", REPORT: "REPORT",
              AUGMENT: "AUGMENT", VISIT: "VISIT", ACK: "ACK", READY: "READY", GO: "GO",
              RESULT: "RESULT"}


class LinkError(RuntimeError):
    """A send or receive failed or missed its deadline; the one-line message names the peer's rank."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if "] " in line and line.startswith("["):  # drop gloo's "[/path/file.cc:553] " prefix
        line = line.split("] ", 1)[1]
    return line.rstrip(".")


class Heartbeat:
    """Touches the progress file at most every 0.5 s: the controller's sign that the server lives."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.last = 0.0

    def __call__(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self.last > 0.5:
            self.last = now
            try:
                os.utime(self.path)
            except OSError:
                pass


class Pending:
    """A posted receive: wait for it with the peer's deadline."""

    def __init__(self, peer: Peer, work: Any, buffer: torch.Tensor, what: str, payload_bytes: int) -> None:
        self.peer, self.work, self.buffer, self.what, self.payload_bytes = peer, work, buffer, what, payload_bytes

    def wait(self) -> torch.Tensor:
        self.peer._wait(self.work, self.what, self.payload_bytes)
        return self.buffer


class Peer:
    """This process's side of the conversation with one other rank; every operation has a deadline.

    Parameters
    ----------
    rank : the other rank.
    role : how to name it in errors (``server`` or ``worker``).
    timeout_s : the deadline of a message; payloads add ``2 * 8 * bytes / slowest_bits_per_s``.
    """

    def __init__(self, rank: int, *, role: str, timeout_s: float, slowest_bits_per_s: float = math.inf,
                 heartbeat: Callable[[], None] | None = None) -> None:
        self.rank = rank
        self.role = role
        self.timeout_s = timeout_s
        self.slowest_bits_per_s = slowest_bits_per_s
        self._heartbeat = heartbeat or (lambda: None)

    def deadline_s(self, payload_bytes: int = 0) -> float:
        return self.timeout_s + 2.0 * 8.0 * payload_bytes / self.slowest_bits_per_s

    def _fail(self, what: str, exc: BaseException, payload_bytes: int) -> LinkError:
        detail = first_line(exc)
        if "timed out" in detail.lower() or "timeout" in detail.lower():
            return LinkError(f"rank {self.rank} ({self.role}) did not answer within "
                             f"{self.deadline_s(payload_bytes):g} s while {what}")
        return LinkError(f"lost the connection to rank {self.rank} ({self.role}) while {what}: {detail}")

    def _wait(self, work: Any, what: str, payload_bytes: int = 0) -> None:
        try:
            work.wait(datetime.timedelta(seconds=self.deadline_s(payload_bytes)))
        except RuntimeError as exc:
            raise self._fail(what, exc, payload_bytes) from None
        self._heartbeat()

    def _post(self, op: Callable[..., Any], tensor: torch.Tensor, tag: int, what: str, payload_bytes: int) -> Any:
        try:
            return op(tensor, self.rank, tag=tag)
        except RuntimeError as exc:
            raise self._fail(what, exc, payload_bytes) from None

    # control messages
    def send_control(self, kind: int, *values: float, what: str) -> None:
        message = torch.zeros(CONTROL_FIELDS, dtype=torch.float64)
        message[0] = kind
        if values:
            message[1:1 + len(values)] = torch.tensor([float(v) for v in values], dtype=torch.float64)
        self._wait(self._post(dist.isend, message, CONTROL_TAG, what, 0), what)

    def post_control(self, what: str) -> Pending:
        buffer = torch.empty(CONTROL_FIELDS, dtype=torch.float64)
        return Pending(self, self._post(dist.irecv, buffer, CONTROL_TAG, what, 0), buffer, what, 0)

    def expect(self, pending: Pending, kind: int) -> np.ndarray:
        """Wait for ``pending``; skip ``BUSY`` keep-alives (re-posting); return the ``kind`` message."""
        while True:
            message = pending.wait().numpy().copy()
            got = int(message[0])
            if got == kind:
                return message
            if got != BUSY:
                raise LinkError(f"rank {self.rank} ({self.role}) sent {KIND_NAMES.get(got, got)} while "
                                f"{pending.what} (expected {KIND_NAMES[kind]})")
            pending = self.post_control(pending.what)

    def recv_control(self, kind: int, what: str) -> np.ndarray:
        return self.expect(self.post_control(what), kind)

    # payloads
    def send_payload(self, payload: torch.Tensor, tag: int, what: str) -> None:
        size = int(payload.numel())
        self._wait(self._post(dist.isend, payload, tag, what, size), what, size)

    def post_payload(self, size: int, tag: int, what: str) -> Pending:
        buffer = torch.empty(size, dtype=torch.uint8)
        return Pending(self, self._post(dist.irecv, buffer, tag, what, size), buffer, what, size)


def as_payload(message: bytes) -> torch.Tensor:
    """A wire message as the uint8 tensor gloo sends (one copy: gloo needs a writable buffer)."""
    return torch.from_numpy(np.frombuffer(message, dtype=np.uint8).copy())


def encode_model(vector: torch.Tensor) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    payload = as_payload(wire.encode_vector(vector))
    return payload, time.perf_counter() - t0


def decode_model(payload: torch.Tensor) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    vector = wire.decode_vector(memoryview(payload.numpy()))
    return vector, time.perf_counter() - t0
