"""The cost model's sub-commands of ``astraea-cost``, declared: ``predict``, ``solve``, ``plot``,
``formula`` and ``report``.

They answer, from the command line, what Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021)
costs over FedAvg for scenarios no one ran. This module only declares them (options and help, argparse
only, :mod:`costmodel.cli.registry`); the handlers are :mod:`costmodel.cli.predict`,
:mod:`costmodel.cli.solve`, :mod:`costmodel.cli.plot`, :mod:`costmodel.cli.formula` and
:mod:`costmodel.cli.report`, which call the library and format a table.

Inputs
------
Every what-if input of :data:`costmodel.model.quantities.INPUTS` has an option named after it with
dashes (``--clients-per-round``, ``--mediator-epochs``); the bandwidths are ``--uplink``,
``--downlink`` and ``--server-bandwidth``; ``--clients`` and ``--gamma`` are aliases matching
``astraea-cost run``. Values take units (:mod:`costmodel.units`): ``--uplink 5Mbit/s``, ``--params
1.25M``, ``--augmented-fraction 81.8%``. ``predict`` (and ``plot``, for the swept input) also takes

* lists: ``--clients-per-round 10,20,50``;
* ranges ``start:stop:step``, stop included when the steps land on it: ``--clients-per-round 10:100:10``;
* geometric ranges with a factor ``xF``: ``--uplink 1Mbit/s:1Gbit/s:x10``.

Several multi-valued options form a cartesian grid (at most :data:`MAX_SCENARIOS` scenarios).
``--preset emnist|cinic10`` starts from the TPDS setups (default: the inputs' own defaults, which are
the EMNIST setup). ``--model-inputs FILE`` then sets a model's architecture inputs from the file
``astraea-cost describe-model --json`` writes (:mod:`costmodel.contracts.model_inputs`); ``predict
--model MODEL --input-shape CxHxW`` measures them on the spot (that path alone needs PyTorch); options
given on the command line win over both. ``--calibration FILE`` replaces the embedded calibration, and
``--set NAME=VALUE`` overrides single coefficients (``--set latency_s=5ms``).
"""

from __future__ import annotations

import argparse

from costmodel.cli.registry import Command

__all__ = [
    "COMMANDS",
    "FLOPS_HELP",
    "MAX_SCENARIOS",
    "OPTION_OF",
    "PLOT_KINDS",
    "PRESETS",
    "QUESTIONS",
    "VARY_CHOICES",
    "add_heterogeneity_options",
    "add_scenario_options",
]

#: Largest grid the command line evaluates in one call. The model itself does millions of scenarios
#: per second, but the tidy frames hold 12 overhead rows per scenario; sweep larger grids from Python.
MAX_SCENARIOS = 100_000

#: What F counts, for every help text that takes it (a figure from a paper is usually a forward count).
FLOPS_HELP = ("training FLOPs per sample: forward and backward, one multiply-add = 2 FLOPs, about 3x a "
              "forward count")

