"""The algorithms the reference implementation runs, one module each, registered once here.

An algorithm is one module of this package: its order of events (setup and rounds, handed to an
engine as :class:`~reference_impl.protocols.steps.Branch` es) and the record
:class:`~reference_impl.protocols.protocol.Protocol` that names it. :data:`PROTOCOLS` is the one
table of them. Everything that depends on the algorithm (the engines' ``drive``, the distributed
workers, workload planning, ``compare`` and the command line's ``--algorithm``) looks the protocol
up here or iterates this table; nothing branches on an algorithm's name.

The table is checked against the algorithms the cost model prices (``costmodel.model.protocols.ALGORITHMS``)
when this package is imported: a protocol without a cost counterpart, or a priced algorithm without
a protocol, stops the import with one sentence naming it.

Modules: :mod:`.steps` (branches, steps, events; what a protocol may ask of an engine),
:mod:`.protocol` (the record and the check), :mod:`.astraea`, :mod:`.fedavg`,
:mod:`.rescheduling` (Astraea's greedy mediators and the KL-to-uniform measure),
:mod:`.augmentation_plans` (Astraea's augmentation plans and each client's draw).
"""

from __future__ import annotations

from collections.abc import Mapping

from costmodel.errors import must
from costmodel.model.protocols import ALGORITHMS
from reference_impl.protocols import astraea, fedavg, fedprox
from reference_impl.protocols.protocol import Protocol, check_registry

__all__ = ["PROTOCOLS", "Protocol", "protocol_of"]

#: Every protocol by name, in the cost model's order of algorithms (checked at import).
PROTOCOLS: Mapping[str, Protocol] = check_registry((astraea.PROTOCOL, fedavg.PROTOCOL, fedprox.PROTOCOL), ALGORITHMS)


def protocol_of(algorithm: str) -> Protocol:
    """The registered protocol of ``algorithm``; any other name is a one-sentence ``InputError``."""
    protocol = PROTOCOLS.get(algorithm) if isinstance(algorithm, str) else None
    if protocol is None:
        raise must("algorithm", f"be one of {', '.join(PROTOCOLS)}", algorithm)
    return protocol
