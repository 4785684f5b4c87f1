"""Which engine runs a measured run, and how a Flower run is deployed: ``astraea-cost run --engine``.

``--engine inprocess`` (the default) keeps ``astraea-cost run`` as it was: the in-process engine, or
the torch.distributed engine with ``--network local|emulated``. ``--engine flower`` runs the
protocol as a Flower App on a deployment of stock Flower processes
(:mod:`reference_impl.flower.deployment`), on loopback (``--network local``) or over emulated,
tbf-shaped links (``--network emulated``, root), with the same ``--uplink``, ``--downlink`` and
``--timeout``. This module imports neither torch nor flwr, so registering the command stays cheap.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from costmodel.errors import InputError, check_number, must, relabel
from reference_impl.network.links import check_shaped_rate

__all__ = ["ENGINES", "FLOWER_NETWORKS", "FlowerOptions", "add_engine_argument", "flower_options"]

#: ``inprocess``: the project's own engines (``--network`` chooses); ``flower``: the Flower App.
ENGINES: tuple[str, ...] = ("inprocess", "flower")
#: Where a Flower deployment runs.
FLOWER_NETWORKS: tuple[str, ...] = ("local", "emulated")


@dataclass(frozen=True, kw_only=True)
class FlowerOptions:
    """How a Flower run is deployed.

    Parameters
    ----------
    network : ``"local"`` (loopback) or ``"emulated"`` (one namespace per SuperNode, tbf-shaped links).
    uplink_bits_per_s, downlink_bits_per_s : every client's link (emulated only; ``inf`` unshaped).
    timeout_s : the longest a client may take to answer one message beyond its transfers.
    """

    network: str = "local"
    uplink_bits_per_s: float = 5e6
    downlink_bits_per_s: float = 20e6
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.network not in FLOWER_NETWORKS:
            raise must("network", f"be one of {', '.join(FLOWER_NETWORKS)} for --engine flower", self.network)
        for name in ("uplink_bits_per_s", "downlink_bits_per_s"):
            check_shaped_rate(name, getattr(self, name))
        check_number("timeout_s", self.timeout_s, exclusive_minimum=0.0)
        if self.timeout_s < 10.0:
            raise must("timeout_s", "be >= 10 s for --engine flower (a fresh ClientApp process starts for every "
                                    "message)", self.timeout_s)

    @property
    def slowest_bits_per_s(self) -> float:
        """The slowest shaped rate, ``inf`` on loopback."""
        return math.inf if self.network == "local" else min(self.uplink_bits_per_s, self.downlink_bits_per_s)


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine`` to ``parser``."""
    parser.add_argument("--engine", choices=ENGINES, default="inprocess",
                        help="the project's own engines (inprocess, the default; --network chooses in-process or "
                             "torch.distributed) or the protocol as a Flower App on SuperLink and SuperNode "
                             "processes (flower; needs --network local or emulated and the 'flower' extra)")


def flower_options(network: str, *, uplink_bits_per_s: float, downlink_bits_per_s: float,
                   timeout_s: float) -> FlowerOptions:
    """The Flower options of parsed ``--network``, ``--uplink``, ``--downlink`` and ``--timeout`` values;
    an :class:`InputError` naming the command-line argument otherwise."""
    if network not in FLOWER_NETWORKS:
        raise must("network", f"be one of {', '.join(FLOWER_NETWORKS)} with --engine flower (one SuperNode "
                              f"process per client)", network)
    try:
        return FlowerOptions(network=network, uplink_bits_per_s=uplink_bits_per_s,
                             downlink_bits_per_s=downlink_bits_per_s, timeout_s=timeout_s)
    except InputError as exc:     # name the command-line argument, not the field
        raise relabel(exc, uplink_bits_per_s="uplink", downlink_bits_per_s="downlink", timeout_s="timeout") from None
