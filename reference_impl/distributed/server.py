"""The server of a distributed run (rank 0): the engine whose clients live on the worker ranks.

Rank 0 is the FL server; it also hosts the (virtual) mediators, as the papers place them on the
server or an edge server. Ranks 1..W are client devices; client ``k`` lives on rank
``1 + k % W`` (:func:`~reference_impl.distributed.job.worker_rank`). On a real deployment every client is its own device; on a
2-core machine W is small, and a worker serves the requests for its clients one after another. The
server never has more than one request outstanding per worker, so a transfer never waits for a busy
device and its measured time is the link's.

The server is an :class:`~reference_impl.engine.in_process.Engine` whose clients live on the
workers: the protocols (:mod:`reference_impl.protocols`) drive it exactly as they drive the
in-process engine, and it runs the branches they hand over (the mediators' chains, the FedAvg
clients' visits) concurrently, then records each branch's events in the in-process order. Every
process builds the same federated data from the seed; the server drops the client data after
building it and learns histograms, sample counts and models only from messages
(:mod:`reference_impl.distributed.peer`).

Measured transfer times, all on the server's clock
--------------------------------------------------
gloo's unbound buffers move data only once the receiver has posted its receive, so every
measurement starts at an explicit request and ends at a completion the server observes:

* ``client_download``: server serialization + [send start -> the worker's 64-byte
  acknowledgement of the complete model arrives] + the worker's deserialization (a duration the
  worker measures and reports, so no clocks are compared).
* ``client_upload``: the worker's serialization (reported) + [the server sends ``GO`` -> the last
  byte of the model arrives] + server deserialization. The worker announces ``READY`` when it has
  trained; ``GO`` is the server's clear-to-send, as in the link measurements' definition of a transfer.
* ``distribution_report``: [request sent -> histogram arrives] + server decoding (the worker's
  encoding is inside the interval).

Each network interval thus includes one small message in the opposite direction, as the
calibration's link measurements do (:mod:`reference_impl.network.transfer_endpoints`); ``latency_s``
absorbs it.
``model_broadcast`` and ``mediator_upload`` stay on the server (mediators are virtual) and are
serialize + deserialize, as in the in-process engine; they, the plan, the rescheduling and the
aggregation are timed by the run's timer (``RunConfig.timer``, the thread's CPU time by default, so
the workers sharing this machine's cores do not inflate them), exactly as in-process. The round's
virtual-clock time composes the measured durations along the protocol exactly as the in-process
engine does; the per-round summary adds the real wall time (``wall_s``).
"""

from __future__ import annotations

import pickle
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import torch

from costmodel.files import atomic_path, atomic_write_text
from reference_impl.config import RunConfig
from reference_impl.distributed.job import Job, clients_of, fatal, worker_rank
from reference_impl.distributed.peer import (
    ACK,
    AUGMENT,
    DATA_TAG,
    GO,
    HELLO,
    MODEL_TAG,
    PING,
    READY,
    REPORT,
    RESULT,
    STOP,
    VISIT,
    Heartbeat,
    LinkError,
    Peer,
    as_payload,
    decode_model,
    encode_model,
    first_line,
)
from reference_impl.engine import wire
from reference_impl.engine.drive import drive
from reference_impl.engine.in_process import Engine
from reference_impl.protocols.augmentation_plans import AugmentationPlan
from reference_impl.protocols.steps import Branch, Event, Hop, Visit

__all__ = ["Server", "WorkerLink"]


class WorkerLink:
    """The server's side of one worker: a thread serving requests in order, pinging when idle.

    At most one request per worker is in flight, so a worker is always waiting, receive posted,
    when a transfer to it starts. A failure ends the server (:func:`~reference_impl.distributed.job.fatal`) naming the rank.
    """

    def __init__(self, server: Server, peer: Peer) -> None:
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
                    self.peer.send_control(PING, what="pinging an idle worker")
                    continue
                if item is None:
                    self.peer.send_control(STOP, what="stopping the worker")
                    return
                future, fn, args = item
                future.set_running_or_notify_cancel()
                future.set_result(fn(self.peer, *args))
        except BaseException as exc:  # noqa: BLE001 - any failure ends the run with its one line
            fatal(self.server.job, 0, first_line(exc) if isinstance(exc, LinkError) else
                  f"server link to rank {self.peer.rank} failed: {type(exc).__name__}: {first_line(exc)}")


