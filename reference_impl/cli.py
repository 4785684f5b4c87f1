"""The handlers of ``astraea-cost run``, ``compare`` and ``describe-model`` (declared in
:mod:`reference_impl.commands`).

``run``: one measured run of Astraea or FedAvg with the reference implementation; ``compare``: every
registered algorithm on the same data over several seeds (also written as accuracy curves,
``curves.csv``, the format ``astraea-cost solve time-to-accuracy --curves`` reads). The configuration
is checked, the model built and run once on the dataset's shape (:func:`reference_impl.models.check_model`:
a model of one's own that does not load or run is one line), and the data partition planned, before any
output folder exists, so a bad option fails in seconds, not after the run; a failed or interrupted
command leaves no folder it created. ``describe-model``: a model's architecture inputs for the cost
model (:mod:`reference_impl.models.describe`), printed and written for ``--model-inputs``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any

from costmodel.contracts.model_inputs import parse_input_shape, write_model_inputs
from costmodel.errors import InputError, relabel
from costmodel.files import atomic_path, check_output_file, output_folder
from costmodel.units import parse_bandwidth_bits_per_s, parse_seconds
from reference_impl.config import RunConfig
from reference_impl.data.datasets import dataset_spec
from reference_impl.data.federated import client_labels
from reference_impl.distributed import launcher
from reference_impl.distributed.options import options_from_args, require_namespaces
from reference_impl.models import check_model
from reference_impl.models import describe
from reference_impl.protocols import protocol_of
from reference_impl.studies.compare import compare_algorithms, configs_of, summarize_comparison
from reference_impl.studies.convergence import curves_from_comparison

__all__ = ["check_run_model", "compare", "describe_model", "run"]


#: RunConfig field -> the option that sets it, for error messages (where not the field with dashes).
_FLAG_OF = {"evaluate": "no-eval"}


def _flag(name: str) -> str:
    return _FLAG_OF.get(name, name.replace("_", "-"))


def _relabelled(error: InputError) -> InputError:
    text = str(error)
    name = text[1:text.index("'", 1)] if text.startswith("'") and "'" in text[1:] else ""
    return relabel(error, {name: _flag(name)}) if name else error


def check_run_model(config: RunConfig) -> None:
    """Build ``config``'s model on its dataset's sample shape and classes and run it once
    (:func:`reference_impl.models.check_model`); a bad model is one line naming ``model``."""
    spec = dataset_spec(config.dataset)
    check_model(config.model, sample_shape=spec.sample_shape, num_classes=spec.num_classes, width=config.model_width)


def _config(args: argparse.Namespace, *, protocol: bool = True, **changes: Any):
    """The run configuration of the parsed options, checked as far as it can be without training: its
    protocol's rule (with ``protocol``), the data partition planned (no pixels), and the model built
    and run once on the dataset's shape, so impossible splits and bad models fail before any folder
    exists."""
    try:
        config = RunConfig(**{f.name: changes.get(f.name, getattr(args, f.name)) for f in fields(RunConfig)})
        if protocol:
            protocol_of(config.algorithm).check(config)
        client_labels(config)
        check_run_model(config)
    except InputError as error:
        raise _relabelled(error) from None
    return config


def _flower_options(args: argparse.Namespace):
    """The deployment of ``--engine flower``, checked before any output exists (Flower installed, the
    network possible here)."""
    from reference_impl.flower.deployment import flower_bin
    from reference_impl.flower.options import flower_options

    options = flower_options(args.network, uplink_bits_per_s=parse_bandwidth_bits_per_s(args.uplink, name="uplink"),
                             downlink_bits_per_s=parse_bandwidth_bits_per_s(args.downlink, name="downlink"),
                             timeout_s=parse_seconds(args.timeout, name="timeout"))
    flower_bin()
    if options.network == "emulated":
        require_namespaces()
    return options


def _run_on_flower(args: argparse.Namespace, config: RunConfig):
    """``--engine flower``: the run on a Flower deployment; a failed run is one line and exit status 2."""
    from reference_impl.flower.job import FlowerRunError
    from reference_impl.flower.launcher import run_with_flower

    options = _flower_options(args)
    try:
        with output_folder("out", args.out) as out:
            return run_with_flower(options, config, out, progress=not args.quiet), out
    except FlowerRunError as error:
        print(f"astraea-cost run: error: {error}", file=sys.stderr)
        return None, None


def run(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost run``."""
    config = _config(args)
    if getattr(args, "engine", "inprocess") == "flower":
        result, out = _run_on_flower(args, config)
        if result is None:
            return 2
    else:
        options = options_from_args(args)
        with output_folder("out", args.out) as out:
            result = launcher.run_with_network(options, config, out, progress=not args.quiet)
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
    extra = " and flower_messages.csv" if getattr(args, "engine", "inprocess") == "flower" else ""
    print(f"wrote {out / 'trace.csv'}, {out / 'run.json'}{extra}", file=sys.stderr)
    return 0


def compare(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost compare``."""
    seeds = list(dict.fromkeys(args.seeds))
    if len(seeds) != len(args.seeds):
        raise InputError(f"'seeds' must not repeat a seed (got {' '.join(str(s) for s in args.seeds)}).")
    algorithms = tuple(name.strip() for name in args.algorithms.split(",") if name.strip())
    if not algorithms or len(set(algorithms)) != len(algorithms):
        raise InputError(f"'algorithms' must name each algorithm once (got {args.algorithms!r}).")
    for name in algorithms:
        protocol_of(name)
    for seed in seeds:
        try:
            config = _config(args, protocol=False, seed=seed)
        except InputError as error:
            raise relabel(error, seed="seeds") from None
    config = _config(args, protocol=False, seed=seeds[0])
    try:
        configs_of(config, algorithms)     # each algorithm's own rule: FedProx needs --mu > 0
    except InputError as error:
        raise _relabelled(error) from None
    with output_folder("out", args.out) as out:
        rounds = compare_algorithms(config, seeds, algorithms=algorithms, progress=not args.quiet)
        table = summarize_comparison(rounds)
        outputs = (("compare.csv", rounds), ("summary.csv", table), ("curves.csv", curves_from_comparison(rounds)))
        for name, frame in outputs:
            with atomic_path(out / name, name="out") as tmp:
                frame.to_csv(tmp, index=False)
    print(f"{config.rounds} rounds, {config.clients} clients, {config.clients_per_round} per round, "
          f"gamma {config.gamma}, dataset {config.dataset}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {out / 'compare.csv'}, {out / 'summary.csv'} and {out / 'curves.csv'}", file=sys.stderr)
    return 0


def describe_model(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost describe-model``."""
    shape = parse_input_shape(args.input_shape)
    if args.json is not None:
        check_output_file("json", args.json)
    try:
        description = describe.describe_model(args.model, input_shape=shape, num_classes=args.classes,
                                              width=args.model_width)
    except InputError as error:
        raise relabel(error, width="model-width", num_classes="classes", sample_shape="input-shape") from None
    print("\n".join(description.lines()))
    if args.json is not None:
        write_model_inputs(args.json, description.inputs(), model=description.about(), name="json")
        print(f"wrote {args.json} (use it with: astraea-cost predict --model-inputs {args.json})", file=sys.stderr)
    return 0
