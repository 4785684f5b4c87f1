"""The speed probe: its workload, and how a sweep times it (before every k-th run, describing, never correcting)."""

from __future__ import annotations

import json
import math

import pytest
import torch

import calibration.sweep as sweep
from calibration.speed_probe import probe_seconds, usual_probe_seconds
from calibration.sweep import SweepDesign, folder_probe_seconds, folder_probes, load_runs, run_sweep
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


def _scripted_probes(monkeypatch, values):
    script = iter(values)
    monkeypatch.setattr(sweep, "probe_seconds", lambda: next(script))


def test_a_probe_runs_before_every_kth_run_and_corrects_nothing(tmp_path, monkeypatch):
    astraea = RunConfig(algorithm="astraea", **TINY)
    fedavg = RunConfig(algorithm="fedavg", **TINY)
    design = SweepDesign(configs=(astraea, fedavg), repetitions=(2, 1), name="tiny")
    _scripted_probes(monkeypatch, [0.010, 0.030])     # the second probe is 3x slower: nothing is re-run
    calls = []
    import reference_impl.engine.drive as engine

    real_run = engine.run
    monkeypatch.setattr(engine, "run", lambda config, **kw: calls.append(kw["run_id"]) or real_run(config, **kw))
    paths = run_sweep(design, tmp_path, progress=False, probe_every=2)
    assert calls == [p.name for p in paths]           # three runs, each once
    probes = [json.loads((p / RUN_FILE).read_text())["summary"]["speed_probe_s"] for p in paths]
    assert probes == [[0.010], [], [0.030]]           # before the 1st and the 3rd run
    assert sorted(folder_probes(tmp_path)) == [0.010, 0.030]
    _, runs = load_runs(tmp_path)
    assert sorted(runs["speed_probe_s"].dropna()) == [0.010, 0.030]
    assert folder_probe_seconds(tmp_path) == pytest.approx(0.020)     # the median


def test_without_probes_none_runs(tmp_path, monkeypatch):
    def fail():
        raise AssertionError("probed")
    monkeypatch.setattr(sweep, "probe_seconds", fail)
    design = SweepDesign(configs=(RunConfig(algorithm="fedavg", **TINY),), repetitions=(1,), name="tiny")
    (path,) = run_sweep(design, tmp_path, progress=False, probe_every=None)
    assert json.loads((path / RUN_FILE).read_text())["summary"]["speed_probe_s"] == []
    _, runs = load_runs(tmp_path)
    assert runs["speed_probe_s"].isna().all()
    assert math.isnan(folder_probe_seconds(tmp_path))


def test_the_usual_speed_is_the_median_of_the_probes():
    probes = [0.0097, 0.0104, 0.0105, 0.0109, 0.0110, 0.0150, float("nan"), 0.0]
    assert usual_probe_seconds(probes) == pytest.approx((0.0105 + 0.0109) / 2)
    assert math.isnan(usual_probe_seconds([]))


def test_probe_every_must_be_positive(tmp_path):
    design = SweepDesign(configs=(RunConfig(algorithm="fedavg", **TINY),), repetitions=(1,), name="tiny")
    with pytest.raises(InputError, match="'probe_every' must be >= 1"):
        run_sweep(design, tmp_path, progress=False, probe_every=0)


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
