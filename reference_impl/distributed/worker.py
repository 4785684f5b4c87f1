"""A client-device worker of a distributed run (ranks 1..W): it holds, augments and trains its own clients.

A worker builds the run's federated data from the seed as every process does
(:class:`~reference_impl.engine.in_process.Engine`), tells the server its clients' histograms, and then
serves the server's commands in order: a client's distribution report, the augmentation of all its
clients (it makes the plan from the global class sizes with the run's registered protocol, as the
server does), and visits (receive the model, acknowledge, train ``E`` local epochs with exactly the
seeds of the in-process engine, upload when cleared). While it computes it says ``BUSY`` every
``timeout_s / 4``, so the server can tell a busy worker from a dead one.
"""

from __future__ import annotations

import threading

import numpy as np

from reference_impl.config import RunConfig
from reference_impl.distributed.job import Job, clients_of
from reference_impl.distributed.peer import (
    ACK,
    AUGMENT,
    BUSY,
    DATA_TAG,
    GO,
    HELLO,
    KIND_NAMES,
    MODEL_TAG,
    PING,
    READY,
    REPORT,
    RESULT,
    STOP,
    VISIT,
    LinkError,
    Peer,
    Pending,
    as_payload,
    decode_model,
    encode_model,
)
from reference_impl.engine import wire
from reference_impl.engine.in_process import Engine
from reference_impl.network.cpu_throttle import join_from_env
from reference_impl.protocols import protocol_of

__all__ = ["Busy", "Worker"]


class Busy:
    """While the worker computes, tell the server every ``keepalive_s`` that it is alive (``BUSY``)."""

    def __init__(self, peer: Peer, keepalive_s: float, what: str) -> None:
        self.peer, self.keepalive_s, self.what = peer, keepalive_s, what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="busy", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.keepalive_s):
                self.peer.send_control(BUSY, what=f"saying it is busy {self.what}")
        except BaseException as exc:  # reported by __exit__ on the main thread
            self.error = exc

    def __enter__(self) -> Busy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None and exc_info[0] is None:
            raise self.error


class Worker:
    """Worker rank ``rank`` of ``job``: builds the data, then serves the server's commands until ``STOP``."""

    def __init__(self, job: Job, rank: int) -> None:
        self.job = job
        self.rank = rank
        self.config = RunConfig(**job.config)
        self.server = Peer(0, role="server", timeout_s=job.timeout_s, slowest_bits_per_s=job.slowest_bits_per_s)
        self.clients = clients_of(rank, clients=self.config.clients, workers=job.workers)

    def busy(self, what: str) -> Busy:
        return Busy(self.server, self.job.keepalive_s, what)

    def run(self) -> None:
        with self.busy("building its data"):
            self.engine = Engine(self.config, run_id=self.job.run_id)
        engine = self.engine
        self.model_bytes = wire.message_bytes(engine.params)
        histograms = engine.histograms(self.clients).astype(np.int64)
        self.server.send_control(HELLO, engine.params, engine.num_classes, len(self.clients), what="saying hello")
        self.server.send_payload(as_payload(histograms.tobytes()), DATA_TAG, "sending its clients' histograms")
        model = self.server.post_payload(self.model_bytes, MODEL_TAG, "receiving a model")
        while True:
            command = self.server.post_control("waiting for the server's next command").wait().numpy().copy()
            kind = int(command[0])
            if kind == PING:
                continue
            if kind == STOP:
                return
            if kind == REPORT:
                self.report(int(command[1]))
            elif kind == AUGMENT:
                self.augment(int(command[1]))
            elif kind == VISIT:
                model = self.visit(model, client=int(command[1]), round=int(command[2]), visit=int(command[3]))
            else:
                raise LinkError(f"rank 0 (server) sent {KIND_NAMES.get(kind, kind)} to worker rank {self.rank} "
                                f"(expected a command)")

    def report(self, client: int) -> None:
        """Distribution report of one client: its label histogram in the wire format."""
        message = wire.encode_counts(self.engine.histograms([client])[0])
        self.server.send_payload(as_payload(message), DATA_TAG, f"reporting the histogram of client {client}")

    def augment(self, size: int) -> None:
        """Make the protocol's plan from the global class sizes (as the server did) and augment every own client."""
        payload = self.server.post_payload(size, DATA_TAG, "receiving the global class sizes").wait()
        class_sizes = wire.decode_counts(memoryview(payload.numpy()))
        config, engine = self.config, self.engine
        rows = []
        with self.busy("augmenting"):
            plan = protocol_of(config.algorithm).plan_augmentation(config, class_sizes)
            if plan is None:
                raise LinkError(f"rank 0 (server) asked worker rank {self.rank} to augment, but "
                                f"{config.algorithm} makes no augmentation plan")
            for k in self.clients:
                duration, augmented, removed = engine.augment_client(k, plan)
                histogram = np.bincount(engine.client_y[k].numpy(), minlength=engine.num_classes)
                rows.append([k, duration, augmented, removed, *histogram])
        table = np.asarray(rows, dtype=np.float64).reshape(len(self.clients), 4 + engine.num_classes)
        self.server.send_control(RESULT, table.size, what="announcing its augmentation results")
        self.server.send_payload(as_payload(table.tobytes()), DATA_TAG, "sending its augmentation results")

    def visit(self, model: Pending, *, client: int, round: int, visit: int) -> Pending:
        """Receive the model, acknowledge, train E local epochs, and return the model when told to."""
        what = f"client {client} round {round}"
        join_from_env()  # a throttled device: its cgroup from the first visit on (no-op afterwards)
        payload = model.wait()
        self.server.send_control(ACK, what=f"acknowledging the model for {what}")
        vector, decode_s = decode_model(payload)
        model = self.server.post_payload(self.model_bytes, MODEL_TAG, "receiving a model")
        with self.busy(f"training {what}"):
            trained, training = self.engine.train_visit(vector, client=client, round=round, visit=visit)
            upload, encode_s = encode_model(trained)
        go = self.server.post_control(f"waiting for clearance to upload {what}")
        self.server.send_control(READY, decode_s, training.duration_s, encode_s, training.steps, training.samples,
                                 what=f"announcing the trained model of {what}")
        self.server.expect(go, GO)
        self.server.send_payload(upload, MODEL_TAG, f"uploading the model of {what}")
        return model
