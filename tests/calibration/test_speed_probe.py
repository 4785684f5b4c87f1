"""The speed probe and the guard that re-runs runs a slow episode of the host caught."""

from __future__ import annotations

import json
import math

import pytest
import torch

import calibration.sweep as sweep
from calibration.speed_probe import SpeedGuard, probe_seconds, usual_probe_seconds
from calibration.sweep import SweepDesign, disturbed_runs, folder_probe_seconds, load_runs, run_key, run_sweep
from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.engine.trace import RUN_FILE

TINY = dict(dataset="digits", model="scaled", model_width=0.25, clients=4, clients_per_round=2, gamma=2,
            rounds=1, batch_size=32, evaluate=False, threads=1, seed=1)


def test_probe_times_the_reference_workload_and_leaves_the_thread_count_alone():
    threads = torch.get_num_threads()
    seconds = probe_seconds(repeats=2)
    assert 0 < seconds < 5
    assert torch.get_num_threads() == threads


def test_guard_judges_the_slower_probe_against_the_usual_time():
    guard = SpeedGuard(tolerance=0.10)
    assert guard.slowdown([0.011, 0.0125], 0.010) == pytest.approx(0.25)
    assert guard.disturbed([0.0105, 0.0109], 0.010) is False      # 9% slower: within tolerance
    assert guard.disturbed([0.0100, 0.0111], 0.010) is True       # the slower probe decides
    assert guard.disturbed([], 0.010) is False                     # no probes: not judged
    assert math.isnan(guard.slowdown([0.01, float("nan")], 0.010))


@pytest.mark.parametrize("field, value, rule", [("tolerance", 0.0, "> 0"), ("passes", -1, ">= 0"),
                                                 ("pause_s", -1.0, ">= 0")])
def test_guard_refuses_bad_settings(field, value, rule):
    with pytest.raises(InputError, match=f"'{field}' must be {rule}"):
        SpeedGuard(**{field: value})


def _scripted_probes(monkeypatch, values):
    script = iter(values)
    monkeypatch.setattr(sweep, "probe_seconds", lambda: next(script))


def test_a_run_caught_in_a_slow_episode_is_run_again_and_replaced(tmp_path, monkeypatch):
    astraea = RunConfig(algorithm="astraea", **TINY)
    fedavg = RunConfig(algorithm="fedavg", **TINY)
    design = SweepDesign(configs=(astraea, fedavg), repetitions=(1, 1), name="tiny")
    # before/after each run: astraea's run is 40% slow after it ran; its re-run is clean
    _scripted_probes(monkeypatch, [0.010, 0.014, 0.010, 0.0102, 0.0101, 0.0100])
    paths = run_sweep(design, tmp_path, progress=False, guard=SpeedGuard(pause_s=0.0, passes=2))
    probes = [json.loads((p / RUN_FILE).read_text())["summary"]["speed_probe_s"] for p in paths]
    assert probes == [[0.0101, 0.0100], [0.010, 0.0102]]
    assert disturbed_runs(paths) == []
    _, runs = load_runs(tmp_path)
    slowdown = runs.set_index("run_id")["speed_slowdown"]
    assert slowdown[run_key(astraea, 0)] == pytest.approx(0.0101 / 0.0100 - 1)
    assert slowdown[run_key(fedavg, 0)] == pytest.approx(0.0102 / 0.0100 - 1)


def test_a_rerun_that_is_slower_still_keeps_the_first_run(tmp_path, monkeypatch):
    fedavg = RunConfig(algorithm="fedavg", **TINY)
    design = SweepDesign(configs=(fedavg,), repetitions=(2,), name="tiny")
    # the second run is 30% slow; its one re-run is 50% slow: the first measurement stays
    _scripted_probes(monkeypatch, [0.010, 0.010, 0.010, 0.013, 0.015, 0.015])
    paths = run_sweep(design, tmp_path, progress=False, guard=SpeedGuard(pause_s=0.0, passes=1))
    second = json.loads((paths[1] / RUN_FILE).read_text())["summary"]["speed_probe_s"]
    assert second == [0.010, 0.013]
    assert disturbed_runs(paths) == [paths[1]]


def test_without_a_guard_no_probe_runs(tmp_path, monkeypatch):
    def fail():
        raise AssertionError("probed")
    monkeypatch.setattr(sweep, "probe_seconds", fail)
    design = SweepDesign(configs=(RunConfig(algorithm="fedavg", **TINY),), repetitions=(1,), name="tiny")
    (path,) = run_sweep(design, tmp_path, progress=False, guard=None)
    assert "speed_probe_s" not in json.loads((path / RUN_FILE).read_text())["summary"]
    _, runs = load_runs(tmp_path)
    assert runs["speed_slowdown"].isna().all()


def test_the_usual_speed_is_the_lower_quartile_of_the_probes():
    probes = [0.0097, 0.0104, 0.0105, 0.0109, 0.0110, 0.0150, float("nan"), 0.0]
    assert usual_probe_seconds(probes) == pytest.approx(0.0104 + 0.25 * (0.0105 - 0.0104))
    assert math.isnan(usual_probe_seconds([]))


def test_a_reference_speed_judges_runs_against_the_calibration_not_their_own_batch(tmp_path, monkeypatch):
    fedavg = RunConfig(algorithm="fedavg", **TINY)
    design = SweepDesign(configs=(fedavg,), repetitions=(2,), name="tiny")
    # both runs equally slow: among themselves nothing stands out, against the calibration's 10 ms both do
    _scripted_probes(monkeypatch, [0.0125, 0.0125, 0.0125, 0.0125])
    paths = run_sweep(design, tmp_path, progress=False, guard=SpeedGuard(pause_s=0.0, passes=0))
    assert disturbed_runs(paths) == []
    assert disturbed_runs(paths, reference_probe_s=0.010) == paths
    assert folder_probe_seconds(tmp_path) == pytest.approx(0.0125)


def test_every_probe_does_the_same_work_from_the_same_weights():
    from calibration import speed_probe

    probe_seconds(repeats=2)
    model, _, _, _ = speed_probe._workload()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    rng_state = torch.random.get_rng_state()
    probe_seconds(repeats=1)
    after = model.state_dict()
    # one probe trains the initial weights once: the result is the same however many probes ran before
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert torch.equal(torch.random.get_rng_state(), rng_state)          # the global generator is untouched
