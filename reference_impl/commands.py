"""The reference implementation's sub-commands of ``astraea-cost``, declared: ``run``, ``compare`` and
``describe-model``.

Declarations only (:mod:`costmodel.cli.registry`): the options, their defaults (the run
configuration's, :class:`~reference_impl.config.RunConfig`) and help; no torch is imported here. The
handlers are :mod:`reference_impl.cli`.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from costmodel.cli.commands import FLOPS_HELP
from costmodel.cli.registry import MODEL_INPUTS_SERVICE, Command, number_argument
from costmodel.contracts.model_inputs import DEFAULT_MODEL_INPUTS_FILE
from costmodel.model.protocols import ALGORITHMS, BASELINES, SUBJECT
from reference_impl.config import AUGMENTATION_PLANS, MODEL_NAMES, WIDTH_MODELS, RunConfig
from reference_impl.distributed.options import add_network_arguments
from reference_impl.flower.options import add_engine_argument

__all__ = ["COMMANDS"]


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


def _run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algorithm", choices=ALGORITHMS, default=RunConfig.algorithm)
    _add_run_options(parser)
    add_engine_argument(parser)
    add_network_arguments(parser)


def _compare(parser: argparse.ArgumentParser) -> None:
    _add_run_options(parser)
    parser.add_argument("--seeds", type=_whole("seeds"), nargs="+", default=[0, 1, 2])
    parser.add_argument("--algorithms", default=f"{SUBJECT},{BASELINES[0]}", metavar="NAMES",
                        help=f"comma-separated algorithms to compare (default {SUBJECT},{BASELINES[0]}; "
                             f"of {', '.join(ALGORITHMS)}); --mu applies to those with a proximal term")
    parser.set_defaults(algorithm=SUBJECT)


#: The help of every ``--model`` option (and ``describe-model``'s MODEL).
MODEL_HELP = (f"a built-in model ({', '.join(MODEL_NAMES)}) or your own: PATH.py:FUNCTION or "
              f"package.module:FUNCTION, a callable returning an nn.Module, called with the keyword arguments it "
              f"names among input_shape=(C, H, W) and num_classes=K (the dataset's); it must map a batch "
              f"(B, C, H, W) to logits (B, K)")


def _describe_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("--input-shape", required=True, metavar="CxHxW",
                        help="one sample's shape, e.g. 1x28x28 (emnist-shape, digits) or 3x32x32 (cinic-shape)")
    parser.add_argument("--classes", type=_whole("classes"), default=10, metavar="K",
                        help="classes, the width of the model's logits (default 10)")
    parser.add_argument("--model-width", type=number_argument("model-width"), default=1.0,
                        help=f"width multiplier of a width family ({', '.join(WIDTH_MODELS)}; default 1)")
    parser.add_argument("--json", nargs="?", const=DEFAULT_MODEL_INPUTS_FILE, default=None, metavar="FILE",
                        help=f"also write the model-inputs file that predict, solve, plot and report take with "
                             f"--model-inputs (default FILE {DEFAULT_MODEL_INPUTS_FILE})")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    defaults = {f.name: f.default for f in fields(RunConfig)}
    p.add_argument("--dataset", default=defaults["dataset"], help="digits, emnist-shape or cinic-shape")
    p.add_argument("--samples", type=_whole("samples"), default=defaults["samples"],
                   help="samples to generate for the shape-only datasets")
    p.add_argument("--model", default=defaults["model"], help=MODEL_HELP)
    p.add_argument("--model-width", type=number_argument("model-width"), default=defaults["model_width"],
                   help=f"width multiplier of a width family ({', '.join(WIDTH_MODELS)})")
    p.add_argument("--clients", type=_whole("clients"), default=defaults["clients"], help="N, all clients")
    p.add_argument("--clients-per-round", type=_whole("clients-per-round"), default=defaults["clients_per_round"],
                   help="c")
    p.add_argument("--gamma", type=_whole("gamma"), default=defaults["gamma"], help="clients per mediator")
    p.add_argument("--local-epochs", "-E", type=_whole("local-epochs"), default=defaults["local_epochs"])
    p.add_argument("--mediator-epochs", type=_whole("mediator-epochs"), default=defaults["mediator_epochs"],
                   help="E_m")
    p.add_argument("--batch-size", "-B", type=_whole("batch-size"), default=defaults["batch_size"])
    p.add_argument("--rounds", type=_whole("rounds"), default=defaults["rounds"])
    p.add_argument("--learning-rate", type=number_argument("learning-rate"), default=defaults["learning_rate"])
    p.add_argument("--mu", type=number_argument("mu"), default=defaults["mu"],
                   help="proximal coefficient of FedProx (> 0 there, e.g. 0.01; 0 for the others)")
    p.add_argument("--plan", choices=AUGMENTATION_PLANS, default=defaults["plan"])
    p.add_argument("--tau-d", "--threshold", dest="tau_d", type=number_argument("tau-d"), default=defaults["tau_d"],
                   help="z-score threshold of the TPDS plan")
    p.add_argument("--alpha", type=number_argument("alpha"), default=defaults["alpha"], help="exponent of the ICCD plan")
    p.add_argument("--global-imbalance", choices=("none", "long-tail", "half-normal"),
                   default=defaults["global_imbalance"])
    p.add_argument("--imbalance-ratio", type=number_argument("imbalance-ratio"), default=defaults["imbalance_ratio"],
                   help="rarest class / largest class")
    p.add_argument("--local-imbalance", choices=("classes", "dirichlet", "none"),
                   default=defaults["local_imbalance"],
                   help="clients' label skew: label-sorted shards (--classes-per-client), Dirichlet "
                        "(--dirichlet-alpha) or none (IID)")
    p.add_argument("--classes-per-client", type=_whole("classes-per-client"), default=defaults["classes_per_client"])
    p.add_argument("--dirichlet-alpha", type=number_argument("dirichlet-alpha"), default=defaults["dirichlet_alpha"],
                   help="Dirichlet concentration (2 gives the TPDS paper's client KL 0.550 on EMNIST)")
    p.add_argument("--size-skew", type=number_argument("size-skew"), default=defaults["size_skew"],
                   help="0 for equal clients, else the sigma of a lognormal size spread")
    p.add_argument("--seed", type=_whole("seed"), default=defaults["seed"])
    p.add_argument("--threads", type=_whole("threads"), default=defaults["threads"])
    p.add_argument("--timer", choices=("thread", "wall"), default=defaults["timer"],
                   help="event durations as the thread's CPU time (default) or wall time")
    p.add_argument("--no-eval", dest="evaluate", action="store_false", help="skip test accuracy per round")
    p.add_argument("--out", required=True, help="folder for trace.csv and run.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")




COMMANDS: tuple[Command, ...] = (
    Command(name="run", rank=10, arguments=_run, handler="reference_impl.cli:run",
            help="run Astraea or FedAvg for real and record every phase",
            description="Run the reference PyTorch implementation of Astraea or FedAvg, record every phase of "
                        "every round (seconds, bytes on the wire, FLOPs, samples), and write the trace and a run "
                        "summary to the output folder. --engine flower runs it as a Flower App on a Flower "
                        "deployment (a SuperLink and one SuperNode per client) and adds flower_messages.csv."),
    Command(name="compare", rank=11, arguments=_compare, handler="reference_impl.cli:compare",
            help="Astraea against FedAvg on the same data over several seeds",
            description="Run Astraea and FedAvg on identical data for several seeds and print final accuracy and the "
                        "mean KL divergence to uniform of the training groups (clients for FedAvg, mediators for "
                        "Astraea). Writes compare.csv (per round), summary.csv and curves.csv (accuracy curves for "
                        "solve time-to-accuracy --curves) to --out."),
    Command(name="describe-model", rank=12, arguments=_describe_model, handler="reference_impl.cli:describe_model",
            help="print a model's architecture inputs for the cost model and write them for --model-inputs",
            description=f"Build and run a model once (a built-in one or your own PATH.py:FUNCTION) on the given "
                        f"input shape and print every architecture input of the cost model: parameters P; F, "
                        f"{FLOPS_HELP}, and its split by operator class (torch's FlopCounterMode counts CPU "
                        f"attention as 0 and grouped convolutions once per group: F corrects both); values entering "
                        f"the convolutions V_c; values written by element-wise operations V_e; autograd nodes N and "
                        f"spatial-kernel convolution calls C_k per optimizer step; F_pad, the FLOPs per sample the "
                        f"convolutions' channel counts rounded up to blocks of 16 add (priced as FLOPs: the CPU "
                        f"convolution computes on whole blocks). --json writes them for 'predict --model-inputs FILE'.",
            services=((MODEL_INPUTS_SERVICE, "reference_impl.models.describe:model_inputs"),)),
)
