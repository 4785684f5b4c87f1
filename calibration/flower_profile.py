"""``astraea-cost flower-profile``: run Flower, fit Flower's framework profile, and check it on held-out runs.

One command, as ``profile`` + ``calibrate`` + ``validate`` are for the platform: it runs a small
design of Flower runs (:func:`flower_design`) with ``run --engine flower`` on this machine
(``--network emulated``: every SuperNode in its own namespace behind tbf-shaped links, root;
``local``: loopback), resumably (finished runs are kept), fits the profile on the ``fit`` runs
(:mod:`calibration.framework_fit`), predicts the ``heldout`` runs, whose rates, clients and
concurrency no fitted run had, with the model on Flower (:mod:`calibration.framework_validation`),
stores that table in the profile and writes it (``--embed``: over the package's embedded one, which
``predict --framework flower`` and the docs use).

The profile is priced against a calibration (the embedded default unless ``--calibration``): the
residuals it fits are what the framework-free model does not price.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from calibration.framework_fit import fit_flower_profile, read_flower_runs
from calibration.framework_validation import compare_flower_runs, summarize_flower_validation
from calibration.machine import cpu_name
from costmodel.contracts.calibration_file import load_calibration
from costmodel.contracts.framework_profile import embedded_profile_path, write_framework_profile
from costmodel.errors import InputError
from costmodel.files import atomic_path, check_output_file, check_output_folder, output_folder
from reference_impl.config import RunConfig
from reference_impl.engine.trace import RUN_FILE
from reference_impl.network.namespaces import netlab_available

__all__ = ["FlowerPoint", "flower_design", "flower_profile_command", "run_flower_design"]


@dataclass(frozen=True, kw_only=True)
class FlowerPoint:
    """One Flower run of the design: its name, configuration, links and role (``fit`` or ``heldout``)."""

    name: str
    config: RunConfig
    uplink_bits_per_s: float
    downlink_bits_per_s: float
    role: str


def flower_design(*, quick: bool = False) -> tuple[FlowerPoint, ...]:
    """The design: the EMNIST CNN (68,873 parameters) on 4 clients, both algorithms, concurrency 1 to 4,
    at 10/40 and 5/20 Mbit/s to fit; 6 clients, chains of 3 and 3 concurrent clients at 3/12 Mbit/s
    held out. ``quick`` (about 5 minutes, for tests): 3 clients, Astraea's 2 mediators and FedAvg's 3
    clients at 10/40 Mbit/s to fit; 4 clients, chains of 2 and 2 concurrent clients at 4/16 Mbit/s held
    out; 2 rounds each."""
    base = RunConfig(dataset="emnist-shape", samples=4 * 60, model="tpds", clients=4, clients_per_round=4, gamma=2,
                     batch_size=20, rounds=3, evaluate=False, seed=11)
    if quick:
        three = replace(base, clients=3, samples=3 * 60, clients_per_round=3, rounds=2)
        four = replace(base, rounds=2)
        runs = [("fit-astraea-c3-g2", replace(three, gamma=2), 10e6, 40e6, "fit"),
                ("fit-fedavg-c3", replace(three, algorithm="fedavg"), 10e6, 40e6, "fit"),
                ("heldout-astraea-c4-g2", four, 4e6, 16e6, "heldout"),
                ("heldout-fedavg-c2", replace(four, algorithm="fedavg", clients_per_round=2), 4e6, 16e6, "heldout")]
        return tuple(FlowerPoint(name=name, config=config, uplink_bits_per_s=up, downlink_bits_per_s=down, role=role)
                     for name, config, up, down, role in runs)
    six = replace(base, clients=6, samples=6 * 60)
    fit = [("astraea", dict(gamma=2), 10e6, 40e6), ("astraea", dict(gamma=4), 5e6, 20e6),
           ("fedavg", {}, 10e6, 40e6), ("fedavg", dict(clients_per_round=2), 5e6, 20e6)]
    points = [FlowerPoint(name=f"fit-{algorithm}-c{changes.get('clients_per_round', 4)}-g{changes.get('gamma', 2)}"
                               f"-{up / 1e6:g}-{down / 1e6:g}",
                          config=replace(base, algorithm=algorithm, **changes), uplink_bits_per_s=up,
                          downlink_bits_per_s=down, role="fit")
              for algorithm, changes, up, down in fit]
    points += [FlowerPoint(name="heldout-astraea-c6-g3-3-12", config=replace(six, clients_per_round=6, gamma=3),
                           uplink_bits_per_s=3e6, downlink_bits_per_s=12e6, role="heldout"),
               FlowerPoint(name="heldout-fedavg-c3-3-12", config=replace(six, algorithm="fedavg", clients_per_round=3),
                           uplink_bits_per_s=3e6, downlink_bits_per_s=12e6, role="heldout")]
    return tuple(points)


def run_flower_design(points: Sequence[FlowerPoint], folder: Path, *, network: str, progress: bool = True) -> None:
    """Run every point not yet finished into ``folder/<name>`` (a finished run has its ``run.json``)."""
    from reference_impl.flower.launcher import run_flower
    from reference_impl.flower.options import FlowerOptions

    for point in tqdm(points, desc="flower runs", unit="run", disable=not progress):
        target = folder / point.name
        if (target / RUN_FILE).exists():
            continue
        options = FlowerOptions(network=network, uplink_bits_per_s=point.uplink_bits_per_s,
                                downlink_bits_per_s=point.downlink_bits_per_s, timeout_s=120.0)
        run_flower(point.config, options, run_id=f"flower-{point.name}").write(target)


def _print_table(frame: pd.DataFrame) -> None:
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def flower_profile_command(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost flower-profile``."""
    check_output_folder("out", args.out)
    embedded = check_output_file("embed", embedded_profile_path("flower")) if args.embed else None
    if args.network == "emulated":
        ok, reason = netlab_available()
        if not ok:
            raise InputError(f"'network' must be 'local' where network namespaces cannot be made ({reason}) "
                             f"(got 'emulated').")
    from reference_impl.flower.deployment import flower_bin
    from reference_impl.flower.job import FlowerRunError

    flower_bin()
    calibration = load_calibration(args.calibration)
    points = flower_design(quick=args.quick)
    load_before = os.getloadavg()[0]
    with output_folder("out", args.out, keep_contents=True) as out:
        runs_folder = out / "runs"
        runs_folder.mkdir(exist_ok=True)
        try:
            run_flower_design(points, runs_folder, network=args.network, progress=not args.quiet)
        except FlowerRunError as error:
            print(f"astraea-cost flower-profile: error: {error}", file=sys.stderr)
            return 2
        roles = {point.name: point.role for point in points}
        runs = read_flower_runs([runs_folder / point.name for point in points])
        fitted = [run for run in runs if roles.get(run.folder.name) == "fit"]
        heldout = [run for run in runs if roles.get(run.folder.name) == "heldout"]
        versions = sorted({str(run.record.summary.get("flwr_version")) for run in runs})
        loads = [value for run in runs for value in run.record.summary.get("load_average", [])]
        machine = {"cpu": cpu_name(), "cores": os.cpu_count() or 0, "network": args.network,
                   "load_average_min": min(loads, default=math.nan), "load_average_max": max(loads, default=math.nan),
                   "load_average_before": load_before}
        profile = fit_flower_profile(fitted, calibration, created=datetime.date.today().isoformat(),
                                     version=",".join(versions), machine=machine,
                                     source=f"astraea-cost flower-profile --network {args.network}"
                                            f"{' --quick' if args.quick else ''}: {len(fitted)} fitted runs, "
                                            f"{len(heldout)} held out")
        points_table = compare_flower_runs(heldout, calibration, profile)
        summary = summarize_flower_validation(points_table)
        profile = replace(profile, validation=tuple(summary.to_dict(orient="records")))
        with atomic_path(out / "validation_points.csv", name="out") as tmp:
            points_table.to_csv(tmp, index=False)
        write_framework_profile(out / "flower_profile.json", profile, name="out")
    coefficients = pd.DataFrame([{"coefficient": name, "value": value, "stderr": profile.stderr.get(name)}
                                 for name, value in profile.coefficients.items()])
    print(f"Flower {profile.version} profile from {len(fitted)} runs, {profile.fit['messages']} visits "
          f"(host load average {machine['load_average_min']:.2f}-{machine['load_average_max']:.2f}):")
    _print_table(coefficients)
    print("\nWhere a visit's seconds go (means):")
    _print_table(pd.DataFrame(list(profile.breakdown)))
    print(f"\nHeld-out runs ({len(heldout)}) against the model on Flower:")
    _print_table(points_table[["label", "quantity", "n", "measured", "predicted", "ape_percent", "noise_percent"]])
    _print_table(summary)
    written = [out / "flower_profile.json", out / "validation_points.csv"]
    if embedded is not None:
        write_framework_profile(embedded, profile, name="embed")
        written.append(embedded)
    print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
    return 0
