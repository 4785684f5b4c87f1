"""``astraea-cost profile``, ``calibrate`` and ``validate``: measure, fit and check the platform coefficients.

The three commands turn measured runs of the reference implementation of Astraea (Duan et al.,
ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg into the cost model's coefficients and its error table:

* ``profile [--out DIR] [--quick]``: run the calibration sweep (:func:`calibration.sweep.default_sweep`,
  or the small one), one sub-folder per run, resumable: finished runs are skipped.
* ``calibrate [--runs DIR] [--out FILE] [--embed] [--communication FILE]``: fit the coefficients
  (:func:`calibration.fit.fit_calibration`), print the fit report, write the calibration file;
  ``--embed`` writes it over the package's embedded default (``costmodel/data/default_calibration.json``):
  the one command that regenerates it.
* ``validate [--calibration FILE] [--out DIR] [--embed]``: run the held-out design
  (:func:`calibration.validate.heldout_design`, resumable, into ``DIR/runs``), print the table, write
  ``validation.csv``, ``validation_points.csv``, ``parity.png`` and ``calibration.json`` (the
  calibration with its ``validation`` field filled) into ``DIR``, and store the table in the
  validated calibration file itself (``--calibration FILE``, or the embedded default with ``--embed``).

Every output location is checked before any work starts; every file is written atomically. Bad input
is one line and exit status 2 (raised as :class:`~costmodel.errors.InputError`, printed by
``costmodel.cli``). Registration imports nothing heavy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from costmodel.errors import InputError, check_int

__all__ = ["embedded_calibration_path", "register"]

_DEFAULT_RUNS = "calibration-runs"
_DEFAULT_FILE = "calibration.json"
_DEFAULT_VALIDATION = "validation"


def embedded_calibration_path() -> Path:
    """Where the package's embedded default calibration lives on disk."""
    from importlib import resources

    from costmodel.calibration_file import DEFAULT_CALIBRATION_RESOURCE

    package, name = DEFAULT_CALIBRATION_RESOURCE
    return Path(str(resources.files(package).joinpath(name)))


def _whole(name: str):
    def parse(text: str) -> int:
        try:
            return check_int(name, float(text), minimum=0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' must be an integer >= 0 (got {text!r}).") from None
    return parse


def _percent(name: str):
    def parse(text: str) -> float:
        try:
            value = float(text.strip().removesuffix("%"))
        except ValueError:
            value = float("nan")
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"'{name}' must be a finite percentage > 0 (got {text!r}).")
        return value
    return parse


def _add_guard_options(parser: argparse.ArgumentParser, against: str) -> None:
    parser.add_argument("--speed-tolerance", type=_percent("speed-tolerance"), default=None, metavar="PERCENT",
                        help=f"re-run a run whose speed probe was more than PERCENT slower than {against} "
                             f"(a slow episode of the host; default 10)")
    parser.add_argument("--no-speed-guard", action="store_true",
                        help="no speed probes, no re-runs (every run is kept as measured)")


def _guard(args: argparse.Namespace):
    from calibration.speed_probe import SpeedGuard

    if args.no_speed_guard:
        if args.speed_tolerance is not None:
            raise InputError(f"'speed-tolerance' must not be given with --no-speed-guard (got {args.speed_tolerance:g}).")
        return None
    return SpeedGuard(tolerance=(10.0 if args.speed_tolerance is None else args.speed_tolerance) / 100.0)