class _Chain:
    """One branch on the devices, driven by visit completions (no thread per branch).

    A ``Hop`` runs on the server at once; a ``Visit`` is a request to the client's worker, and the
    next step starts when it has completed. The events are kept to be recorded in branch order.
    """

    def __init__(self, server: Server, branch: Branch, *, round: int) -> None:
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
            fatal(self.server.job, 0, f"{self.branch.name} failed: {type(exc).__name__}: {first_line(exc)}")


class Server(Engine):
    """The FL server and its virtual mediators: the engine whose clients live on the worker ranks.

    The protocols (:mod:`reference_impl.protocols`) drive it as they drive the in-process engine; it
    overrides how clients are reached (``histograms``, ``report``, ``augment``, ``run_branches``), and
    learns histograms, sample counts and models only from messages.
    """

    def __init__(self, job: Job) -> None:
        self.job = job
        self.config = RunConfig(**job.config)
        heartbeat = Heartbeat(job.progress_path)
        self.links = {
            rank: WorkerLink(self, Peer(rank, role="worker", timeout_s=job.timeout_s,
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

    def link_of(self, client: int) -> WorkerLink:
        return self.links[worker_rank(client, self.job.workers)]

    # -- requests, run on the link threads --------------------------------------------------------
    def request_hello(self, peer: Peer) -> tuple[tuple[int, int], np.ndarray]:
        message = peer.recv_control(HELLO, "waiting for the worker to build its data")
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
            peer.send_control(REPORT, k, what=f"requesting the distribution report of client {k}")
            payload = pending.wait()
            network_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            counts = wire.decode_counts(memoryview(payload.numpy()))
            reports.append((k, network_s + time.perf_counter() - t1, size, counts))
        return reports

    def request_augmentation(self, peer: Peer, class_sizes: np.ndarray) -> np.ndarray:
        message = as_payload(wire.encode_counts(class_sizes))
        peer.send_control(AUGMENT, message.numel(), what="starting the augmentation")
        peer.send_payload(message, DATA_TAG, "sending the global class sizes")
        size = int(peer.recv_control(RESULT, "waiting for the worker's augmentation")[1])
        payload = peer.post_payload(8 * size, DATA_TAG, "receiving the augmentation results").wait()
        return np.frombuffer(payload.numpy().tobytes(), dtype=np.float64).reshape(-1, 4 + self.num_classes)

    def request_visit(self, peer: Peer, step: Visit, round: int,
                      vector: torch.Tensor) -> tuple[torch.Tensor, list[Event]]:
        client = step.client
        what = f"client {client} round {round}"
        payload, encode_s = encode_model(vector)
        ack = peer.post_control(f"waiting for the download of {what} to arrive")
        t0 = time.perf_counter()
        peer.send_control(VISIT, client, round, step.visit, what=f"sending the visit of {what}")
        peer.send_payload(payload, MODEL_TAG, f"sending the model to {what}")
        peer.expect(ack, ACK)
        download_network_s = time.perf_counter() - t0
        ready = peer.recv_control(READY, f"waiting for {what} to train")
        decode_s, train_s, worker_encode_s = (float(v) for v in ready[1:4])
        steps, samples = (int(v) for v in ready[4:6])
        upload = peer.post_payload(self.model_bytes, MODEL_TAG, f"receiving the model of {what}")
        t2 = time.perf_counter()
        peer.send_control(GO, what=f"clearing the upload of {what}")
        received = upload.wait()
        upload_network_s = time.perf_counter() - t2
        model, server_decode_s = decode_model(received)
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
