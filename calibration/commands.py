"""The calibration's sub-commands of ``astraea-cost``, declared: ``profile``, ``calibrate``, ``validate``,
``link-sweep`` and ``validate-network``.

They turn measured runs of the reference implementation of Astraea (Duan et al., ICCD 2019; IEEE
TPDS 32(1), 2021) and FedAvg into the cost model's coefficients and its error table. Declarations
only (:mod:`costmodel.cli.registry`); the handlers are :mod:`calibration.cli`:

* ``profile [--out DIR] [--quick] [--model MODEL]``: run the calibration sweep, one sub-folder per run,
  resumable; ``--model`` adds a short sweep of your model (:mod:`calibration.user_model`);
* ``calibrate [--runs DIR] [--out FILE] [--embed] [--communication FILE] [--model MODEL]``: fit the
  coefficients and write the calibration file; ``--embed`` writes it over the package's embedded
  default; ``--model`` makes sure the runs fitted include your model's; ``calibrate --quick [--base
  FILE] [--out FILE]`` rescales a calibration to this machine's probed speed instead (:mod:`calibration.quick`);
* ``validate [--calibration FILE] [--out DIR] [--embed] [--model MODEL]``: run the held-out design
  (with ``--model``, also held-out runs of your model) and store its error table in the validated
  calibration file;
* ``link-sweep`` and ``validate-network`` (root): real transfers over tbf-shaped links;
* ``flower-profile [--out DIR] [--network emulated|local] [--quick] [--embed]``: Flower runs, the
  framework profile fitted on them and checked on held-out ones (:mod:`calibration.flower_profile`).
"""

from __future__ import annotations

import argparse

from costmodel.cli.registry import Command, number_argument
from costmodel.errors import check_int
from reference_impl.commands import MODEL_HELP
from reference_impl.config import DATASET_NAMES, WIDTH_MODELS

__all__ = ["COMMANDS", "DEFAULT_CALIBRATION_FILE", "DEFAULT_REPETITIONS", "DEFAULT_RUNS", "DEFAULT_VALIDATION",
           "PROBE_EVERY"]

DEFAULT_RUNS = "calibration-runs"
DEFAULT_CALIBRATION_FILE = "calibration.json"
DEFAULT_VALIDATION = "validation"


#: Repetitions (interleaved rounds) of every configuration of the calibration sweep; declared here, with
#: the options, so that the declarations load nothing more (:mod:`calibration.protocol` uses them).
DEFAULT_REPETITIONS = 3
#: A sweep times a speed probe before every this-many-th run it makes (and before the first).
PROBE_EVERY = 5


def _whole(name: str, minimum: int = 0):
    def parse(text: str) -> int:
        try:
            return check_int(name, float(text), minimum=minimum)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' must be an integer >= {minimum} (got {text!r}).") from None
    return parse


