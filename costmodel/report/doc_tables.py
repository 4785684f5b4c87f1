"""The figures the README and docs quote about the model's accuracy, printed from stored data.

The held-out validation table is stored in the embedded default calibration
(:func:`~costmodel.contracts.calibration_file.default_calibration`), the network checks beside it
(:mod:`costmodel.contracts.network_evidence`). Pages hold them between markers::

    <!-- begin generated: validation -->
    ...
    <!-- end generated: validation -->

and ``python -m costmodel.report.doc_tables`` rewrites every such block in :data:`PAGES` (``--check``
only says which are stale, exit 1); ``make calibration`` runs it after a recalibration, and a test
fails when a page and the stored data disagree. Blocks: ``validation`` (:func:`validation_block`),
``network`` (:func:`network_block`) and ``time_to_accuracy`` (:func:`time_to_accuracy_block`, from
the convergence stored beside them, :mod:`costmodel.contracts.convergence_evidence`),
``heterogeneity_grid`` and ``heterogeneity_validation`` (:mod:`costmodel.report.heterogeneity_tables`, from
the heterogeneous round's stored evidence, :mod:`costmodel.contracts.heterogeneity_evidence`), and
``calibration_agreement`` (:mod:`costmodel.report.agreement_tables`: two calibrations of one machine),
``family_lofo`` (:mod:`costmodel.report.family_tables`: the local-training statement across five
architecture families, leave one family out), and ``operator_candidate``
(:mod:`costmodel.report.operator_tables`: a statement with measured layers beside it).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from costmodel.contracts.calibration_file import Calibration, default_calibration
from costmodel.contracts.heterogeneity_evidence import load_emulated_validation, load_grid
from costmodel.contracts.network_evidence import NetworkEvidence, load_network_evidence
from costmodel.errors import InputError
from costmodel.files import atomic_write_text
from costmodel.report.agreement_tables import agreement_block, load_agreement
from costmodel.report.family_tables import family_block, load_family_study
from costmodel.report.heterogeneity_tables import emulated_block, grid_block
from costmodel.report.operator_tables import load_operator_study, operator_block
from costmodel.report.time_to_accuracy import build_section
from costmodel.units import format_bandwidth, format_bytes, format_seconds

__all__ = ["BLOCKS", "PAGES", "main", "network_block", "render_blocks", "stale_pages", "time_to_accuracy_block",
           "validation_block"]

REPOSITORY = Path(__file__).resolve().parents[2]
#: The pages that may hold generated blocks, relative to the repository.
PAGES: tuple[str, ...] = ("README.md", "docs/limits.md", "docs/report.md", "docs/calibrate.md",
                          "docs/time-to-accuracy.md", "docs/heterogeneity.md")
_BLOCK = re.compile(r"(<!-- begin generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)",
                    flags=re.S)


def _number(value: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def _profile_time(calibration: Calibration) -> str:
    """`` (a profile of N min)`` when the calibration stores how long its profile took, else nothing."""
    minutes = calibration.profile_minutes
    return f" (a profile of {minutes:.1f} min)" if minutes is not None else ""


def validation_block(calibration: Calibration) -> str:
    """The held-out table of ``calibration`` with where it came from (Markdown)."""
    machine = calibration.machine
    rows = calibration.validation
    if not rows:
        return ("The calibration carries no held-out validation: its error is unknown (run "
                "`astraea-cost validate` with --embed).\n")
    runs = sum(int(r["n"]) for r in rows if str(r["phase"]).split(" (")[0] == "round")
    passed = sum(str(r.get("verdict", "")) == "pass" for r in rows)
    lines = [
        f"Embedded default of {calibration.created or 'unknown date'}, measured on {machine.get('cpu', 'an unknown CPU')} "
        f"({machine.get('threads', '?')} torch thread, torch {machine.get('torch_version', '?')}): fitted on "
        f"{calibration.fit.get('runs', '?')} profiled runs{_profile_time(calibration)}, checked on {runs} held-out "
        f"runs it never saw; "
        f"{passed} of {len(rows)} rows pass. MAPE is the mean absolute percentage error of a row's events, max "
        "its worst run, noise the run-to-run spread of repetitions run interleaved; a row passes within its "
        "target and, for seconds, within twice its noise.",
        "",
        "| held-out row | runs | MAPE % | noise % | max % | target % | verdict |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        bytes_row = "byte" in str(row["phase"])
        lines.append(f"| {row['phase']} | {int(row['n'])} | {_number(float(row['mape_percent']), 2 if bytes_row else 1)} "
                     f"| {'-' if bytes_row else _number(float(row['noise_percent']))} "
                     f"| {_number(float(row['max_ape_percent']))} | {_number(float(row.get('target_percent', math.nan)))} "
                     f"| {row.get('verdict', '')} |")
    return "\n".join(lines) + "\n"


def network_block(evidence: NetworkEvidence) -> str:
    """The link sweep's and the distributed validation's errors (Markdown)."""
    lines = []
    links = evidence.links
    if links is None:
        lines.append("- `astraea-cost link-sweep`: not measured yet (run it with --embed, as root).")
    else:
        lines.append(f"- `astraea-cost link-sweep` ({links['created']}): the link fit on {links['n_transfers']} "
                     f"transfers predicts held-out rates and sizes with a MAPE of "
                     f"{_number(links['heldout_mape_pct'], 2)}% (max {_number(links['heldout_max_abs_pct_error'], 2)}%; "
                     f"repeats spread {_number(links['noise_cv_pct'], 2)}%).")
    network = evidence.network
    if network is None:
        lines.append("- `astraea-cost validate-network`: not measured yet (run it with --embed, as root).")
        return "\n".join(lines) + "\n"
    frame = evidence.network_frame()
    rates = ", ".join(f"{format_bandwidth(u)} up / {format_bandwidth(d)} down" for u, d in
                      frame[["uplink_bits_per_s", "downlink_bits_per_s"]].drop_duplicates().itertuples(index=False))
    algorithms = ", ".join(sorted(set(frame["algorithm"])))
    lines += [
        f"- `astraea-cost validate-network` ({network['created']}, with the calibration of "
        f"{network['calibration_created']}): distributed runs of {algorithms}, one process per client, over "
        f"{rates}; the host's 1-minute load average was {network['load_average']:.2f} when it started.",
        "",
        "| quantity | measurements | MAPE % | max % | noise % |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in evidence.network_summary().itertuples(index=False):
        lines.append(f"| {row.quantity} | {int(row.n)} | {_number(row.mape_percent)} | {_number(row.max_ape_percent)} "
                     f"| {_number(row.noise_percent)} |")
    return "\n".join(lines) + "\n"


def time_to_accuracy_block(calibration: Calibration) -> str:
    """Rounds and time to each target of the stored digits curves, and the held-out check (Markdown),
    as the report's time-to-accuracy section computes them (:mod:`costmodel.report.time_to_accuracy`)."""
    section = build_section(calibration)
    lines = [f"Measured {section.created} (`{section.command}`); 95% percentile-bootstrap intervals over the "
             "development seeds; time in process is the rounds priced by the embedded calibration.", "",
             "| setup | target | algorithm | rounds to target | time to target, in process | bytes to target |",
             "|---|---:|---|---:|---:|---:|"]
    for item in section.setups:
        for target in section.targets:
            for name, answer in item.measured[target].algorithms.items():
                r = answer.rounds
                rounds = (f"{r.mean_rounds:.1f} [{r.low_rounds:g}, {r.high_rounds:g}]" if r.always_reached else
                          f"not bounded ({r.seeds - r.reached} of {r.seeds} seeds never)")
                time = (f"{format_seconds(answer.mean_seconds)} [{format_seconds(answer.low_seconds)}, "
                        f"{format_seconds(answer.high_seconds)}]" if r.always_reached else "not bounded")
                traffic = (f"{format_bytes(answer.mean_bytes)}" if r.always_reached else "not bounded")
                lines.append(f"| {item.key} | {target:g} | {name} | {rounds} | {time} | {traffic} |")
    lines += ["", "Held-out runs (seeds no choice was made on), their measured rounds priced in their own planned "
              "scenario against the virtual-clock time they measured:", "",
              "| algorithm | runs × targets | mean abs. error % | max abs. error % |", "|---|---:|---:|---:|"]
    for row in section.heldout_summary.itertuples():
        lines.append(f"| {row.algorithm} | {row.runs} | {_number(row.mape_percent, 2)} | "
                     f"{_number(row.max_percent, 2)} |")
    return "\n".join(lines) + "\n"


