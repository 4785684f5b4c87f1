"""The measurement protocol: interleaved shuffled rounds, per-configuration per-event medians, measured noise."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from calibration.fit import fit_calibration
from calibration.protocol import (
    interleaved_order,
    measured_noise,
    median_events,
    noise_lines,
    read_protocol_report,
    speed_distribution,
    write_protocol_report,
)
from calibration.sweep import SweepDesign, load_runs, run_sweep
from costmodel.errors import InputError
from reference_impl.config import RunConfig
from test_sweep import TINY


def test_each_round_runs_every_configuration_once_in_its_own_seeded_order():
    configs = list("abcdefgh")
    order = interleaved_order(configs, [3] * 8, seed=7)
    rounds = [[c for c, r in order if r == k] for k in range(3)]
    assert [r for _, r in order] == [0] * 8 + [1] * 8 + [2] * 8          # round by round
    assert all(sorted(round_) == configs for round_ in rounds)            # each configuration once per round
    assert len({tuple(round_) for round_ in rounds}) == 3                  # a new order every round
    assert order == interleaved_order(configs, [3] * 8, seed=7)           # reproducible
    assert order != interleaved_order(configs, [3] * 8, seed=8)
    # configurations with fewer repetitions drop out of the later rounds
    short = interleaved_order(["x", "y"], [1, 3], seed=0)
    assert [c for c, r in short if r > 0] == ["y", "y"] and len(short) == 4


def test_interleaved_order_needs_one_count_per_configuration():
    with pytest.raises(InputError, match="'repetitions' must have one entry per config"):
        interleaved_order(["a", "b"], [1])


def _trace(durations_by_run: dict[str, list[float]], config_of: dict[str, str]) -> pd.DataFrame:
    rows = []
    for run, durations in durations_by_run.items():
        for i, d in enumerate(durations):
            # two events share round, phase and entity: they are told apart by their order in the run
            rows.append(dict(run_id=run, config_key=config_of[run], round=0, phase="local_training",
                             entity=f"client:{i // 2}", duration_s=d, samples=10 * (i + 1)))
    return pd.DataFrame(rows)


def test_median_events_keeps_one_run_per_configuration_with_each_events_median():
    trace = _trace({"r0": [1.0, 2.0, 3.0, 4.0], "r1": [1.2, 2.6, 2.0, 4.4], "r2": [5.0, 2.2, 3.1, 4.1],
                    "s0": [7.0, 8.0]},
                   {"r0": "A", "r1": "A", "r2": "A", "s0": "B"})
    probe = pd.DataFrame([dict(run_id="probe", config_key=np.nan, round=0, phase="rescheduling", entity="server",
                               duration_s=0.5, samples=3)])
    medians = median_events(pd.concat([trace, probe], ignore_index=True))
    a = medians[medians["config_key"] == "A"]
    assert list(a["run_id"]) == ["r0"] * 4                       # the first run's rows
    assert list(a["duration_s"]) == [1.2, 2.2, 3.0, 4.1]         # medians over the three repetitions
    assert list(a["samples"]) == [10, 20, 30, 40]                # counts as measured
    b = medians[medians["config_key"] == "B"]
    assert list(b["duration_s"]) == [7.0, 8.0]                   # a single run stays as it is
    assert list(medians.loc[medians["config_key"].isna(), "duration_s"]) == [0.5]   # probe rows pass through
    assert len(medians) == 7


def test_measured_noise_is_the_cv_across_repetitions_and_the_speed_by_round():
    trace = _trace({"r0": [1.0, 1.0], "r1": [1.1, 1.1], "r2": [0.9, 0.9], "s0": [2.0, 2.0], "s1": [2.2, 2.2],
                    "s2": [2.0, 2.0]}, {"r0": "A", "r1": "A", "r2": "A", "s0": "B", "s1": "B", "s2": "B"})
    runs = pd.DataFrame(dict(run_id=["r0", "r1", "r2", "s0", "s1", "s2"], config_key=list("AAABBB"),
                             repetition=[0, 1, 2, 0, 1, 2]))
    noise = measured_noise(trace, runs)
    cv_a = np.std([1.0, 1.1, 0.9], ddof=1) / 1.0
    cv_b = np.std([2.0, 2.2, 2.0], ddof=1) / np.mean([2.0, 2.2, 2.0])
    assert noise["configurations"] == 2
    assert noise["visit_cv_median"] == pytest.approx((cv_a + cv_b) / 2)
    # round 1 ran 10% slow for both configurations; round 2: A 10% fast, B at its median
    assert noise["round_speed"] == pytest.approx([1.0, 1.1, math.sqrt(0.9 * 1.0)])    # geometric means
    lines = noise_lines(noise, speed_distribution([0.010, 0.011, 0.012]))
    assert lines[0].startswith(f"run-to-run noise of a visit: CV {100 * noise['visit_cv_median']:.1f}% median")
    assert "1.100" in lines[1] and "median 11.00" in lines[2]


def test_speed_distribution_reports_quantiles_and_spread():
    dist = speed_distribution([0.010, 0.011, 0.012, 0.013, 0.020, float("nan"), -1.0])
    assert dist["count"] == 5 and dist["min_s"] == 0.010 and dist["max_s"] == 0.020
    assert dist["median_s"] == pytest.approx(0.012)
    assert dist["cv"] == pytest.approx(np.std([0.010, 0.011, 0.012, 0.013, 0.020], ddof=1) / 0.0132)
    assert math.isnan(speed_distribution([])["median_s"])


def test_protocol_report_round_trips(tmp_path):
    write_protocol_report(tmp_path, {"noise": {"visit_cv_median": 0.03}})
    assert read_protocol_report(tmp_path) == {"noise": {"visit_cv_median": 0.03}}
    assert read_protocol_report(tmp_path / "nowhere") is None


def test_the_fit_sees_the_medians_of_real_repetitions(tmp_path):
    """Repetitions of one configuration produce the same events, so the medians line up with one run's rows."""
    config = RunConfig(algorithm="fedavg", **TINY)
    run_sweep(SweepDesign(configs=(config,), repetitions=(3,), name="tiny"), tmp_path, progress=False,
              probe_every=None)
    trace, runs = load_runs(tmp_path)
    per_run = trace.groupby("run_id").size()
    assert per_run.nunique() == 1                        # same events in every repetition
    medians = median_events(trace)
    assert len(medians) == per_run.iloc[0] and medians["run_id"].nunique() == 1
    counts = ["phase", "entity", "samples", "steps", "flops", "bytes"]
    first = trace[trace["run_id"] == medians["run_id"].iloc[0]]
    assert medians[counts].reset_index(drop=True).equals(first[counts].reset_index(drop=True))
    by_event = np.stack([trace[trace["run_id"] == r]["duration_s"].to_numpy() for r in runs["run_id"]])
    assert np.allclose(medians["duration_s"].to_numpy(), np.median(by_event, axis=0))
    assert json.loads(json.dumps(measured_noise(trace, runs)))["configurations"] == 1


