"""The calibration-file contract: round trip, the embedded default, overrides, and every refusal."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from costmodel.contracts.calibration_file import (
    CALIBRATION_SCHEMA_VERSION,
    NONNEGATIVE_COEFFICIENTS,
    COEFFICIENT_UNITS,
    Calibration,
    default_calibration,
    load_calibration,
    write_calibration,
)
from costmodel.errors import InputError
from fixed_names import COEFFICIENT_NAMES



def _document() -> dict[str, Any]:
    return default_calibration().to_json_dict()


def _write(tmp_path: Path, document: object, *, raw: str | None = None) -> Path:
    path = tmp_path / "cal.json"
    path.write_text(raw if raw is not None else json.dumps(document), encoding="utf-8")
    return path


def test_coefficient_list_is_the_fixed_project_list() -> None:
    assert list(COEFFICIENT_UNITS) == list(COEFFICIENT_NAMES)
    assert CALIBRATION_SCHEMA_VERSION == 8


def test_embedded_default_loads_and_is_complete() -> None:
    calibration = load_calibration()
    assert calibration is default_calibration()
    assert list(calibration.coefficients) == list(COEFFICIENT_NAMES)
    assert all(math.isfinite(v) and (v >= 0 if name in NONNEGATIVE_COEFFICIENTS else v > 0)
               for name, v in calibration.coefficients.items())
    assert 0 < calibration.coefficients["link_efficiency"] <= 1
    # A single CPU thread trains somewhere between 1 GFLOP/s and 1 TFLOP/s; anything else is a unit slip.
    assert 1e9 < calibration.coefficients["flops_per_s"] < 1e12
    assert "astraea-cost calibrate" in calibration.source
    # the shipped default is a fitted calibration with its held-out validation table
    assert calibration.fit.get("runs", 0) > 0 and len(calibration.validation) > 0
    assert set(calibration.machine) >= {"cpu", "threads", "torch_version", "python", "platform"}


def test_embedded_default_file_is_itself_valid_json_with_schema() -> None:
    text = (Path(__file__).parents[2] / "costmodel" / "data" / "default_calibration.json").read_text()
    document = json.loads(text)
    assert document["schema_version"] == 8
    assert {entry["unit"] for entry in document["coefficients"].values()} <= set(COEFFICIENT_UNITS.values())


def test_write_then_load_round_trips_exactly(tmp_path: Path) -> None:
    original = default_calibration().with_overrides(latency_s=0.02)
    path = write_calibration(tmp_path / "c.json", original)
    loaded = load_calibration(path)
    assert loaded == original
    assert loaded.to_json_dict() == original.to_json_dict()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".c.json.*"))


def test_calibration_is_immutable() -> None:
    calibration = default_calibration()
    with pytest.raises(TypeError):
        calibration.coefficients["latency_s"] = 5.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        calibration.source = "x"  # type: ignore[misc]


def test_with_overrides_returns_new_calibration_and_marks_the_override() -> None:
    base = default_calibration()
    latency_before = base.coefficients["latency_s"]
    changed = base.with_overrides(latency_s=0.05, link_efficiency=0.5)
    assert changed is not base
    assert changed.coefficients["latency_s"] == 0.05
    assert changed.coefficients["link_efficiency"] == 0.5
    assert changed.stderr["latency_s"] is None and changed.fitted_from["latency_s"] == "override"
    assert changed.coefficients["flops_per_s"] == base.coefficients["flops_per_s"]
    assert base.coefficients["latency_s"] == latency_before  # the base is untouched
    assert "latency_s=0.05" in changed.source
    assert base.with_overrides() is base


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"warp_speed": 1.0}, "'warp_speed' must be a coefficient name, one of flops_per_s, "),
        ({"latency_s": -1.0}, "'latency_s' must be >= 0 (got -1.0)."),
        ({"message_s": -1e-6}, "'message_s' must be >= 0 (got -1e-06)."),
        ({"kl_s_per_evaluation": 0}, "'kl_s_per_evaluation' must be > 0 (got 0)."),
        ({"flops_per_s": 0.0}, "'flops_per_s' must be >= 1000 FLOP/s (got 0.0)."),
        ({"link_efficiency": 1.5}, "'link_efficiency' must be <= 1 (got 1.5)."),
        ({"link_efficiency": 0}, "'link_efficiency' must be > 0 (got 0)."),
        ({"latency_s": "fast"}, "'latency_s' must be a number (got 'fast')."),
        ({"latency_s": math.inf}, "'latency_s' must be finite (got inf)."),
    ],
)
def test_with_overrides_refuses_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as error:
        default_calibration().with_overrides(**overrides)  # type: ignore[arg-type]
    assert str(error.value).startswith(message)


def test_constructor_requires_every_coefficient() -> None:
    values = dict(default_calibration().coefficients)
    del values["kl_s_per_evaluation"]
    with pytest.raises(InputError, match="missing: kl_s_per_evaluation"):
        Calibration(coefficients=values)


def _mutate(document: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("schema_version",), 1, "must have schema_version 8 (got 1)."),
        (("schema_version",), _DELETE, "must have schema_version 8 (got None)."),
        (("coefficients", "kl_s_per_evaluation"), _DELETE, "lacks coefficient kl_s_per_evaluation."),
        (("coefficients", "warp"), {"value": 1.0, "unit": "s"}, "has unknown coefficient warp."),
        (("coefficients", "latency_s", "value"), -0.001, "must give latency_s a value >= 0 (got -0.001)."),
        (("coefficients", "latency_s", "value"), "1 ms", "must give latency_s a finite numeric value (got '1 ms')."),
        (("coefficients", "latency_s", "value"), True, "must give latency_s a finite numeric value (got True)."),
        (("coefficients", "flops_per_s", "value"), 0, "must give flops_per_s a value >= 1000 FLOP/s (got 0)."),
        (("coefficients", "link_efficiency", "value"), 2, "must give link_efficiency a value <= 1 (got 2)."),
        (("coefficients", "latency_s", "unit"), "ms", "must give latency_s in unit 's' (got 'ms')."),
        (("coefficients", "latency_s", "stderr"), -1, "must give latency_s a stderr that is null or a finite number"),
        (("coefficients", "latency_s"), 0.001, "must give coefficient latency_s as {\"value\": ..., \"unit\": ...}"),
        (("machine", "torch_version"), _DELETE, "must describe the machine; 'machine' lacks torch_version."),
        (("machine", "speed_probe_s"), -0.01, "must have a positive finite 'machine.speed_probe_s' or none (got -0.01)."),
        (("machine", "speed_probe_s"), "fast", "must have a positive finite 'machine.speed_probe_s' or none (got 'fast')."),
        (("fit", "runs"), -1, "must give fit.runs as an integer >= 0 (got -1)."),
        (("fit", "r2"), {"local_training": "high"}, "must give fit.r2 as an object of numbers"),
        (("validation",), [{"phase": "aggregation"}], "must give validation row 0 the fields phase, mape_percent"),
        (("created",), 20250101, "must have a text 'created' (got 20250101)."),
    ],
)
def test_malformed_files_give_one_line_naming_file_and_problem(
        tmp_path: Path, path: tuple[str, ...], value: object, problem: str) -> None:
    file = _write(tmp_path, _mutate(_document(), path, value))
    with pytest.raises(InputError) as error:
        load_calibration(file)
    message = str(error.value)
    assert message.startswith(f"calibration file '{file}' {problem}")
    assert "\n" not in message


def test_validation_rows_are_read(tmp_path: Path) -> None:
    row = {"phase": "local_training", "mape_percent": 4.2, "max_ape_percent": 9.0, "noise_percent": 3.1, "n": 12}
    file = _write(tmp_path, _mutate(_document(), ("validation",), [row]))
    loaded = load_calibration(file)
    assert loaded.validation == (row,)
    assert "local_training" in loaded.report() and "MAPE 4.2%" in loaded.report()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2."),
        ("[1, 2]", "must hold a JSON object."),
        ('{"schema_version": NaN}', "must not contain NaN (JSON has no such number)."),
    ],
)
def test_not_json(tmp_path: Path, raw: str, problem: str) -> None:
    file = _write(tmp_path, None, raw=raw)
    with pytest.raises(InputError) as error:
        load_calibration(file)
    assert str(error.value) == f"calibration file '{file}' {problem}"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InputError, match=r"^calibration file '.*nope\.json' must be readable \(No such file"):
        load_calibration(missing)


def test_write_into_missing_folder_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a file in an existing folder"):
        write_calibration(tmp_path / "absent" / "c.json", default_calibration())
    assert not (tmp_path / "absent").exists()


def test_write_keeps_previous_file_when_serialisation_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "c.json"
    target.write_text("previous")
    calibration = default_calibration()

    def broken(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr("costmodel.files.Path.write_bytes", broken)
    with pytest.raises(OSError):
        write_calibration(target, calibration)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


def test_report_lists_every_coefficient_with_unit() -> None:
    report = default_calibration().report()
    for name, unit in COEFFICIENT_UNITS.items():
        line = next(line for line in report.splitlines() if line.strip().startswith(name + " "))
        if unit != "1":
            assert unit in line
    assert "R^2" in report


def test_contract_matches_the_model_coefficients() -> None:
    from costmodel.model.quantities import COEFFICIENTS, check_coefficients

    assert list(COEFFICIENTS) == list(COEFFICIENT_UNITS)
    assert {name: q.unit for name, q in COEFFICIENTS.items()} == dict(COEFFICIENT_UNITS)
    # Whatever the file contract accepts, the model accepts too.
    check_coefficients(default_calibration().coefficients)
