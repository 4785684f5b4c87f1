"""calibrate --quick: a calibration rescaled by this machine's probed speed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from costmodel import cli
from calibration.quick import quick_calibration
from costmodel.contracts.calibration_file import load_calibration
from costmodel.contracts.coefficients import DEVICE_RATE_COEFFICIENTS, DEVICE_SECONDS_COEFFICIENTS
from costmodel.errors import InputError


def _base(probe_s=0.010):
    base = load_calibration(None)
    return replace(base, machine=dict(base.machine, speed_probe_s=probe_s))


def test_the_median_probe_sets_the_factor_and_only_device_compute_scales():
    base = _base(0.010)
    waits = []
    times = iter([0.0125, 0.0126, 0.0124, 0.030, 0.0125])     # one slow episode: the median ignores it
    quick, report = quick_calibration(base, probes=5, spacing_s=0.5, probe=lambda: next(times), sleep=waits.append)
    assert waits == [0.5] * 4
    assert report["factor"] == pytest.approx(0.010 / 0.0125)
    assert report["probe"]["median_s"] == pytest.approx(0.0125) and report["probe"]["max_s"] == 0.030
    for name in DEVICE_SECONDS_COEFFICIENTS:          # 25% slower machine: every device second 1.25x
        assert quick.coefficients[name] == pytest.approx(1.25 * base.coefficients[name]), name
    for name in DEVICE_RATE_COEFFICIENTS:
        assert quick.coefficients[name] == pytest.approx(base.coefficients[name] / 1.25), name
    unscaled = set(base.coefficients) - {*DEVICE_SECONDS_COEFFICIENTS, *DEVICE_RATE_COEFFICIENTS}
    assert {"aggregate_s_per_param", "latency_s", "train_time_cv"} <= unscaled
    assert all(quick.coefficients[name] == base.coefficients[name] for name in unscaled)
    assert quick.machine["speed_probe_s"] == pytest.approx(0.0125)
    assert quick.validation == () and "rescaled by 0.8" in quick.source


def test_a_base_without_a_probe_is_refused():
    base = load_calibration(None)
    bare = replace(base, machine={k: v for k, v in base.machine.items() if k != "speed_probe_s"})
    with pytest.raises(InputError, match="'base' must record its machine's speed probe"):
        quick_calibration(bare, probes=1, probe=lambda: 0.01)


def test_the_command_writes_a_loadable_calibration(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("calibration.quick.probe_seconds", lambda: 0.020)
    monkeypatch.setattr("calibration.quick.time.sleep", lambda s: None)
    monkeypatch.setattr("calibration.quick.QUICK_PROBES", 3)
    out = tmp_path / "quick.json"
    base = load_calibration(None)
    assert cli.main(["calibrate", "--quick", "--out", str(out)]) == 0
    written = load_calibration(out)
    factor = base.machine["speed_probe_s"] / 0.020
    assert written.coefficients["step_overhead_s"] == pytest.approx(base.coefficients["step_overhead_s"] / factor)
    assert written.coefficients["train_s_per_conv_call"] == pytest.approx(
        base.coefficients["train_s_per_conv_call"] / factor)
    assert base.profile_minutes is not None and written.profile_minutes is None   # no profile was run here
    assert "rescaled by" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [(["--embed"], "'embed' must not be given with --quick"),
                                            (["--base", "x.json"], "'base' must be given only with --quick")])
def test_bad_combinations_are_one_line(extra, message, tmp_path, capsys):
    arguments = ["calibrate", "--out", str(tmp_path / "c.json"), *extra]
    if extra[0] == "--embed":
        arguments.append("--quick")
    assert cli.main(arguments) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "c.json").exists()
