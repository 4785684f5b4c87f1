"""The accuracy figures of README.md and docs/ are printed from the stored data, never typed."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

from costmodel.contracts.calibration_file import default_calibration
from costmodel.contracts.network_evidence import (
    NETWORK_ROW_FIELDS,
    NetworkEvidence,
    load_network_evidence,
    write_network_evidence,
)
from costmodel.errors import InputError
from costmodel.report import doc_tables

ROOT = Path(__file__).resolve().parents[2]

LINKS = {"created": "2026-12-01", "n_transfers": 54, "r_squared": 0.99999, "heldout_mape_pct": 0.146,
         "heldout_max_abs_pct_error": 0.318, "noise_cv_pct": 0.162}


def _row(algorithm: str, quantity: str, ape: float, noise: float, n: int = 3) -> dict:
    return {"algorithm": algorithm, "uplink_bits_per_s": 3e6, "downlink_bits_per_s": 12e6, "quantity": quantity,
            "n": n, "measured_s": 1.0, "noise_percent": noise, "predicted_s": 1.0 + ape / 100, "ape_percent": ape}


NETWORK = {"created": "2026-12-01", "calibration_created": "2026-12-01", "load_average": 0.4,
           "rows": [_row("astraea", "client_upload", 0.5, 0.2, 18), _row("fedavg", "client_upload", 1.5, 0.4, 18),
                    _row("astraea", "round (wall)", 2.0, 0.5), _row("fedavg", "round (wall)", 9.0, 2.0)]}


def test_the_pages_print_exactly_what_the_stored_data_says():
    assert doc_tables.stale_pages() == [], "run `python -m costmodel.report.doc_tables`"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    limits = (ROOT / "docs/limits.md").read_text(encoding="utf-8")
    for page in (readme, limits):
        assert "<!-- begin generated: validation -->" in page and "<!-- begin generated: network -->" in page
    # every stored validation row appears with its error as the table prints it
    for row in default_calibration().validation:
        digits = 2 if "byte" in row["phase"] else 1
        assert f"| {row['phase']} | {row['n']} | {row['mape_percent']:.{digits}f} |" in readme


def test_the_validation_block_is_the_calibration_s_rows():
    calibration = default_calibration()
    text = doc_tables.validation_block(calibration)
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| held-out")]
    assert len(rows) == len(calibration.validation)
    passed = sum(r["verdict"] == "pass" for r in calibration.validation)
    assert f"{passed} of {len(calibration.validation)} rows pass" in text
    assert "no held-out validation" in doc_tables.validation_block(dataclasses.replace(calibration, validation=()))


def test_the_network_block_summarises_per_quantity_and_says_what_is_missing():
    text = doc_tables.network_block(NetworkEvidence(links=LINKS, network=NETWORK))
    assert "MAPE of 0.15% (max 0.32%; repeats spread 0.16%)" in text
    assert "| client_upload | 36 | 1.0 | 1.5 | 0.3 |" in text          # mean of 0.5 and 1.5, max 1.5
    assert "| round (wall) | 6 | 5.5 | 9.0 | 1.2 |" in text
    assert "load average was 0.40 when it started" in text and "3 Mbit/s up / 12 Mbit/s down" in text
    empty = doc_tables.network_block(NetworkEvidence())
    assert empty.count("not measured yet (run it with --embed, as root)") == 2


def test_evidence_round_trips_and_bad_files_fail_in_one_line(tmp_path):
    path = tmp_path / "evidence.json"
    evidence = NetworkEvidence(links=LINKS, network=NETWORK)
    write_network_evidence(path, evidence)
    back = load_network_evidence(path)
    assert dict(back.links) == LINKS
    assert [dict(r) for r in back.network["rows"]] == NETWORK["rows"]
    assert list(back.network_frame().columns) == list(NETWORK_ROW_FIELDS)
    document = json.loads(path.read_text())
    for change, message in (
            (lambda d: d.update(schema_version=2), "must have schema_version 1 (got 2)"),
            (lambda d: d["links"].pop("r_squared"), "missing r_squared"),
            (lambda d: d["links"].update(heldout_mape_pct=None), "'links.heldout_mape_pct' as a finite number"),
            (lambda d: d["network"].update(rows=[]), "'network.rows' as a non-empty list"),
            (lambda d: d["network"]["rows"][0].update(extra=1), "unknown extra"),
            (lambda d: d.update(other=1), "must not have the fields other")):
        broken = json.loads(json.dumps(document))
        change(broken)
        path.write_text(json.dumps(broken))
        with pytest.raises(InputError, match=re.escape(message)):
            load_network_evidence(path)
    path.write_text("{")
    with pytest.raises(InputError, match="must be JSON"):
        load_network_evidence(path)
    with pytest.raises(InputError):                      # never writes what it could not read back
        write_network_evidence(tmp_path / "bad.json", NetworkEvidence(links={**LINKS, "r_squared": math.nan}))
    assert not (tmp_path / "bad.json").exists()


def test_an_unknown_block_name_is_refused_and_check_mode_writes_nothing(tmp_path, monkeypatch, capsys):
    with pytest.raises(InputError, match="must name a known generated block"):
        doc_tables.render_blocks("<!-- begin generated: mystery -->\nx\n<!-- end generated: mystery -->",
                                 default_calibration(), NetworkEvidence(), page="p.md")
    for page in doc_tables.PAGES:
        target = tmp_path / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((ROOT / page).read_text(encoding="utf-8"), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| round |", "| round (typed) |"), encoding="utf-8")
    before = readme.read_text(encoding="utf-8")
    assert doc_tables.stale_pages(tmp_path) == ["README.md"]
    assert readme.read_text(encoding="utf-8") == before
    assert doc_tables.stale_pages(tmp_path, write=True) == ["README.md"]
    assert doc_tables.stale_pages(tmp_path) == []


# --------------------------------------------------------------------------- the heterogeneous round's evidence

EMULATED_HEADER = ("set,point,algorithm,runs,rounds,measured_round_s,noise_pct,predicted_round_s,monte_carlo_round_s,"
                   "error_pct,load_average\n")
#: A small emulated table: development passes both bars; test fedavg is within 10% but not twice its noise.
EMULATED_ROWS = ("development,speeds,fedavg,2,4,2.0,4.0,2.1,2.12,5.0,3.5\n"
                 "development,links,fedavg,2,4,3.0,5.0,2.91,2.95,-3.0,4.0\n"
                 "test,both,fedavg,2,4,2.0,2.0,2.16,2.2,8.0,6.5\n"
                 "test,both,astraea,2,4,5.0,9.0,5.6,5.5,12.0,7.0\n")


def test_the_heterogeneity_page_prints_the_stored_grid_and_validation() -> None:
    from costmodel.contracts.heterogeneity_evidence import load_emulated_validation, load_grid
    from costmodel.report.heterogeneity_tables import emulated_block, grid_block

    page = (ROOT / "docs/heterogeneity.md").read_text(encoding="utf-8")
    assert "docs/heterogeneity.md" in doc_tables.PAGES
    for name, block in (("heterogeneity_grid", grid_block(load_grid())),
                        ("heterogeneity_validation", emulated_block(load_emulated_validation()))):
        assert f"<!-- begin generated: {name} -->\n{block}<!-- end generated: {name} -->" in page


def test_the_grid_summary_by_hand_with_and_without_a_closed_form_quantile(tmp_path) -> None:
    from costmodel.contracts.heterogeneity_evidence import GRID_COLUMNS, load_grid
    from costmodel.report.heterogeneity_tables import grid_block, grid_summary

    grid = load_grid()
    assert set(GRID_COLUMNS) <= set(grid.columns) and grid["classes"].dtype == bool
    summary = grid_summary(grid).set_index(["algorithm", "kind", "links"])
    cells = grid[(grid["algorithm"] == "astraea") & ~grid["classes"] & (grid["link_sigma"] <= 1)]
    row = summary.loc[("astraea", "log-normal", "link sigma <= 1")]
    assert row["cells"] == len(cells)
    assert row["max_round_error"] == cells["relative_error"].abs().max()
    assert row["mean_round_error"] == pytest.approx(cells["relative_error"].abs().mean(), rel=1e-12)
    assert row["max_q95_error"] == pytest.approx(
        (cells["closed_form_q95_seconds"] / cells["monte_carlo_q95_seconds"] - 1).abs().max(), rel=1e-12)
    assert summary["cells"].sum() == len(grid)
    assert "| max q95 error |" in grid_block(grid)
    older = grid.drop(columns=[c for c in grid.columns if "q95_relative" in c or c == "closed_form_q95_seconds"])
    path = tmp_path / "grid.csv"
    older.to_csv(path, index=False)
    assert "max_q95_error" not in grid_summary(load_grid(path)).columns and "q95" not in grid_block(load_grid(path))
    shifted = grid.assign(closed_form_q95_seconds=grid["monte_carlo_q95_seconds"] * 1.02)
    shifted = shifted.drop(columns=[c for c in shifted.columns if "q95_relative" in c])
    shifted.to_csv(path, index=False)
    assert grid_summary(load_grid(path))["max_q95_error"].to_numpy() == pytest.approx(0.02)
    assert "| 2.0% |" in grid_block(load_grid(path))


def test_the_emulated_block_by_hand_and_when_absent(tmp_path) -> None:
    from costmodel.contracts.heterogeneity_evidence import load_emulated_validation
    from costmodel.report.heterogeneity_tables import emulated_block, emulated_summary

    path = tmp_path / "emulated.csv"
    path.write_text(EMULATED_HEADER + EMULATED_ROWS)
    runs = load_emulated_validation(path)
    summary = emulated_summary(runs)
    assert summary[["set", "algorithm", "points"]].values.tolist() == [["development", "fedavg", 2],
                                                                       ["test", "fedavg", 1], ["test", "astraea", 1]]
    assert summary["mape_percent"].tolist() == [4.0, 8.0, 12.0]           # mean |error|: (5 + 3)/2, 8, 12
    assert summary["verdict"].tolist() == ["pass", "fail", "fail"]       # 8 > 2*2 noise; 12 > 10
    text = emulated_block(runs)
    assert "| development | fedavg | 2 | 4.0 | 5.0 | 4.5 | 2/2 | pass |" in text
    assert "| test | fedavg | 1 | 8.0 | 8.0 | 2.0 | 0/1 | fail |" in text
    assert "| test | both | astraea | 2 × 4 | 5.000 s | 9.0 | 5.600 s | 5.500 s | +12.0 |" in text
    assert "load average was 3.5..7.0" in text
    assert emulated_block(None).startswith("Not measured yet")


@pytest.mark.parametrize(("content", "message"), [
    (EMULATED_HEADER.replace(",load_average", "") + "x\n", "must have the columns set, point"),
    (EMULATED_HEADER + EMULATED_ROWS.replace("2.0,4.0", "fast,4.0", 1), "line 2, measured_round_s' must be a number "
                                                                       "(got 'fast')"),
    (EMULATED_HEADER + "trial" + EMULATED_ROWS[len("development"):], "line 2, set' must be development or test"),
    (EMULATED_HEADER, "must hold at least one row after its header"),
])
def test_a_bad_stored_table_is_one_line_naming_line_and_column(tmp_path, content, message) -> None:
    from costmodel.contracts.heterogeneity_evidence import load_emulated_validation

    path = tmp_path / "emulated.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        load_emulated_validation(path)
    assert "\n" not in str(caught.value)
