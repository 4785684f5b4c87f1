"""Do a convolution's channel counts cost by blocks? Single convolutions timed over channel pairs.

Why. The local-training statement of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS
32(1), 2021) prices a convolution's FLOPs together with its *padding* FLOPs, what its channel counts
rounded up to whole blocks of :data:`~reference_impl.models.counting.CHANNEL_BLOCK` (16) would add,
at one rate (:mod:`costmodel.model.events`). That is a claim about the CPU convolution library: it
lays channels out in blocks of 16 float32 lanes and computes on whole blocks, so a convolution with
18 channels costs about what one with 32 does. ``python -m calibration.channel_blocks`` tests it on
the machine at hand.

How (:func:`time_convolutions`): one 3x3 convolution (no bias, padding 1) with ``C_in`` input and
``C_out`` output channels, forward and backward (input and weight gradients) on a batch of 16
samples of 14x14, on one torch thread, timed by the thread's CPU time, median of :data:`REPEATS`
after two untimed passes, for every pair of :data:`CHANNELS`. Its FLOPs are
``3 * 2 * N * H * W * 9 * C_in * C_out`` (forward, input gradient, weight gradient).

What (:func:`rule_table`): for each counting rule of :data:`RULES` (no rounding, rounding each
channel count up to blocks of 8 or 16, or only one of them), the seconds per *counted* FLOP of each
pair with both counts at least 8, and their coefficient of variation across pairs. A rule that says
what the convolution computes on makes that time per counted FLOP flat: the smallest CV wins. Pairs
below 8 channels are left out: there the library's small-channel kernels cost less than any rounding
says (docs/limits.md).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
import torch

from costmodel.errors import InputError, check_int
from reference_impl.models.counting import channel_blocks

__all__ = ["CHANNELS", "REPEATS", "RULES", "main", "rule_table", "time_convolutions"]

#: The channel counts timed (each pair of them): below, at, and between multiples of 8 and 16.
CHANNELS: tuple[int, ...] = (4, 8, 12, 16, 18, 20, 24, 32, 36, 40, 48, 64, 72)
#: Timed passes per pair (the median counts).
REPEATS = 9
_BATCH, _SIDE, _KERNEL = 16, 14, 3

#: Counting rules: the channel pair a convolution is taken to compute on.
RULES: Mapping[str, Callable[[int, int], int]] = MappingProxyType({
    "no rounding": lambda c_in, c_out: c_in * c_out,
    "both to 16": lambda c_in, c_out: channel_blocks(c_in, 16) * channel_blocks(c_out, 16),
    "both to 8": lambda c_in, c_out: channel_blocks(c_in, 8) * channel_blocks(c_out, 8),
    "input to 8, output to 16": lambda c_in, c_out: channel_blocks(c_in, 8) * channel_blocks(c_out, 16),
    "output only to 16": lambda c_in, c_out: c_in * channel_blocks(c_out, 16),
    "input only to 16": lambda c_in, c_out: channel_blocks(c_in, 16) * c_out,
})


def _seconds(c_in: int, c_out: int, repeats: int) -> float:
    conv = torch.nn.Conv2d(c_in, c_out, _KERNEL, padding=_KERNEL // 2, bias=False)
    x = torch.randn(_BATCH, c_in, _SIDE, _SIDE, requires_grad=True)
    for _ in range(2):
        conv(x).sum().backward()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        conv(x).sum().backward()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def time_convolutions(channels: Sequence[int] = CHANNELS, *, repeats: int = REPEATS) -> pd.DataFrame:
    """One row per channel pair: ``c_in``, ``c_out``, ``seconds`` (median) and ``flops`` (module docstring)."""
    repeats = check_int("repeats", repeats, minimum=1)
    pairs = [(check_int("channels", c, minimum=1), check_int("channels", d, minimum=1))
             for c, d in itertools.product(channels, repeat=2)]
    if not pairs:
        raise InputError(f"'channels' must hold one channel count or more (got {list(channels)}).")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            rows = [dict(c_in=c_in, c_out=c_out, seconds=_seconds(c_in, c_out, repeats),
                         flops=3 * 2 * _BATCH * _SIDE * _SIDE * _KERNEL * _KERNEL * c_in * c_out)
                    for c_in, c_out in pairs]
    finally:
        torch.set_num_threads(threads)
    return pd.DataFrame(rows)


def rule_table(timings: pd.DataFrame, *, smallest: int = 8) -> pd.DataFrame:
    """Per rule of :data:`RULES`: the mean picoseconds per counted FLOP and their CV across the pairs whose
    channel counts are both at least ``smallest``, the flattest rule first."""
    kept = timings[(timings["c_in"] >= smallest) & (timings["c_out"] >= smallest)]
    if kept.empty:
        raise InputError(f"'timings' must hold a pair with both channel counts >= {smallest} (got {len(timings)} "
                         f"pairs).")
    rows = []
    pairs = list(zip(kept["c_in"], kept["c_out"]))
    for name, rule in RULES.items():
        counted_per_flop = np.array([rule(c_in, c_out) / (c_in * c_out) for c_in, c_out in pairs])
        per_flop = kept["seconds"].to_numpy() / (kept["flops"].to_numpy() * counted_per_flop) * 1e12
        rows.append(dict(rule=name, pairs=len(kept), ps_per_counted_flop=float(per_flop.mean()),
                         cv=float(per_flop.std(ddof=1) / per_flop.mean()) if len(kept) > 1 else 0.0))
    return pd.DataFrame(rows).sort_values("cv", kind="stable").reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.channel_blocks", allow_abbrev=False,
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed passes per channel pair (median)")
    args = parser.parse_args(argv)
    try:
        timings = time_convolutions(repeats=args.repeats)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(timings)} channel pairs, 3x3 convolution, batch {_BATCH}, {_SIDE}x{_SIDE}, forward and backward, "
          f"one thread")
    print(rule_table(timings).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