def _add_model_options(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_argument_group("your model")
    group.add_argument("--model", default=None, metavar="MODEL", help=f"{what}: {MODEL_HELP}")
    group.add_argument("--model-width", type=number_argument("model-width"), default=1.0,
                       help=f"its width multiplier, for a width family ({', '.join(WIDTH_MODELS)}; default 1)")
    group.add_argument("--model-dataset", choices=DATASET_NAMES, default="emnist-shape",
                       help="the dataset of its runs, whose sample shape it takes (default emnist-shape: 1x28x28, "
                            "47 classes; cinic-shape: 3x32x32, 10)")


def _profile(profile: argparse.ArgumentParser) -> None:
    profile.add_argument("--out", default=DEFAULT_RUNS, metavar="DIR",
                         help=f"folder for the runs (default {DEFAULT_RUNS})")
    profile.add_argument("--quick", action="store_true", help="a small sweep (30 runs, all five architecture families)")
    profile.add_argument("--quiet", action="store_true", help="no progress bar")
    protocol = profile.add_argument_group("measurement protocol (interleaved repetitions, per-event medians)")
    protocol.add_argument("--repetitions", type=_whole("repetitions", minimum=1), default=DEFAULT_REPETITIONS,
                          metavar="N", help=f"runs of every configuration of the full sweep, in interleaved rounds "
                                            f"of shuffled order; the fit takes each event's median "
                                            f"(default {DEFAULT_REPETITIONS})")
    protocol.add_argument("--seed", type=_whole("seed"), default=0,
                          help="seed of the rounds' shuffled orders (default 0)")
    protocol.add_argument("--probe-every", type=_whole("probe-every", minimum=1), default=PROBE_EVERY, metavar="K",
                          help=f"time a speed probe before every K-th run; the probes describe the machine's "
                               f"speed (reported), they correct no run (default {PROBE_EVERY})")
    protocol.add_argument("--no-probe", action="store_true", help="no speed probes")
    _add_model_options(profile, "also run a short sweep of this model (8 runs)")


def _calibrate(calibrate: argparse.ArgumentParser) -> None:
    calibrate.add_argument("--runs", default=DEFAULT_RUNS, metavar="DIR",
                           help=f"folder of profiled runs (default {DEFAULT_RUNS})")
    calibrate.add_argument("--out", default=DEFAULT_CALIBRATION_FILE, metavar="FILE",
                           help=f"calibration file to write (default {DEFAULT_CALIBRATION_FILE})")
    calibrate.add_argument("--embed", action="store_true",
                           help="also write it over the package's embedded default calibration")
    calibrate.add_argument("--communication", default=None, metavar="FILE",
                           help="communication_fit.json from 'astraea-cost link-sweep --out DIR'")
    calibrate.add_argument("--bootstrap", type=_whole("bootstrap"), default=200,
                           help="bootstrap resamples of the runs for standard errors (default 200)")
    quick = calibrate.add_argument_group("quick path (about a minute, no runs)")
    quick.add_argument("--quick", action="store_true",
                       help="rescale a calibration's device-side compute coefficients (training, augmentation) to "
                            "this machine's speed, measured by 30 speed probes over about 45 s; no sweep, no fit")
    quick.add_argument("--base", default=None, metavar="FILE",
                       help="with --quick: the calibration to rescale (default: the embedded one); it must record "
                            "its machine's speed probe")
    _add_model_options(calibrate, "check that --runs holds runs of this model (from 'profile --model'), so the fit "
                                  "covers it")


def _validate(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("--calibration", default=None, metavar="FILE",
                          help="calibration file to validate (default: the embedded default)")
    validate.add_argument("--out", default=DEFAULT_VALIDATION, metavar="DIR",
                          help=f"folder for the table, the points, the parity plot and the runs "
                               f"(default {DEFAULT_VALIDATION})")
    validate.add_argument("--runs", default=None, metavar="DIR", help="folder of the held-out runs (default OUT/runs)")
    validate.add_argument("--embed", action="store_true",
                          help="validate the embedded default and store the table in it")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_model_options(validate, "also run held-out runs of this model (6 runs; its rows are labelled with it)")


def _link_sweep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="transfers per rate, size and direction (default 3)")
    parser.add_argument("--directions", choices=("uplink", "downlink", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a small sweep at higher rates (about 5 s)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="also write the measured transfers, the validation table and the fit there")
    parser.add_argument("--embed", action="store_true",
                        help="store the held-out error beside the embedded default calibration (the docs print it)")


def _validate_network(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibration", metavar="FILE", help="calibration file (default: the embedded default)")
    parser.add_argument("--out", metavar="DIR", default="network-validation", help="folder for network_validation.csv")
    parser.add_argument("--embed", action="store_true",
                        help="store the table beside the embedded default calibration (the docs print it)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _flower_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default="flower-profile",
                        help="folder for the runs (resumable), flower_profile.json and validation_points.csv")
    parser.add_argument("--network", choices=("emulated", "local"), default="emulated",
                        help="every SuperNode in its own namespace behind tbf-shaped links (emulated, root; default) "
                             "or on loopback (local)")
    parser.add_argument("--calibration", metavar="FILE", default=None,
                        help="the calibration the profile is priced against (default: the embedded one)")
    parser.add_argument("--quick", action="store_true",
                        help="two fitted and two held-out runs of two rounds, 3-4 clients (about 5 minutes)")
    parser.add_argument("--embed", action="store_true",
                        help="also write the profile over the package's embedded one (predict --framework flower)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


COMMANDS: tuple[Command, ...] = (
    Command(name="profile", rank=30, arguments=_profile, handler="calibration.cli:profile",
            help="run the calibration sweep of measured runs (resumable)",
            description="Run the calibration sweep: small measured runs of Astraea and FedAvg that vary samples per "
                        "client, batch size, model size, clients per round, gamma, E_m, classes, imbalance and "
                        "augmentation volume, some repeated for noise. Each run goes to its own sub-folder; finished "
                        "runs are skipped, so an interrupted sweep resumes. Minutes on 2 cores (--quick: 30 runs, about 20 s)."),
    Command(name="calibrate", rank=31, arguments=_calibrate, handler="calibration.cli:calibrate",
            help="fit the cost model's platform coefficients to profiled runs",
            description="Fit every coefficient on the trace rows of its own phase (robust relative NNLS, bootstrap "
                        "standard errors over runs), print the fit report with its formula checks, and write the "
                        "calibration file. Link coefficients come from --communication (a link-sweep result) or are "
                        "carried over from the embedded default."),
    Command(name="validate", rank=32, arguments=_validate, handler="calibration.cli:validate",
            help="check a calibration on held-out measured runs",
            description="Run the held-out design (more clients per round and larger models than any fitted, other "
                        "batch sizes and imbalance, three repetitions each; resumable), predict every run with the "
                        "cost model, and print the per-phase, round and bytes error table. Writes validation.csv, "
                        "validation_points.csv, parity.png and calibration.json to --out, and stores the table in the "
                        "validated calibration file (--calibration FILE, or the embedded default with --embed)."),
    Command(name="link-sweep", rank=33, arguments=_link_sweep, handler="calibration.cli:link_sweep",
            help="measure transfers over emulated shaped links, fit the communication coefficients, "
                 "validate on held-out rates and sizes (needs root)",
            description="Builds network namespaces joined by veth pairs shaped with tc tbf, measures real TCP "
                        "transfers at fitting and held-out rates and sizes, fits latency_s, link_efficiency and "
                        "message_overhead_bytes, and prints the held-out error table. About 90 s (--quick: 5 s)."),
    Command(name="validate-network", rank=34, arguments=_validate_network, handler="calibration.cli:validate_network",
            help="check transfer and round times on distributed runs over shaped links (root)",
            description="Run Astraea and FedAvg as separate processes over emulated, tbf-shaped links (one process "
                        "per client), predict the same runs with the cost model, and print measured against predicted "
                        "per-message transfer times and round times (wall clock and virtual clock). Needs root."),
    Command(name="flower-profile", rank=35, arguments=_flower_profile,
            handler="calibration.flower_profile:flower_profile_command",
            help="run Astraea and FedAvg on Flower, fit Flower's framework profile, check it on held-out runs",
            description="Run a small design of Flower deployments (a SuperLink and one SuperNode per client, over "
                        "emulated links or loopback; resumable), fit what Flower adds per message (dispatch, return, "
                        "their spread, the concurrency on one host, the framing bytes) against the calibration, "
                        "predict held-out runs with the model on Flower, and write flower_profile.json. About 15 "
                        "minutes (--quick: 5)."),
)