#: Each block's name and how to render it from the stored data.
BLOCKS: Mapping[str, Callable[[Calibration, NetworkEvidence], str]] = {
    "validation": lambda calibration, evidence: validation_block(calibration),
    "network": lambda calibration, evidence: network_block(evidence),
    "time_to_accuracy": lambda calibration, evidence: time_to_accuracy_block(calibration),
    "heterogeneity_grid": lambda calibration, evidence: grid_block(load_grid()),
    "heterogeneity_validation": lambda calibration, evidence: emulated_block(load_emulated_validation()),
    "calibration_agreement": lambda calibration, evidence: agreement_block(load_agreement()),
    "family_lofo": lambda calibration, evidence: family_block(load_family_study()),
    "operator_candidate": lambda calibration, evidence: operator_block(load_operator_study()),
}


def render_blocks(text: str, calibration: Calibration, evidence: NetworkEvidence, *, page: str = "page") -> str:
    """``text`` with every generated block rewritten; an unknown block name is an error."""
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in BLOCKS:
            raise InputError(f"'{page}' must name a known generated block ({', '.join(BLOCKS)}) (got {name!r}).")
        return match.group(1) + BLOCKS[name](calibration, evidence) + match.group(4)
    return _BLOCK.sub(replace, text)


def stale_pages(root: Path = REPOSITORY, *, write: bool = False) -> list[str]:
    """The pages whose generated blocks differ from the stored data (rewritten when ``write``)."""
    calibration, evidence = default_calibration(), load_network_evidence()
    stale = []
    for page in PAGES:
        path = root / page
        text = path.read_text(encoding="utf-8")
        new = render_blocks(text, calibration, evidence, page=page)
        if new != text:
            stale.append(page)
            if write:
                atomic_write_text(path, new, name="page")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m costmodel.report.doc_tables",
                                     description="Rewrite the generated figures of README.md and docs/ from the "
                                                 "embedded calibration and network evidence.")
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1 if any)")
    args = parser.parse_args(argv)
    try:
        stale = stale_pages(write=not args.check)
    except InputError as error:
        print(f"doc_tables: error: {error}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run `python -m costmodel.report.doc_tables`)", file=sys.stderr)
        return 1
    print(("rewrote " + ", ".join(stale)) if stale and not args.check else "every generated block is current")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