def test_fit_calibration_fits_medians_unless_told_not_to():
    from test_fit import FIXED, TRUE, synthetic_trace

    # twelve configurations, each run twice: the second repetition took 30% longer in every event.
    # The median of two is their mean: a fit on medians sees every event 1.15x the statement's time.
    first = synthetic_trace(runs=24)
    first = first[first["run_id"].isin([f"run{r}" for r in range(0, 24, 2)])]
    second = first.assign(run_id=first["run_id"] + "b", duration_s=1.3 * first["duration_s"])
    trace = pd.concat([first, second], ignore_index=True)
    fitted = fit_calibration(trace, bootstrap=0)
    raw = fit_calibration(trace, bootstrap=0, medians=False)
    assert fitted.runs == raw.runs == 24
    visits = int((trace["phase"] == "local_training").sum())
    assert raw.groups["local_training"].rows == visits and raw.groups["local_training"].runs == 24
    assert fitted.groups["local_training"].rows == visits // 2 and fitted.groups["local_training"].runs == 12
    for name, value in TRUE.items():
        expected = value / 1.15 if name == "flops_per_s" else value * 1.15
        assert fitted.coefficients[name] == pytest.approx(expected, rel=1e-6), name
    assert fitted.fixed_s["augmentation"] == pytest.approx(1.15 * FIXED["augmentation"], rel=1e-5)
    # the runs as they are: a mixture the fit cannot match exactly (residuals of +-13%)
    assert raw.groups["local_training"].residual_rms > 0.1 > fitted.groups["local_training"].residual_rms
