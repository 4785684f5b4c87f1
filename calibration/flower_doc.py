"""The figures docs/flower.md quotes about Flower, printed from the embedded Flower profile.

docs/flower.md holds them between ``<!-- begin generated: flower -->`` and
``<!-- end generated: flower -->``; ``python -m calibration.flower_doc`` rewrites the block from
``costmodel/data/flower_profile.json`` (``--check`` only says whether it is stale, exit 1), and a test
fails when the page and the profile disagree. ``astraea-cost flower-profile --embed`` is what changes
the profile. Only the cost model is imported (no torch, no flwr).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from costmodel.contracts.framework_profile import PROFILE_COEFFICIENTS, FrameworkProfile, load_framework_profile
from costmodel.files import atomic_write_text

__all__ = ["PAGE", "flower_block", "main", "render_page"]

#: The page holding the block, relative to the repository.
PAGE = "docs/flower.md"
_REPOSITORY = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"(<!-- begin generated: flower -->\n)(.*?)(<!-- end generated: flower -->)", flags=re.S)
_STEPS = (("to_process_s", "push to process start"), ("cold_start_s", "cold start"),
          ("app_setup_s", "app setup"), ("work_s", "training"), ("upload_s", "back to the server"))


def _n(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{float(value):.{digits}f}"


def _value(name: str, value: float) -> str:
    unit = next(spec.unit for spec in PROFILE_COEFFICIENTS if spec.name == name)
    if unit == "B":
        return f"{value:,.0f} B"
    return f"{value:.2f} s" if unit == "s" else f"{value:g}"


def flower_block(profile: FrameworkProfile) -> str:
    """The profile's coefficients, its per-hop breakdown and its held-out check (Markdown)."""
    machine, fit = profile.machine, profile.fit
    schema = f" (schema {fit['calibration_schema_version']})" if "calibration_schema_version" in fit else ""
    lines = [
        f"Flower {profile.version} profile of {profile.created}, fitted on {fit.get('runs', '?')} runs "
        f"({fit.get('messages', '?')} visits) on {machine.get('cpu', 'an unknown CPU')}, "
        f"{machine.get('network', '?')} links, every SuperNode on that one host; the host's 1-minute load average "
        f"was {_n(machine.get('load_average_min'))} to {_n(machine.get('load_average_max'))} during the runs. "
        f"Priced against the calibration of {fit.get('calibration_created', '?')}{schema}.",
        "",
        "| coefficient | value | what it is |",
        "|---|---:|---|",
    ]
    for spec in PROFILE_COEFFICIENTS:
        lines.append(f"| `{spec.name}` | {_value(spec.name, profile.coefficients[spec.name])} | {spec.meaning} |")
    lines += ["", "Where one visit's seconds go (means over the fitted runs' visits; k = messages dispatched at once):",
              "", "| algorithm | k | visits | " + " | ".join(label for _, label in _STEPS)
              + " | whole hop | CPU s before the handler |",
              "|---|---:|---:|" + "---:|" * (len(_STEPS) + 2)]
    for row in profile.breakdown:
        lines.append(f"| {row['algorithm']} | {row['k']} | {row['messages']} | "
                     + " | ".join(_n(row[key]) for key, _ in _STEPS)
                     + f" | {_n(row['hop_s'])} | {_n(row['cpu_at_handler_s'])} |")
    if profile.validation:
        lines += ["", "Held-out runs (rates, clients and chains no fitted run had) against the model on Flower:", "",
                  "| quantity | runs | MAPE % | max % | noise % |", "|---|---:|---:|---:|---:|"]
        for row in profile.validation:
            digits = 3 if row["unit"] == "B" else 1
            lines.append(f"| {row['quantity']} | {row['runs']} | {_n(row['mape_percent'], digits)} | "
                         f"{_n(row['max_ape_percent'], digits)} | {_n(row['noise_percent'], 1)} |")
    else:
        lines += ["", "The profile carries no held-out check (run `astraea-cost flower-profile` without --quick)."]
    return "\n".join(lines) + "\n"


def render_page(text: str, profile: FrameworkProfile) -> str:
    """``text`` with its flower block rewritten."""
    return _BLOCK.sub(lambda m: m.group(1) + flower_block(profile) + m.group(3), text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.flower_doc",
                                     description=f"Rewrite the generated figures of {PAGE} from the embedded Flower "
                                                 "profile.")
    parser.add_argument("--check", action="store_true", help="only say whether the page is stale (exit 1 if so)")
    args = parser.parse_args(argv)
    path = _REPOSITORY / PAGE
    text = path.read_text(encoding="utf-8")
    new = render_page(text, load_framework_profile())
    if new == text:
        print(f"{PAGE} is current")
        return 0
    if args.check:
        print(f"out of date: {PAGE} (run `python -m calibration.flower_doc`)", file=sys.stderr)
        return 1
    atomic_write_text(path, new, name="page")
    print(f"rewrote {PAGE}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
