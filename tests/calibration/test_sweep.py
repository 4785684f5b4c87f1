"""Sweep designs, stable run keys, resumable runs and reading runs back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from calibration.sweep import (
    FAMILIES,
    PROXIMAL_MU,
    SweepDesign,
    config_key,
    default_sweep,
    load_runs,
    quick_sweep,
    run_key,
    run_sweep,
)
from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.models import build_model, count_parameters
from reference_impl.engine.trace import RUN_FILE, TRACE_FILE

TINY = dict(dataset="digits", model="scaled", model_width=0.25, clients=4, clients_per_round=2, gamma=2,
            rounds=1, batch_size=32, evaluate=False, threads=1, seed=1)


def tiny_design() -> SweepDesign:
    astraea = RunConfig(algorithm="astraea", **TINY)
    return SweepDesign(configs=(astraea, replace(astraea, algorithm="fedavg")), repetitions=(2, 1), name="tiny")


def test_run_key_is_the_documented_hash_of_config_and_repetition():
    config = RunConfig(algorithm="fedavg", **TINY)
    canonical = json.dumps(config.as_dict(), sort_keys=True, separators=(",", ":"))
    expected = "fedavg-" + hashlib.sha256(f"{canonical}#3".encode()).hexdigest()[:12]
    assert run_key(config, 3) == expected
    assert run_key(config, 0) != run_key(config, 1)
    assert run_key(config, 0) != run_key(replace(config, batch_size=33), 0)
    assert config_key(config) == hashlib.sha256(canonical.encode()).hexdigest()[:12]


def test_design_rejects_duplicates_and_mismatched_repetitions():
    config = RunConfig(**TINY)
    with pytest.raises(InputError, match="'repetitions' must have one entry per config"):
        SweepDesign(configs=(config,), repetitions=(1, 2))
    with pytest.raises(InputError, match="'configs' must be distinct"):
        SweepDesign(configs=(config, replace(config)), repetitions=(1, 1))
    with pytest.raises(InputError, match="'repetitions' must be >= 1"):
        SweepDesign(configs=(config,), repetitions=(0,))
    with pytest.raises(InputError, match="'configs' must hold RunConfig"):
        SweepDesign(configs=({"algorithm": "astraea"},), repetitions=(1,))


def test_from_configs_drops_duplicates_and_repeats_the_noise_configs():
    base = RunConfig(**TINY)
    other = replace(base, batch_size=8)
    design = SweepDesign.from_configs([base, other, base], repeated=[base], repeated_times=3)
    assert design.configs == (base, other)
    assert design.repetitions == (3, 1)
    assert len(design) == 4
    runs = design.runs()
    assert sorted(runs[:2], key=lambda run: run[0].batch_size) == [(other, 0), (base, 0)]   # round 0: both
    assert runs[2:] == [(base, 1), (base, 2)]                                            # then base alone


def test_default_sweep_spans_the_ranges_the_fit_needs():
    design = default_sweep()
    configs = design.configs
    # the other four families: FedAvg only, two widths and two batch sizes each (their visits are what they add)
    families = [c for c in configs if c.model in FAMILIES]
    assert {c.model for c in families} == set(FAMILIES) and all(c.algorithm == "fedavg" for c in families)
    assert all(len({(c.model_width, c.batch_size) for c in families if c.model == f}) == 4 for f in FAMILIES)
    # every other configuration for Astraea and FedAvg; FedProx (mu = PROXIMAL_MU) on a few of them
    plain = [c for c in configs if c.algorithm != "fedprox" and c.model not in FAMILIES]
    keys = {config_key(replace(c, algorithm="astraea")) for c in plain}
    assert len(plain) == 2 * len(keys)
    proximal = [c for c in configs if c.algorithm == "fedprox"]
    assert len(proximal) >= 5 and all(c.mu == PROXIMAL_MU > 0 for c in proximal)
    assert all(c.mu == 0 for c in plain)
    assert len({c.model_width for c in proximal}) >= 3 and len({c.batch_size for c in proximal}) >= 3
    assert all(not c.evaluate and c.threads == 1 for c in configs)
    # every configuration repeated (interleaved rounds; the fit takes per-event medians)
    assert set(design.repetitions) == {3} and set(default_sweep(5).repetitions) == {5}
    widths = sorted({c.model_width for c in configs if c.model == "scaled" and c.dataset == "emnist-shape"})
    params = [count_parameters(build_model("scaled", sample_shape=(1, 28, 28), num_classes=47, width=w))
              for w in (widths[0], widths[-1])]
    assert params[1] / params[0] >= 90          # two orders of magnitude
    assert {c.dataset for c in configs} == {"emnist-shape", "cinic-shape", "digits"}
    assert {c.batch_size for c in configs} >= {5, 10, 25, 50}
    assert max(c.clients_per_round for c in configs) >= 4 * min(c.clients_per_round for c in configs)
    assert {c.mediator_epochs for c in configs} >= {1, 2, 3}
    assert {c.gamma for c in configs} >= {2, 4, 8}
    assert {c.plan for c in configs} == {"tpds", "iccd", "tpds-printed"}
    assert {c.global_imbalance for c in configs} == {"none", "long-tail", "half-normal"}


def test_quick_sweep_is_small_and_varies_every_fitted_regressor():
    design = quick_sweep()
    assert len(design) <= 32
    assert {c.model for c in design.configs} >= {"scaled", *FAMILIES}   # the per-node and per-call terms told apart
    assert len({c.batch_size for c in design.configs}) >= 2
    assert len({c.model_width for c in design.configs}) >= 3
    assert len({c.clients_per_round for c in design.configs}) >= 2
    assert {c.dataset for c in design.configs} >= {"emnist-shape", "cinic-shape"}


def test_run_sweep_writes_one_folder_per_run_and_resumes(tmp_path, monkeypatch):
    design = tiny_design()
    paths = run_sweep(design, tmp_path, progress=False, probe_every=None)
    assert [p.name for p in paths] == [run_key(c, r) for c, r in design.runs()]
    assert all((p / RUN_FILE).is_file() and (p / TRACE_FILE).is_file() for p in paths)
    meta = json.loads((paths[2] / RUN_FILE).read_text())  # runs go repetition by repetition: astraea's second is last
    assert meta["summary"]["sweep_repetition"] == 1 and meta["summary"]["config_key"] == config_key(design.configs[0])
    assert [r for _, r in design.runs()] == [0, 0, 1]

    # an interrupted run (no run.json) is redone; finished ones are not touched
    (paths[2] / RUN_FILE).unlink()
    calls = []
    import reference_impl.engine.drive as engine

    real_run = engine.run

    def counting_run(config, **kwargs):
        calls.append(kwargs["run_id"])
        return real_run(config, **kwargs)

    monkeypatch.setattr(engine, "run", counting_run)
    run_sweep(design, tmp_path, progress=False, probe_every=None)
    assert calls == [paths[2].name]
    assert (paths[2] / RUN_FILE).is_file()

    # a finished run measured by another engine version is redone, not mixed in
    meta = json.loads((paths[0] / RUN_FILE).read_text())
    meta["summary"]["measurement_version"] = engine.MEASUREMENT_VERSION - 1
    (paths[0] / RUN_FILE).write_text(json.dumps(meta))
    calls.clear()
    run_sweep(design, tmp_path, progress=False, probe_every=None)
    assert calls == [paths[0].name]
    redone = json.loads((paths[0] / RUN_FILE).read_text())["summary"]
    assert redone["measurement_version"] == engine.MEASUREMENT_VERSION

    # so is one of this version that predates a feature the statement reads (it would be fitted as 0)
    meta = json.loads((paths[1] / RUN_FILE).read_text())
    del meta["summary"]["conv_calls"]
    (paths[1] / RUN_FILE).write_text(json.dumps(meta))
    calls.clear()
    run_sweep(design, tmp_path, progress=False, probe_every=None)
    assert calls == [paths[1].name]
    assert json.loads((paths[1] / RUN_FILE).read_text())["summary"]["conv_calls"] is not None


def test_load_runs_joins_the_configuration_onto_every_trace_row(tmp_path):
    design = tiny_design()
    run_sweep(design, tmp_path, progress=False, probe_every=None)
    trace, runs = load_runs(tmp_path)
    assert len(runs) == 3 and sorted(runs["repetition"]) == [0, 0, 1]
    assert set(trace["run_id"]) == set(runs["run_id"])
    # the config's sample count cannot overwrite the trace's per-event samples
    assert "dataset_samples" in trace.columns
    visits = trace[trace["phase"] == "local_training"]
    assert (visits["samples"] < visits["dataset_samples"]).all()
    assert (trace["batch_size"] == 32).all() and (trace["num_classes"] == 10).all()
    assert (trace["sample_values"] == 28 * 28).all()
    first = runs.iloc[0]
    assert first["params"] == trace.loc[trace["run_id"] == first["run_id"], "params"].iloc[0]
    assert runs["rounds"].tolist() == [1, 1, 1]                 # the configured rounds, not the table
    assert all(len(table) == 1 for table in runs["round_table"])
    assert runs["mean_round_s"].gt(0).all()


def test_load_runs_refuses_missing_or_empty_folders(tmp_path):
    with pytest.raises(InputError, match="'runs' must be an existing folder"):
        load_runs(tmp_path / "absent")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / TRACE_FILE).write_text("run_id\n")
    with pytest.raises(InputError, match="'runs' must hold finished runs"):
        load_runs(tmp_path)
