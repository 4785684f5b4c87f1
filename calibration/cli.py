"""The handlers of the calibration's commands (declared in :mod:`calibration.commands`): ``profile``,
``calibrate``, ``validate``, ``link-sweep`` and ``validate-network``.

They turn measured runs of the reference implementation of Astraea (Duan et al., ICCD 2019; IEEE TPDS
32(1), 2021) and FedAvg into the cost model's coefficients and its error table:

* ``profile``: run the calibration sweep (:func:`calibration.sweep.default_sweep`, or the small one),
  one sub-folder per run, resumable: finished runs are skipped; interleaved shuffled repetitions and
  speed probes that describe the machine (:mod:`calibration.protocol`); prints the measured noise and
  writes it into ``protocol.json``.
* ``calibrate``: fit the coefficients (:func:`calibration.fit.fit_calibration`), print the fit report,
  write the calibration file; ``--embed`` writes it over the package's embedded default
  (``costmodel/data/default_calibration.json``): the one command that regenerates it.
* ``validate``: run the held-out design (:func:`calibration.validate.heldout_design`, resumable, into
  ``DIR/runs``), print the table, write ``validation.csv``, ``validation_points.csv``, ``parity.png``
  and ``calibration.json`` into ``DIR``, and store the table in the validated calibration file.
* ``link-sweep`` and ``validate-network``: real transfers over tbf-shaped links (root).

Every output location is checked before any work starts; every file is written atomically; a failed
or interrupted command removes the folders it created (the sweeps keep their finished runs).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from calibration import communication, network_validation
from calibration.fit import fit_calibration, load_link_coefficients
from calibration.machine import describe_machine
from calibration.protocol import (
    measured_noise,
    noise_lines,
    read_protocol_report,
    speed_distribution,
    write_protocol_report,
)
from calibration.quick import quick_calibration
from calibration.rescheduling_probe import measure_rescheduling
from calibration.sweep import (
    default_sweep,
    folder_probe_seconds,
    folder_probes,
    load_runs,
    quick_sweep,
    run_key,
    run_sweep,
)
from calibration.user_model import check_user_model, joined, model_heldout, model_sweep
from calibration.validate import heldout_design, parity_figure, run_validation
from costmodel.contracts.calibration_file import DEFAULT_CALIBRATION_RESOURCE, load_calibration, write_calibration
from costmodel.contracts.network_evidence import (
    NETWORK_ROW_FIELDS,
    NetworkEvidence,
    embedded_network_evidence_path,
    load_network_evidence,
    write_network_evidence,
)
from costmodel.errors import InputError, check_int
from costmodel.files import (
    atomic_path,
    atomic_write_text,
    check_distinct_outputs,
    check_output_file,
    check_output_folder,
    output_folder,
)
from costmodel.report.plots import save_figure
from reference_impl.network.transfer_measurement import LinkTransferError
from reference_impl.network.namespaces import NetlabError, netlab_available
from reference_impl.engine.trace import RUN_FILE

__all__ = ["calibrate", "embedded_calibration_path", "link_sweep", "profile", "validate", "validate_network"]



def embedded_calibration_path() -> Path:
    """Where the package's embedded default calibration lives on disk."""
    package, name = DEFAULT_CALIBRATION_RESOURCE
    return Path(str(resources.files(package).joinpath(name)))


def _protocol_report(folder: Path, name: str, wall_s: dict[str, float]) -> list[str]:
    """Measure the sweep's noise and probe distribution, write ``protocol.json``, return the lines to print
    (none when the folder holds no finished run)."""
    if not any(folder.glob(f"*/{RUN_FILE}")):
        return []
    trace, runs = load_runs(folder)
    noise = measured_noise(trace, runs)
    probes = speed_distribution(folder_probes(folder))
    write_protocol_report(folder, {"sweep": name, "runs": int(len(runs)), "noise": noise, "speed_probe": probes,
                                   "wall_s": wall_s})
    return noise_lines(noise, probes)


