"""The heterogeneity section rendered: Markdown lines and its figures, from a computed section.

Renders :class:`~costmodel.report.heterogeneity.HeterogeneitySection` (Astraea, Duan et al., ICCD 2019;
IEEE TPDS 32(1), 2021, against FedAvg, McMahan et al., AISTATS 2017, on unequal devices and links);
computes nothing. Each scenario gets two figures (:data:`SECTION_FIGURES`,
:func:`~costmodel.report.heterogeneity_plots.overhead_vs_spread`), a table of round times and one of
capacity; the section ends with the stored grid's summary
(:func:`~costmodel.report.heterogeneity_tables.grid_block`). A column the analysis does not give (the
closed form's 95% quantile) is left out, not shown empty.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from costmodel.errors import must
from costmodel.report.heterogeneity import CAPACITY_KEYS, HeterogeneitySection, ScenarioHeterogeneity
from costmodel.report.heterogeneity_plots import overhead_vs_spread
from costmodel.report.heterogeneity_tables import grid_block
from costmodel.units import format_seconds

__all__ = ["SECTION_FIGURES", "figure_path", "render_section", "section_figures"]

#: Figures per scenario: (kind, swept spread, caption).
SECTION_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("overhead_vs_speed_spread", "speed_sigma", "Astraea's overhead over FedAvg against the device-speed spread"),
    ("overhead_vs_link_spread", "link_sigma", "Astraea's overhead over FedAvg against the link spread"),
)
_CAPACITY_HEADERS = {"closed_form_clients": "closed form (mean round)",
                     "closed_form_q95_clients": "closed form (95% of rounds)",
                     "monte_carlo_q95_clients": "Monte Carlo (95% of rounds)"}
_OPTIONS = "--speed-sigma, --speed-classes, --link-sigma, --link-classes or --clients-file"


def figure_path(key: str, kind: str) -> str:
    """Relative path of a section figure (beside the report's other figures)."""
    return f"figures/{key}_{kind}.png"


def _table(headers: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + ":---|" * text_columns + "---:|" * (len(headers) - text_columns),
            *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows)]


def _round_cell(row: pd.Series) -> str:
    text = format_seconds(row["round_seconds"])
    if row["monte_carlo_draws"] and math.isfinite(row["monte_carlo_round_seconds"]):
        stderr = row["monte_carlo_stderr_seconds"]
        text += (f" (MC {format_seconds(row['monte_carlo_round_seconds'])} ± "
                 f"{format_seconds(stderr) if stderr > 1e-9 * row['monte_carlo_round_seconds'] else '0 s'})")
    return text


def _q95_cell(row: pd.Series) -> str:
    if not row["monte_carlo_draws"]:
        return "-"
    text = f"MC {format_seconds(row['monte_carlo_q95_seconds'])}"
    if "closed_form_q95_seconds" in row.index and math.isfinite(row["closed_form_q95_seconds"]):
        text = f"{format_seconds(row['closed_form_q95_seconds'])} ({text})"
    return text


def _rounds_table(part: ScenarioHeterogeneity) -> list[str]:
    rows = []
    for label, frame in part.rounds.groupby("federation", sort=False):
        astraea, fedavg = (frame.set_index("algorithm").loc[a] for a in ("astraea", "fedavg"))
        ratio = f"{astraea['round_seconds'] / fedavg['round_seconds']:.3g}×"
        difference = format_seconds(astraea["round_seconds"] - fedavg["round_seconds"])
        if astraea["monte_carlo_draws"]:
            mc_a, mc_f = astraea["monte_carlo_round_seconds"], fedavg["monte_carlo_round_seconds"]
            ratio += f" (MC {mc_a / mc_f:.3g}×)"
            difference += f" (MC {format_seconds(mc_a - mc_f)})"
        rows.append([str(label), _round_cell(fedavg), _round_cell(astraea), ratio, difference,
                     f"{_q95_cell(fedavg)}; {_q95_cell(astraea)}"])
    return _table(["clients", "FedAvg round", "Astraea round", "Astraea / FedAvg", "Astraea − FedAvg",
                   "95% of rounds within (FedAvg; Astraea)"], rows)