def _report_disturbed(name: str, paths, guard) -> None:
    from calibration.sweep import disturbed_runs

    if guard is None:
        return
    left = disturbed_runs(paths, guard)
    if left:
        print(f"{name}: {len(left)} run(s) stayed more than {100 * guard.tolerance:g}% slower than the machine's "
              f"usual speed after {guard.passes} re-run passes (a busy host); they are kept", file=sys.stderr)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``profile``, ``calibrate`` and ``validate`` sub-commands."""
    profile = subparsers.add_parser(
        "profile", help="run the calibration sweep of measured runs (resumable)",
        description="Run the calibration sweep: small measured runs of Astraea and FedAvg that vary samples per "
                    "client, batch size, model size, clients per round, gamma, E_m, classes, imbalance and "
                    "augmentation volume, some repeated for noise. Each run goes to its own sub-folder; finished "
                    "runs are skipped, so an interrupted sweep resumes. About a minute (--quick: 20 s).")
    profile.add_argument("--out", default=_DEFAULT_RUNS, metavar="DIR",
                         help=f"folder for the runs (default {_DEFAULT_RUNS})")
    profile.add_argument("--quick", action="store_true", help="a small sweep (20 runs)")
    profile.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_guard_options(profile, "the sweep's usual probe (its lower quartile)")
    profile.set_defaults(handler=_profile)

    calibrate = subparsers.add_parser(
        "calibrate", help="fit the cost model's platform coefficients to profiled runs",
        description="Fit every coefficient on the trace rows of its own phase (robust relative NNLS, bootstrap "
                    "standard errors over runs), print the fit report with its formula checks, and write the "
                    "calibration file. Link coefficients come from --communication (a link-sweep result) or are "
                    "carried over from the embedded default.")
    calibrate.add_argument("--runs", default=_DEFAULT_RUNS, metavar="DIR",
                           help=f"folder of profiled runs (default {_DEFAULT_RUNS})")
    calibrate.add_argument("--out", default=_DEFAULT_FILE, metavar="FILE",
                           help=f"calibration file to write (default {_DEFAULT_FILE})")
    calibrate.add_argument("--embed", action="store_true",
                           help="also write it over the package's embedded default calibration")
    calibrate.add_argument("--communication", default=None, metavar="FILE",
                           help="communication_fit.json from 'astraea-cost link-sweep --out DIR'")
    calibrate.add_argument("--bootstrap", type=_whole("bootstrap"), default=200,
                           help="bootstrap resamples of the runs for standard errors (default 200)")
    calibrate.set_defaults(handler=_calibrate)

    validate = subparsers.add_parser(
        "validate", help="check a calibration on held-out measured runs",
        description="Run the held-out design (more clients per round and larger models than any fitted, other "
                    "batch sizes and imbalance, three repetitions each; resumable), predict every run with the "
                    "cost model, and print the per-phase, round and bytes error table. Writes validation.csv, "
                    "validation_points.csv, parity.png and calibration.json to --out, and stores the table in the "
                    "validated calibration file (--calibration FILE, or the embedded default with --embed).")
    validate.add_argument("--calibration", default=None, metavar="FILE",
                          help="calibration file to validate (default: the embedded default)")
    validate.add_argument("--out", default=_DEFAULT_VALIDATION, metavar="DIR",
                          help=f"folder for the table, the points, the parity plot and the runs "
                               f"(default {_DEFAULT_VALIDATION})")
    validate.add_argument("--runs", default=None, metavar="DIR", help="folder of the held-out runs (default OUT/runs)")
    validate.add_argument("--embed", action="store_true",
                          help="validate the embedded default and store the table in it")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_guard_options(validate, "the calibration's recorded probe (when measured on this machine; else the "
                                 "held-out runs' usual probe)")
    validate.set_defaults(handler=_validate)


def _profile(args: argparse.Namespace) -> int:
    import time

    from costmodel.files import output_folder

    guard = _guard(args)
    with output_folder("out", args.out, keep_contents=True) as out:   # resumable: finished runs stay
        from calibration.sweep import default_sweep, quick_sweep, run_key, run_sweep
        from reference_impl.engine.trace import RUN_FILE

        design = quick_sweep() if args.quick else default_sweep()
        done = sum((out / run_key(config, repetition) / RUN_FILE).is_file() for config, repetition in design.runs())
        start = time.perf_counter()
        paths = run_sweep(design, out, progress=not args.quiet, guard=guard)
        wall = time.perf_counter() - start
    _report_disturbed(f"{design.name} sweep", paths, guard)
    print(f"{design.name} sweep: {len(design)} runs in {out} ({done} already there, {len(design) - done} run now "
          f"in {wall:.1f} s)")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from costmodel.files import check_distinct_outputs, check_output_file

    out = check_output_file("out", args.out)
    embedded = check_output_file("embed", embedded_calibration_path()) if args.embed else None
    check_distinct_outputs(out=args.out, embed=embedded)
    from calibration.fit import fit_calibration, load_link_coefficients

    communication = load_link_coefficients(args.communication) if args.communication is not None else None
    from calibration.sweep import load_runs
    from costmodel.calibration_file import write_calibration

    from calibration.machine import describe_machine
    from calibration.sweep import folder_probe_seconds

    trace, _ = load_runs(args.runs)
    fit = fit_calibration(trace, communication=communication, bootstrap=args.bootstrap)
    machine = describe_machine(threads=fit.threads, torch_version=fit.torch_version or None,
                               speed_probe_s=folder_probe_seconds(args.runs))
    calibration = fit.to_calibration(machine)
    print(fit.report())
    write_calibration(out, calibration, name="out")
    print(f"wrote {args.out}", file=sys.stderr)
    if embedded is not None:
        write_calibration(embedded, calibration, name="embed")
        print(f"wrote the embedded default {embedded}", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from costmodel.calibration_file import load_calibration, write_calibration
    from costmodel.files import atomic_path, check_output_file, check_output_folder, output_folder

    guard = _guard(args)
    if args.embed and args.calibration is not None:
        raise InputError(f"'calibration' must not be given with --embed, which validates the embedded default "
                         f"(got {args.calibration!r}).")
    source = check_output_file("embed", embedded_calibration_path()) if args.embed else None
    if args.calibration is not None:
        source = check_output_file("calibration", args.calibration)
    calibration = load_calibration(source)
    check_output_folder("out", args.out)
    if args.runs is not None:
        check_output_folder("runs", args.runs)

    from calibration.validate import parity_figure, run_validation
    from costmodel.plots import save_figure

    with output_folder("out", args.out, keep_contents=True) as out:   # the held-out runs resume
        with output_folder("runs", args.runs if args.runs is not None else out / "runs", keep_contents=True) as runs:
            result = run_validation(calibration, runs, progress=not args.quiet, guard=guard)
        print(result.report())
        with atomic_path(out / "validation.csv", name="out") as tmp:
            result.table.to_csv(tmp, index=False)
        with atomic_path(out / "validation_points.csv", name="out") as tmp:
            result.points.to_csv(tmp, index=False)
        save_figure(parity_figure(result.points), out / "parity.png")
        validated = replace(calibration, validation=result.calibration_rows())
        write_calibration(out / "calibration.json", validated, name="out")
    written = [out / name for name in ("validation.csv", "validation_points.csv", "parity.png", "calibration.json")]
    if source is not None:
        write_calibration(source, validated, name="calibration")
        written.append(source)
    print(f"held-out runs: {result.runs} in {runs} ({result.wall_s:.1f} s to run); wrote "
          f"{', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