#: Command-line option (without dashes) of each input whose name is not simply dashed.
_SPECIAL_OPTIONS: dict[str, tuple[str, ...]] = {
    "clients_total": ("clients-total", "clients"),
    "mediator_size": ("gamma", "mediator-size"),     # gamma first: the papers' name, the one people type
    "uplink_bits_per_s": ("uplink", "uplink-bits-per-s"),
    "downlink_bits_per_s": ("downlink", "downlink-bits-per-s"),
    "server_bits_per_s": ("server-bandwidth", "server-bits-per-s"),
}
#: Help text of each input option (quantities.INPUTS order; kept here so declarations import no sympy;
#: a test checks the names against quantities.INPUTS).
_INPUT_HELP: dict[str, str] = {
    "clients_total": "N, clients in the federation",
    "clients_per_round": "c, clients selected per round",
    "classes": "K, label classes",
    "samples_per_client": "n, mean samples per client before augmentation",
    "samples_per_client_sd": "s_n, standard deviation of samples per client",
    "local_epochs": "E, local epochs per client visit",
    "mediator_epochs": "E_m, mediator epochs per round",
    "mediator_size": "gamma, clients per mediator",
    "batch_size": "B, mini-batch size",
    "rounds": "R, rounds (for totals)",
    "params": "P, model parameters, e.g. 1.25M",
    "bytes_per_param": "bytes per serialized parameter (4 for float32)",
    "message_header_bytes": "header bytes per message (16)",
    "train_flops_per_sample": f"F, {FLOPS_HELP} (1.018M for the TPDS CNN; 'astraea-cost describe-model' "
                              f"counts it for any model)",
    "conv_input_values": "V_c, values entering the convolutions per sample (2962 for the TPDS CNN)",
    "sample_values": "V, values per sample (784 for 1x28x28)",
    "sample_channels": "C_s, channels per sample (1 for 1x28x28, 3 for 3x32x32)",
    "classes_per_client": "K_c, mean classes a client holds samples of (the rescheduling's work per candidate)",
    "plans_augmentation": "1: the server plans augmentation and clients augment; 0: the plan 'none'",
    "elementwise_values": "V_e, values written by element-wise operations per sample of a training pass "
                          "(7815 for the TPDS CNN)",
    "autograd_nodes": "N, autograd graph nodes per optimizer step (25 for the TPDS CNN)",
    "conv_calls": "C_k, spatial-kernel or grouped convolution calls per optimizer step (6 for the TPDS CNN)",
    "conv_padding_flops": "F_pad, training FLOPs per sample the convolutions' channel counts rounded up to blocks "
                          "of 16 add, priced at the FLOP rate (4.14M for the TPDS CNN)",
    "augmented_fraction": "a, new samples per original sample, e.g. 81.8%%",
    "augmented_fraction_sd": "s_a, spread across clients of the per-client augmented fraction",
    "client_load_spread": "kappa_c, largest client's excess over normal sizes (1)",
    "mediator_load_spread": "kappa, spread of mediator loads over random grouping (1)",
    "removed_fraction": "r, samples dropped by downsampling per original sample",
    "uplink_bits_per_s": "client uplink, e.g. 5Mbit/s (inf: in-process)",
    "downlink_bits_per_s": "client downlink, e.g. 20Mbit/s",
    "server_bits_per_s": "server link shared by concurrent transfers, e.g. 1Gbit/s",
}
_INPUT_NAMES: tuple[str, ...] = tuple(_INPUT_HELP)
#: Input name -> the option spellings (first is the one errors name).
OPTION_OF: dict[str, tuple[str, ...]] = {
    name: _SPECIAL_OPTIONS.get(name, (name.replace("_", "-"),)) for name in _INPUT_NAMES
}
#: ``--preset`` values.
PRESETS: tuple[str, ...] = ("emnist", "cinic10")

#: ``solve`` questions.
QUESTIONS: tuple[str, ...] = ("max-clients", "min-bandwidth", "crossover-bandwidth", "break-even", "sensitivity",
                               "time-to-accuracy")
#: ``plot --kind`` values and the file each writes.
PLOT_KINDS: dict[str, str] = {
    "overhead-clients": "overhead_vs_clients.png",
    "overhead-params": "overhead_vs_params.png",
    "overhead-bandwidth": "overhead_vs_bandwidth.png",
    "round-time": "round_time_vs_clients.png",
    "traffic": "traffic_vs_clients.png",
}


def add_scenario_options(parser: argparse.ArgumentParser, *, multi: bool) -> None:
    """The scenario options every model command takes (one value each, or grids with ``multi``)."""
    group = parser.add_argument_group(
        "scenario inputs" + (" (lists a,b,c and ranges start:stop:step or start:stop:xF form a grid)" if multi else ""))
    group.add_argument("--preset", choices=PRESETS, help="start from a TPDS setup (default: EMNIST defaults)")
    group.add_argument("--model-inputs", metavar="FILE", default=None,
                       help=f"a model's architecture inputs from 'astraea-cost describe-model --json' (params; F, "
                            f"{FLOPS_HELP}; V_c, V_e, N, C_k, V, K): they replace the preset's; options given "
                            f"here still win")
    for name in _INPUT_NAMES:
        flags = [f"--{option}" for option in OPTION_OF[name]]
        group.add_argument(*flags, dest=f"input_{name}", metavar="VALUE", default=None, help=_INPUT_HELP[name])
    group.add_argument("--calibration", metavar="FILE", default=None,
                       help="calibration file (default: the embedded one)")
    group.add_argument("--set", dest="overrides", metavar="NAME=VALUE", action="append", default=[],
                       help="override one coefficient, e.g. --set latency_s=5ms or 99.5GFLOP/s (repeatable)")
    group.add_argument("--device-speed", metavar="F", default=None,
                       help="client devices F times as fast as the calibration machine (0.1: ten times slower); "
                            "scales every device-side compute coefficient at once (default 1)")


