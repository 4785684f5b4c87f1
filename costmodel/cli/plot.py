"""``astraea-cost plot``: the figures of Astraea's cost over FedAvg, written as PNG files.

Each ``--kind`` sweeps one input (clients per round, model size or the client uplink) with the
others as given; a list given for an input draws the figures that sweep it, and only those (a list
for an input no chosen figure sweeps is refused). The figures are :mod:`costmodel.report.plots`'.
Stdout holds the paths alone, for scripts; the assumptions line goes to stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from costmodel.analysis.predict import predict_overhead, predict_rounds
from costmodel.cli import scenario_options as options
from costmodel.cli import tables
from costmodel.cli.commands import PLOT_KINDS
from costmodel.errors import InputError, must
from costmodel.files import output_folder
from costmodel.report import plots

__all__ = ["run"]


_SWEEPS: dict[str, tuple[str, Any]] = {
    "overhead-clients": ("clients_per_round", None),
    "overhead-params": ("params", (1e4, 1e5, 1e6, 1e7, 1e8)),
    "overhead-bandwidth": ("uplink_bits_per_s", (1e5, 1e6, 1e7, 1e8, 1e9, math.inf)),
    "round-time": ("clients_per_round", None),
    "traffic": ("clients_per_round", None),
}


def _default_clients(clients_total: float) -> list[float]:
    candidates = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
    return [float(c) for c in candidates if c <= clients_total]


def run(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost plot``."""
    given = options.given_inputs(args)
    calibration = options.calibration_from_args(args)
    base = options.base_inputs(args)
    chosen = list(dict.fromkeys(args.kind or ()))
    kinds = chosen or list(PLOT_KINDS)
    for name, values in given.items():
        if len(values) == 1:
            continue
        sweeping = [kind for kind in PLOT_KINDS if _SWEEPS[kind][0] == name]
        if not sweeping:
            raise must(options.label(name), "be a single value for plot: no figure sweeps it", getattr(args, f"input_{name}"))
        if not chosen:
            kinds = sweeping     # the figures that draw the list the user gave, and only those
        elif any(_SWEEPS[kind][0] != name for kind in kinds):
            raise must(options.label(name), f"be a single value for plot --kind {' --kind '.join(kinds)}: only "
                                     f"{', '.join(sweeping)} sweep{'s' if len(sweeping) == 1 else ''} it",
                       getattr(args, f"input_{name}"))
    fixed = {**base, **{name: values[0] for name, values in given.items() if len(values) == 1}}
    if args.scope is not None and not any(kind.startswith("overhead") for kind in kinds):
        raise InputError(f"'scope' must only be given with an overhead figure (got --scope {args.scope} for "
                         f"{', '.join(kinds)}).")
    if args.quantity is not None and not any(kind.startswith("overhead") for kind in kinds):
        raise InputError(f"'quantity' must only be given with an overhead figure (got --quantity {args.quantity} "
                         f"for {', '.join(kinds)}).")

    coefficients = calibration.coefficients
    with output_folder("out", args.out) as out:
        for kind in kinds:
            against, default = _SWEEPS[kind]
            if against in given and len(given[against]) > 1:
                values = given[against]
            elif against == "clients_per_round":
                values = _default_clients(fixed["clients_total"])
            else:
                values = list(default)
            frame = options.grid_frame({k: v for k, v in fixed.items() if k != against}, {against: values})
            if kind.startswith("overhead"):
                overhead = predict_overhead(frame, coefficients)
                figure = {"overhead-clients": plots.overhead_vs_clients, "overhead-params": plots.overhead_vs_params,
                          "overhead-bandwidth": plots.overhead_vs_bandwidth}[kind](
                    overhead, scope=args.scope or "round", quantity=args.quantity or "seconds")
            else:
                rounds = predict_rounds(frame, coefficients)
                figure = plots.round_time_vs_clients(rounds) if kind == "round-time" else plots.traffic_vs_clients(rounds)
            path = plots.save_figure(figure, out / PLOT_KINDS[kind])
            print(path)
    print(f"figures of {args.preset or 'defaults (TPDS EMNIST)'}: {tables.assumptions(fixed)}; "
          f"{tables.calibration_note(calibration, args)}.", file=sys.stderr)   # stdout: the paths alone
    tables.warn_about(calibration, args)
    return 0
