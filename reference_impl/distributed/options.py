"""How a run is distributed, and the ``--network`` options of ``astraea-cost run`` that say so.

``--network inprocess`` (the default) runs the in-process engine; ``local`` and ``emulated`` run the
distributed engine (:mod:`reference_impl.distributed.launcher`) on loopback or over emulated,
tbf-shaped links (:mod:`reference_impl.network`, root only). This module imports neither torch nor
the engine, so registering the command stays cheap.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from costmodel.errors import InputError, check_int, check_number, must, relabel
from costmodel.units import parse_bandwidth_bits_per_s, parse_seconds
from reference_impl.network import namespaces
from reference_impl.network.links import check_shaped_rate

__all__ = [
    "DEFAULT_WORKERS",
    "NETWORKS",
    "DistributedOptions",
    "add_network_arguments",
    "options_from_args",
    "require_namespaces",
]

#: ``inprocess`` is the in-process engine; the other two are this module's.
NETWORKS: tuple[str, ...] = ("inprocess", "local", "emulated")
DEFAULT_WORKERS = 4


@dataclass(frozen=True, kw_only=True)
class DistributedOptions:
    """How a run is distributed.

    Parameters
    ----------
    network : ``"local"`` (loopback) or ``"emulated"`` (namespaces with tbf-shaped links).
    workers : client-device processes at most; a run uses ``W = min(clients, workers)``.
    uplink_bits_per_s, downlink_bits_per_s : each worker's link rates (emulated only; ``inf`` leaves
        a direction unshaped).
    timeout_s : the longest silence allowed on any link and the rendezvous deadline; a payload's
        deadline adds twice its time at the slowest rate.
    devices : one ``(speed_factor, uplink_bits_per_s, downlink_bits_per_s)`` per worker (emulated
        only; empty: every worker at full speed on the shared rates): worker ``w`` is throttled to
        ``speed_factor`` of a core (:mod:`reference_impl.network.cpu_throttle`, 0.1..1, together at
        most the machine's cores less half a core) and its link shaped to its own rates.
    """

    network: str = "local"
    workers: int = DEFAULT_WORKERS
    uplink_bits_per_s: float = 5e6
    downlink_bits_per_s: float = 20e6
    timeout_s: float = 60.0
    devices: tuple[tuple[float, float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.network not in NETWORKS[1:]:
            raise must("network", f"be one of {', '.join(NETWORKS[1:])} for a distributed run", self.network)
        check_int("workers", self.workers, minimum=1, maximum=256)
        for name in ("uplink_bits_per_s", "downlink_bits_per_s"):
            check_shaped_rate(name, getattr(self, name))
        check_number("timeout_s", self.timeout_s, exclusive_minimum=0.0)
        if self.timeout_s < 1.0:
            raise must("timeout_s", "be >= 1 s (process start and rendezvous need it)", self.timeout_s)
        devices = tuple(tuple(float(x) for x in device) for device in self.devices)
        object.__setattr__(self, "devices", devices)
        if devices:
            from reference_impl.network import cpu_throttle  # only with devices: declarations stay light

            if self.network != "emulated":
                raise must("devices", "only be given with network 'emulated'", self.network)
            for w, (speed, up, down) in enumerate(devices, start=1):
                check_number(f"devices row {w}, speed_factor", speed, minimum=cpu_throttle.MIN_SPEED, maximum=1.0)
                for name, rate in (("uplink_bits_per_s", up), ("downlink_bits_per_s", down)):
                    check_shaped_rate(f"devices row {w}, {name}", rate)
            cpu_throttle.speeds_below_cores([speed for speed, _, _ in devices])

    @property
    def slowest_bits_per_s(self) -> float:
        """The slowest shaped rate, ``inf`` on loopback."""
        if self.network == "local":
            return math.inf
        if self.devices:
            return min(min(up, down) for _, up, down in self.devices)
        return min(self.uplink_bits_per_s, self.downlink_bits_per_s)


def require_namespaces(*, devices: bool = False) -> None:
    """Raise a one-sentence ``InputError`` (the reason) unless emulated networks (and, with
    ``devices``, throttled workers) can be built here."""
    ok, reason = namespaces.netlab_available()
    if not ok:
        raise InputError(f"'network' cannot be 'emulated' on this machine: {reason}.")
    if devices:
        from reference_impl.network import cpu_throttle

        ok, reason = cpu_throttle.cpu_throttle_available()
        if not ok:
            raise InputError(f"'devices' cannot be emulated on this machine: {reason}.")


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--network``, ``--uplink``, ``--downlink``, ``--workers`` and ``--timeout`` to ``parser``."""
    group = parser.add_argument_group(
        "network", "run over torch.distributed: 'local' on loopback, 'emulated' in network namespaces with "
                   "tbf-shaped links (needs root); 'inprocess' is the in-process engine")
    group.add_argument("--network", choices=NETWORKS, default="inprocess",
                       help="where the devices run (default: inprocess)")
    group.add_argument("--uplink", default="5Mbit/s", help="each worker's uplink rate, emulated only (5Mbit/s)")
    group.add_argument("--downlink", default="20Mbit/s",
                       help="each worker's downlink rate, emulated only (20Mbit/s)")
    group.add_argument("--workers", default=str(DEFAULT_WORKERS),
                       help=f"client-device processes at most; min(clients, workers) are used, client k on "
                            f"worker 1 + k %% W ({DEFAULT_WORKERS})")
    group.add_argument("--timeout", default="60s", help="longest silence allowed on any link (60s)")
    group.add_argument("--devices", metavar="FILE.csv", default=None,
                       help="emulated only: one row per worker, speed_factor,uplink_bits_per_s,downlink_bits_per_s; "
                            "each worker throttled to its speed (cgroup cpu quota, 0.1..1 of a core) on its own "
                            "tbf-shaped link (needs root)")


def options_from_args(args: argparse.Namespace) -> DistributedOptions | None:
    """The distributed options from parsed arguments (``None`` for ``--network inprocess``).

    Raises :class:`InputError` naming the argument for unreadable values.
    """
    network = getattr(args, "network", "inprocess")
    if network not in NETWORKS:
        raise must("network", f"be one of {', '.join(NETWORKS)}", network)
    uplink = parse_bandwidth_bits_per_s(args.uplink, name="uplink")
    downlink = parse_bandwidth_bits_per_s(args.downlink, name="downlink")
    workers = check_int("workers", args.workers, minimum=1, maximum=256)
    timeout_s = parse_seconds(args.timeout, name="timeout")
    devices: tuple[tuple[float, float, float], ...] = ()
    if getattr(args, "devices", None) is not None:
        from costmodel.model.federation import read_clients_file  # numpy only, no torch

        table = read_clients_file(args.devices, label="devices")
        devices = tuple(zip(table.speed_factor.tolist(), table.uplink_bits_per_s.tolist(),
                            table.downlink_bits_per_s.tolist()))
        if network != "emulated":
            raise must("devices", "only be given with --network emulated", network)
    if network == "inprocess":
        return None
    try:
        options = DistributedOptions(network=network, workers=workers, uplink_bits_per_s=uplink,
                                     downlink_bits_per_s=downlink, timeout_s=timeout_s, devices=devices)
    except InputError as exc:  # name the command-line argument, not the field
        raise relabel(exc, uplink_bits_per_s="uplink", downlink_bits_per_s="downlink", timeout_s="timeout") from None
    if network == "emulated":   # before any output exists
        require_namespaces(devices=bool(devices))
    return options
