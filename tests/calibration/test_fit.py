"""The coefficient fit: known coefficients back from traces the model itself generates (exact, noisy,
with stalls), honest standard errors, fixed terms kept apart, link coefficients, the file, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from calibration.fit import (
    FIT_GROUPS,
    FIXED_COEFFICIENT,
    FIXED_TERM,
    LinkCoefficients,
    fit_calibration,
    fit_group,
    load_link_coefficients,
    visit_time_cv,
)
from costmodel.contracts.calibration_file import COEFFICIENT_UNITS, load_calibration, write_calibration
from costmodel.errors import InputError
from costmodel.model.bridge import numeric_function
from costmodel.model.events import EVENT_STATEMENTS, GROUP_OF_PHASE

#: Known coefficients, of the magnitudes measured on the reference machine.
TRUE = {
    "flops_per_s": 3.0e10, "step_overhead_s": 2.0e-4, "step_s_per_param": 3.0e-9,
    "train_s_per_elementwise_value": 1.8e-9, "train_s_per_autograd_node": 2.0e-5, "train_s_per_conv_call": 1.7e-4,
    "prox_s_per_param": 2.0e-9,
    "train_s_per_conv_value": 3.0e-9, "aggregate_s_per_model": 1.7e-6, "aggregate_s_per_output_param": 2.0e-10,
    "aggregate_s_per_large_param": 8.0e-11,
    "augment_s_per_value": 1.2e-8, "augment_s_per_pixel": 2.0e-9, "augment_plan_s_per_class": 2.0e-6, "kl_s_per_evaluation": 5.0e-9, "reschedule_s_per_class_update": 3.0e-9,
    "reschedule_s_per_step": 2.2e-5, "aggregate_s_per_param": 8.0e-10, "serialize_s_per_byte": 2.5e-10,
    "augment_s_per_data_value": 1.5e-9, "serialize_s_per_uncached_byte": 1.2e-10, "upload_message_s": 3.8e-5,
}
#: The serialization regime boundary, between the 70k- and 260k-parameter messages (a boundary the
#: fit can find: it tries the geometric midpoints between measured sizes).
CACHE_BYTES = math.sqrt((16 + 4 * 70_000) * (16 + 4 * 260_000))
#: The aggregation regime boundary (one model's bytes), between the same two sizes.
AGGREGATE_BYTES = math.sqrt(4 * 70_000 * 4 * 260_000)
#: Fixed per-event seconds: the fit must keep them out of the marginal costs and export them as the
#: model's fixed coefficients (FIXED_COEFFICIENT).
FIXED = {"local_training": 4e-4, "augmentation": 4e-4, "augmentation_plan": 1.8e-4, "rescheduling": 1.8e-4,
         "aggregation": 5e-5}
INPROCESS_LATENCY_S = 2.5e-6


#: Every coefficient the event statements use, for generating traces.
STATEMENT_COEFFICIENTS = {**TRUE, **{FIXED_COEFFICIENT[g]: v for g, v in FIXED.items()},
                          "message_s": INPROCESS_LATENCY_S, "cache_bytes": CACHE_BYTES,
                          "aggregate_large_bytes": AGGREGATE_BYTES}


def event_seconds(phase: str, **counts: float) -> float:
    """One event's seconds from its group's one statement (costmodel.model.events) at ``counts``
    (the statement's column names): the synthetic traces are the model's own, not a restatement."""
    statement = EVENT_STATEMENTS[GROUP_OF_PHASE[phase]]
    function = numeric_function(statement.seconds)
    values = {**STATEMENT_COEFFICIENTS, **counts}
    return float(function(**{name: values[name] for name in function.arguments}))


def synthetic_trace(*, noise: float = 0.0, stalls: float = 0.0, runs: int = 24, seed: int = 3,
                    rate_exponent: float = 0.0, flops_per_param: float = 15.0) -> pd.DataFrame:
    """Trace rows whose durations follow the event statements (+ fixed terms) with multiplicative
    lognormal ``noise``; a fraction ``stalls`` of rows takes 3x as long (another process ran).
    ``rate_exponent`` makes the FLOP rate grow as ``params**rate_exponent`` (bigger layers run
    closer to the peak: a dependence the model does not have)."""
    rng = np.random.default_rng(seed)
    rows = []
    widths = [6e3, 2e4, 7e4, 2.6e5, 5.7e5]

    for r in range(runs):
        config = r // 2                                       # two repetitions of each configuration
        cfg_rng = np.random.default_rng(1000 + config)
        params = widths[config % len(widths)]
        flops_per_sample = flops_per_param * params * cfg_rng.uniform(0.8, 1.2)
        batch = [5, 10, 25, 50][config % 4]
        classes = [10, 47][config % 2]
        values, channels = [(784, 1), (3072, 3)][config % 2]
        conv_values = [2962, 8000, 20000][config % 3] * cfg_rng.uniform(0.7, 1.3)   # apart from the width
        # the other architecture features, each apart from the width and from one another (five families)
        elementwise = float(cfg_rng.uniform(5e3, 3e5))
        nodes, conv_calls = int(cfg_rng.integers(14, 140)), int(cfg_rng.integers(0, 40))
        # the convolutions' padding FLOPs: up to 4x the FLOPs (the TPDS CNN's 1-to-24 channels), apart from the width
        padding = flops_per_sample * float(cfg_rng.uniform(0.0, 4.0)) if conv_calls else 0.0
        c = [4, 8, 12, 16, 20][config % 5]
        mu = 0.01 if config % 3 == 1 else 0.0                 # a third of the configurations are FedProx's
        run_id = f"run{r}"

        def add(phase, seconds, entity="server", **columns):
            factor = math.exp(noise * rng.standard_normal())
            if rng.random() < stalls:
                factor *= 3.0
            rows.append(dict(run_id=run_id, config_key=f"cfg{config}", phase=phase, entity=entity,
                             duration_s=seconds * factor,
                             params=params, sample_values=values, sample_channels=channels, num_classes=classes,
                             batch_size=batch,
                             conv_input_values=conv_values, elementwise_values=elementwise,
                             autograd_nodes=nodes, conv_calls=conv_calls, conv_padding_flops=padding, mu=mu,
                             **{k: 0 for k in ("bytes", "flops", "samples", "steps")} | columns))

        for _ in range(20):
            n = int(cfg_rng.integers(40, 400))
            steps = math.ceil(n / batch)
            slower = (params / 7e4) ** -rate_exponent          # the FLOPs (and padding FLOPs) the rate makes it pay
            add("local_training", event_seconds("local_training", flops=n * flops_per_sample * slower, samples=n,
                                                steps=steps, params=params, conv_input_values=conv_values,
                                                elementwise_values=elementwise, autograd_nodes=nodes,
                                                conv_calls=conv_calls, conv_padding_flops=padding * slower,
                                                proximal=float(mu > 0)),
                flops=n * flops_per_sample, samples=n, steps=steps)
        report = 16 + 8 * classes
        for client in range(10):
            held = int(rng.integers(50, 400))                  # the client's original size (its report)
            add("distribution_report", event_seconds("distribution_report", bytes=report, upload=0),
                entity=f"client:{client}", bytes=report, samples=held)
            augmented = int(rng.integers(0, 80))
            add("augmentation", event_seconds("augmentation", augmented=augmented, client_samples=held,
                                              sample_values=values, sample_channels=channels),
                entity=f"client:{client}", samples=augmented)
        add("augmentation_plan", event_seconds("augmentation_plan", num_classes=classes), samples=5000)
        evaluations = c * (c + 1) // 2
        held = [2, 5, classes][config % 3]                   # classes per client, apart from c
        updates = held * c * (c - math.ceil(c / 4)) // 2     # mediators of 4
        for _ in range(3):
            add("rescheduling", event_seconds("rescheduling", clients=c, kl_evaluations=evaluations,
                                              class_updates=updates), samples=c, steps=evaluations, flops=updates)
            for models in (c, math.ceil(c / 4)):
                add("aggregation", event_seconds("aggregation", models=models, params=params, bytes_per_param=4),
                    samples=models, flops=2 * models * params)
        message = 16 + 4 * int(params)
        for phase in ("model_broadcast", "client_download", "client_upload", "mediator_upload"):
            for _ in range(5):
                add(phase, event_seconds(phase, bytes=message, upload=int(phase == "client_upload")), bytes=message)
    return pd.DataFrame(rows)


def test_the_generator_agrees_with_a_hand_derivation():
    # one local-training event and one serialization beyond the cache, by hand
    n, batch, params, flops, conv, elementwise, nodes, calls = 100, 10, 7e4, 1e6, 2962, 7815, 25, 6
    padding = 4_140_528
    by_hand = (FIXED["local_training"] + n * (flops + padding) / TRUE["flops_per_s"]
               + n * (conv * TRUE["train_s_per_conv_value"] + elementwise * TRUE["train_s_per_elementwise_value"])
               + math.ceil(n / batch) * (TRUE["step_overhead_s"] + nodes * TRUE["train_s_per_autograd_node"]
                                         + calls * TRUE["train_s_per_conv_call"] + params * TRUE["step_s_per_param"]))
    features = dict(conv_input_values=conv, elementwise_values=elementwise, autograd_nodes=nodes, conv_calls=calls,
                    conv_padding_flops=padding)
    assert event_seconds("local_training", flops=n * flops, samples=n, steps=10, params=params, proximal=0,
                         **features) == pytest.approx(by_hand, rel=1e-12)
    # FedProx's step adds one pass over the parameters
    assert event_seconds("local_training", flops=n * flops, samples=n, steps=10, params=params, proximal=1,
                         **features) == pytest.approx(
        by_hand + 10 * params * TRUE["prox_s_per_param"], rel=1e-12)
    size = 2e6
    by_hand = (INPROCESS_LATENCY_S + size * TRUE["serialize_s_per_byte"]
               + (size - CACHE_BYTES) * TRUE["serialize_s_per_uncached_byte"] + TRUE["upload_message_s"])
    assert event_seconds("client_upload", bytes=size, upload=1) == pytest.approx(by_hand, rel=1e-12)


def test_exact_traces_give_every_coefficient_and_fixed_term_back():
    fit = fit_calibration(synthetic_trace(), bootstrap=0)
    for name, value in TRUE.items():
        assert fit.coefficients[name] == pytest.approx(value, rel=1e-6), name
    for group, value in FIXED.items():
        assert fit.fixed_s[group] == pytest.approx(value, rel=1e-5), group
    assert fit.inprocess_latency_s == pytest.approx(INPROCESS_LATENCY_S, rel=1e-5)
    for group, name in FIXED_COEFFICIENT.items():   # exported as the model's fixed coefficients
        expected = INPROCESS_LATENCY_S if group == "serialization" else FIXED[group]
        assert fit.coefficients[name] == pytest.approx(expected, rel=1e-5), name
    assert all(fit.groups[g].r2 == pytest.approx(1.0, abs=1e-9) for g in FIT_GROUPS)
    assert fit.runs == 24 and set(fit.coefficients) == set(COEFFICIENT_UNITS)
    assert fit.coefficients["cache_bytes"] == pytest.approx(CACHE_BYTES)   # the profile finds the boundary
    assert fit.groups["serialization"].boundary_bytes == pytest.approx(CACHE_BYTES)
    assert fit.coefficients["aggregate_large_bytes"] == pytest.approx(AGGREGATE_BYTES)


def test_noisy_traces_recover_the_coefficients_within_5_percent_and_their_standard_errors():
    # 5% lognormal noise on every event (the spread measured on the shared machine), 24 runs.
    fit = fit_calibration(synthetic_trace(noise=0.05), bootstrap=100, seed=1)
    for name, value in TRUE.items():
        estimate, error = fit.coefficients[name], fit.stderr[name]
        # stated tolerance: within 5%, or within 3 standard errors for the two weakly identified
        # terms (KL terms and per-parameter step cost are small parts of their events)
        assert abs(estimate - value) <= max(0.05 * value, 3 * error), name
        assert abs(estimate - value) <= 4 * error + 1e-3 * value, f"{name}: standard error too optimistic"
    spread = fit.groups["local_training"].residual_spread
    assert 0.03 < spread < 0.07                       # the robust spread sees the 5% noise


def test_stalled_events_do_not_drag_the_fit():
    # 5% of all events take three times as long: the Huber weights keep the coefficients within 5%.
    fit = fit_calibration(synthetic_trace(noise=0.02, stalls=0.05), bootstrap=0)
    # the largest term of each group (the fixed per-step cost is now a small part of a step: 0.2 of ~5 ms)
    for name in ("flops_per_s", "train_s_per_conv_call", "augment_s_per_value", "aggregate_s_per_param",
                 "serialize_s_per_byte", "reschedule_s_per_step"):
        assert fit.coefficients[name] == pytest.approx(TRUE[name], rel=0.05), name
    assert fit.groups["local_training"].residual_rms > 0.2     # the stalls are still reported


def test_fixed_terms_are_kept_out_of_the_marginal_costs():
    # through the origin, the 0.4 ms per client would inflate the per-value cost: it must not
    fit = fit_calibration(synthetic_trace(), bootstrap=0)
    aug = fit.groups["augmentation"]
    assert aug.terms == ("augment_s_per_value", "augment_s_per_pixel", "augment_s_per_data_value", FIXED_TERM)
    assert aug.fixed_share > 0.15 and aug.spread_without_fixed > 0.3  # the model without t0 misfits, and says so
    calibration = fit.to_calibration(machine={"cpu": "x", "threads": 1, "torch_version": "t", "python": "p",
                                              "platform": "q"}, created="2026-01-01")
    assert calibration.fit["fixed_s"]["augmentation"] == pytest.approx(FIXED["augmentation"], rel=1e-5)
    assert calibration.fit["inprocess_latency_s"] == pytest.approx(INPROCESS_LATENCY_S, rel=1e-5)


def test_a_formula_the_data_contradict_shows_in_the_checks():
    # the FLOP rate grows with the model (as measured between the TPDS family and the Keras CNN):
    # the residuals by model size expose it: they spread over > 7 points (the per-node, per-call and
    # per-value terms absorb part of it; without them, over 15) and the largest model runs faster
    # than fitted
    # (with compute-heavy models, 300 FLOP per parameter, so the FLOP term carries the visits)
    fit = fit_calibration(synthetic_trace(rate_exponent=0.2, flops_per_param=300), bootstrap=0)
    checks = fit.diagnostics
    by_size = checks[(checks["group"] == "local_training") & (checks["factor"] == "params")]
    residual = by_size.set_index(by_size["level"].astype(float))["median_residual_percent"].sort_index()
    assert residual.max() - residual.min() > 7 and residual.iloc[-1] < -3
    assert "local_training by params" in fit.report()
    exact = fit_calibration(synthetic_trace(), bootstrap=0).diagnostics
    assert exact["median_residual_percent"].abs().max() < 1e-6


def test_a_term_without_evidence_is_stored_tiny_and_noted():
    trace = synthetic_trace()
    resched = trace["phase"] == "rescheduling"
    trace.loc[resched, "duration_s"] = (trace.loc[resched, "samples"] * TRUE["reschedule_s_per_step"]
                                        + trace.loc[resched, "flops"] * TRUE["reschedule_s_per_class_update"]
                                        + FIXED["rescheduling"])          # no KL cost at all
    fit = fit_calibration(trace, bootstrap=0)
    assert 0 < fit.coefficients["kl_s_per_evaluation"] < 1e-12
    assert any("kl_s_per_evaluation is indistinguishable from 0" in note for note in fit.notes)
    fit.to_calibration()                                                   # still a valid calibration


def test_link_coefficients_come_from_the_link_fit_or_are_carried_over():
    trace = synthetic_trace()
    carried = fit_calibration(trace, bootstrap=0)
    from costmodel.contracts.calibration_file import default_calibration

    assert carried.coefficients["link_efficiency"] == default_calibration().coefficients["link_efficiency"]
    assert any("carried over" in note for note in carried.notes)

    link = LinkCoefficients(latency_s=1e-3, link_efficiency=0.956, message_overhead_bytes=64.0,
                            latency_s_stderr=1e-5, link_efficiency_stderr=0.002, message_overhead_bytes_stderr=8.0)
    measured = fit_calibration(trace, communication=link, bootstrap=0)
    # latency_s is the link's own; the per-message software cost is message_s, paid in process too
    assert measured.coefficients["latency_s"] == 1e-3
    assert measured.coefficients["message_s"] == pytest.approx(INPROCESS_LATENCY_S, rel=1e-5)
    assert measured.coefficients["link_efficiency"] == 0.956
    assert measured.stderr["message_overhead_bytes"] == 8.0

    negative = LinkCoefficients(latency_s=-1.3e-4, link_efficiency=0.95, message_overhead_bytes=-5.0)
    clamped = fit_calibration(trace, communication=negative, bootstrap=0)
    assert clamped.coefficients["latency_s"] == 0.0           # a fitted 0 is legitimate for a latency
    assert clamped.coefficients["message_overhead_bytes"] == 1.0
    assert sum("stored as 0." in note for note in clamped.notes) == 1
    assert sum("<= 0" in note for note in clamped.notes) == 1


def test_the_fit_becomes_a_calibration_file_that_loads_back(tmp_path):
    fit = fit_calibration(synthetic_trace(noise=0.03), bootstrap=20)
    calibration = fit.to_calibration(created="2026-01-01")
    path = write_calibration(tmp_path / "calibration.json", calibration)
    loaded = load_calibration(path)
    assert dict(loaded.coefficients) == pytest.approx(dict(fit.coefficients))
    assert loaded.fit["runs"] == 24 and set(loaded.fit["r2"]) == set(FIT_GROUPS)
    assert loaded.fitted_from["flops_per_s"] == "local_training"
    assert loaded.machine["threads"] == 1
    text = fit.report()
    for name in COEFFICIENT_UNITS:
        assert name in text


def test_standard_errors_come_from_resampling_runs():
    trace = synthetic_trace(noise=0.05)
    with pytest.raises(InputError, match=r"^'runs' must vary what the aggregation formula counts: "
                                         r"aggregate_s_per_param, aggregate_s_per_model, .* cannot be told apart"):
        fit_group("aggregation", trace[trace["run_id"] == "run0"], bootstrap=50)   # one run: one size
    two = trace[trace["config_key"].isin(["cfg0", "cfg1", "cfg2", "cfg3"]) & trace["run_id"].isin(
        ["run0", "run2", "run4", "run6"])]                             # one run per configuration
    assert all(math.isnan(e) for e in fit_group("aggregation", two, bootstrap=0).stderr)   # no bootstrap
    many = fit_group("aggregation", trace, bootstrap=50)
    assert all(e > 0 for e in many.stderr)


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="'trace' must have the columns .* \\(missing params"):
        fit_calibration(synthetic_trace().drop(columns=["params"]))
    trace = synthetic_trace()
    with pytest.raises(InputError, match="'runs' must contain rescheduling events"):
        fit_calibration(trace[trace["phase"] != "rescheduling"])
    with pytest.raises(InputError, match="'group' must be one of"):
        fit_group("evaluation", trace)
    with pytest.raises(InputError, match="'communication' must be a readable file"):
        load_link_coefficients(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"coefficients": {"latency_s": {"value": "fast"}}}))
    with pytest.raises(InputError, match="must give coefficients.latency_s a numeric value"):
        load_link_coefficients(broken)


def test_link_sweep_output_reads_back(tmp_path):
    document = {"coefficients": {"latency_s": {"value": 2e-4, "stderr": 1e-5, "unit": "s"},
                                 "link_efficiency": {"value": 0.957, "stderr": 0.002, "unit": "1"},
                                 "message_overhead_bytes": {"value": 64.1, "stderr": 83.6, "unit": "B"}}}
    path = tmp_path / "communication_fit.json"
    path.write_text(json.dumps(document))
    link = load_link_coefficients(path)
    assert (link.latency_s, link.link_efficiency, link.message_overhead_bytes) == (2e-4, 0.957, 64.1)
    assert link.message_overhead_bytes_stderr == 83.6


def test_visit_time_jitter_is_the_spread_of_equal_size_visits_within_a_run():
    # two runs; each has 4 visits of 100 samples (durations known) and one lone visit (no group)
    durations = {"a": [1.0, 1.1, 0.9, 1.0], "b": [2.0, 2.0, 2.2, 1.8]}
    rows = []
    for run_id, times in durations.items():
        for seconds in [*times, 5.0]:
            samples = 100 if seconds != 5.0 else 250
            rows.append(dict(run_id=run_id, phase="local_training", entity="client:0", duration_s=seconds,
                             samples=samples, steps=10, flops=1.0, bytes=0, params=10, sample_values=1,
                             conv_input_values=1, num_classes=2))
    cv, error, groups = visit_time_cv(pd.DataFrame(rows))
    expected = [np.std(times, ddof=1) / np.mean(times) for times in durations.values()]
    assert groups == 2 and cv == pytest.approx(np.median(expected))
    assert error == pytest.approx(1.2533 * np.std(expected, ddof=1) / math.sqrt(2))
    cv, error, groups = visit_time_cv(pd.DataFrame(rows[:2]))          # two equal visits: no group
    assert (cv, groups) == (0.0, 0) and math.isnan(error)
    # model-generated traces have no jitter at all; fit_calibration exports it as train_time_cv
    fit = fit_calibration(synthetic_trace(), bootstrap=0)
    assert fit.coefficients["train_time_cv"] == pytest.approx(0.0, abs=1e-12)


def test_events_without_a_column_the_statement_reads_are_refused_not_fitted_as_zero():
    # runs recorded before the engine stored the element-wise values (NaN once joined): one line, no fit
    trace = synthetic_trace()
    training = trace["phase"] == "local_training"
    trace.loc[training[training].index[:5], "elementwise_values"] = np.nan
    with pytest.raises(InputError, match=r"^'runs' must record elementwise_values for every local_training event "
                                         r".*\(got 5 of \d+ events without it\)\.$"):
        fit_calibration(trace, bootstrap=0)
