"""The report rendered as Markdown: a :class:`~costmodel.report.build.Report` in, text out.

Astraea's cost over FedAvg (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021; McMahan et al., AISTATS
2017), section by section: the overhead per round and per run by category, how it grows, the
papers' claims against the model, capacity answers, the calibration's validation table and the
assumptions. This module computes nothing: every number is in the Report.

Validation bars: a row's own ``target_percent`` when it carries one (``calibration.validate`` writes
it), else the design's: 0.5% for bytes rows, 10% for seconds. A seconds row also says whether its
MAPE is within twice its run-to-run noise; bytes have no noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from costmodel.contracts.calibration_file import COEFFICIENT_UNITS
from costmodel.contracts.vocabulary import CATEGORIES, CATEGORY_NAMES
from costmodel.model.protocols import ALGORITHM_COSTS
from costmodel.model.quantities import COEFFICIENTS, INPUTS
from costmodel.errors import must
from costmodel.host import cpu_name, torch_version
from costmodel.report.build import FIGURE_KINDS, IMBALANCE_RATIOS, Report
from costmodel.report.growth import GROWTH_VARIABLES
from costmodel.report.heterogeneity_markdown import render_section as render_heterogeneity
from costmodel.report.time_to_accuracy import render_section
from costmodel.units import format_bandwidth, format_bytes, format_count, format_fraction, format_input, format_seconds

__all__ = ["FIGURES_FOLDER", "REPORT_FILE", "figure_path", "render_markdown"]

#: Name of the Markdown file inside the output folder; figures go to :data:`FIGURES_FOLDER`.
REPORT_FILE = "report.md"
FIGURES_FOLDER = "figures"


def figure_path(key: str, kind: str) -> str:
    """Relative path (from ``report.md``) of the figure ``kind`` of scenario ``key``."""
    return f"{FIGURES_FOLDER}/{key}_{kind}.png"



def _input_text(name: str, value: float) -> str:
    return format_input(name, value, compact=False)


_SUBJECT_TEXT = {
    **CATEGORY_NAMES,
    **{name: f"{cost.title} round time" for name, cost in ALGORITHM_COSTS.items()},
}


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A GitHub pipe table; ``align`` holds one of 'l'/'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(escape(h) for h in headers) + " |",
             "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return lines


def _percent(fraction: float) -> str:
    if isinstance(fraction, float) and math.isnan(fraction):
        return "n/a"
    text = format_fraction(fraction)
    return text if fraction <= 0 or text.startswith("-") else "+" + text


def _ratio(value: float) -> str:
    return f"{value:.3g}×"


def _format_coefficient(name: str, value: float) -> str:
    unit = COEFFICIENT_UNITS[name]
    if unit == "s":
        return format_seconds(value)
    if unit == "1":
        return format_fraction(value)
    if unit == "B":
        return format_bytes(value)
    if unit == "FLOP/s":
        return f"{format_count(value)}FLOP/s"
    return f"{value:.3g} {unit}"


def _overhead_section(report: Report, index: int) -> list[str]:
    item = report.scenarios[index]
    scenario = item.scenario
    rows = report.overhead[report.overhead["scenario"] == index].set_index(["scope", "category"])
    run = report.rounds[report.rounds["scenario"] == index].set_index("algorithm")
    fedavg_round = float(run.loc["fedavg", "round_seconds"])
    fedavg_total = scenario.rounds * fedavg_round
    table = []
    for category in CATEGORIES:
        per_round, total = rows.loc[("round", category)], rows.loc[("total", category)]
        table.append([CATEGORY_NAMES[category], format_seconds(per_round["seconds"]),
                      _percent(per_round["fraction_of_fedavg"]), format_bytes(per_round["bytes"]),
                      format_seconds(total["seconds"]), _percent(total["fraction_of_fedavg"]),
                      format_bytes(total["bytes"])])
    net_round = rows.loc["round"]["seconds"].sum()
    net_total = rows.loc["total"]["seconds"].sum()
    table.append(["**net overhead**", format_seconds(net_round), _percent(net_round / fedavg_round),
                  format_bytes(rows.loc["round"]["bytes"].sum()), format_seconds(net_total),
                  _percent(net_total / fedavg_total), format_bytes(rows.loc["total"]["bytes"].sum())])
    setup = rows.loc[("setup", "data_augmentation")]
    lines = [f"### {item.title}", ""]
    lines += _md_table(["category", "per round", "% of FedAvg round", "bytes per round",
                        f"whole run ({scenario.rounds} rounds + setup)", "% of FedAvg run", "bytes whole run"],
                       table)
    lines += [
        "",
        f"Astraea: {format_seconds(run.loc['astraea', 'round_seconds'])} and "
        f"{format_bytes(run.loc['astraea', 'round_bytes'])} per round, "
        f"{format_seconds(run.loc['astraea', 'total_seconds'])} for the whole run. "
        f"FedAvg: {format_seconds(fedavg_round)} and {format_bytes(run.loc['fedavg', 'round_bytes'])} per round, "
        f"{format_seconds(run.loc['fedavg', 'total_seconds'])} for the whole run.",
        f"Setup, once (all data augmentation): {format_seconds(setup['seconds'])} and "
        f"{format_bytes(setup['bytes'])} of label histograms from {scenario.clients_total:,} clients; the "
        f"augmented data (net of the downsampled samples deleted) takes {format_bytes(setup['storage_bytes'])} "
        f"more storage per client ({format_bytes(setup['storage_bytes'] * scenario.clients_total)} over all "
        "clients).",
        "",
    ]
    return lines


def _baselines_section(report: Report, index: int) -> list[str]:
    """Astraea against every baseline: the baseline's round, and the overhead over it by category."""
    item = report.scenarios[index]
    rows = report.baselines[report.baselines["scenario"] == index]
    run = report.rounds[report.rounds["scenario"] == index].set_index("algorithm")
    table = []
    for baseline in rows["baseline"].unique():
        own = rows[rows["baseline"] == baseline].set_index(["scope", "category"])
        per_round, total = own.loc["round"], own.loc["total"]
        table.append([ALGORITHM_COSTS[baseline].title, format_seconds(run.loc[baseline, "round_seconds"]),
                      format_bytes(run.loc[baseline, "round_bytes"]),
                      *(format_seconds(per_round.loc[c, "seconds"]) for c in CATEGORIES),
                      format_seconds(per_round["seconds"].sum()), _percent(per_round["fraction"].sum()),
                      _percent(total["fraction"].sum())])
    lines = [f"#### {item.title}: Astraea against each baseline", ""]
    lines += _md_table(["baseline", "its round", "its bytes per round",
                        *(f"{CATEGORY_NAMES[c]} per round" for c in CATEGORIES),
                        "net overhead per round", "% of its round", "% of its run"], table)
    return lines + [""]


