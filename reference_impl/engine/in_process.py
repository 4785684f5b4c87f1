"""The in-process engine: runs a protocol for real and records every phase on a virtual clock.

A 2-core machine cannot run 50 devices at once, so the engine executes every event for real, one after
another, measures each event's own duration, and places it on a *virtual
clock*: an event starts when the events it depends on in the protocol have ended. Entities that run in
parallel on real devices (the clients of a FedAvg round, the mediators of an Astraea round) start
together on that clock; the clients inside one Astraea mediator follow one another. The round time is
then the critical path of the protocol over measured durations, as in FedScale's simulator.

Durations are the running thread's CPU time (``time.thread_time``) by default: one device is one
core (torch runs with one intra-op thread on the calling thread), and a thread's CPU time is what
that device would spend, unaffected by other processes sharing this machine. ``timer="wall"``
measures ``time.perf_counter`` instead; on an idle machine the two agree. The per-round ``wall_s``
is always wall time (of the round's protocol, without the evaluation).

Transfers are real serializations: the sender encodes the model into the wire format
(:mod:`reference_impl.engine.wire`), the receiver decodes it; the event's bytes are the encoded length and its
duration the encode + decode time (an in-process link has no bandwidth term; the distributed engine
measures real links).

One protocol, two transports
----------------------------
The order of events of each algorithm is stated once, in its own module of
:mod:`reference_impl.protocols`, against the operations of :class:`Engine`
(:class:`~reference_impl.protocols.steps.ProtocolEngine`). What runs in parallel on real devices the
protocol hands over as :class:`~reference_impl.protocols.steps.Branch` es: a mediator's chain (``Hop`` to the
mediator, its clients' ``Visit`` s one after another, ``Hop`` back) or a FedAvg client's single visit.
:meth:`Engine.run_branches` runs the branches one after another in this process; the distributed
server (:mod:`reference_impl.distributed.server`, a subclass) runs them concurrently on worker
processes and overrides only how clients are reached (``histograms``, ``report``, ``augment``,
``run_branches``). Both record a branch's events in step order from the round's dispatch time
(:meth:`Engine.record_events`), so the trace rows, their order and the virtual clock are the same.
:func:`reference_impl.engine.drive.drive` runs a protocol's setup and rounds on either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from costmodel.contracts.vocabulary import EVALUATION
from reference_impl.config import RunConfig
from reference_impl.data.augmentation import AugmentationParams, apply_plan_to_client
from reference_impl.data.federated import build_federated_data
from reference_impl.engine import wire
from reference_impl.engine.aggregation import weighted_average
from reference_impl.engine.allocator import keep_freed_memory
from reference_impl.engine.seeds import augmentation_rng, derive_seed, selected_clients
from reference_impl.engine.trace import TraceRecorder
from reference_impl.engine.training import evaluate_accuracy, train_local
from reference_impl.models import build_model, model_features
from reference_impl.protocols import protocol_of
from reference_impl.protocols.augmentation_plans import AugmentationPlan, plan_client_samples
from reference_impl.protocols.steps import Branch, Event, Hop

__all__ = ["CLOCKS", "Engine"]

#: ``RunConfig.timer`` -> the clock of every event's duration (see the module docstring).
CLOCKS: dict[str, Callable[[], float]] = {"thread": time.thread_time, "wall": time.perf_counter}


class Engine:
    """Shared machinery of one run: data, model, trace recorder and the timed protocol operations.

    It is also the in-process transport: clients are reached in this process, one after another. It
    provides :class:`~reference_impl.protocols.steps.ProtocolEngine`, the operations protocols use.
    """

    def __init__(self, config: RunConfig, *, run_id: str | None = None) -> None:
        self.config = protocol_of(config.algorithm).check(config)   # e.g. FedProx needs mu > 0
        self.run_id = run_id or f"{config.algorithm}-{uuid.uuid4().hex[:8]}"
        torch.set_num_threads(config.threads)
        #: How the process's allocator was set (:mod:`reference_impl.engine.allocator`).
        self.allocator = keep_freed_memory()
        self.data = build_federated_data(config)
        self.num_classes = self.data.num_classes
        self.sample_shape = tuple(self.data.train.sample_shape)
        torch.manual_seed(derive_seed(config.seed, 0x40DE1))
        self.model = build_model(config.model, sample_shape=self.sample_shape, num_classes=self.num_classes,
                                 width=config.model_width)
        #: The model's architecture features (:func:`reference_impl.models.model_features`): P, F, V_c, ...
        self.features = model_features(self.model, self.sample_shape, self.num_classes)
        self.params = self.features.params
        self.flops_per_sample = self.features.train_flops_per_sample
        self.conv_input_values = self.features.conv_input_values
        self.global_vector = parameters_to_vector(self.model.parameters()).detach().clone()
        self.client_x: list[torch.Tensor] = []
        self.client_y: list[torch.Tensor] = []
        for k in range(config.clients):
            x, y = self.data.client_data(k)
            self.client_x.append(x)
            self.client_y.append(y)
        self.recorder = TraceRecorder(run_id=self.run_id, algorithm=config.algorithm)
        #: The timer of every event's duration (see the module docstring).
        self.clock = CLOCKS[config.timer]

    # -- what clients hold ------------------------------------------------------------------------
    def histograms(self, clients: Sequence[int]) -> np.ndarray:
        """Label histograms (clients x K) of the clients' current data."""
        return np.stack([np.bincount(self.client_y[k].numpy(), minlength=self.num_classes) for k in clients])

    def select_clients(self, round_index: int) -> np.ndarray:
        """The c clients of a round (:func:`selected_clients`)."""
        return selected_clients(self.config, round_index)

    # -- client work (run by whichever process holds the client) -----------------------------------
    def train_visit(self, vector: torch.Tensor, *, client: int, round: int, visit: int) -> tuple[torch.Tensor, Event]:
        """Client ``client`` trains ``E`` local epochs starting from ``vector``; return (new vector, event).

        ``vector`` is the client's received copy and becomes the model's parameter storage
        (``vector_to_parameters`` makes the parameters views of it), so training writes into it; no
        caller reads it afterwards. The returned vector is a fresh copy."""
        config = self.config
        x, y = self.client_x[client], self.client_y[client]
        torch.manual_seed(derive_seed(config.seed, round, client, visit, 0xD0))  # dropout draws
        generator = torch.Generator().manual_seed(derive_seed(config.seed, round, client, visit, 0x5F))
        t0 = self.clock()
        vector_to_parameters(vector, self.model.parameters())
        steps = train_local(self.model, x, y, epochs=config.local_epochs, batch_size=config.batch_size,
                            learning_rate=config.learning_rate, generator=generator, proximal_mu=config.mu)
        trained = parameters_to_vector(self.model.parameters()).detach().clone()
        duration = self.clock() - t0
        samples = config.local_epochs * int(x.shape[0])
        return trained, Event("local_training", f"client:{client}", duration, flops=self.flops_per_sample * samples,
                              samples=samples, steps=steps)

    def augment_client(self, client: int, plan: AugmentationPlan) -> tuple[float, int, int]:
        """Client ``client`` downsamples and augments its own data in place.

        Returns (duration, samples augmented, samples removed). Seeded by (seed, client) alone, so
        every process that runs it makes the same samples.
        """
        config = self.config
        rng = augmentation_rng(config, client)
        generator = torch.Generator().manual_seed(derive_seed(config.seed, client, 0xA7))
        t0 = self.clock()
        client_plan = plan_client_samples(self.client_y[client].numpy(), plan, rng)
        x, y, stats = apply_plan_to_client(self.client_x[client], self.client_y[client], client_plan,
                                           AugmentationParams(), generator)
        duration = self.clock() - t0
        self.client_x[client], self.client_y[client] = x, y
        return duration, stats.samples_augmented, stats.samples_removed

    # -- the transport: how the server reaches clients (in this process, one after another) --------
    def report(self, clients: Sequence[int]) -> list[tuple[float, int, np.ndarray]]:
        """Each client sends its label histogram; per client (duration, bytes, counts received)."""
        reports = []
        for histogram in self.histograms(clients):
            t0 = self.clock()
            message = wire.encode_counts(histogram)
            counts = wire.decode_counts(message)
            reports.append((self.clock() - t0, len(message), counts))
        return reports

    def augment(self, clients: Sequence[int], *, plan: AugmentationPlan,
                class_sizes: np.ndarray) -> list[tuple[float, int, int]]:
        """Every client applies ``plan`` (made from ``class_sizes``); per client (duration, augmented, removed)."""
        return [self.augment_client(k, plan) for k in clients]

    def transfer(self, vector: torch.Tensor, *, phase: str, entity: str) -> tuple[torch.Tensor, Event]:
        """Serialize ``vector`` onto the wire and decode it on the other side; return (copy, event)."""
        t0 = self.clock()
        message = wire.encode_vector(vector)
        received = wire.decode_vector(message)
        return received, Event(phase, entity, self.clock() - t0, bytes=len(message))

    def run_branches(self, branches: Sequence[Branch], *, round: int,
                     start_s: float) -> tuple[list[torch.Tensor], list[float]]:
        """Run the parallel ``branches`` from the global model; return their final models and end times.

        Here they run one after another; each is placed on the clock from ``start_s``.
        """
        vectors, ends = [], []
        for branch in branches:
            vector, events = self.global_vector, []
            for step in branch.steps:
                if isinstance(step, Hop):
                    vector, event = self.transfer(vector, phase=step.phase, entity=step.entity)
                    events.append(event)
                    continue
                entity = f"client:{step.client}"  # a visit: download, E local epochs, upload
                vector, download = self.transfer(vector, phase="client_download", entity=entity)
                vector, training = self.train_visit(vector, client=step.client, round=round, visit=step.visit)
                vector, upload = self.transfer(vector, phase="client_upload", entity=entity)
                events += [download, training, upload]
            vectors.append(vector)
            ends.append(self.record_events(events, round=round, start_s=start_s))
        return vectors, ends

    def record_events(self, events: Sequence[Event], *, round: int, start_s: float) -> float:
        """Record ``events`` one after another on the clock from ``start_s``; return the end time."""
        t = start_s
        for e in events:
            self.recorder.record(round=round, phase=e.phase, entity=e.entity, start_s=t, duration_s=e.duration_s,
                                 bytes=e.bytes, flops=e.flops, samples=e.samples, steps=e.steps)
            t += e.duration_s
        return t

    # -- on the server ------------------------------------------------------------------------------
    def aggregate(self, vectors: Sequence[torch.Tensor], weights: Sequence[float], *, round: int, start_s: float) -> float:
        """Average ``vectors`` into the global model's buffer on the server; return the end time."""
        t0 = self.clock()
        self.global_vector = weighted_average(vectors, weights, out=self.global_vector)
        duration = self.clock() - t0
        self.recorder.record(round=round, phase="aggregation", entity="server", start_s=start_s, duration_s=duration,
                             flops=2.0 * self.params * len(vectors), samples=len(vectors))
        return start_s + duration

    def evaluate(self, *, round: int, start_s: float) -> float:
        """Test accuracy of the global model (recorded as ``evaluation``, outside the overhead)."""
        if not self.config.evaluate:
            return float("nan")
        t0 = self.clock()
        vector_to_parameters(self.global_vector, self.model.parameters())
        test = self.data.test
        accuracy = evaluate_accuracy(self.model, test.x, test.y)
        self.recorder.record(round=round, phase=EVALUATION, entity="server", start_s=start_s,
                             duration_s=self.clock() - t0, samples=int(test.x.shape[0]))
        return accuracy
