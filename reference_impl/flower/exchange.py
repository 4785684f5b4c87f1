"""The ServerApp's side of the messages: push, poll for replies, time them, and name the client that fails.

Flower's ``Grid.send_and_receive`` sleeps 3 s between polls and, on a timeout, returns fewer replies
without saying whose is missing. A chain of Astraea must instead send the next client its message as
soon as the previous one answers, while other chains run. :class:`Exchange` therefore runs one loop
over ``Grid.push_messages`` and ``Grid.pull_messages``: every ``poll_s`` it pulls the replies to all
messages in flight, hands each reply to the caller, which may answer with the next messages, and
pushes those at once.

Every message is recorded (:attr:`Exchange.log`): its kind, client, node, round, when it was pushed
and when its reply was seen (``time.time()`` of this process), the Flower bytes of the instruction and
of the reply (:func:`~reference_impl.flower.records.message_bytes`), and the client's own timestamps
(the reply's ``timing`` record). All processes of a deployment on one machine share that clock.

Failures, each a :class:`FlowerRunError` of one line naming the client: an error reply (Flower's own,
e.g. code 5 ``NODE_UNAVAILABLE`` some 40-60 s after a node died, or the ClientApp's exception), and a
message left unanswered past its deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

from reference_impl.flower import records
from reference_impl.flower.job import FlowerRunError

__all__ = ["Exchange", "FlowerRunError", "Outgoing", "Reply"]


@dataclass
class Outgoing:
    """One instruction to send: ``kind`` is its message type (``"train"``, ``"query.report"``, ...)."""

    client: int
    kind: str
    content: RecordDict
    round: int = -1
    tag: Any = None
    deadline_s: float = 60.0
    encode_s: float = 0.0


@dataclass
class Reply:
    """A reply as the caller receives it, with its record (a row of :attr:`Exchange.log`)."""

    outgoing: Outgoing
    message: Message
    row: dict[str, Any] = field(default_factory=dict)

    @property
    def timing(self) -> dict[str, float]:
        """The client's timestamps (:mod:`reference_impl.flower.client_app`)."""
        return {name.replace("-", "_"): float(value) for name, value in self.message.content["timing"].items()}


class Exchange:
    """The message loop of one ServerApp (module docstring).

    Parameters
    ----------
    grid : the ServerApp's Grid.
    nodes : client -> Flower node id.
    poll_s : seconds between pulls while messages are in flight.
    """

    def __init__(self, grid: Grid, nodes: dict[int, int] | None = None, *, poll_s: float = 0.05) -> None:
        self.grid = grid
        self.nodes: dict[int, int] = dict(nodes or {})
        self.poll_s = poll_s
        self.log: list[dict[str, Any]] = []

    def name(self, client: int) -> str:
        """How errors name a client: ``client 3 (node 1234...)``; before the node map is known, the node."""
        node = self.nodes.get(client)
        if client < 0:
            return f"node {node}"
        return f"client {client}" + (f" (node {node})" if node is not None else "")

    def run(self, first: Sequence[Outgoing],
            on_reply: Callable[[Reply], Sequence[Outgoing]] | None = None) -> list[Reply]:
        """Send ``first``; hand every reply to ``on_reply`` and send what it returns; return all replies
        in the order they arrived, once no message is in flight."""
        in_flight: dict[str, tuple[Outgoing, dict[str, Any]]] = {}
        replies: list[Reply] = []
        self._push(first, in_flight)
        while in_flight:
            pulled = list(self.grid.pull_messages(list(in_flight)))
            seen_s = time.time()
            following: list[Outgoing] = []
            for message in pulled:
                outgoing, row = in_flight.pop(message.metadata.reply_to_message_id)
                if message.has_error():
                    raise FlowerRunError(f"{self.name(outgoing.client)} failed on {outgoing.kind}: Flower error "
                                         f"{message.error.code}: {' '.join(str(message.error.reason).split())}")
                row.update(seen_s=seen_s, reply_bytes=records.message_bytes(message),
                           reply_objects=len(records.message_objects(message)))
                reply = Reply(outgoing, message, row)
                row.update({f"client_{name}": value for name, value in reply.timing.items()})
                self.log.append(row)
                replies.append(reply)
                if on_reply is not None:
                    following += on_reply(reply)
            self._push(following, in_flight)
            now = time.time()
            for outgoing, row in in_flight.values():
                if now - row["push_s"] > outgoing.deadline_s:
                    raise FlowerRunError(f"{self.name(outgoing.client)} did not answer {outgoing.kind} within "
                                         f"{outgoing.deadline_s:.0f} s")
            if in_flight and not following:
                time.sleep(self.poll_s)
        return replies

    def _push(self, outgoing: Sequence[Outgoing], in_flight: dict[str, tuple[Outgoing, dict[str, Any]]]) -> None:
        if not outgoing:
            return
        messages, rows = [], []
        for item in outgoing:
            if item.client not in self.nodes:
                raise FlowerRunError(f"client {item.client} has no SuperNode in this federation")
            message = Message(item.content, dst_node_id=self.nodes[item.client], message_type=item.kind,
                              group_id=str(item.round))
            messages.append(message)
            objects = records.message_objects(message)
            rows.append({"kind": item.kind, "client": item.client, "node": self.nodes[item.client],
                         "round": item.round, "tag": str(item.tag), "encode_s": item.encode_s,
                         "bytes": sum(objects.values()), "objects": len(objects)})
        push_s = time.time()
        ids = list(self.grid.push_messages(messages))
        pushed_s = time.time()
        for item, row, message_id in zip(outgoing, rows, ids):
            if not message_id:
                raise FlowerRunError(f"{self.name(item.client)}: the SuperLink refused the {item.kind} message")
            row.update(push_s=push_s, pushed_s=pushed_s)
            in_flight[message_id] = (item, row)
        for _, row in in_flight.values():     # how many messages share the host from now on
            row["in_flight"] = max(row.get("in_flight", 0), len(in_flight))