def _growth_section(report: Report, index: int) -> list[str]:
    rows = report.growth[report.growth["scenario"] == index]
    unsupported: set[str] = set()
    variables = [v for v, _, _ in GROWTH_VARIABLES]
    headings = [text for _, _, text in GROWTH_VARIABLES]
    table = []
    for (subject, kind), part in rows.groupby(["subject", "kind"], sort=False):
        by_variable = part.set_index("variable")
        if kind == "overhead":
            label = f"overhead: {CATEGORY_NAMES[subject]} (per round)"
        elif kind == "setup":
            label = "overhead: data augmentation (setup, once)"
        elif kind == "phase":
            label = f"Astraea phase: {subject}"
        else:
            label = _SUBJECT_TEXT[subject]
        cells = []
        for variable in variables:
            order, leading = by_variable.loc[variable, "order"], by_variable.loc[variable, "leading"]
            cell = order if order == "0" else f"{order}: {leading}"
            rests = by_variable.loc[variable, "rests_on"]
            if rests:
                cell += f" (not pinned down: {by_variable.loc[variable, 'supported_order']} without {rests})"
                unsupported.update(rests.split(", "))
            cells.append(cell)
        table.append([label, *cells])
    item = report.scenarios[index]
    lines = [f"### {item.title}", ""]
    lines += _md_table(["seconds of", *headings], table)
    lines += [""]
    if unsupported:
        lines += ["An order marked *not pinned down* rests on coefficients whose fitted value is within twice its "
                  f"standard error ({', '.join(sorted(unsupported))}): the calibration's data do not show that "
                  "term, so the order without it is what the measurements support.", ""]
    captions = dict(FIGURE_KINDS)
    for kind in ("overhead_vs_clients", "round_time_vs_clients", "overhead_vs_params", "overhead_vs_bandwidth"):
        lines += [f"![{captions[kind]} ({item.title})]({figure_path(item.key, kind)})", ""]
    return lines


