"""One process of a distributed run: the server (rank 0) or a client-device worker (ranks 1..W).

Started by :func:`reference_impl.distributed.run_distributed` as
``python -m reference_impl.distributed_worker JOB.json`` with the torchrun-style environment
(``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``, and ``GLOO_SOCKET_IFNAME``). It runs
Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) or FedAvg over ``torch.distributed`` (gloo),
with real point-to-point transfers of the serialized model, and so produces the same model updates
as the in-process engine (:mod:`reference_impl.engine`) for the same seed.

Across machines
---------------
The same module runs unchanged on several machines: write one ``job.json`` (as
:func:`reference_impl.distributed.run_distributed` does, with ``parent_pid`` 0 and ``folder`` a
path that exists on every machine), copy it to every machine, and start rank ``r`` there with
``MASTER_ADDR=<server host> MASTER_PORT=<port> RANK=r WORLD_SIZE=W+1 python -m
reference_impl.distributed_worker job.json`` (or let ``torchrun --nnodes ... --node-rank ...`` set
the variables). Rank 0 writes ``result.pkl`` into ``folder``. This path has been exercised on one
machine only.

Roles and placement
-------------------
Rank 0 is the FL server; it also hosts the (virtual) mediators, as the papers place them on the
server or an edge server. Ranks 1..W are client devices; client ``k`` lives on rank
``1 + k % W`` (:func:`worker_rank`). On a real deployment every client is its own device; on a
2-core machine W is small, and a worker serves the requests for its clients one after another. The
server never has more than one request outstanding per worker, so a transfer never waits for a busy
device and its measured time is the link's.

Every process builds the same federated data from the seed (:class:`~reference_impl.engine.Engine`),
a worker augments and trains only its own clients with exactly the seeds of the in-process engine
(``derive_seed(seed, round, client, visit, ...)``), and the server drops the client data after
building it: it learns histograms, sample counts and models only from messages.

The server is an :class:`~reference_impl.engine.Engine` whose clients live on the workers: the
protocol modules (:mod:`reference_impl.astraea`, :mod:`reference_impl.fedavg`) drive it exactly as
they drive the in-process engine, and it runs the branches they hand over (the mediators' chains,
the FedAvg clients' visits) concurrently, then records each branch's events in the in-process order.

Messages (three gloo tags, one conversation per server-worker pair, strictly in order)
---------------------------------------------------------------------------------------
``CONTROL`` (tag 0)
    a fixed 8-element float64 tensor (64 bytes): ``[kind, a, b, c, d, e, f, g]``.
``MODEL`` (tag 1)
    a uint8 tensor of exactly ``16 + 4P`` bytes (:func:`reference_impl.wire.message_bytes`): the
    wire-format model. The size is fixed for a run, so no length travels with it and the receiver
    can post the receive before the message is announced.
``DATA`` (tag 2)
    a uint8 tensor whose length is fixed by the protocol or announced by the preceding control
    message: label histograms (wire format, ``16 + 8K`` bytes) and the workers' setup reports.

The trace's ``bytes`` are the wire-format payloads only (model and histogram messages), exactly the
in-process engine's; the control messages (acknowledgements, keep-alives) are framing, like TCP's
headers, and are what the cost model's ``message_overhead_bytes`` absorbs.

Measured transfer times, all on the server's clock
--------------------------------------------------
gloo's unbound buffers move data only once the receiver has posted its receive, so every
measurement starts at an explicit request and ends at a completion the server observes:

* ``client_download``: server serialization + [send start -> the worker's 64-byte
  acknowledgement of the complete model arrives] + the worker's deserialization (a duration the
  worker measures and reports, so no clocks are compared).
* ``client_upload``: the worker's serialization (reported) + [the server sends ``GO`` -> the last
  byte of the model arrives] + server deserialization. The worker announces ``READY`` when it has
  trained; ``GO`` is the server's clear-to-send, as in link_transfer's definition of a transfer.
* ``distribution_report``: [request sent -> histogram arrives] + server decoding (the worker's
  encoding is inside the interval).

Each network interval thus includes one small message in the opposite direction, as the
calibration's link measurements do (:mod:`reference_impl.link_transfer`); ``latency_s`` absorbs it.
``model_broadcast`` and ``mediator_upload`` stay on the server (mediators are virtual) and are
serialize + deserialize, as in the in-process engine; they, the plan, the rescheduling and the
aggregation are timed by the run's timer (``RunConfig.timer``, the thread's CPU time by default, so
the workers sharing this machine's cores do not inflate them), exactly as in-process. The round's
virtual-clock time composes the measured durations along the protocol exactly as the in-process
engine does; the per-round summary adds the real wall time (``wall_s``).

Deadlines
---------
Every send and receive waits at most ``timeout_s`` (plus, for a payload, twice its time at the
slowest configured rate); ``init_process_group`` waits at most ``max(timeout_s, 30 s)``
(:attr:`Job.rendezvous_timeout_s`), since every rank first imports torch, which on a loaded 2-core
machine takes seconds (a rank that dies meanwhile is seen by the controller at once). Silence is never legitimate: the server pings an
idle worker every ``timeout_s / 4`` and a worker that computes (data, augmentation, training) sends
``BUSY`` at the same period, so a wait that runs out means a dead or stuck peer. Any failure ends the
process at once with a one-line message in ``error-rank<r>.txt`` naming the peer's rank; the
controller then ends the others. Children die with their controller (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import datetime
import json
import math
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from costmodel.files import atomic_path, atomic_write_text
from reference_impl import astraea, wire
from reference_impl.augmentation import AugmentationPlan
from reference_impl.config import RunConfig
from reference_impl.engine import Branch, Engine, Event, Hop, Visit, drive

__all__ = [
    "CONTROL_FIELDS",
    "CONTROL_TAG",
    "DATA_TAG",
    "MODEL_TAG",
    "Job",
    "LinkError",
    "Peer",
    "clients_of",
    "main",
    "worker_rank",
]

CONTROL_TAG = 0
MODEL_TAG = 1
DATA_TAG = 2
CONTROL_FIELDS = 8

# control message kinds
_HELLO, _BUSY, _PING, _STOP, _REPORT, _AUGMENT, _VISIT, _ACK, _READY, _GO, _RESULT = range(1, 12)
_KIND_NAMES = {_HELLO: "HELLO", _BUSY: "BUSY", _PING: "PING", _STOP: "STOP", _REPORT: "REPORT",
               _AUGMENT: "AUGMENT", _VISIT: "VISIT", _ACK: "ACK", _READY: "READY", _GO: "GO",
               _RESULT: "RESULT"}
_PR_SET_PDEATHSIG = 1
_RENDEZVOUS_MIN_S = 30.0


def worker_rank(client: int, workers: int) -> int:
    """The rank hosting client ``client`` among ``workers`` workers: ``1 + client % workers``."""
    return 1 + int(client) % int(workers)


def clients_of(rank: int, *, clients: int, workers: int) -> list[int]:
    """The clients hosted by worker ``rank`` (1..workers), ascending."""
    return [k for k in range(clients) if worker_rank(k, workers) == rank]


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every process of a run reads from ``job.json`` (written by the controller).

    Attributes
    ----------
    config : the run's configuration (as :meth:`RunConfig.as_dict`).
    run_id : the trace's run id.
    workers : W, client-device worker ranks.
    timeout_s : the longest silence on any link (the rendezvous gets ``max(timeout_s, 30 s)``).
    slowest_bits_per_s : the slowest shaped rate (``inf`` unshaped); payload deadlines add twice a
        payload's time at this rate.
    folder : where the server writes ``result.pkl``, ``progress`` and every rank its error file.
    parent_pid : the controller; a process whose parent is gone exits. 0 when the ranks are started
        by hand or by ``torchrun`` on several machines (see the module docstring).
    """

    config: dict[str, Any]
    run_id: str
    workers: int
    timeout_s: float
    slowest_bits_per_s: float
    folder: str
    parent_pid: int

    @property
    def keepalive_s(self) -> float:
        """How often an idle server pings and a busy worker says so: ``timeout_s / 4``."""
        return self.timeout_s / 4.0

    @property
    def rendezvous_timeout_s(self) -> float:
        """The deadline of ``init_process_group``: ``max(timeout_s, 30 s)``."""
        return max(self.timeout_s, _RENDEZVOUS_MIN_S)

    def to_json(self) -> str:
        data = dict(self.__dict__, slowest_bits_per_s=repr(float(self.slowest_bits_per_s)))
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["slowest_bits_per_s"] = float(data["slowest_bits_per_s"])
        return cls(**data)

    def error_path(self, rank: int) -> Path:
        return Path(self.folder) / f"error-rank{rank}.txt"

    @property
    def result_path(self) -> Path:
        return Path(self.folder) / "result.pkl"

    @property
    def progress_path(self) -> Path:
        return Path(self.folder) / "progress"