def profile(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost profile``."""
    design = quick_sweep() if args.quick else default_sweep(args.repetitions)
    if args.model is not None:        # checked (built and run once) before any folder exists
        design = joined(design, model_sweep(args.model, dataset=args.model_dataset, width=args.model_width))
    with output_folder("out", args.out, keep_contents=True) as out:   # resumable: finished runs stay
        done = sum((out / run_key(config, repetition) / RUN_FILE).is_file() for config, repetition in design.runs())
        start = time.perf_counter()
        run_sweep(design, out, progress=not args.quiet, probe_every=None if args.no_probe else args.probe_every,
                  seed=args.seed)
        swept = time.perf_counter()
        if not args.quick:
            measure_rescheduling(out, progress=not args.quiet)
        end = time.perf_counter()
        lines = _protocol_report(out, design.name, {"sweep": swept - start, "rescheduling_probe": end - swept})
    for line in lines:
        print(f"{design.name} sweep: {line}")
    print(f"{design.name} sweep: {len(design)} runs in {out} ({done} already there, {len(design) - done} run now "
          f"in {swept - start:.1f} s; rescheduling probe {end - swept:.1f} s)")
    return 0


def calibrate(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost calibrate``."""
    if args.quick:
        return _quick_calibrate(args)
    if args.base is not None:
        raise InputError(f"'base' must be given only with --quick (got {args.base!r}).")
    out = check_output_file("out", args.out)
    embedded = check_output_file("embed", embedded_calibration_path()) if args.embed else None
    check_distinct_outputs(out=args.out, embed=embedded)

    communication = load_link_coefficients(args.communication) if args.communication is not None else None
    if args.model is not None:
        check_user_model(args.model, dataset=args.model_dataset, width=args.model_width)

    trace, runs = load_runs(args.runs)
    if args.model is not None and not ((trace["model"] == args.model) & (trace["model_width"] == args.model_width)).any():
        raise InputError(f"'model' must have profiled runs in {args.runs!r} (run 'astraea-cost profile --model "
                         f"{args.model} --out {args.runs}' first) (got {args.model!r}).")
    fit = fit_calibration(trace, communication=communication, bootstrap=args.bootstrap)
    stored = read_protocol_report(args.runs)
    for line in noise_lines(measured_noise(trace, runs), speed_distribution(folder_probes(args.runs))):
        print(f"measurement: {line}")
    if stored and stored.get("wall_s"):
        print("measurement: profile wall time " + ", ".join(f"{k} {v:.0f} s" for k, v in stored["wall_s"].items()))
    machine = describe_machine(threads=fit.threads, torch_version=fit.torch_version or None,
                               speed_probe_s=folder_probe_seconds(args.runs))
    calibration = fit.to_calibration(machine)
    if stored and stored.get("wall_s"):      # how long the profile took here (said on other machines)
        calibration = replace(calibration, fit={**calibration.fit,
                                                "profile_wall_s": float(sum(stored["wall_s"].values()))})
    print(fit.report())
    write_calibration(out, calibration, name="out")
    print(f"wrote {args.out}", file=sys.stderr)
    if embedded is not None:
        write_calibration(embedded, calibration, name="embed")
        print(f"wrote the embedded default {embedded}", file=sys.stderr)
    return 0


def _quick_calibrate(args: argparse.Namespace) -> int:
    """``calibrate --quick``: rescale a calibration to this machine's probed speed (:mod:`calibration.quick`)."""
    for name, given in (("embed", args.embed), ("communication", args.communication is not None),
                        ("model", args.model is not None)):
        if given:
            raise InputError(f"'{name}' must not be given with --quick, which fits nothing (got --{name}).")
    out = check_output_file("out", args.out)
    base = load_calibration(args.base)
    start = time.perf_counter()
    calibration, report = quick_calibration(base)
    probes = report["probe"]
    print(f"speed probe here: median {1e3 * probes['median_s']:.2f} ms over {int(probes['count'])} probes "
          f"(min {1e3 * probes['min_s']:.2f}, max {1e3 * probes['max_s']:.2f}); the base calibration's "
          f"{1e3 * report['base_probe_s']:.2f} ms, measured on {report['base_machine']}")
    print(f"device-side compute coefficients rescaled by {report['factor']:.4g} (this machine is "
          f"{report['factor']:.3g}x as fast) in {time.perf_counter() - start:.0f} s; everything else is the base's")
    write_calibration(out, calibration, name="out")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def validate(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost validate``."""
    if args.embed and args.calibration is not None:
        raise InputError(f"'calibration' must not be given with --embed, which validates the embedded default "
                         f"(got {args.calibration!r}).")
    source = check_output_file("embed", embedded_calibration_path()) if args.embed else None
    if args.calibration is not None:
        source = check_output_file("calibration", args.calibration)
    calibration = load_calibration(source)
    design = None
    if args.model is not None:        # checked (built and run once) before any folder exists
        design = joined(heldout_design(), model_heldout(args.model, dataset=args.model_dataset, width=args.model_width))
    check_output_folder("out", args.out)
    if args.runs is not None:
        check_output_folder("runs", args.runs)
    with output_folder("out", args.out, keep_contents=True) as out:   # the held-out runs resume
        with output_folder("runs", args.runs if args.runs is not None else out / "runs", keep_contents=True) as runs:
            result = run_validation(calibration, runs, design=design, progress=not args.quiet)
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


def _stored_evidence(path: Path) -> NetworkEvidence:
    """The network evidence stored at ``path`` (nothing yet when there is no file)."""
    return load_network_evidence(path) if path.exists() else NetworkEvidence()


def link_sweep(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost link-sweep`` (root)."""
    repeats = check_int("repeats", args.repeats, minimum=1, maximum=1000)
    if args.out is not None:
        check_output_folder("out", args.out)
    if args.embed:
        check_output_file("embed", embedded_network_evidence_path())
        if repeats < 2:
            raise InputError(f"'repeats' must be >= 2 with --embed, which stores the repeats' noise (got {repeats}).")
    ok, reason = netlab_available()
    if not ok:
        raise InputError(f"'link-sweep' must run as root with ip netns and tc tbf ({reason}).")
    with output_folder("out", args.out) if args.out is not None else contextlib.nullcontext() as out:
        return _link_sweep(args, repeats, out)


def _link_sweep(args: argparse.Namespace, repeats: int, out: Any) -> int:
    directions = ("uplink", "downlink") if args.directions == "both" else (args.directions,)
    settings = communication.QUICK_SWEEP if args.quick else {}
    try:
        sweep = communication.communication_sweep(repeats=repeats, directions=directions, **settings)
    except (NetlabError, LinkTransferError) as exc:
        raise SystemExit(f"astraea-cost link-sweep: error: {exc}") from None   # exit 1; --out is undone
    fit = sweep.fit()
    table = sweep.validate(fit)
    summary = communication.summarize_validation(table)
    print(fit.report())
    print()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.5g}"))
    print()
    print(summary.report())
    if out is not None:
        atomic_write_text(out / "fit_transfers.csv", sweep.fit_frame.to_csv(index=False), name="out")
        atomic_write_text(out / "heldout_transfers.csv", sweep.heldout_frame.to_csv(index=False), name="out")
        atomic_write_text(out / "validation.csv", table.to_csv(index=False), name="out")
        document = {"coefficients": fit.coefficients(), "r_squared": fit.r_squared,
                    "residual_rms_pct": fit.residual_rms_pct, "n_transfers": fit.n_transfers,
                    "heldout_mape_pct": summary.mape_pct, "heldout_max_abs_pct_error": summary.max_abs_pct_error,
                    "noise_cv_pct": summary.noise_cv_pct}
        atomic_write_text(out / "communication_fit.json", json.dumps(document, indent=2) + "\n", name="out")
        print(f"wrote {out}/fit_transfers.csv, heldout_transfers.csv, validation.csv, communication_fit.json")
    if args.embed:
        links = {"created": datetime.date.today().isoformat(), "n_transfers": fit.n_transfers,
                 "r_squared": fit.r_squared, "heldout_mape_pct": summary.mape_pct,
                 "heldout_max_abs_pct_error": summary.max_abs_pct_error, "noise_cv_pct": summary.noise_cv_pct}
        path = embedded_network_evidence_path()
        write_network_evidence(path, replace(_stored_evidence(path), links=links),
                               name="embed")
        print(f"wrote the link sweep's held-out error into {path}")
    return 0


def validate_network(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost validate-network`` (root)."""
    check_output_folder("out", args.out)
    if args.embed:
        check_output_file("embed", embedded_network_evidence_path())
    available, reason = netlab_available()
    if not available:
        raise InputError(f"'validate-network' must run where network namespaces can be made ({reason}).")
    calibration = load_calibration(args.calibration)
    load_before = os.getloadavg()[0]      # other work on the host when it starts (our own comes after)
    with output_folder("out", args.out) as out:
        table = network_validation.validate_network(calibration, progress=not args.quiet)
        with atomic_path(out / "network_validation.csv", name="out") as tmp:
            table.to_csv(tmp, index=False)
    shown = table.assign(uplink=table.uplink_bits_per_s / 1e6, downlink=table.downlink_bits_per_s / 1e6)
    print(shown[["algorithm", "uplink", "downlink", "quantity", "n", "measured_s", "predicted_s", "ape_percent",
                 "noise_percent"]].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for quantity in ("client_download", "client_upload", "round (virtual)", "round (wall)"):
        part = table[table.quantity == quantity]
        print(f"{quantity}: MAPE {part.ape_percent.mean():.1f}%, max {part.ape_percent.max():.1f}%")
    if args.embed:
        network = {"created": datetime.date.today().isoformat(),
                   "calibration_created": calibration.created or "unknown", "load_average": load_before,
                   "rows": table[list(NETWORK_ROW_FIELDS)].to_dict(orient="records")}
        path = embedded_network_evidence_path()
        write_network_evidence(path, replace(_stored_evidence(path), network=network), name="embed")
        print(f"wrote the distributed validation into {path}")
    return 0