def _claims_section(report: Report) -> list[str]:
    lines = ["### Time per round", "",
             "The papers: FedAvg takes E·T per round and Astraea E_m·γ·E·T (T: one local epoch), a ratio of "
             "E_m·γ, with augmentation and rescheduling called negligible. The model adds the augmented "
             "samples each epoch trains on, the transfers of every client visit, rescheduling, the slowest "
             "mediator and aggregation.", ""]
    for index, item in enumerate(report.scenarios):
        part = report.time_claims[report.time_claims["scenario"] == index]
        table = [[f"{row.mediator_epochs}", format_seconds(row.paper_fedavg_round_seconds),
                  format_seconds(row.paper_astraea_round_seconds), _ratio(row.paper_ratio),
                  format_seconds(row.fedavg_round_seconds), format_seconds(row.astraea_round_seconds),
                  _ratio(row.model_ratio), _ratio(row.training_ratio)] for row in part.itertuples()]
        lines += [f"**{item.title}** (γ = {item.scenario.mediator_size}, E = {item.scenario.local_epochs})", ""]
        lines += _md_table(["E_m", "papers: FedAvg", "papers: Astraea", "papers: ratio", "model: FedAvg",
                            "model: Astraea", "model: ratio", "model: local training ratio"], table)
        lines += [""]
    lines += ["### Traffic per round", "",
              "The papers: FedAvg 2·c·|w| and Astraea 2·|w|·(⌈c/γ⌉ + c). Every client receives and returns the "
              "model once per mediator epoch, so the model counts 2·|w|·(⌈c/γ⌉ + E_m·c); the papers' formula "
              "leaves out E_m. |w| is the model message on the wire (16-byte header + 4 bytes per parameter).", ""]
    for index, item in enumerate(report.scenarios):
        part = report.traffic_claims[report.traffic_claims["scenario"] == index]
        table = [[f"{row.mediator_epochs}", format_bytes(row.paper_fedavg_round_bytes),
                  format_bytes(row.fedavg_round_bytes), format_bytes(row.paper_astraea_round_bytes),
                  format_bytes(row.astraea_round_bytes), format_bytes(row.missing_bytes),
                  format_fraction(row.missing_fraction)] for row in part.itertuples()]
        lines += [f"**{item.title}** (c = {item.scenario.clients_per_round}, γ = {item.scenario.mediator_size}, "
                  f"P = {item.scenario.params:,})", ""]
        lines += _md_table(["E_m", "papers: FedAvg", "model: FedAvg", "papers: Astraea", "model: Astraea",
                            "left out by the papers", "share of Astraea's traffic"], table)
        lines += ["", f"![Traffic per round against E_m ({item.title})]"
                      f"({figure_path(item.key, 'traffic_vs_mediator_epochs')})", "",
                  f"![Traffic per round against c ({item.title})]({figure_path(item.key, 'traffic_vs_clients')})",
                  ""]
    lines += ["### \"Negligible\" augmentation and rescheduling", "",
              "Seconds on the critical path, as a share of one round and of the whole run (setup + R rounds). "
              "Setup phases run once; rescheduling runs every round and grows as c².", ""]
    table = []
    for row in report.negligible_claims.itertuples():
        item = report.scenarios[row.scenario]
        table.append([item.title, row.phase, f"{row.clients_per_round:,}", format_seconds(row.seconds),
                      format_fraction(row.share_of_astraea_round), format_fraction(row.share_of_fedavg_round),
                      format_fraction(row.share_of_astraea_run)])
    lines += _md_table(["scenario", "phase", "c", "seconds", "of an Astraea round", "of a FedAvg round",
                        "of the Astraea run"], table, "llrrrrr")
    lines += ["", "### Storage", "",
              "The papers report how much data augmentation added. The model's augmentation volume comes from "
              "the plan applied to the global class sizes; on a long-tail histogram C_k = C_max·ρ^(k/(K−1)), "
              f"scanned over ρ from {IMBALANCE_RATIOS[0]:g} to {IMBALANCE_RATIOS[-1]:g}, the plans add at most:",
              ""]
    table = []
    edge = IMBALANCE_RATIOS[0]
    for row in report.storage_claims.itertuples():
        iccd_at = f"ρ = {row.iccd_max_ratio:.2g}" + (", the scan's end" if row.iccd_max_ratio == edge else "")
        table.append([row.title, f"{row.classes}", f"{row.threshold:g}", _percent(row.paper_fraction),
                      f"{_percent(row.tpds_max_fraction)} (ρ = {row.tpds_max_ratio:.2g})",
                      f"{_percent(row.iccd_max_fraction)} ({iccd_at})",
                      "none in the scan" if math.isnan(row.printed_ratio) else f"ρ = {row.printed_ratio:.3g}",
                      format_bytes(row.paper_storage_bytes_per_client),
                      format_bytes(row.tpds_storage_bytes_per_client)])
    lines += _md_table(["setup", "K", "τ_d", "papers: data added", "TPDS plan (minus form), at most",
                        "ICCD plan α = 1, at most", "printed '+' form adds the papers' growth at",
                        "extra storage per client at the papers' growth", "at the TPDS maximum"], table,
                       "lrrrrrrrr")
    claims = report.storage_claims
    beyond = claims[claims["paper_fraction"] > claims["tpds_max_fraction"]]
    matched = claims[claims["printed_ratio"].notna()]
    lines += [""]
    if not beyond.empty:
        lines += [f"On no long tail does the TPDS plan in the form the papers' text describes (target between C_y "
                  f"and μ + σ·τ_a) add as much data as the papers report ({', '.join(sorted(set(beyond['title'])))}). "
                  f"With the target exactly as printed, μ + σ·√|Z_y/τ_a|, rare classes are lifted above the mean, "
                  f"and the papers' numbers are reached on ordinary long tails"
                  + (": " + "; ".join(f"{row.title} at τ_d = {row.threshold:g} with ρ = {row.printed_ratio:.3g}"
                                      for row in matched.itertuples()) if not matched.empty else " nowhere in the scan")
                  + ". The reported storage growth is consistent with the printed formula, not with the text. The "
                    "presets take the papers' growth as their `augmented_fraction`; compute yours from your "
                    "histogram with `costmodel.model.augmentation_volume`.", ""]
    return lines


