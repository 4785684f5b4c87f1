"""The measured heterogeneity validation's design: grouping strata and their weights, the runs that realize
them, the standard errors, the repetitions (interleaved passes, their mean and spread, the reused first one),
the stored table's schema and sets, and the one-line refusal without root.
Nothing here runs a distributed run (the measurement itself needs root and minutes)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import calibration.heterogeneous_validation as hv
from calibration.heterogeneous_validation import (
    CSV_COLUMNS,
    DEFAULT_OUT,
    DEFAULT_RUNS_OUT,
    MAX_STRATA,
    RUN_COLUMNS,
    SAMPLED_RUNS,
    Repetition,
    bar_summary,
    combine_repeats,
    combine_runs,
    development_points,
    grouping_strata,
    interleaved_passes,
    plan_runs,
    store,
    stored_repetition,
    test_points as frozen_test_points,
)
from costmodel.errors import InputError
from reference_impl.network.cpu_throttle import JOIN_ENV, MIN_SPEED, join_from_env
from reference_impl.workload import plan_workload

FAST, SLOW = (0.5, 2e7, 8e7), (0.1, 3e6, 1.2e7)


def _weights(devices, sizes) -> dict[tuple, float]:
    return {s.key: s.weight for s in grouping_strata(devices, sizes)}


def test_stratum_weights_are_the_hand_derived_probabilities_of_a_random_grouping():
    # two fast of six into two mediators of 3: both fast together in 2*C(4,1) of the C(6,3) = 20 splits
    weights = _weights((FAST,) * 2 + (SLOW,) * 4, [3, 3])
    together = ((FAST, FAST, SLOW), (SLOW, SLOW, SLOW))
    assert sorted(weights.values()) == pytest.approx([0.4, 0.6])
    assert weights[tuple(sorted(tuple(sorted(g)) for g in together))] == pytest.approx(0.4)
    # three and three: all fast together in 2 of 20 splits
    assert sorted(_weights((FAST,) * 3 + (SLOW,) * 3, [3, 3]).values()) == pytest.approx([0.1, 0.9])
    # pairs: slow device 1's partner is slow device 2 with probability 1/5
    assert sorted(_weights((SLOW,) * 2 + (FAST,) * 4, [2, 2, 2]).values()) == pytest.approx([0.2, 0.8])
    # six distinct devices: C(6,3)/2 = 10 equally likely groupings
    distinct = tuple((s, 1e7, 4e7) for s in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4))
    assert list(_weights(distinct, [3, 3]).values()) == pytest.approx([0.1] * 10)
    with pytest.raises(InputError, match=r"^'sizes' must sum to the number of devices \(6\)"):
        grouping_strata(distinct, [3, 2])


def _realized(point, run) -> tuple:
    mediators = [[int(k) for k in m] for m in plan_workload(point.config).rounds[0].mediators]
    return tuple(sorted(tuple(sorted(run.devices[k] for k in m)) for m in mediators))


@pytest.mark.parametrize("point", [p for p in development_points() + frozen_test_points()
                                   if p.config.algorithm == "astraea"], ids=lambda p: f"{p.set}-{p.name}")
def test_each_astraea_run_realizes_its_grouping_on_the_runs_label_mediators(point):
    runs = plan_runs(point)
    strata = grouping_strata(point.devices, [len(m) for m in plan_workload(point.config).rounds[0].mediators])
    for run in runs:
        assert Counter(run.devices) == Counter(point.devices)          # an assignment: the same devices
        assert _realized(point, run) == run.grouping                 # the label grouping puts these together
    assert math.fsum(r.weight for r in runs) == pytest.approx(1.0)
    if len(strata) <= MAX_STRATA:
        assert not runs[0].sampled
        assert {r.grouping: r.weight for r in runs} == {s.key: pytest.approx(s.weight) for s in strata}
    else:
        assert runs[0].sampled and len(runs) == SAMPLED_RUNS
        assert all(r.weight == pytest.approx(1 / SAMPLED_RUNS) for r in runs)
    assert plan_runs(point) == runs                                   # seeded: the same runs every time


def test_fedavg_is_one_run_of_the_devices_as_given():
    for point in development_points() + frozen_test_points():
        if point.config.algorithm == "fedavg":
            (run,) = plan_runs(point)
            assert run.devices == point.devices and run.weight == 1.0


def test_stratified_and_sampled_standard_errors_match_hand_computation():
    a, b = [4.0, 4.2, 4.1, 4.3], [5.0, 5.2]
    measured, stderr = combine_runs([a, b], [0.6, 0.4])
    assert measured == pytest.approx(0.6 * 4.15 + 0.4 * 5.1)
    assert stderr == pytest.approx(math.sqrt(0.36 * np.var(a, ddof=1) / 4 + 0.16 * np.var(b, ddof=1) / 2))
    runs = [[3.0, 3.2], [4.0, 4.0], [5.0, 5.4]]
    measured, stderr = combine_runs(runs, [1 / 3] * 3, sampled=True)
    assert measured == pytest.approx(np.mean([3.1, 4.0, 5.2]))
    assert stderr == pytest.approx(np.std([3.1, 4.0, 5.2], ddof=1) / math.sqrt(3))
    with pytest.raises(InputError, match=r"^'weights' must sum to 1"):
        combine_runs([a, b], [0.5, 0.4])
    with pytest.raises(InputError, match=r"^'weights' must be 1/R over R >= 2 sampled runs"):
        combine_runs([a], [1.0], sampled=True)


def test_test_points_are_frozen_apart_from_the_development_points_and_meet_the_design_rules():
    dev, test = development_points(), frozen_test_points()
    assert {p.set for p in dev} == {"development"} and {p.set for p in test} == {"test"}
    setting = lambda p: (p.devices, p.config.clients, p.config.gamma, p.config.seed)  # noqa: E731
    assert not {setting(p) for p in dev} & {setting(p) for p in test}
    assert {(p.config.gamma, p.config.clients) for p in test} - {(p.config.gamma, p.config.clients) for p in dev}
    for point in dev + test:
        speeds = [s for s, _, _ in point.devices]
        assert MIN_SPEED <= min(speeds) and sum(speeds) <= 1.5       # quotas below the 2 cores, server's half kept
        assert point.config.clients_per_round == point.config.clients == len(point.devices)
    for name in {p.name for p in test}:
        algorithms = {p.config.algorithm for p in test if p.name == name}
        links = {(u, d) for p in test if p.name == name for _, u, d in p.devices}
        assert algorithms == {"fedavg", "astraea"} and len(links) > 1


def _row(set_name: str, point: str, algorithm: str, measured: float) -> dict:
    return dict(set=set_name, point=point, algorithm=algorithm, runs=1, rounds=4, measured_round_s=measured,
                noise_pct=1.0, predicted_round_s=measured, monte_carlo_round_s=measured, error_pct=0.0,
                load_average=3.0)


def test_store_writes_the_schema_and_replaces_only_the_measured_rows(tmp_path):
    out = tmp_path / "deep" / "emulated_validation.csv"
    store(pd.DataFrame([_row("test", "a", "fedavg", 1.0), _row("development", "b", "astraea", 2.0)]), out)
    first = pd.read_csv(out)
    assert tuple(first.columns) == CSV_COLUMNS
    assert list(first["set"]) == ["development", "test"]           # development rows first
    store(pd.DataFrame([_row("test", "a", "fedavg", 9.0)]), out)
    second = pd.read_csv(out)
    assert len(second) == 2 and list(second["measured_round_s"]) == [2.0, 9.0]
    runs_out = tmp_path / "runs.csv"                                  # counts stay integers through a merge
    store(pd.DataFrame([dict.fromkeys(RUN_COLUMNS, 1.0) | dict(set="test", point="a", algorithm="fedavg")]),
          runs_out, RUN_COLUMNS)
    store(pd.DataFrame([dict.fromkeys(RUN_COLUMNS, 2.0) | dict(set="test", point="b", algorithm="fedavg")]),
          runs_out, RUN_COLUMNS)
    lines = runs_out.read_text().splitlines()
    assert [line.split(",")[3:5] for line in lines[1:]] == [["1", "1"], ["2", "2"]]    # repeat, run


def test_the_stored_table_has_the_schema_both_sets_and_every_point():
    if not DEFAULT_OUT.exists():
        pytest.skip(f"{DEFAULT_OUT.name} not stored yet")
    table = pd.read_csv(DEFAULT_OUT)
    assert tuple(table.columns) == CSV_COLUMNS
    points = development_points() + frozen_test_points()
    expected = {(p.set, p.name, p.config.algorithm) for p in points}
    assert set(zip(table["set"], table["point"], table["algorithm"])) == expected
    runs = pd.read_csv(DEFAULT_RUNS_OUT)
    assert tuple(runs.columns) == RUN_COLUMNS
    for point in points:                                              # every planned run, weights summing to 1
        mine = runs[(runs["set"] == point.set) & (runs["point"] == point.name)
                    & (runs["algorithm"] == point.config.algorithm)]
        row = table[(table["set"] == point.set) & (table["point"] == point.name)
                    & (table["algorithm"] == point.config.algorithm)].iloc[0]
        repeats = sorted(mine["repeat"].unique())
        assert repeats == list(range(len(repeats)))                     # repetitions 0..R-1, none missing
        assert len(mine) == row["runs"] == len(repeats) * len(plan_runs(point))
        estimates = []
        for _, one in mine.groupby("repeat"):
            assert one["weight"].sum() == pytest.approx(1.0, abs=1e-3)
            estimates.append((one["weight"] * one["measured_round_s"]).sum())
        assert row["measured_round_s"] == pytest.approx(np.mean(estimates), rel=1e-3)
        if len(estimates) > 1:                                         # noise: the spread of one repetition
            assert row["noise_pct"] == pytest.approx(100 * np.std(estimates, ddof=1) / np.mean(estimates), rel=1e-2)


def test_without_root_the_validation_refuses_in_one_line_with_status_2(monkeypatch, capsys):
    monkeypatch.setattr(hv, "cpu_throttle_available", lambda: (False, "throttling devices needs root (uid 1000)"))
    assert hv.main(["--set", "test"]) == 2
    err = capsys.readouterr().err
    assert err == ("python -m calibration.heterogeneous_validation: error: throttling devices needs root "
                   "(uid 1000).\n")


def test_a_worker_joins_the_cgroup_named_in_its_environment_once(monkeypatch, tmp_path):
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    monkeypatch.delenv(JOIN_ENV, raising=False)
    assert join_from_env() is False and procs.read_text() == ""
    monkeypatch.setenv(JOIN_ENV, str(procs))
    assert join_from_env() is True
    assert procs.read_text().strip() == str(__import__("os").getpid())
    assert join_from_env() is False                                  # once: the variable is consumed


def test_the_bar_needs_mape_within_10_percent_and_every_point_within_twice_its_noise():
    rows = [_row("test", "a", "fedavg", 1.0) | dict(error_pct=-3.0, noise_pct=2.0, monte_carlo_round_s=1.05),
            _row("test", "b", "fedavg", 1.0) | dict(error_pct=5.0, noise_pct=3.0, monte_carlo_round_s=0.95),
            _row("test", "a", "astraea", 1.0) | dict(error_pct=4.0, noise_pct=1.0)]
    assert bar_summary(pd.DataFrame(rows)) == [
        "test fedavg: MAPE 4.0% over 2 points (Monte Carlo 5.0%); 2/2 within twice the noise; meets the bar "
        "(MAPE <= 10%, all within 2x noise)",
        "test astraea: MAPE 4.0% over 1 points (Monte Carlo 0.0%); 0/1 within twice the noise; fails the bar "
        "(MAPE <= 10%, all within 2x noise)"]


def _repetition(measured, predicted, load=4.0, runs=2) -> Repetition:
    return Repetition(measured_round_s=measured, round_se_s=0.01, predicted_round_s=predicted,
                      monte_carlo_round_s=predicted + 0.1, runs=runs, rounds=4 * runs, load_average=load)


def test_repetitions_combine_into_their_mean_and_the_relative_sample_sd_of_one_repetition():
    point = next(p for p in frozen_test_points() if p.config.algorithm == "astraea")
    reps = [_repetition(2.0, 2.1, 3.0), _repetition(2.2, 2.0, 5.0), _repetition(2.3, 2.2, 7.0)]
    row = combine_repeats(point, reps)
    assert tuple(row) == CSV_COLUMNS
    assert row["measured_round_s"] == pytest.approx(6.5 / 3)                      # (2.0 + 2.2 + 2.3)/3
    assert row["predicted_round_s"] == pytest.approx(2.1)
    assert row["monte_carlo_round_s"] == pytest.approx(2.2)
    # sd of (2.0, 2.2, 2.3) with ddof=1: deviations -1/6, 1/30, 4/30 -> sqrt((25 + 1 + 16)/900/2) = sqrt(7/300)
    assert row["noise_pct"] == pytest.approx(100 * math.sqrt(7 / 300) / (6.5 / 3))
    assert row["error_pct"] == pytest.approx(100 * (2.1 - 6.5 / 3) / (6.5 / 3))
    assert (row["runs"], row["rounds"], row["load_average"]) == (6, 24, pytest.approx(5.0))
    assert math.isnan(combine_repeats(point, reps[:1])["noise_pct"])       # one repetition has no spread
    with pytest.raises(InputError, match=r"^'repetitions' must hold at least one repetition"):
        combine_repeats(point, [])


def test_passes_interleave_every_point_before_the_next_repetition():
    a, b, c = frozen_test_points()[:3]
    assert interleaved_passes([a, b, c], 2) == [(0, a), (0, b), (0, c), (1, a), (1, b), (1, c)]
    assert interleaved_passes([a, b], 3, first=1) == [(1, a), (1, b), (2, a), (2, b)]
    with pytest.raises(InputError, match=r"^'repeats' must be at least 1"):
        interleaved_passes([a], 0)


def test_the_validation_measures_the_later_passes_interleaved_after_a_reused_first_one(monkeypatch):
    points = frozen_test_points()[:2]
    calls = []

    def fake_measure(point, calibration, *, repeat, timeout_s, monte_carlo):
        calls.append((repeat, point.label))
        return _repetition(1.0 + repeat, 1.5, runs=1), [dict(set=point.set, point=point.name,
                                                             algorithm=point.config.algorithm, repeat=repeat, run=0)]

    monkeypatch.setattr(hv, "measure_point", fake_measure)
    reused = {f"{p.set} {p.label}": (_repetition(1.0, 1.5, runs=1), []) for p in points}
    table, runs = hv.validate_heterogeneous(None, points, repeats=3, reused=reused)
    assert calls == [(1, points[0].label), (1, points[1].label), (2, points[0].label), (2, points[1].label)]
    assert tuple(table.columns) == CSV_COLUMNS and tuple(runs.columns) == RUN_COLUMNS
    assert list(table["measured_round_s"]) == pytest.approx([2.0, 2.0])               # mean of 1, 2, 3
    assert list(table["noise_pct"]) == pytest.approx([50.0, 50.0])                    # sd 1 over mean 2
    with pytest.raises(InputError, match=r"^'reused' must hold repetition 0 of every measured point"):
        hv.validate_heterogeneous(None, points, repeats=3, reused=dict(list(reused.items())[:1]))


def test_a_stored_single_repetition_is_reused_only_when_it_is_the_planned_design(tmp_path):
    point = next(p for p in frozen_test_points() if p.name == "four" and p.config.algorithm == "astraea")
    planned = plan_runs(point)
    runs = pd.DataFrame([dict(set="test", point="four", algorithm="astraea", run=k, weight=r.weight,
                              measured_round_s=2.0 + k, round_sd_pct=1.0) for k, r in enumerate(planned)])
    measured = float((runs["weight"] * runs["measured_round_s"]).sum())
    table = pd.DataFrame([_row("test", "four", "astraea", measured) | dict(runs=len(planned), rounds=8,
                                                                          noise_pct=0.5, predicted_round_s=2.4)])
    repetition, rows = stored_repetition(point, table, runs)
    assert repetition.measured_round_s == pytest.approx(measured)
    assert repetition.round_se_s == pytest.approx(0.005 * measured)               # the old noise: 100*SE/x
    assert (repetition.predicted_round_s, repetition.runs, repetition.rounds) == (2.4, len(planned), 8)
    assert [(r["repeat"], r["round_se_pct"]) for r in rows] == [(0, 0.5)] * len(planned)
    assert all(set(r) == set(RUN_COLUMNS) for r in rows)
    with pytest.raises(InputError, match=r"^'stored runs' must be the planned runs of test four astraea"):
        stored_repetition(point, table.assign(measured_round_s=measured * 1.1), runs)
    with pytest.raises(InputError, match=r"^'stored table' must hold one single-repetition row"):
        stored_repetition(point, table.assign(runs=3 * len(planned)), runs)