def _clients(value: float) -> str:
    return "n/a" if not math.isfinite(value) else (f"{value:,.0f}" if value else "none")


def _capacity_table(part: ScenarioHeterogeneity) -> list[str]:
    keys = [key for key in CAPACITY_KEYS if key in part.capacity.columns]
    rows = []
    for record in part.capacity.to_dict(orient="records"):
        cells = [f"{format_seconds(record['budget_s'])} ({record['budget_origin']})", str(record["algorithm"]),
                 str(record["federation"]), _clients(record["identical_clients"])]
        rows.append(cells + [_clients(record.get(key, math.nan)) for key in keys])
    return _table(["budget", "algorithm", "clients", "identical clients", *(_CAPACITY_HEADERS[k] for k in keys)], rows,
                  text_columns=3)


def _marked(section: HeterogeneitySection, axis: str) -> float | None:
    federation = section.federation
    if not section.user_federation or federation.clients is not None:
        return None
    value = getattr(federation, axis)
    return value if value else None


def render_section(section: HeterogeneitySection, number: int = 8) -> list[str]:
    """The section as Markdown lines (a ``## {number}.`` heading first)."""
    if not isinstance(section, HeterogeneitySection):
        raise must("section", "be a HeterogeneitySection", type(section).__name__)
    if section.user_federation:
        given = (f"Your federation: {section.headline[0][0]}. The sweeps vary one spread with the rest of it as "
                 "given" + (" (a client table cannot be swept: they start from identical clients)"
                            if section.federation.clients is not None else "") +
                 "; the tables price it.")
    else:
        given = (f"No federation was given ({_OPTIONS}): the sweeps start from identical clients and the tables "
                 "price three example federations: a speed spread, a link spread and phones 10× slower than the "
                 "calibration device at a 20% share.")
    lines = [f"## {number}. Heterogeneous devices and links", "",
             "Every other section prices clients that are all the calibration device on equal links. Here they "
             "differ: FedAvg waits for the slowest of its c parallel clients, an Astraea mediator for the sum of "
             "its chain of γ clients (E_m times) and the round for the slowest mediator, so spread costs the two "
             "differently. Each number is the closed form of docs/heterogeneity.md next to a seeded Monte Carlo "
             f"of the same protocol (MC; {section.monte_carlo:,} simulated rounds per point, seed {section.seed}, "
             "± its standard error). Speed spread σ_s: a client's speed is log-normal around the device speed; "
             "link spread σ_b: each of its links' rates log-normal around the scenario's.", "", given, ""]
    for part in section.scenarios:
        lines += [f"### {part.title}", ""]
        for kind, axis, caption in SECTION_FIGURES:
            lines += [f"![{caption} ({part.title})]({figure_path(part.key, kind)})", ""]
        lines += ["Round time by federation (closed form, then the Monte Carlo's mean):", ""]
        lines += _rounds_table(part)
        lines += ["", "Largest clients per round c whose round fits the budget, searched over 1..N (none: not "
                      "even one client): with identical clients, by the closed form's mean round, and with 95% of "
                      "rounds within the budget. Astraea's round steps at c = γ, where a mediator's chain is full.",
                  ""]
        lines += _capacity_table(part)
        lines += [""]
    if section.grid is not None:
        lines += ["### How close the closed form is to the Monte Carlo", "",
                  "Stored with the package (`python -m costmodel.analysis.heterogeneity_grid`, the embedded "
                  "calibration): the largest and mean relative difference in round time per algorithm and kind of "
                  "spread, the largest in the heterogeneous excess (round minus the homogeneous round), and the "
                  "Monte Carlo's own standard error.", ""]
        lines += grid_block(section.grid).rstrip("\n").split("\n")
        lines += [""]
    return lines


def section_figures(section: HeterogeneitySection) -> list[tuple[str, Figure]]:
    """The section's figures as ``(relative path, Figure)`` pairs."""
    out = []
    for part in section.scenarios:
        for kind, axis, caption in SECTION_FIGURES:
            out.append((figure_path(part.key, kind),
                        overhead_vs_spread(part.sweeps[axis], axis,
                                           title=f"{part.title}: {caption[0].lower()}{caption[1:]}",
                                           marked=_marked(section, axis))))
    return out