def _capacity_section(report: Report) -> list[str]:
    names = {"max_clients_per_round": "largest c within a round-time budget",
             "crossover_bandwidth": "client bandwidth where communication time = compute time",
             "break_even_rounds": "rounds Astraea must save to break even in time"}
    table = []
    for row in report.capacity.to_dict(orient="records"):
        item = report.scenarios[row["scenario"]]
        if math.isnan(row["value"]):
            answer = f"none: {row['text']}"
        elif row["unit"] == "bit/s":
            answer = format_bandwidth(row["value"])
        elif row["question"] == "break_even_rounds":
            answer = (f"{row['value']:.0f} of {item.scenario.rounds} (Astraea must reach the target in "
                      f"≤ {row['detail_max_astraea_rounds']:.0f} rounds)")
        elif row["unit"] == "clients":
            answer = f"{row['value']:.0f} client" + ("" if row["value"] == 1 else "s")
        else:
            answer = f"{row['value']:.0f} {row['unit']}"
        table.append([item.title, names[row["question"]], ALGORITHM_COSTS[row["algorithm"]].title, row["condition"],
                      answer])
    lines = ["Answers of `costmodel.analysis.solve` (also `astraea-cost solve`). The budgets are each scenario's own round "
             "times: how many clients one algorithm takes in the other's round time.", ""]
    lines += _md_table(["scenario", "question", "algorithm", "for", "answer"], table, "lllll")
    return lines + [""]


