"""The heterogeneity options of ``predict``, parsed: speed and link spreads, classes, a client table,
and the Monte Carlo draws (:mod:`costmodel.cli.commands` declares them).

Every error names the option as typed, in one line (exit status 2): ``'speed-sigma' must be >= 0
(got '-1').``
"""

from __future__ import annotations

import argparse
import math

from costmodel.errors import InputError, must
from costmodel.model.federation import MAX_SIGMA, Federation, parse_classes, read_clients_file

__all__ = ["federation_from_args", "given", "monte_carlo_from_args"]

_OPTIONS = ("speed_sigma", "speed_classes", "link_sigma", "link_classes", "clients_file", "monte_carlo", "seed")


def given(args: argparse.Namespace) -> bool:
    """Whether any heterogeneity option (or ``--monte-carlo``) was given."""
    return any(getattr(args, name, None) is not None for name in _OPTIONS)


def _sigma(option: str, text: str | None) -> float:
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise must(option, "be a number", text) from None
    if not math.isfinite(value) or value < 0:
        raise must(option, "be >= 0", text)
    if value > MAX_SIGMA:
        raise must(option, f"be <= {MAX_SIGMA:g}", text)
    return value


def federation_from_args(args: argparse.Namespace) -> Federation:
    """The :class:`~costmodel.model.federation.Federation` of the options (homogeneous when none)."""
    speed_classes = () if args.speed_classes is None else parse_classes("speed-classes", args.speed_classes)
    link_classes = () if args.link_classes is None else parse_classes("link-classes", args.link_classes)
    speed_sigma = _sigma("speed-sigma", args.speed_sigma)
    link_sigma = _sigma("link-sigma", args.link_sigma)
    if args.clients_file is None:
        return Federation(speed_sigma=speed_sigma, speed_classes=speed_classes, link_sigma=link_sigma,
                          link_classes=link_classes)
    for option in ("speed_sigma", "speed_classes", "link_sigma", "link_classes", "device_speed"):
        if getattr(args, option, None) is not None:
            raise InputError(f"'{option.replace('_', '-')}' must not be given with --clients-file, whose rows state "
                             f"every client's speed and links (got {getattr(args, option)!r}).")
    return Federation(clients=read_clients_file(args.clients_file))


def monte_carlo_from_args(args: argparse.Namespace) -> tuple[int, int]:
    """``(draws, seed)`` of ``--monte-carlo`` and ``--seed`` (0 draws: none)."""
    draws, seed = 0, 0
    if args.monte_carlo is not None:
        try:
            draws = int(args.monte_carlo)
        except ValueError:
            raise must("monte-carlo", "be a whole number of rounds >= 2", args.monte_carlo) from None
        if not 2 <= draws <= 10**8:
            raise must("monte-carlo", "be a whole number of rounds >= 2 and <= 1e+08", args.monte_carlo)
    if args.seed is not None:
        if args.monte_carlo is None:
            raise must("seed", "only be given with --monte-carlo", args.seed)
        try:
            seed = int(args.seed)
        except ValueError:
            raise must("seed", "be a whole number >= 0", args.seed) from None
        if seed < 0:
            raise must("seed", "be a whole number >= 0", args.seed)
    return draws, seed