class LinkError(RuntimeError):
    """A send or receive failed or missed its deadline; the one-line message names the peer's rank."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if "] " in line and line.startswith("["):  # drop gloo's "[/path/file.cc:553] " prefix
        line = line.split("] ", 1)[1]
    return line.rstrip(".")


class _Heartbeat:
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


class _Pending:
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
        detail = _first_line(exc)
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

    def post_control(self, what: str) -> _Pending:
        buffer = torch.empty(CONTROL_FIELDS, dtype=torch.float64)
        return _Pending(self, self._post(dist.irecv, buffer, CONTROL_TAG, what, 0), buffer, what, 0)

    def expect(self, pending: _Pending, kind: int) -> np.ndarray:
        """Wait for ``pending``; skip ``BUSY`` keep-alives (re-posting); return the ``kind`` message."""
        while True:
            message = pending.wait().numpy().copy()
            got = int(message[0])
            if got == kind:
                return message
            if got != _BUSY:
                raise LinkError(f"rank {self.rank} ({self.role}) sent {_KIND_NAMES.get(got, got)} while "
                                f"{pending.what} (expected {_KIND_NAMES[kind]})")
            pending = self.post_control(pending.what)

    def recv_control(self, kind: int, what: str) -> np.ndarray:
        return self.expect(self.post_control(what), kind)

    # payloads
    def send_payload(self, payload: torch.Tensor, tag: int, what: str) -> None:
        size = int(payload.numel())
        self._wait(self._post(dist.isend, payload, tag, what, size), what, size)

    def post_payload(self, size: int, tag: int, what: str) -> _Pending:
        buffer = torch.empty(size, dtype=torch.uint8)
        return _Pending(self, self._post(dist.irecv, buffer, tag, what, size), buffer, what, size)


def _as_payload(message: bytes) -> torch.Tensor:
    """A wire message as the uint8 tensor gloo sends (one copy: gloo needs a writable buffer)."""
    return torch.from_numpy(np.frombuffer(message, dtype=np.uint8).copy())


def _encode_model(vector: torch.Tensor) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    payload = _as_payload(wire.encode_vector(vector))
    return payload, time.perf_counter() - t0


def _decode_model(payload: torch.Tensor) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    vector = wire.decode_vector(memoryview(payload.numpy()))
    return vector, time.perf_counter() - t0


def _fatal(job: Job, rank: int, message: str) -> None:
    """Write the one-line error, print the traceback to the log, and end this process now."""
    traceback.print_exc(file=sys.stderr)
    print(f"rank {rank}: {message}", file=sys.stderr, flush=True)
    try:
        atomic_write_text(job.error_path(rank), message.replace("\n", " ") + "\n")
    finally:
        sys.stderr.flush()
        os._exit(1)


# =============================================================================================
# The worker (ranks 1..W)
# =============================================================================================

class _Busy:
    """While the worker computes, tell the server every ``keepalive_s`` that it is alive (``BUSY``)."""

    def __init__(self, peer: Peer, keepalive_s: float, what: str) -> None:
        self.peer, self.keepalive_s, self.what = peer, keepalive_s, what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="busy", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.keepalive_s):
                self.peer.send_control(_BUSY, what=f"saying it is busy {self.what}")
        except BaseException as exc:  # reported by __exit__ on the main thread
            self.error = exc

    def __enter__(self) -> _Busy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None and exc_info[0] is None:
            raise self.error


class _Worker:
    def __init__(self, job: Job, rank: int) -> None:
        self.job = job
        self.rank = rank
        self.config = RunConfig(**job.config)
        self.server = Peer(0, role="server", timeout_s=job.timeout_s, slowest_bits_per_s=job.slowest_bits_per_s)
        self.clients = clients_of(rank, clients=self.config.clients, workers=job.workers)

    def busy(self, what: str) -> _Busy:
        return _Busy(self.server, self.job.keepalive_s, what)

    def run(self) -> None:
        with self.busy("building its data"):
            self.engine = Engine(self.config, run_id=self.job.run_id)
        engine = self.engine
        self.model_bytes = wire.message_bytes(engine.params)
        histograms = engine.histograms(self.clients).astype(np.int64)
        self.server.send_control(_HELLO, engine.params, engine.num_classes, len(self.clients), what="saying hello")
        self.server.send_payload(_as_payload(histograms.tobytes()), DATA_TAG, "sending its clients' histograms")
        model = self.server.post_payload(self.model_bytes, MODEL_TAG, "receiving a model")
        while True:
            command = self.server.post_control("waiting for the server's next command").wait().numpy().copy()
            kind = int(command[0])
            if kind == _PING:
                continue
            if kind == _STOP:
                return
            if kind == _REPORT:
                self.report(int(command[1]))
            elif kind == _AUGMENT:
                self.augment(int(command[1]))
            elif kind == _VISIT:
                model = self.visit(model, client=int(command[1]), round=int(command[2]), visit=int(command[3]))
            else:
                raise LinkError(f"rank 0 (server) sent {_KIND_NAMES.get(kind, kind)} to worker rank {self.rank} "
                                f"(expected a command)")

    def report(self, client: int) -> None:
        """Distribution report of one client: its label histogram in the wire format."""
        message = wire.encode_counts(self.engine.histograms([client])[0])
        self.server.send_payload(_as_payload(message), DATA_TAG, f"reporting the histogram of client {client}")

    def augment(self, size: int) -> None:
        """Compute the plan from the global class sizes and augment every own client (as astraea.setup)."""
        payload = self.server.post_payload(size, DATA_TAG, "receiving the global class sizes").wait()
        class_sizes = wire.decode_counts(memoryview(payload.numpy()))
        config, engine = self.config, self.engine
        rows = []
        with self.busy("augmenting"):
            plan = astraea.make_plan(config, class_sizes)
            for k in self.clients:
                duration, augmented, removed = engine.augment_client(k, plan)
                histogram = np.bincount(engine.client_y[k].numpy(), minlength=engine.num_classes)
                rows.append([k, duration, augmented, removed, *histogram])
        table = np.asarray(rows, dtype=np.float64).reshape(len(self.clients), 4 + engine.num_classes)
        self.server.send_control(_RESULT, table.size, what="announcing its augmentation results")
        self.server.send_payload(_as_payload(table.tobytes()), DATA_TAG, "sending its augmentation results")

    def visit(self, model: _Pending, *, client: int, round: int, visit: int) -> _Pending:
        """Receive the model, acknowledge, train E local epochs, and return the model when told to."""
        what = f"client {client} round {round}"
        payload = model.wait()
        self.server.send_control(_ACK, what=f"acknowledging the model for {what}")
        vector, decode_s = _decode_model(payload)
        model = self.server.post_payload(self.model_bytes, MODEL_TAG, "receiving a model")
        with self.busy(f"training {what}"):
            trained, training = self.engine.train_visit(vector, client=client, round=round, visit=visit)
            upload, encode_s = _encode_model(trained)
        go = self.server.post_control(f"waiting for clearance to upload {what}")
        self.server.send_control(_READY, decode_s, training.duration_s, encode_s, training.steps, training.samples,
                                 what=f"announcing the trained model of {what}")
        self.server.expect(go, _GO)
        self.server.send_payload(upload, MODEL_TAG, f"uploading the model of {what}")
        return model


# =============================================================================================
# The server (rank 0)
# =============================================================================================

class _WorkerLink:
    """The server's side of one worker: a thread serving requests in order, pinging when idle.

    At most one request per worker is in flight, so a worker is always waiting, receive posted,
    when a transfer to it starts. A failure ends the server (:func:`_fatal`) naming the rank.
    """

    def __init__(self, server: _Server, peer: Peer) -> None:
        self.server = server
        self.peer = peer
        self._queue: queue.Queue[tuple[Future, Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"link-{peer.rank}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._queue.put((future, fn, args))
        return future

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        keepalive_s = self.server.job.keepalive_s
        try:
            while True:
                try:
                    item = self._queue.get(timeout=keepalive_s)
                except queue.Empty:
                    self.peer.send_control(_PING, what="pinging an idle worker")
                    continue
                if item is None:
                    self.peer.send_control(_STOP, what="stopping the worker")
                    return
                future, fn, args = item
                future.set_running_or_notify_cancel()
                future.set_result(fn(self.peer, *args))
        except BaseException as exc:  # noqa: BLE001 - any failure ends the run with its one line
            _fatal(self.server.job, 0, _first_line(exc) if isinstance(exc, LinkError) else
                   f"server link to rank {self.peer.rank} failed: {type(exc).__name__}: {_first_line(exc)}")


class _Chain:
    """One branch on the devices, driven by visit completions (no thread per branch).

    A ``Hop`` runs on the server at once; a ``Visit`` is a request to the client's worker, and the
    next step starts when it has completed. The events are kept to be recorded in branch order.
    """

    def __init__(self, server: _Server, branch: Branch, *, round: int) -> None:
        self.server = server
        self.branch = branch
        self.round = round
        self.events: list[Event] = []
        self.done: Future = Future()
        self._steps = iter(branch.steps)

    def start(self, global_vector: torch.Tensor) -> None:
        self.model = global_vector
        self._next()

    def _next(self) -> None:
        for step in self._steps:
            if isinstance(step, Hop):
                self.model, event = self.server.transfer(self.model, phase=step.phase, entity=step.entity)
                self.events.append(event)
                continue
            future = self.server.link_of(step.client).submit(self.server.request_visit, step, self.round, self.model)
            future.add_done_callback(self._on_visit)
            return
        self.done.set_result(self)

    def _on_visit(self, future: Future) -> None:
        try:
            self.model, events = future.result()
            self.events.extend(events)
            self._next()
        except BaseException as exc:  # noqa: BLE001
            _fatal(self.server.job, 0, f"{self.branch.name} failed: {type(exc).__name__}: {_first_line(exc)}")


class _Server(Engine):
    """The FL server and its virtual mediators: the engine whose clients live on the worker ranks.

    The protocols (:mod:`reference_impl.astraea`, :mod:`reference_impl.fedavg`) drive it as they
    drive the in-process engine; it overrides how clients are reached (``histograms``, ``report``,
    ``augment``, ``run_branches``), and learns histograms, sample counts and models only from messages.
    """

    def __init__(self, job: Job) -> None:
        self.job = job
        self.config = RunConfig(**job.config)
        heartbeat = _Heartbeat(job.progress_path)
        self.links = {
            rank: _WorkerLink(self, Peer(rank, role="worker", timeout_s=job.timeout_s,
                                         slowest_bits_per_s=job.slowest_bits_per_s, heartbeat=heartbeat))
            for rank in range(1, job.workers + 1)
        }
        self.download_network_s: list[float] = []
        self.upload_network_s: list[float] = []
        for link in self.links.values():
            link.start()
        hellos = {rank: link.submit(self.request_hello) for rank, link in self.links.items()}
        super().__init__(self.config, run_id=job.run_id)  # builds the data while the workers build theirs
        self.client_x = self.client_y = None  # the server holds no client data; it learns by messages
        self.model_bytes = wire.message_bytes(self.params)
        self.client_histograms: dict[int, np.ndarray] = {}
        for rank, future in hellos.items():
            (params, classes), histograms = future.result()
            if (params, classes) != (self.params, self.num_classes):
                raise LinkError(f"rank {rank} (worker) built a model of {params} parameters and {classes} classes "
                                f"(the server has {self.params} and {self.num_classes})")
            for k, histogram in zip(clients_of(rank, clients=self.config.clients, workers=job.workers), histograms):
                self.client_histograms[k] = histogram

    def link_of(self, client: int) -> _WorkerLink:
        return self.links[worker_rank(client, self.job.workers)]

    # -- requests, run on the link threads --------------------------------------------------------
    def request_hello(self, peer: Peer) -> tuple[tuple[int, int], np.ndarray]:
        message = peer.recv_control(_HELLO, "waiting for the worker to build its data")
        params, classes, hosted = (int(v) for v in message[1:4])
        expected = clients_of(peer.rank, clients=self.config.clients, workers=self.job.workers)
        if hosted != len(expected):
            raise LinkError(f"rank {peer.rank} (worker) hosts {hosted} clients (expected {len(expected)})")
        payload = peer.post_payload(8 * hosted * classes, DATA_TAG, "receiving the worker's histograms").wait()
        histograms = np.frombuffer(payload.numpy().tobytes(), dtype=np.int64).reshape(hosted, classes)
        return (params, classes), histograms

    def request_reports(self, peer: Peer, clients: Sequence[int]) -> list[tuple[int, float, int, np.ndarray]]:
        size = wire.message_bytes(self.num_classes, bytes_per_element=8)
        reports = []
        for k in clients:
            what = f"waiting for the distribution report of client {k}"
            pending = peer.post_payload(size, DATA_TAG, what)
            t0 = time.perf_counter()
            peer.send_control(_REPORT, k, what=f"requesting the distribution report of client {k}")
            payload = pending.wait()
            network_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            counts = wire.decode_counts(memoryview(payload.numpy()))
            reports.append((k, network_s + time.perf_counter() - t1, size, counts))
        return reports

    def request_augmentation(self, peer: Peer, class_sizes: np.ndarray) -> np.ndarray:
        message = _as_payload(wire.encode_counts(class_sizes))
        peer.send_control(_AUGMENT, message.numel(), what="starting the augmentation")
        peer.send_payload(message, DATA_TAG, "sending the global class sizes")
        size = int(peer.recv_control(_RESULT, "waiting for the worker's augmentation")[1])
        payload = peer.post_payload(8 * size, DATA_TAG, "receiving the augmentation results").wait()
        return np.frombuffer(payload.numpy().tobytes(), dtype=np.float64).reshape(-1, 4 + self.num_classes)

    def request_visit(self, peer: Peer, step: Visit, round: int,
                      vector: torch.Tensor) -> tuple[torch.Tensor, list[Event]]:
        client = step.client
        what = f"client {client} round {round}"
        payload, encode_s = _encode_model(vector)
        ack = peer.post_control(f"waiting for the download of {what} to arrive")
        t0 = time.perf_counter()
        peer.send_control(_VISIT, client, round, step.visit, what=f"sending the visit of {what}")
        peer.send_payload(payload, MODEL_TAG, f"sending the model to {what}")
        peer.expect(ack, _ACK)
        download_network_s = time.perf_counter() - t0
        ready = peer.recv_control(_READY, f"waiting for {what} to train")
        decode_s, train_s, worker_encode_s = (float(v) for v in ready[1:4])
        steps, samples = (int(v) for v in ready[4:6])
        upload = peer.post_payload(self.model_bytes, MODEL_TAG, f"receiving the model of {what}")
        t2 = time.perf_counter()
        peer.send_control(_GO, what=f"clearing the upload of {what}")
        received = upload.wait()
        upload_network_s = time.perf_counter() - t2
        model, server_decode_s = _decode_model(received)
        self.download_network_s.append(download_network_s)
        self.upload_network_s.append(upload_network_s)
        entity = f"client:{client}"
        return model, [
            Event("client_download", entity, encode_s + download_network_s + decode_s, bytes=self.model_bytes),
            Event("local_training", entity, train_s, flops=self.flops_per_sample * samples, samples=samples,
                  steps=steps),
            Event("client_upload", entity, worker_encode_s + upload_network_s + server_decode_s,
                  bytes=self.model_bytes),
        ]

    # -- the transport (Engine's interface) -------------------------------------------------------
    def histograms(self, clients: Sequence[int]) -> np.ndarray:
        return np.stack([self.client_histograms[int(k)] for k in clients])

    def report(self, clients: Sequence[int]) -> list[tuple[float, int, np.ndarray]]:
        """Every worker reports its clients' histograms, the workers in parallel."""
        futures = [link.submit(self.request_reports, [k for k in clients if worker_rank(k, self.job.workers) == rank])
                   for rank, link in self.links.items()]
        reports = {k: (duration, size, counts) for future in futures for k, duration, size, counts in future.result()}
        return [reports[k] for k in clients]

    def augment(self, clients: Sequence[int], *, plan: AugmentationPlan,
                class_sizes: np.ndarray) -> list[tuple[float, int, int]]:
        """Every worker makes the plan from ``class_sizes`` and augments all its clients, in parallel."""
        futures = [link.submit(self.request_augmentation, class_sizes) for link in self.links.values()]
        rows = {int(row[0]): row for future in futures for row in future.result()}
        for k in clients:
            self.client_histograms[k] = rows[k][4:].astype(np.int64)
        return [(float(rows[k][1]), int(rows[k][2]), int(rows[k][3])) for k in clients]

    def run_branches(self, branches: Sequence[Branch], *, round: int,
                     start_s: float) -> tuple[list[torch.Tensor], list[float]]:
        """Run the branches concurrently on the workers; record them as the in-process engine does."""
        chains = [_Chain(self, branch, round=round) for branch in branches]
        for chain in chains:
            chain.start(self.global_vector)
        for chain in chains:
            chain.done.result()
        ends = [self.record_events(chain.events, round=round, start_s=start_s) for chain in chains]
        return [chain.model for chain in chains], ends

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> None:
        stats, summary = drive(self, after_round=lambda s: atomic_write_text(self.job.progress_path,
                                                                             f"{s.round + 1}\n"))
        summary.update({
            "workers": self.job.workers,
            "world_size": self.job.workers + 1,
            "client_placement": "client k on worker rank 1 + k % workers",
            "download_network_s": float(np.mean(self.download_network_s)) if self.download_network_s else float("nan"),
            "upload_network_s": float(np.mean(self.upload_network_s)) if self.upload_network_s else float("nan"),
        })
        result = {
            "run_id": self.run_id,
            "trace": self.recorder.to_frame(),
            "rounds": [s.__dict__ for s in stats],
            "summary": summary,
            "global_vector": self.global_vector.numpy().copy(),
        }
        with atomic_path(self.job.result_path) as tmp:
            tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        for link in self.links.values():
            link.stop()


# =============================================================================================
# Entry point
# =============================================================================================

def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), then check the parent."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)  # the controller died before prctl took effect


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reference_impl.distributed_worker JOB.json`` with RANK etc. in the environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    job = Job.from_json(Path(args[0]).read_text(encoding="utf-8"))
    rank = int(os.environ["RANK"])
    if job.parent_pid > 0:  # 0: started by hand or by torchrun on another machine, no controller to follow
        _die_with_parent(job.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the controller's to handle
    try:
        dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=job.workers + 1,
                                timeout=datetime.timedelta(seconds=job.rendezvous_timeout_s))
    except Exception as exc:  # noqa: BLE001
        _fatal(job, rank, f"rank {rank} could not join the process group within {job.rendezvous_timeout_s:g} s: "
                          f"{_first_line(exc)}")
    try:
        if rank == 0:
            _Server(job).run()
        else:
            _Worker(job, rank).run()
    except LinkError as exc:
        _fatal(job, rank, str(exc))
    except BaseException as exc:  # noqa: BLE001
        _fatal(job, rank, f"rank {rank} failed: {type(exc).__name__}: {_first_line(exc)}")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip gloo's teardown: the conversation is over and every peer knows it


if __name__ == "__main__":
    raise SystemExit(main())
