"""``astraea-cost run``: one measured run of Astraea or FedAvg with the reference implementation.

Registration imports nothing heavy; the handler imports torch when it runs. The output folder is
checked before any work starts, so a bad folder fails in a second, not after the run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields


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
    from reference_impl.config import AUGMENTATION_PLANS, RunConfig
    from reference_impl.distributed import add_network_arguments

    p = subparsers.add_parser(
        "run", help="run Astraea or FedAvg for real and record every phase",
        description="Run the reference PyTorch implementation of Astraea or FedAvg, record every phase of "
                    "every round (seconds, bytes on the wire, FLOPs, samples), and write the trace and a run "
                    "summary to the output folder.")
    p.add_argument("--algorithm", choices=("astraea", "fedavg"), default=RunConfig.algorithm)
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
    p.add_argument("--model-width", type=_real("model_width"), default=defaults["model_width"])
    p.add_argument("--clients", type=_whole("clients"), default=defaults["clients"], help="N, all clients")
    p.add_argument("--clients-per-round", type=_whole("clients_per_round"), default=defaults["clients_per_round"],
                   help="c")
    p.add_argument("--gamma", type=_whole("gamma"), default=defaults["gamma"], help="clients per mediator")
    p.add_argument("--local-epochs", "-E", type=_whole("local_epochs"), default=defaults["local_epochs"])
    p.add_argument("--mediator-epochs", type=_whole("mediator_epochs"), default=defaults["mediator_epochs"],
                   help="E_m")
    p.add_argument("--batch-size", "-B", type=_whole("batch_size"), default=defaults["batch_size"])
    p.add_argument("--rounds", type=_whole("rounds"), default=defaults["rounds"])
    p.add_argument("--learning-rate", type=_real("learning_rate"), default=defaults["learning_rate"])
    p.add_argument("--plan", choices=plans, default=defaults["plan"])
    p.add_argument("--tau-d", "--threshold", dest="tau_d", type=_real("tau_d"), default=defaults["tau_d"],
                   help="z-score threshold of the TPDS plan")
    p.add_argument("--alpha", type=_real("alpha"), default=defaults["alpha"], help="exponent of the ICCD plan")
    p.add_argument("--global-imbalance", choices=("none", "long-tail", "half-normal"),
                   default=defaults["global_imbalance"])
    p.add_argument("--imbalance-ratio", type=_real("imbalance_ratio"), default=defaults["imbalance_ratio"],
                   help="rarest class / largest class")
    p.add_argument("--classes-per-client", type=_whole("classes_per_client"), default=defaults["classes_per_client"])
    p.add_argument("--size-skew", type=_real("size_skew"), default=defaults["size_skew"],
                   help="0 for equal clients, else the sigma of a lognormal size spread")
    p.add_argument("--seed", type=_whole("seed"), default=defaults["seed"])
    p.add_argument("--threads", type=_whole("threads"), default=defaults["threads"])
    p.add_argument("--timer", choices=("thread", "wall"), default=defaults["timer"],
                   help="event durations as the thread's CPU time (default) or wall time")
    p.add_argument("--no-eval", dest="evaluate", action="store_false", help="skip test accuracy per round")
    p.add_argument("--out", required=True, help="folder for trace.csv and run.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace):
    from reference_impl.config import RunConfig

    return RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig)})


def _run(args: argparse.Namespace) -> int:
    from costmodel.files import ensure_writable_dir

    config = _config(args)
    out = ensure_writable_dir("out", args.out)

    from reference_impl.distributed import run_with_network

    result = run_with_network(args, config, out)  # in-process, or distributed over real links; writes out
    table = result.rounds.assign(bytes=lambda f: f["bytes"].map(lambda b: f"{b / 1e6:.3f} MB"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    s = result.summary
    print(f"\n{config.algorithm}: {s['params']:,} parameters, {s['train_flops_per_sample']:.4g} training FLOP/sample, "
          f"setup {s['setup_s']:.3f} s, total {s['total_s']:.3f} s on the virtual clock, "
          f"{s['wall_s']:.1f} s wall; final accuracy {s['final_accuracy']:.4f}")
    print(f"wrote {out / 'trace.csv'} and {out / 'run.json'}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from costmodel.files import atomic_path, ensure_writable_dir

    config = _config(args)
    out = ensure_writable_dir("out", args.out)

    from reference_impl.study import compare_algorithms, summarize_comparison

    rounds = compare_algorithms(config, list(args.seeds), progress=not args.quiet)
    table = summarize_comparison(rounds)
    for name, frame in (("compare.csv", rounds), ("summary.csv", table)):
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, index=False)
    print(f"{config.rounds} rounds, {config.clients} clients, {config.clients_per_round} per round, "
          f"gamma {config.gamma}, dataset {config.dataset}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {out / 'compare.csv'} and {out / 'summary.csv'}", file=sys.stderr)
    return 0