def add_heterogeneity_options(parser: argparse.ArgumentParser, *, monte_carlo_help: str | None = None,
                              seed_help: str | None = None) -> None:
    """How the clients differ (:mod:`costmodel.model.federation`), and the Monte Carlo check (a command
    that always simulates says so in ``monte_carlo_help`` and ``seed_help``)."""
    group = parser.add_argument_group("heterogeneous clients (see docs/heterogeneity.md)")
    group.add_argument("--speed-sigma", metavar="SIGMA", default=None,
                       help="log-normal sigma of client speed around the device speed (e.g. 0.5)")
    group.add_argument("--speed-classes", metavar="F:SHARE,...", default=None,
                       help="device classes: speed factor and share, e.g. 1:0.5,0.3:0.3,0.1:0.2")
    group.add_argument("--link-sigma", metavar="SIGMA", default=None,
                       help="log-normal sigma of each client link's rate around --uplink/--downlink (e.g. 1)")
    group.add_argument("--link-classes", metavar="F:SHARE,...", default=None,
                       help="link classes: factor on both client links and share, e.g. 1:0.5,0.1:0.5")
    group.add_argument("--clients-file", metavar="FILE.csv", default=None,
                       help="one row per client: speed_factor,uplink_bits_per_s,downlink_bits_per_s; a round's "
                            "clients are drawn from it without replacement")
    group.add_argument("--monte-carlo", metavar="N", default=None,
                       help=monte_carlo_help or "also simulate N rounds (seeded numpy Monte Carlo) next to the closed "
                                                "form")
    group.add_argument("--seed", metavar="SEED", default=None, help=seed_help or "seed of --monte-carlo (default 0)")


def add_framework_options(parser: argparse.ArgumentParser) -> None:
    """``--framework``, ``--framework-profile`` and ``--one-host``: price the protocols as they run on a
    framework (:mod:`costmodel.analysis.framework`)."""
    group = parser.add_argument_group("framework")
    group.add_argument("--framework", choices=("none", "flower"), default="none",
                       help="add what a framework adds per message (flower: Flower 1.42's polling, per-message "
                            "ClientApp process and framing, from its fitted profile); default none")
    group.add_argument("--framework-profile", metavar="FILE", default=None,
                       help="the framework's profile file (default: the embedded one, 'astraea-cost flower-profile')")
    group.add_argument("--one-host", action="store_true",
                       help="with --framework: every client on one machine of the profile's cores, as 'run --engine "
                            "flower' deploys them (concurrent ClientApp processes share its cores); default: a device "
                            "per client")
    group.add_argument("--host-load", metavar="N", default=None,
                       help="with --one-host: other sessions wanting that machine's cores (default 0)")


def _predict(parser: argparse.ArgumentParser) -> None:
    add_scenario_options(parser, multi=True)
    group = parser.add_argument_group("a model measured on the spot (needs the reference extra: PyTorch)")
    group.add_argument("--model", metavar="MODEL", default=None,
                       help=f"measure this model's inputs as 'describe-model' does and predict with them (params; "
                            f"F, {FLOPS_HELP}; ...): tpds, keras-cifar, scaled, mlp, resnet, mobilenet, vit, or "
                            f"PATH.py:FUNCTION or package.module:FUNCTION (a callable returning an nn.Module); "
                            f"K is --classes")
    group.add_argument("--input-shape", metavar="CxHxW", default=None, help="one sample's shape with --model, e.g. 3x32x32")
    group.add_argument("--model-width", metavar="W", default=None,
                       help="width multiplier of a width family with --model (default 1)")
    add_heterogeneity_options(parser)
    parser.add_argument("--scope", choices=("round", "total"), default=None,
                        help="scope of the overhead columns: round (default) or total = setup + rounds x round")
    parser.add_argument("--algorithm", metavar="NAMES", default=None,
                        help="astraea,BASELINE for Astraea's overhead over a baseline (default astraea,fedavg), or "
                             "one algorithm for its own cost")
    parser.add_argument("--phases", action="store_true", help="print (and write) the per-phase table instead")
    add_framework_options(parser)
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV (SI units)")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON records (SI units)")


def _solve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", choices=QUESTIONS, metavar="QUESTION", help=", ".join(QUESTIONS))
    parser.add_argument("--budget", help="max-clients: round-time budget, e.g. 30s")
    parser.add_argument("--max-overhead", help="min-bandwidth: allowed overhead over FedAvg's round time, e.g. 20%%")
    parser.add_argument("--link", choices=("both", "uplink", "downlink"), default=None,
                        help="min-bandwidth: which client link varies (default both)")
    parser.add_argument("--fedavg-rounds", help="break-even: FedAvg rounds to match, e.g. 200")
    parser.add_argument("--algorithm", metavar="ALGORITHM", default=None,
                        help="max-clients and sensitivity: which algorithm's round time (default astraea)")
    _time_to_accuracy_options(parser)
    parser.add_argument("--expression", action="store_true", help="also print the sympy expression behind the answer")
    parser.add_argument("--latex", action="store_true", help="also print that expression, as LaTeX")
    add_scenario_options(parser, multi=False)
    add_heterogeneity_options(parser)


#: ``solve time-to-accuracy --vary`` values: the input the figure sweeps (every crossover is printed).
VARY_CHOICES: tuple[str, ...] = ("bandwidth", "gamma", "mediator-epochs")


