"""What the Flower app's messages carry, and how many bytes Flower ships for each.

Payloads keep the project's wire format (:mod:`reference_impl.engine.wire`): a model is the
``16 + 4P``-byte message of its flat float32 vector, a histogram the ``16 + 8K``-byte message of
its int64 counts. Each travels as one Flower :class:`~flwr.app.Array` whose data *are* those bytes
(``stype`` :data:`WIRE_STYPE`), inside an :class:`~flwr.app.ArrayRecord`, so the bytes are the
in-process engine's and the decoded model is bit-identical.

How many bytes a message is (:func:`message_bytes`)
---------------------------------------------------
Flower 1.42 does not ship a message as one protobuf. It splits it into content-addressed objects
(the Message, its RecordDict, each record, each Array, each ArrayChunk of at most 5 MiB of data),
and every object travels as the body of its own HTTP/1.1 request or response between a SuperNode
and the SuperLink. :func:`message_bytes` is the sum of those objects' serialized sizes, each
``"<Type> <child ids> <length>\\0" + body``: the payload plus Flower's framing (object headers,
metadata, record and array descriptions; about 600 bytes for one payload, ~90 more per further 5
MiB chunk, ~190 more for a metric record). Not included, and stated wherever the figure is shown:
the HTTP/1.1 start lines and headers of those requests and the TCP/IP headers of their packets.
"""

from __future__ import annotations

import os
import time

import numpy as np
from flwr.app import Array, ArrayRecord, Message, MetricRecord
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

from reference_impl.engine import wire

__all__ = [
    "WIRE_STYPE",
    "counts_from_record",
    "counts_record",
    "message_bytes",
    "message_objects",
    "metrics",
    "process_start_s",
    "samples_from_record",
    "samples_record",
    "vector_from_record",
    "vector_record",
]

#: The serialization type of an Array holding one message of the project's wire format.
WIRE_STYPE = "astraea-cost.wire/1"
_KEY = "wire"


def _wire_record(message: bytes) -> ArrayRecord:
    return ArrayRecord({_KEY: Array(dtype="uint8", shape=(len(message),), stype=WIRE_STYPE, data=message)})


def _wire_bytes(record: ArrayRecord) -> bytes:
    array = record[_KEY]
    if array.stype != WIRE_STYPE:
        raise ValueError(f"a payload must be an Array of stype {WIRE_STYPE!r} (got {array.stype!r}).")
    return bytes(array.data)


def vector_record(vector) -> ArrayRecord:
    """A flat float32 parameter vector (torch) as one wire-format Array."""
    return _wire_record(wire.encode_vector(vector))


def vector_from_record(record: ArrayRecord):
    """The parameter vector (a fresh float32 torch tensor) of :func:`vector_record`."""
    return wire.decode_vector(_wire_bytes(record))


def counts_record(counts: np.ndarray) -> ArrayRecord:
    """A label histogram (int64 counts) as one wire-format Array."""
    return _wire_record(wire.encode_counts(counts))


def counts_from_record(record: ArrayRecord) -> np.ndarray:
    """The int64 counts of :func:`counts_record`."""
    return wire.decode_counts(_wire_bytes(record))


def samples_record(x, y) -> ArrayRecord:
    """A client's samples (``x`` float32, ``y`` int64 torch tensors), kept in a node's ``Context.state``."""
    return ArrayRecord({"x": Array(x.numpy()), "y": Array(y.numpy())})


def samples_from_record(record: ArrayRecord):
    """The ``(x, y)`` torch tensors of :func:`samples_record` (bit-identical)."""
    import torch

    return torch.from_numpy(record["x"].numpy().copy()), torch.from_numpy(record["y"].numpy().copy())


def message_objects(message: Message) -> dict[str, int]:
    """Serialized size of every Flower object of ``message``, by object id (module docstring)."""
    return {object_id: len(obj.deflate()) for object_id, obj in get_all_nested_objects(message).items()}


def message_bytes(message: Message) -> int:
    """Bytes of all of ``message``'s Flower objects: payload and Flower's framing, without HTTP or TCP/IP
    headers (module docstring)."""
    return sum(message_objects(message).values())


def metrics(**values: float) -> MetricRecord:
    """A MetricRecord of floats (timestamps, durations, counts)."""
    return MetricRecord({name.replace("_", "-"): float(value) for name, value in values.items()})


def process_start_s() -> float:
    """Wall-clock time (``time.time()``) at which this process started, from ``/proc`` (10 ms resolution)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime_s = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return time.time() - (uptime_s - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