def _validation_section(report: Report) -> list[str]:
    calibration = report.calibration
    machine = calibration.machine
    lines = [f"Calibration: {report.calibration_origin}, created {calibration.created or 'on an unknown date'}, "
             f"measured on {machine.get('cpu', 'an unknown CPU')} with {machine.get('threads', '?')} thread(s), "
             f"torch {machine.get('torch_version', '?')}, Python {machine.get('python', '?')} "
             f"({machine.get('platform', '?')}).", "", f"> {calibration.source}", ""]
    problem = calibration.machine_problem(cpu_name(), torch_version())
    if problem:
        lines += [f"**Another machine.** The calibration {problem}", ""]
    if report.validation.empty:
        lines += ["**This calibration carries no validation table**: its predictions have not been checked "
                  "against measured runs it was not fitted on, so read every number above as an estimate of "
                  "unknown error. Calibrate and validate on your own hardware and links (`astraea-cost profile`, "
                  "`calibrate`, `validate`; see docs/calibrate.md) before relying on them.", ""]
    else:
        table = [[row.phase, f"{row.mape_percent:.3g}%", f"{row.max_ape_percent:.3g}%", f"{row.noise_percent:.3g}%",
                  f"{row.n}", f"{row.bar_percent:g}%", "yes" if row.meets_bar else "**no**",
                  "n/a" if row.within_twice_noise is None else "yes" if row.within_twice_noise else "**no**"]
                 for row in report.validation.itertuples()]
        lines += ["Held-out validation (configurations the fit did not see): mean and largest absolute percentage "
                  "error, run-to-run noise of the measurements, number of points, and the project's bar.", ""]
        lines += _md_table(["phase", "MAPE", "max APE", "noise", "n", "bar", "meets bar", "≤ 2× noise"], table)
        lines += [""]
    fit = calibration.fit
    r2 = dict(fit.get("r2", {}))
    spread = dict(fit.get("residual_spread", {}))
    groups = list(dict.fromkeys([*r2, *spread]))
    if groups:
        table = [[group, f"{r2[group]:.4f}" if group in r2 else "n/a",
                  format_fraction(spread[group]) if group in spread else "n/a"] for group in groups]
        lines += [f"Fit statistics ({fit.get('runs', 0)} federated runs fitted):", ""]
        lines += _md_table(["coefficient group", "R²", "relative residual spread"], table)
        lines += [""]
    return lines


def _assumptions_section(report: Report) -> list[str]:
    titles = [item.title for item in report.scenarios]
    table = []
    for name, quantity in INPUTS.items():
        table.append([f"{name} ({quantity.symbol})", quantity.meaning,
                      *[_input_text(name, getattr(item.scenario, name)) for item in report.scenarios]])
    lines = ["Inputs of each scenario (the bandwidths and R are assumptions of the report, change them with the "
             "command's options):", ""]
    lines += _md_table(["input", "meaning", *titles], table, "ll" + "r" * len(titles))
    described = [f"{item.title}: {item.description}" for item in report.scenarios if item.description]
    if described:
        lines += ["", *described]
    lines += ["", "Device and link speeds are the calibration's coefficients:", ""]
    table = []
    for name, value in report.calibration.coefficients.items():
        error = report.calibration.stderr.get(name)
        relative = "n/a" if error is None or value == 0 else format_fraction(error / value)
        table.append([f"{name} ({COEFFICIENTS[name].symbol})", COEFFICIENTS[name].meaning,
                      _format_coefficient(name, value), relative, report.calibration.fitted_from.get(name, "")])
    lines += _md_table(["coefficient", "meaning", "value", "relative std. error", "fitted from"], table, "llrrl")
    return lines + [""]


def _heterogeneity_number(report: Report) -> int:
    return 8 if report.time_to_accuracy is not None else 7