def _time_to_accuracy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("time to accuracy (time-to-accuracy; break-even with --curves)")
    group.add_argument("--curves", metavar="FILE",
                       help="accuracy curves, CSV with columns algorithm,seed,round,accuracy (compare's curves.csv)")
    group.add_argument("--target", metavar="ACCURACY", help="target test accuracy, e.g. 0.6 or 60%%")
    group.add_argument("--resamples", metavar="N", help="bootstrap resamples (default 10,000)")
    group.add_argument("--confidence", metavar="LEVEL", help="interval coverage (default 95%%)")
    group.add_argument("--bootstrap-seed", metavar="SEED", help="seed of the bootstrap's generator (default 0)")
    group.add_argument("--vary", choices=VARY_CHOICES, default=None,
                       help="time-to-accuracy: the input the figure sweeps (default bandwidth)")
    group.add_argument("--figure", metavar="FILE", help="time-to-accuracy: also draw the time to target (PNG)")


def _plot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files")
    parser.add_argument("--kind", action="append", choices=tuple(PLOT_KINDS), default=None,
                        help="which figure (repeatable; default: all)")
    parser.add_argument("--scope", choices=("round", "setup", "total"), default=None,
                        help="scope of the overhead figures (default round)")
    parser.add_argument("--quantity", choices=("seconds", "bytes"), default=None,
                        help="quantity of the overhead figures (default seconds)")
    add_scenario_options(parser, multi=True)


def _formula(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PHASE", help="a phase, round, setup, total, or an overhead category")
    parser.add_argument("--algorithm", metavar="ALGORITHM", default="astraea",
                        help="whose cost (default astraea)")
    parser.add_argument("--quantity", choices=("seconds", "bytes", "flops"), default="seconds")
    parser.add_argument("--scope", choices=("round", "setup", "total"), default=None,
                        help="for an overhead category only (default round)")
    parser.add_argument("--latex", action="store_true", help="print LaTeX only")


#: Folder the report goes to when ``--out`` is not given.
DEFAULT_REPORT_OUT = "astraea-cost-report"


def _report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default=DEFAULT_REPORT_OUT,
                        help=f"folder for report.md and figures/ (default: ./{DEFAULT_REPORT_OUT}; created if needed)")
    parser.add_argument("--budget", metavar="DURATION", action="append", default=[],
                        help="an extra round-time budget for the clients-per-round question, e.g. 30s (repeatable)")
    add_scenario_options(parser, multi=False)
    add_heterogeneity_options(
        parser, monte_carlo_help="rounds the heterogeneity section simulates per point beside its closed-form curves "
                                 "(seeded numpy Monte Carlo; the section always simulates: without N, its default "
                                 "count, printed in the report)",
        seed_help="seed of the heterogeneity section's Monte Carlo (default 0)")


COMMANDS: tuple[Command, ...] = (
    Command(name="predict", rank=20, arguments=_predict, handler="costmodel.cli.predict:run",
            help="predict round time, traffic and Astraea's overhead for one scenario or a grid",
            description="Predict the round time, bytes on the wire and Astraea's overhead over FedAvg per category, "
                        "for one scenario or a grid of them, from the calibrated cost model."),
    Command(name="solve", rank=21, arguments=_solve, handler="costmodel.cli.solve:run",
            help="answer a capacity question: max-clients, min-bandwidth, crossover-bandwidth, break-even, "
                 "sensitivity, time-to-accuracy",
            description="Answer a capacity question from the cost model, with units; --expression shows the "
                        "expression used."),
    Command(name="plot", rank=22, arguments=_plot, handler="costmodel.cli.plot:run",
            help="draw the overhead, round-time and traffic figures as PNG files",
            description="Draw the figures of Astraea's cost over FedAvg against clients per round, model size and "
                        "bandwidth, and write them as PNG files."),
    Command(name="formula", rank=23, arguments=_formula, handler="costmodel.cli.formula:run",
            help="print the symbolic cost of a phase, of the round, or of an overhead category",
            description="Print the cost model's expression for a phase (model_broadcast, local_training, ...), for "
                        "'round', 'setup' or 'total', or for an overhead category (training_compute, communication, "
                        "...), with the meaning of its symbols, or as LaTeX."),
    Command(name="report", rank=24, arguments=_report, handler="costmodel.cli.report:run",
            help="write the overhead report (Markdown + PNG figures) for the papers' setups and yours",
            description="Write a self-contained Markdown report of what Astraea costs over FedAvg: overhead per "
                        "round and per run in four categories, how it grows, the papers' claims against the model, "
                        "capacity answers, the calibration's validation and what unequal devices and links do (your "
                        "federation with --speed-sigma, --link-sigma, ..., --clients-file), for the TPDS EMNIST and "
                        "CINIC-10 setups and, if any scenario option is given, your scenario."),
)
