"""Generate ``docs/model.md``, the cost model's formulas in LaTeX, from the code itself.

The formulas of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg (McMahan et al.,
AISTATS 2017) live in :mod:`costmodel.model` and their symbols in :mod:`costmodel.model.quantities`;
this module prints them (``sympy.latex``) into one Markdown page: the symbols with units and
meanings, the building blocks, every phase's seconds, bytes and FLOPs per algorithm, the round
composition, the overhead categories and the papers' own formulas. Nothing is typed by hand, and a
test compares the page with :func:`generate`, so the documentation cannot drift from the model.

Usage::

    python -m costmodel.report.model_page            # rewrite docs/model.md (atomically)
    python -m costmodel.report.model_page --check    # exit 1 if docs/model.md is out of date
    python -m costmodel.report.model_page --out FILE # write elsewhere
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import sympy as sp

from costmodel import model as ex
from costmodel.files import atomic_write_text, check_output_file
from costmodel.contracts.calibration_file import COEFFICIENT_RULES
from costmodel.contracts.vocabulary import CATEGORIES, CATEGORY_NAMES
from costmodel.model.events import EVENT_STATEMENTS
from costmodel.model.papers import PAPER_ALGORITHMS
from costmodel.model.protocols import ALGORITHM_COSTS, ALGORITHMS
from costmodel.model.quantities import COEFFICIENTS, INPUTS

__all__ = ["DEFAULT_PATH", "generate", "main"]

#: Where the page lives in the repository.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "model.md"

_ALGORITHM_TITLE = {name: cost.title for name, cost in ALGORITHM_COSTS.items()}
_CATEGORY_TITLE = {category: name[0].upper() + name[1:] for category, name in CATEGORY_NAMES.items()}


def _math(expression: sp.Basic) -> str:
    return sp.latex(expression)


def _block(left: str, expression: sp.Basic) -> list[str]:
    return ["$$", f"{left} = {_math(expression)}", "$$", ""]


def _inline(expression: sp.Basic) -> str:
    return f"${_math(expression)}$"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _symbols_section() -> list[str]:
    lines = ["## Symbols", "",
             "Inputs are what a what-if question varies (defaults: the TPDS EMNIST setup); coefficients are "
             "fitted by calibration on a machine and never typed by hand. All values are SI. Every value "
             "must lie within its bounds (physically meaningful ones, which also keep every prediction "
             "finite); a value outside is refused with the bound it breaks.", "",
             "### Inputs", "",
             "| symbol | name | unit | meaning | default | bounds |",
             "| :--- | :--- | :--- | :--- | ---: | :--- |"]
    for name, quantity in INPUTS.items():
        bounds = quantity.bounds + (" (or inf: in process)" if quantity.allow_inf else "")
        lines.append(f"| {_inline(quantity.symbol)} | `{name}` | {quantity.unit} | {_escape(quantity.meaning)} | "
                     f"{quantity.default:,.10g} | {_escape(bounds)} |")
    lines += ["", "### Coefficients", "", "| symbol | name | unit | meaning | bounds |",
              "| :--- | :--- | :--- | :--- | :--- |"]
    for name, quantity in COEFFICIENTS.items():
        lines.append(f"| {_inline(quantity.symbol)} | `{name}` | {quantity.unit} | {_escape(quantity.meaning)} | "
                     f"{_escape(COEFFICIENT_RULES[name][0])} |")
    return lines + [""]


def _building_blocks() -> list[str]:
    message, bandwidth, concurrent, samples = sp.symbols("W b k m", positive=True)
    lines = ["## Building blocks", ""]
    items = [
        ("Model message on the wire (bytes)", "W", ex.model_message_bytes()),
        ("Label-histogram report (bytes)", r"W_{report}", ex.report_message_bytes()),
        ("Transfer of a W-byte message over a link of b bit/s (seconds)", r"t_{transfer}(W, b)",
         ex.transfer_seconds(message, bandwidth)),
        ("Client link shared by k concurrent transfers through the server link (bit/s)", r"b_{shared}(b, k)",
         ex.shared_bandwidth(bandwidth, concurrent)),
        ("Mediators per round", "M", ex.mediators()),
        ("Clients of the slowest (a full) mediator", "g", ex.mediator_clients()),
        ("Samples an Astraea client trains on after augmentation and downsampling", r"n_{eff}",
         ex.effective_samples()),
        ("One client visit of E local epochs on m samples (seconds)", r"t_{train}(m)", ex.training_seconds(samples)),
        ("Slope of a client's training time in its sample count (seconds per sample)", "s",
         ex.training_seconds_per_sample()),
        ("Greedy mediator formation over c clients (seconds)", r"t_{resched}", ex.rescheduling_seconds()),
        ("Extra storage of augmented samples per client (bytes)", r"S_{client}", ex.storage_bytes_per_client()),
    ]
    for title, left, expression in items:
        lines += [f"{title}:", ""] + _block(left, expression)
    k = sp.Symbol("k", positive=True, integer=True)
    lines += ["Expected largest of k iid standard normal draws (Blom's approximation; the slowest of k clients "
              "or mediators):", ""]
    lines += _block(_math(ex.BlomZ(k)), ex.BlomZ(k).rewrite(sp.erfinv))
    return lines


def _event_section() -> list[str]:
    lines = ["## Event costs (one statement each)", "",
             "Each event group's cost is stated once (`costmodel.model.events`), as the seconds of one event of "
             "the trace in the event's counts (its columns) and the coefficients. The building blocks below, the "
             "calibration's design matrix (the derivatives with respect to the coefficients that enter linearly) "
             "and the validation's predictions are all derived from these statements.", ""]
    for group, statement in EVENT_STATEMENTS.items():
        columns = ", ".join(f"`{name}`" + (f" (trace `{trace}`)" if trace != name else "")
                            for name, trace in statement.columns.items())
        lines += [f"#### `{group}`", "", f"Phases: {', '.join(f'`{p}`' for p in statement.phases)}. "
                  f"Columns of one event: {columns}.", ""]
        lines += _block(r"\text{seconds}", statement.seconds)
        if statement.boundaries:
            lines += [f"Regime boundary (profiled, not regressed): {', '.join(f'`{b}`' for b in statement.boundaries)}.",
                      ""]
    return lines


def _phase_section(algorithm: str) -> list[str]:
    costs = ex.phase_costs(algorithm)
    lines = [f"### {_ALGORITHM_TITLE[algorithm]}", ""]
    absent = [phase for phase in ex.MODEL_PHASES
              if all(getattr(costs[phase], what) == 0 for what in ("seconds", "bytes", "flops"))]
    for phase in ex.MODEL_PHASES:
        if phase in absent:
            continue
        cost = costs[phase]
        scope = "once, in setup" if ex.PHASE_SCOPE[phase] == "setup" else "every round"
        lines += [f"#### `{phase}` ({scope})", ""]
        lines += _block(r"\text{seconds}", cost.seconds)
        lines += _block(r"\text{bytes}", cost.bytes)
        if cost.flops != 0:
            lines += _block(r"\text{FLOPs}", cost.flops)
    if absent:
        lines += [f"{_ALGORITHM_TITLE[algorithm]} has no " + ", ".join(f"`{p}`" for p in absent)
                  + ": those phases cost 0.", ""]
    return lines


def _round_section() -> list[str]:
    lines = ["## Round composition", "",
             "Each phase's seconds is its contribution to the critical path of the protocol, so the round time "
             "is the sum of the round phases' seconds (rescheduling included: it runs every round) and the setup "
             "time the sum of the setup phases'. Bytes add up the same way. Totals over R rounds: "
             r"$\text{total} = \text{setup} + R \cdot \text{round}$ (`total_seconds`, `total_bytes`).", ""]
    round_phases = [p for p in ex.MODEL_PHASES if ex.PHASE_SCOPE[p] == "round"]
    setup_phases = [p for p in ex.MODEL_PHASES if ex.PHASE_SCOPE[p] == "setup"]
    lines += ["Round phases: " + ", ".join(f"`{p}`" for p in round_phases) + ". Setup phases: "
              + ", ".join(f"`{p}`" for p in setup_phases) + ".", ""]
    for algorithm in ALGORITHMS:
        title = _ALGORITHM_TITLE[algorithm]
        lines += [f"### {title}", ""]
        lines += _block(r"\text{round seconds}", ex.round_seconds(algorithm))
        lines += _block(r"\text{round bytes}", ex.round_bytes(algorithm))
        lines += _block(r"\text{setup seconds}", ex.setup_seconds(algorithm))
        lines += _block(r"\text{setup bytes}", ex.setup_bytes(algorithm))
    return lines


def _overhead_section() -> list[str]:
    lines = ["## Overhead categories", "",
             "Overhead = Astraea − FedAvg. One rule attributes every term of either algorithm's round to the "
             "category of what causes it (`costmodel.model.overhead.ATTRIBUTION_RULE`); the overhead in a category "
             "is Astraea's part minus the baseline's. With `chain` client visits in series on the critical path, "
             "`passes` of them one client's own, `T` a visit's training on the data it trains on and `T_own` on its "
             "original data:", "",
             "| category | part of a round | because |", "|---|---|---|"]
    lines += [f"| {_CATEGORY_TITLE[category]} | `{part}` | {why} |" for category, part, why in ex.ATTRIBUTION_RULE]
    lines += ["",
              "So the recurring cost of augmentation (every epoch of every visit in series trains on the added "
              "samples) is data augmentation per round, and a chain's other visits (their transfers and their "
              "training alike) are coordination. The four categories of one scope sum exactly to the difference "
              "of the two algorithms' seconds (and bytes: all communication) of that scope; the setup is all data "
              "augmentation; total = setup + R × round. Storage is the net extra bytes kept per client "
              "(augmented samples kept, downsampled ones deleted).", ""]
    for scope in ("round", "setup"):
        costs = ex.overhead(scope)
        lines += [f"### Per {scope}" if scope == "round" else "### Setup (once)", ""]
        for category in CATEGORIES:
            cost = costs[category]
            if cost.seconds == 0 and cost.bytes == 0 and cost.storage_bytes == 0:
                lines += [f"{_CATEGORY_TITLE[category]}: 0.", ""]
                continue
            lines += [f"{_CATEGORY_TITLE[category]}:", ""]
            lines += _block(r"\text{seconds}", cost.seconds)
            lines += _block(r"\text{bytes}", cost.bytes)
            if cost.storage_bytes != 0:
                lines += _block(r"\text{storage bytes per client}", cost.storage_bytes)
    return lines


def _paper_section() -> list[str]:
    lines = ["## The papers' formulas", "",
             "Kept as their own expressions to confront with the model (`costmodel.model.paper_*`). "
             "T is one local epoch on the original data. The papers' Astraea traffic has no E_m although every "
             "client receives and returns the model once per mediator epoch. The papers give no formula for "
             "the other baselines.", ""]
    for algorithm in PAPER_ALGORITHMS:
        title = _ALGORITHM_TITLE[algorithm]
        lines += _block(rf"\text{{{title} seconds per round (papers)}}", ex.paper_round_seconds(algorithm))
        lines += _block(rf"\text{{{title} bytes per round (papers)}}", ex.paper_round_bytes(algorithm))
    lines += _block(r"\text{Astraea/FedAvg time ratio (papers)}", ex.paper_time_ratio())
    return lines


def generate() -> str:
    """The full text of ``docs/model.md``."""
    lines = [
        "# The cost model",
        "",
        "<!-- Generated by `python -m costmodel.report.model_page` from the package costmodel/model. "
        "Do not edit by hand: a test fails when this page and the code disagree. -->",
        "",
        "Every formula of the cost model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg "
        "(McMahan et al., AISTATS 2017), printed from the code. Seconds are on a round's critical path, bytes "
        "are everything on the wire, FLOPs are training FLOPs. The choices behind each formula are in the "
        "docstring of `costmodel.model` (`astraea-cost formula PHASE` prints one formula with the meaning "
        "of its symbols).",
        "",
    ]
    lines += _symbols_section()
    lines += _event_section()
    lines += _building_blocks()
    lines += ["## Phases", ""]
    for algorithm in ALGORITHMS:
        lines += _phase_section(algorithm)
    lines += _round_section()
    lines += _overhead_section()
    lines += _paper_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the page; exit status 1 if ``--check`` finds it out of date."""
    parser = argparse.ArgumentParser(prog="python -m costmodel.report.model_page", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help=f"file to write (default {DEFAULT_PATH})")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if the file differs")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is out of date: run python -m costmodel.report.model_page", file=sys.stderr)
            return 1
        return 0
    check_output_file("out", args.out)
    atomic_write_text(args.out, text, name="out")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
