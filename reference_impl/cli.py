"""``astraea-cost run``: one measured run of Astraea or FedAvg with the reference implementation.

Registration imports nothing heavy (the configuration, the ``--network`` options and the protocol
registry load without torch); the handlers import the modules that need torch (the data, the
launcher, the comparison) when they run. The output folder is checked before any work starts, so a
bad folder fails in a second, not after the run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any

from costmodel.errors import InputError, relabel
from costmodel.files import atomic_path, output_folder
from reference_impl.config import AUGMENTATION_PLANS, RunConfig
from reference_impl.distributed.options import add_network_arguments, options_from_args
from reference_impl.protocols import PROTOCOLS

__all__ = ["register"]


def _whole(name: str):
    def parse(text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' must be an integer (got {text!r}).") from None
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"'{name}' must be an integer (got {text!r}).")
        return int(value)
    return parse


def _real(name: str):
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' must be a number (got {text!r}).") from None
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run Astraea or FedAvg for real and record every phase",
        description="Run the reference PyTorch implementation of Astraea or FedAvg, record every phase of "
                    "every round (seconds, bytes on the wire, FLOPs, samples), and write the trace and a run "
                    "summary to the output folder.")
    p.add_argument("--algorithm", choices=tuple(PROTOCOLS), default=RunConfig.algorithm)
    _add_run_options(p, AUGMENTATION_PLANS, RunConfig)
    add_network_arguments(p)
    p.set_defaults(handler=_run)

    c = subparsers.add_parser(
        "compare", help="Astraea against FedAvg on the same data over several seeds",
        description="Run Astraea and FedAvg on identical data for several seeds and print final accuracy and the "
                    "mean KL divergence to uniform of the training groups (clients for FedAvg, mediators for "
                    "Astraea). Writes compare.csv (per round) and summary.csv to --out.")
    _add_run_options(c, AUGMENTATION_PLANS, RunConfig)
    c.add_argument("--seeds", type=_whole("seeds"), nargs="+", default=[0, 1, 2])
    c.set_defaults(handler=_compare, algorithm="astraea")


def _add_run_options(p: argparse.ArgumentParser, plans, run_config) -> None:
    defaults = {f.name: f.default for f in fields(run_config)}
    p.add_argument("--dataset", default=defaults["dataset"], help="digits, emnist-shape or cinic-shape")
    p.add_argument("--samples", type=_whole("samples"), default=defaults["samples"],
                   help="samples to generate for the shape-only datasets")
    p.add_argument("--model", default=defaults["model"], help="tpds, keras-cifar or scaled")
    p.add_argument("--model-width", type=_real("model-width"), default=defaults["model_width"])
    p.add_argument("--clients", type=_whole("clients"), default=defaults["clients"], help="N, all clients")
    p.add_argument("--clients-per-round", type=_whole("clients-per-round"), default=defaults["clients_per_round"],
                   help="c")
    p.add_argument("--gamma", type=_whole("gamma"), default=defaults["gamma"], help="clients per mediator")
    p.add_argument("--local-epochs", "-E", type=_whole("local-epochs"), default=defaults["local_epochs"])
    p.add_argument("--mediator-epochs", type=_whole("mediator-epochs"), default=defaults["mediator_epochs"],
                   help="E_m")
    p.add_argument("--batch-size", "-B", type=_whole("batch-size"), default=defaults["batch_size"])
    p.add_argument("--rounds", type=_whole("rounds"), default=defaults["rounds"])
    p.add_argument("--learning-rate", type=_real("learning-rate"), default=defaults["learning_rate"])
    p.add_argument("--plan", choices=plans, default=defaults["plan"])
    p.add_argument("--tau-d", "--threshold", dest="tau_d", type=_real("tau-d"), default=defaults["tau_d"],
                   help="z-score threshold of the TPDS plan")
    p.add_argument("--alpha", type=_real("alpha"), default=defaults["alpha"], help="exponent of the ICCD plan")
    p.add_argument("--global-imbalance", choices=("none", "long-tail", "half-normal"),
                   default=defaults["global_imbalance"])
    p.add_argument("--imbalance-ratio", type=_real("imbalance-ratio"), default=defaults["imbalance_ratio"],
                   help="rarest class / largest class")
    p.add_argument("--local-imbalance", choices=("classes", "dirichlet", "none"),
                   default=defaults["local_imbalance"],
                   help="clients' label skew: label-sorted shards (--classes-per-client), Dirichlet "
                        "(--dirichlet-alpha) or none (IID)")
    p.add_argument("--classes-per-client", type=_whole("classes-per-client"), default=defaults["classes_per_client"])
    p.add_argument("--dirichlet-alpha", type=_real("dirichlet-alpha"), default=defaults["dirichlet_alpha"],
                   help="Dirichlet concentration (2 gives the TPDS paper's client KL 0.550 on EMNIST)")
    p.add_argument("--size-skew", type=_real("size-skew"), default=defaults["size_skew"],
                   help="0 for equal clients, else the sigma of a lognormal size spread")
    p.add_argument("--seed", type=_whole("seed"), default=defaults["seed"])
    p.add_argument("--threads", type=_whole("threads"), default=defaults["threads"])
    p.add_argument("--timer", choices=("thread", "wall"), default=defaults["timer"],
                   help="event durations as the thread's CPU time (default) or wall time")
    p.add_argument("--no-eval", dest="evaluate", action="store_false", help="skip test accuracy per round")
    p.add_argument("--out", required=True, help="folder for trace.csv and run.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


#: RunConfig field -> the option that sets it, for error messages (where not the field with dashes).
_FLAG_OF = {"evaluate": "no-eval"}


def _flag(name: str) -> str:
    return _FLAG_OF.get(name, name.replace("_", "-"))


def _relabelled(error: InputError) -> InputError:
    text = str(error)
    name = text[1:text.index("'", 1)] if text.startswith("'") and "'" in text[1:] else ""
    return relabel(error, {name: _flag(name)}) if name else error


def _config(args: argparse.Namespace, **changes: Any):
    """The run configuration of the parsed options, checked as far as it can be without training: the
    data partition is planned (no pixels, no model), so impossible splits fail before any folder exists."""
    try:
        config = RunConfig(**{f.name: changes.get(f.name, getattr(args, f.name)) for f in fields(RunConfig)})
        from reference_impl.data.federated import client_labels  # torch: only once a command runs

        client_labels(config)
    except InputError as error:
        raise _relabelled(error) from None
    return config


def _run(args: argparse.Namespace) -> int:
    config = _config(args)
    options = options_from_args(args)
    with output_folder("out", args.out) as out:
        from reference_impl.distributed.launcher import run_with_network  # torch: only once a command runs

        result = run_with_network(options, config, out, progress=not args.quiet)
    rounds = result.rounds
    if not config.evaluate:
        rounds = rounds.drop(columns=["accuracy"])
    table = rounds.assign(bytes=lambda f: f["bytes"].map(lambda b: f"{b / 1e6:.3f} MB"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    s = result.summary
    accuracy = f"final accuracy {s['final_accuracy']:.4f}" if config.evaluate else "accuracy not evaluated (--no-eval)"
    print(f"\n{config.algorithm}: {s['params']:,} parameters, {s['train_flops_per_sample']:.4g} training FLOP/sample, "
          f"setup {s['setup_s']:.3f} s, total {s['total_s']:.3f} s on the virtual clock, "
          f"{s['wall_s']:.1f} s wall; {accuracy}")
    print(f"wrote {out / 'trace.csv'} and {out / 'run.json'}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    seeds = list(dict.fromkeys(args.seeds))
    if len(seeds) != len(args.seeds):
        raise InputError(f"'seeds' must not repeat a seed (got {' '.join(str(s) for s in args.seeds)}).")
    for seed in seeds:
        try:
            config = _config(args, seed=seed)
        except InputError as error:
            raise relabel(error, seed="seeds") from None
    config = _config(args, seed=seeds[0])
    with output_folder("out", args.out) as out:
        from reference_impl.studies.compare import compare_algorithms, summarize_comparison  # torch: as above

        rounds = compare_algorithms(config, seeds, progress=not args.quiet)
        table = summarize_comparison(rounds)
        for name, frame in (("compare.csv", rounds), ("summary.csv", table)):
            with atomic_path(out / name, name="out") as tmp:
                frame.to_csv(tmp, index=False)
    print(f"{config.rounds} rounds, {config.clients} clients, {config.clients_per_round} per round, "
          f"gamma {config.gamma}, dataset {config.dataset}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {out / 'compare.csv'} and {out / 'summary.csv'}", file=sys.stderr)
    return 0
