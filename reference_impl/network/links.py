"""One host's emulated access link: two directions, each a token bucket (``tc qdisc ... tbf``).

The cost model prices every transfer of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and of
FedAvg with the alpha-beta link model ``latency_s + 8*(W + message_overhead_bytes)/(link_efficiency*b)``.
Its coefficients come from transfers over links of known rate, which :mod:`reference_impl.network.lab`
builds from veth pairs shaped by the kernel's token-bucket filter (``netem`` is not available in this
kernel, so there is no emulated propagation delay). This module says how one link is shaped.

Token-bucket parameters (``tc qdisc add dev X root tbf rate R burst B limit L``):

``burst``
    ``max(2 * 1514, ceil(rate_bytes_per_s * 0.002))`` bytes unless given. It must hold a full
    Ethernet frame (1514 bytes at MTU 1500) or tbf drops the packet; it must hold the tokens that
    accrue while the qdisc waits for its timer (tbf sleeps on a high-resolution timer, so 2 ms of
    tokens cover the wake-up latency of a busy 2-core VM; the old ``rate/HZ`` rule is that bound
    for a 100-1000 Hz tick), or the link runs below its rate. Any more is a gift: a full bucket lets
    the head of a message pass at memory speed and shortens it by ``burst/rate``, which is why a
    "generous" burst skews measured rates at small messages. Back-to-back messages on a persistent
    connection find the bucket nearly empty (it refills only during the acknowledgement gap), so
    this gift stays below ``burst`` bytes per message.
``limit``
    ``ceil(rate_bytes_per_s * queue_latency_s) + burst`` bytes (what tc's ``latency`` option
    computes): the queue that a sender may build before tbf drops. 1 s by default: measured here, a
    2 Mbit/s link with 0.4 s dropped about 40% of the packets of a 1 MB message (TCP recovered, but a
    tail loss costs a retransmission timeout and shows as a +15% outlier), 0.7 s about 1%, 1 s none.
    TCP runs with the host's congestion control (namespaces inherit it; here BBR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from costmodel.errors import check_int, check_number, must

__all__ = ["BURST_TIMER_S", "ETHERNET_FRAME_BYTES", "MIN_SHAPED_BITS_PER_S", "LinkSpec", "check_shaped_rate",
           "tbf_burst_bytes", "tbf_limit_bytes"]

#: Largest Ethernet frame tbf sees at MTU 1500: 1500 + 14 bytes of Ethernet header.
ETHERNET_FRAME_BYTES = 1514
#: Seconds of tokens a default bucket holds (covers timer wake-up latency, see the module notes).
BURST_TIMER_S = 0.002
#: Slowest rate a link may be shaped to: below it tbf's bucket holds under one frame per 1.5 s.
MIN_SHAPED_BITS_PER_S = 8_000


def check_shaped_rate(name: str, value: float) -> float:
    """``value`` if it is a rate tc can shape (``>= 8000`` bits/s) or ``inf`` (unshaped); else the
    one-line :class:`~costmodel.errors.InputError` naming ``name``."""
    if value == math.inf:
        return value
    check_number(name, value, exclusive_minimum=0.0)
    if not value >= MIN_SHAPED_BITS_PER_S:
        raise must(name, f"be >= {MIN_SHAPED_BITS_PER_S} (tc cannot shape slower links sensibly)", value)
    return value


def tbf_burst_bytes(rate_bits_per_s: float) -> int:
    """Default token-bucket depth for a rate: ``max(2*1514, ceil(rate/8 * 0.002))`` bytes."""
    return max(2 * ETHERNET_FRAME_BYTES, math.ceil(rate_bits_per_s / 8.0 * BURST_TIMER_S))


def tbf_limit_bytes(rate_bits_per_s: float, burst_bytes: int, queue_latency_s: float) -> int:
    """Queue limit: ``ceil(rate/8 * queue_latency_s) + burst_bytes`` bytes (tc's ``latency``)."""
    return math.ceil(rate_bits_per_s / 8.0 * queue_latency_s) + burst_bytes


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """One host's access link: its two directions, each a token bucket.

    Parameters
    ----------
    uplink_bits_per_s, downlink_bits_per_s
        Nominal rates, bits per second (> 0). ``math.inf`` leaves that direction unshaped.
    burst_bytes
        Token-bucket depth; ``None`` picks :func:`tbf_burst_bytes` for each direction's rate.
    queue_latency_s
        How long a full queue takes to drain at the rate; sets tbf's ``limit``.
    """

    uplink_bits_per_s: float
    downlink_bits_per_s: float
    burst_bytes: int | None = None
    queue_latency_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("uplink_bits_per_s", "downlink_bits_per_s"):
            check_shaped_rate(name, getattr(self, name))
        if self.burst_bytes is not None:
            check_int("burst_bytes", self.burst_bytes, minimum=ETHERNET_FRAME_BYTES)
        check_number("queue_latency_s", self.queue_latency_s, exclusive_minimum=0.0, maximum=60.0)

    def tbf_args(self, direction: str) -> list[str] | None:
        """The ``tbf ...`` arguments for ``direction`` ('uplink' or 'downlink'), None if unshaped."""
        rate = self.rate_bits_per_s(direction)
        if rate == math.inf:
            return None
        burst = self.burst_bytes if self.burst_bytes is not None else tbf_burst_bytes(rate)
        limit = tbf_limit_bytes(rate, burst, self.queue_latency_s)
        return ["tbf", "rate", f"{round(rate)}bit", "burst", str(burst), "limit", str(limit)]

    def rate_bits_per_s(self, direction: str) -> float:
        """The nominal rate of 'uplink' or 'downlink'."""
        if direction == "uplink":
            return self.uplink_bits_per_s
        if direction == "downlink":
            return self.downlink_bits_per_s
        raise must("direction", "be 'uplink' or 'downlink'", direction)
