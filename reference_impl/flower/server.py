"""The server of a Flower run: the engine whose clients are SuperNodes, reached by Flower messages.

:class:`FlowerServer` is an :class:`~reference_impl.engine.in_process.Engine` that runs inside the
ServerApp. The protocols (:mod:`reference_impl.protocols`) drive it exactly as they drive the
in-process engine; it overrides only how clients are reached (``histograms``, ``report``,
``augment``, ``run_branches``), and learns histograms, sample counts and models from replies. The
mediators of Astraea are virtual and live here, as the cost model assumes: each mediator's chain is
driven by sending the model to one client node at a time, E_m passes over its clients, and the
mediators' models are averaged by sample counts (the protocol's ``aggregate``). The chains of a
round run concurrently: the next message of a chain leaves as soon as its previous reply is seen
(:class:`~reference_impl.flower.exchange.Exchange`).

The trace: the same rows as the in-process engine, with Flower's times and bytes
---------------------------------------------------------------------------------
Every row, phase, entity, sample and step count is the in-process engine's, in the same order.
Durations and bytes are what Flower did, on the wall clock this machine's processes share:

* ``client_download``: the server's encoding of the model, then from pushing the instruction to
  the moment the ClientApp starts training. It holds everything Flower adds before a visit: the
  SuperLink queueing the message, the SuperNode polling for it (every 3 s when idle), the download
  over the client's link, the SuperExec polling for the task, the cold start of a fresh
  ``flwr-clientapp`` process (Python, Flower, torch, the client's data) and the model's decoding.
* ``local_training``: the ClientApp's own measurement with the run's timer, as in process.
* ``client_upload``: from the end of training to the moment the ServerApp has the reply, plus the
  server's decoding: the reply's encoding, the SuperNode polling for it, the upload, and the
  ServerApp's object pulls and polling.
* ``distribution_report``: from pushing the report query to having the reply, decoded.
* ``augmentation``: from pushing the augmentation request to having the reply (the client's own
  augmentation seconds are in ``flower_messages.csv``).
* ``model_broadcast``, ``mediator_upload``, ``rescheduling``, ``augmentation_plan``,
  ``aggregation``: on the server, as in process.

``bytes`` of a transfer are the Flower bytes of the message carrying it
(:func:`~reference_impl.flower.records.message_bytes`: payload and Flower's framing, no HTTP or
TCP/IP headers): the instruction for a download, the reply for an upload or a report. The report
queries, hello and augmentation messages are control messages: their bytes are in
``flower_messages.csv`` and the run summary (``flower_control_bytes``), not in the trace.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from flwr.app import ConfigRecord, RecordDict
from flwr.serverapp import Grid

from reference_impl.engine import wire
from reference_impl.engine.in_process import Engine
from reference_impl.flower import records
from reference_impl.flower.exchange import Exchange, FlowerRunError, Outgoing, Reply
from reference_impl.flower.job import FlowerJob
from reference_impl.protocols.augmentation_plans import AugmentationPlan
from reference_impl.protocols.steps import Branch, Event, Hop, Visit

__all__ = ["FlowerServer"]


class _Chain:
    """One branch on the nodes: its Hops run on the server at once, each Visit is one message."""

    def __init__(self, server: FlowerServer, branch: Branch, *, round: int) -> None:
        self.server, self.branch, self.round = server, branch, round
        self.events: list[Event] = []
        self.model: torch.Tensor = server.global_vector
        self._steps = iter(branch.steps)

    def advance(self) -> list[Outgoing]:
        """Run the Hops up to the next Visit; return that visit's message (none at the branch's end)."""
        for step in self._steps:
            if isinstance(step, Hop):
                self.model, event = self.server.transfer(self.model, phase=step.phase, entity=step.entity)
                self.events.append(event)
                continue
            return [self.server.visit_message(step, self.round, self.model, tag=self)]
        return []

    def on_reply(self, reply: Reply) -> list[Outgoing]:
        self.model, events = self.server.visit_events(reply)
        self.events.extend(events)
        return self.advance()


class FlowerServer(Engine):
    """The FL server and its virtual mediators inside the ServerApp (module docstring)."""

    def __init__(self, job: FlowerJob, grid: Grid) -> None:
        super().__init__(job.config, run_id=job.run_id)
        self.job = job
        self.client_x = self.client_y = None     # the server holds no client data; it learns by messages
        self.model_bytes = wire.message_bytes(self.params)
        self.exchange = Exchange(grid, poll_s=job.poll_s)
        self.client_histograms: dict[int, np.ndarray] = {}
        self.nodes_wait_s = self._connect(grid)

    # -- the federation ------------------------------------------------------------------------------
    def _connect(self, grid: Grid) -> float:
        """Wait for every client's SuperNode, learn which node is which client, and their histograms."""
        start = time.time()
        wanted = self.config.clients
        while len(nodes := sorted(grid.get_node_ids())) < wanted:
            if time.time() - start > self.job.nodes_timeout_s:
                raise FlowerRunError(f"only {len(nodes)} of {wanted} SuperNodes connected within "
                                     f"{self.job.nodes_timeout_s:.0f} s")
            time.sleep(0.2)
        waited = time.time() - start
        self.exchange.nodes = {-1 - i: node for i, node in enumerate(nodes)}    # provisional: by node
        hellos = self.exchange.run([Outgoing(client=-1 - i, kind="query.hello", content=RecordDict(),
                                             deadline_s=self.job.deadline_s(0)) for i in range(len(nodes))])
        nodes_of: dict[int, int] = {}
        for reply in hellos:
            hello = reply.message.content.metric_records["hello"]
            client, params, classes = int(hello["client"]), int(hello["params"]), int(hello["classes"])
            node = self.exchange.nodes[reply.outgoing.client]
            if client in nodes_of or not 0 <= client < wanted:
                raise FlowerRunError(f"node {node} says it is client {client}; the clients are 0..{wanted - 1}, "
                                     f"one SuperNode each")
            if (params, classes) != (self.params, self.num_classes):
                raise FlowerRunError(f"client {client} (node {node}) built a model of {params} parameters and "
                                     f"{classes} classes (the server has {self.params} and {self.num_classes})")
            nodes_of[client] = node
            self.client_histograms[client] = records.counts_from_record(reply.message.content.array_records["histogram"])
            reply.row["client"] = client
        self.exchange.nodes = nodes_of
        return waited

    # -- what the protocols call ----------------------------------------------------------------------
    def histograms(self, clients: Sequence[int]) -> np.ndarray:
        return np.stack([self.client_histograms[int(k)] for k in clients])

    def report(self, clients: Sequence[int]) -> list[tuple[float, int, np.ndarray]]:
        """Every client reports its histogram, all at once; per client (push to decoded reply, reply bytes, counts)."""
        size = wire.message_bytes(self.num_classes, bytes_per_element=8)
        replies = self.exchange.run([Outgoing(client=int(k), kind="query.report", content=RecordDict(),
                                              deadline_s=self.job.deadline_s(size)) for k in clients])
        reports = {}
        for reply in replies:
            t0 = self.clock()
            counts = records.counts_from_record(reply.message.content.array_records["histogram"])
            decode_s = self.clock() - t0
            reports[reply.outgoing.client] = (reply.row["seen_s"] - reply.row["push_s"] + decode_s,
                                              reply.row["reply_bytes"], counts)
        return [reports[int(k)] for k in clients]

    def augment(self, clients: Sequence[int], *, plan: AugmentationPlan,
                class_sizes: np.ndarray) -> list[tuple[float, int, int]]:
        """Every client makes the plan from ``class_sizes`` and augments its data, all at once."""
        size = wire.message_bytes(self.num_classes, bytes_per_element=8)
        replies = self.exchange.run([
            Outgoing(client=int(k), kind="query.augment",
                     content=RecordDict({"class_sizes": records.counts_record(class_sizes)}),
                     deadline_s=self.job.deadline_s(2 * size)) for k in clients])
        results = {}
        for reply in replies:
            content = reply.message.content
            k = reply.outgoing.client
            self.client_histograms[k] = records.counts_from_record(content.array_records["histogram"])
            stats = content.metric_records["augmentation"]
            reply.row["client_work_s"] = float(stats["duration-s"])
            results[k] = (reply.row["seen_s"] - reply.row["push_s"], int(stats["augmented"]), int(stats["removed"]))
        return [results[int(k)] for k in clients]

    def visit_message(self, step: Visit, round: int, vector: torch.Tensor, *, tag: Any) -> Outgoing:
        """The instruction of one visit: the model and which round and visit it is."""
        t0 = self.clock()
        content = RecordDict({"model": records.vector_record(vector),
                              "visit": ConfigRecord({"round": int(round), "visit": int(step.visit)})})
        return Outgoing(client=step.client, kind="train", content=content, round=round, tag=tag,
                        deadline_s=self.job.deadline_s(self.model_bytes), encode_s=self.clock() - t0)

    def visit_events(self, reply: Reply) -> tuple[torch.Tensor, list[Event]]:
        """The trained model of a visit's reply and its three events (module docstring)."""
        t0 = self.clock()
        content = reply.message.content
        model = records.vector_from_record(content.array_records["model"])
        decode_s = self.clock() - t0
        training = content.metric_records["training"]
        timing, row = reply.timing, reply.row
        samples, steps = int(training["samples"]), int(training["steps"])
        row["client_work_s"] = float(training["duration-s"])
        entity = f"client:{reply.outgoing.client}"
        return model, [
            Event("client_download", entity, reply.outgoing.encode_s + timing["work_start_s"] - row["push_s"],
                  bytes=row["bytes"]),
            Event("local_training", entity, float(training["duration-s"]), flops=self.flops_per_sample * samples,
                  samples=samples, steps=steps),
            Event("client_upload", entity, row["seen_s"] - timing["work_end_s"] + decode_s, bytes=row["reply_bytes"]),
        ]

    def run_branches(self, branches: Sequence[Branch], *, round: int,
                     start_s: float) -> tuple[list[torch.Tensor], list[float]]:
        """Run the branches concurrently over the nodes; record them as the in-process engine does."""
        chains = [_Chain(self, branch, round=round) for branch in branches]
        first = [message for chain in chains for message in chain.advance()]
        self.exchange.run(first, lambda reply: reply.outgoing.tag.on_reply(reply))
        ends = [self.record_events(chain.events, round=round, start_s=start_s) for chain in chains]
        return [chain.model for chain in chains], ends

    # -- the run's figures ------------------------------------------------------------------------------
    def flower_summary(self) -> dict[str, Any]:
        """What the run summary adds for a Flower run (the message log's totals)."""
        log = self.exchange.log
        control = [row for row in log if row["kind"] != "train" and row["kind"] != "query.report"]
        reports = [row for row in log if row["kind"] == "query.report"]
        return {
            "flower_nodes_wait_s": self.nodes_wait_s,
            "flower_messages": len(log),
            "flower_control_bytes": int(sum(row["bytes"] + row["reply_bytes"] for row in control)
                                        + sum(row["bytes"] for row in reports)),
            "flower_poll_s": self.job.poll_s,
        }