def render_markdown(report: Report) -> str:
    """The report as Markdown (figures linked as ``figures/<scenario>_<kind>.png``)."""
    if not isinstance(report, Report):
        raise must("report", "be a Report", type(report).__name__)
    titles = ", ".join(item.title for item in report.scenarios)
    lines = [
        "# What Astraea costs over FedAvg",
        "",
        "Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) balances federated learning on globally "
        "imbalanced data by augmenting rare classes and training clients one after another inside mediators. "
        "This report prices that against FedAvg with the calibrated cost model of `astraea-cost`, for: "
        f"{titles}. Every number is computed by the model (`costmodel.analysis.predict`, `costmodel.analysis.solve`) from the "
        "inputs and coefficients listed in section 1; section 6 says how far to trust them.",
        "",
        "Overhead = Astraea − FedAvg, each second given to what causes it (docs/model.md, Overhead categories): "
        "training compute (a client's own E_m passes over its own data), data augmentation (setup: histograms, "
        "plan, augmenting, storage; and every round, the added samples each visit in series trains on), "
        "communication (a client's own E_m round trips and the mediators' messages; all extra bytes), "
        "coordination and synchronization (the other clients' visits, transfers included, that a mediator waits "
        "for in series; rescheduling; the slowest mediator instead of the slowest client; aggregation).",
        "",
        "1. [Scenarios and assumptions](#1-scenarios-and-assumptions)",
        "2. [Overhead per round and per training run](#2-overhead-per-round-and-per-training-run)",
        "3. [How the overhead grows](#3-how-the-overhead-grows)",
        "4. [The papers' claims against the model](#4-the-papers-claims-against-the-model)",
        "5. [Capacity](#5-capacity)",
        "6. [Validation: where the numbers come from](#6-validation-where-the-numbers-come-from)",
        *(["7. [Time to accuracy: what the overhead buys](#7-time-to-accuracy-what-the-overhead-buys)"]
          if report.time_to_accuracy is not None else []),
        *([f"{_heterogeneity_number(report)}. [Heterogeneous devices and links]"
           f"(#{_heterogeneity_number(report)}-heterogeneous-devices-and-links)"]
          if report.heterogeneity is not None else []),
        "",
        "## 1. Scenarios and assumptions",
        "",
    ]
    lines += _assumptions_section(report)
    lines += ["## 2. Overhead per round and per training run", "",
              "Seconds are on the critical path of a round (devices in parallel where the protocol allows), bytes "
              "are everything on the wire. A negative entry is a cost Astraea does not pay.", ""]
    for index in range(len(report.scenarios)):
        lines += _overhead_section(report, index)
    lines += ["### Against every baseline", "",
              "The same overhead set against each baseline the model prices. FedProx (Li et al., MLSys 2020) is "
              "FedAvg with a proximal term in every local step: the same bytes, each local step dearer by the "
              "proximal gradient (P multiply-adds), which the calibration measures.", ""]
    for index in range(len(report.scenarios)):
        lines += _baselines_section(report, index)
    lines += ["## 3. How the overhead grows", "",
              "Leading term of each quantity's seconds as one input grows, read off the model's sympy expressions "
              "with every other input at the scenario's value: clients per round c → ∞, model parameters P → ∞, "
              "client bandwidth b → 0 (uplink = downlink = b, in bit/s). Coefficients are in seconds per unit "
              "of the input. With c → ∞ the server link saturates, so transfers grow with c.", ""]
    for index in range(len(report.scenarios)):
        lines += _growth_section(report, index)
    lines += ["## 4. The papers' claims against the model", ""]
    lines += _claims_section(report)
    lines += ["## 5. Capacity", ""]
    lines += _capacity_section(report)
    lines += ["## 6. Validation: where the numbers come from", ""]
    lines += _validation_section(report)
    if report.time_to_accuracy is not None:
        lines += render_section(report.time_to_accuracy, number=7)
    if report.heterogeneity is not None:
        lines += render_heterogeneity(report.heterogeneity, number=_heterogeneity_number(report))
    lines += ["---", "",
              "Not to be confused with the unrelated Astraea for multi-agent deep-RL congestion control "
              "(EuroSys 2024): this report covers the federated-learning Astraea only.", ""]
    return "\n".join(lines)
