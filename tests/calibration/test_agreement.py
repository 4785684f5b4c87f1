"""Two calibrations of one machine compared: the table behind docs/limits.md's agreement block."""

from __future__ import annotations

import pytest

from calibration.agreement import AGREEMENT_COLUMNS, agreement_frame, main
from costmodel.contracts.calibration_file import default_calibration
from costmodel.report.agreement_tables import agreement_block, load_agreement


def test_a_calibration_agrees_with_itself_exactly():
    default = default_calibration()
    frame = agreement_frame([("same", "a", default, "b", default)])
    assert list(frame.columns) == list(AGREEMENT_COLUMNS)
    assert len(frame) == 2 * 2 * 2  # presets x links x algorithms
    assert (frame["difference_pct"] == 0.0).all()


def test_a_device_half_as_fast_doubles_the_compute_only_training_share():
    default = default_calibration()
    slow = default.with_device_speed(0.5)
    frame = agreement_frame([("slow", "a", default, "b", slow)])
    compute = frame[frame["links"] == "compute only"]
    preset = frame[frame["links"] == "preset"]
    # compute-only rounds are mostly device compute: they grow by far more than the link-bound presets' rounds
    assert (compute["difference_pct"] > 40.0).all() and (compute["difference_pct"] <= 100.0 + 1e-9).all()
    assert compute["difference_pct"].min() > preset["difference_pct"].max()
    block = agreement_block(frame)
    assert f"{compute['difference_pct'].abs().max():.1f}" in block
    assert f"{preset['difference_pct'].abs().max():.1f}" in block


def test_the_stored_table_renders_and_a_missing_one_says_so(tmp_path):
    stored = load_agreement()
    assert stored is not None and set(stored["comparison"]) >= {"back-to-back", "quick-vs-full"}
    assert "| back-to-back |" in agreement_block(stored)
    assert agreement_block(load_agreement(tmp_path / "absent.csv")).startswith("Not measured yet")


def test_a_bad_calibration_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--pair", "x", str(bad), str(bad)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err


def test_storing_a_pair_keeps_the_other_stored_pairs_and_replaces_its_own(tmp_path, monkeypatch):
    import calibration.agreement as agreement

    default = default_calibration()
    first = agreement_frame([("one", "a", default, "b", default)])
    second = agreement_frame([("two", "a", default, "b", default.with_device_speed(0.5))])
    monkeypatch.setattr(agreement, "STORED", tmp_path / "agreement.csv")
    assert agreement.merged_with_stored(first).equals(first)          # nothing stored yet
    first.to_csv(agreement.STORED, index=False)
    merged = agreement.merged_with_stored(second)
    assert list(merged["comparison"].unique()) == ["one", "two"] and len(merged) == 16
    merged.to_csv(agreement.STORED, index=False)
    again = agreement.merged_with_stored(second.assign(difference_pct=1.0))   # the same pair measured again
    assert len(again) == 16 and (again.loc[again["comparison"] == "two", "difference_pct"] == 1.0).all()


def test_a_stored_table_without_its_columns_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    import calibration.agreement as agreement

    broken = tmp_path / "agreement.csv"
    broken.write_text("comparison,first\nx,y\n", encoding="utf-8")
    monkeypatch.setattr(agreement, "STORED", broken)
    default = str(tmp_path / "d.json")
    from costmodel.contracts.calibration_file import write_calibration
    write_calibration(default, default_calibration(), name="out")
    with pytest.raises(SystemExit) as stop:
        main(["--pair", "x", default, default, "--store"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'agreement.csv' must have the columns" in err
    assert broken.read_text(encoding="utf-8") == "comparison,first\nx,y\n"       # left as it was
