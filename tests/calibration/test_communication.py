"""The communication fit: exact and noisy recovery of known coefficients, validation, bad input,
and (root only) a small real sweep over shaped links whose held-out error must stay within the bar."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from calibration.communication import (
    EMNIST_MODEL_BYTES,
    HELDOUT_TARGET_PCT,
    KERAS_CIFAR_MODEL_BYTES,
    CommunicationFit,
    communication_sweep,
    fit_communication,
    summarize_validation,
    validate_communication,
)
from costmodel.errors import InputError
from reference_impl.network.namespaces import netlab_available

TRUE = {"latency_s": 0.0012, "link_efficiency": 0.956, "message_overhead_bytes": 140.0}
RATES = (2e6, 8e6, 32e6)
SIZES = (65_536, 262_144, 1_048_576)


def formula(size, rate, latency_s, link_efficiency, message_overhead_bytes):
    return latency_s + 8.0 * (size + message_overhead_bytes) / (link_efficiency * rate)


def synthetic(*, noise: float, repeats: int, seed: int = 7, rates=RATES, sizes=SIZES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for rate in rates:
        for size in sizes:
            for repeat in range(repeats):
                t = formula(size, rate, **TRUE) * (1.0 + noise * rng.standard_normal())
                rows.append({"host": 0, "direction": "uplink", "rate_bits_per_s": rate, "payload_bytes": size,
                             "wire_bytes": size + 8, "seconds": t, "repeat": repeat})
    return pd.DataFrame(rows)


def test_exact_data_gives_the_coefficients_back():
    fit = fit_communication(synthetic(noise=0.0, repeats=1))
    assert fit.latency_s == pytest.approx(TRUE["latency_s"], rel=1e-9)
    assert fit.link_efficiency == pytest.approx(TRUE["link_efficiency"], rel=1e-9)
    assert fit.message_overhead_bytes == pytest.approx(TRUE["message_overhead_bytes"], rel=1e-7)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-12)
    assert fit.residual_max_pct < 1e-8
    assert fit.n_transfers == 9
    assert fit.rates_bits_per_s == RATES and fit.sizes_bytes == SIZES


def test_noisy_data_recovers_the_coefficients_within_their_standard_errors():
    # 1% multiplicative noise (about three times what the shaped links show), 5 repeats of 9 points.
    fit = fit_communication(synthetic(noise=0.01, repeats=5))
    # stated tolerance: link efficiency within 1%, latency within 3 ms, overhead within 2 kB
    assert fit.link_efficiency == pytest.approx(TRUE["link_efficiency"], rel=0.01)
    assert abs(fit.latency_s - TRUE["latency_s"]) < 3e-3
    assert abs(fit.message_overhead_bytes - TRUE["message_overhead_bytes"]) < 2_000
    # and the reported standard errors are honest: the truth lies within 4 of them
    for name in TRUE:
        assert abs(getattr(fit, name) - TRUE[name]) < 4 * getattr(fit, f"{name}_stderr"), name
    assert 0.5 < fit.residual_rms_pct < 2.0


def test_standard_errors_shrink_with_more_repeats():
    few = fit_communication(synthetic(noise=0.01, repeats=3, seed=1))
    many = fit_communication(synthetic(noise=0.01, repeats=48, seed=1))
    assert many.link_efficiency_stderr < few.link_efficiency_stderr / 2
    assert many.latency_s_stderr < few.latency_s_stderr / 2


def test_relative_weighting_keeps_short_messages_accurate():
    # A 10 ms offset on every 1 MiB transfer at 2 Mbit/s only: unweighted least squares would
    # bend the whole line towards that one slow group; the relative fit leaves small messages right.
    frame = synthetic(noise=0.0, repeats=1)
    slow = (frame["rate_bits_per_s"] == 2e6) & (frame["payload_bytes"] == 1_048_576)
    frame.loc[slow, "seconds"] += 0.010
    fit = fit_communication(frame)
    small = fit.predict_seconds(65_536, 32e6)
    assert small == pytest.approx(formula(65_536, 32e6, **TRUE), rel=0.02)


def test_predict_matches_the_formula_and_handles_unshaped_links():
    fit = fit_communication(synthetic(noise=0.0, repeats=1))
    sizes = np.array([EMNIST_MODEL_BYTES, KERAS_CIFAR_MODEL_BYTES])
    got = fit.predict_seconds(sizes[:, None], np.array([5e6, 20e6])[None, :])
    assert got.shape == (2, 2)
    assert got[1, 0] == pytest.approx(formula(KERAS_CIFAR_MODEL_BYTES, 5e6, **TRUE), rel=1e-9)
    # hand check: 275,508 B at 20 Mbit/s = 1.2 ms + 8*(275,508+140)/(0.956*2e7) s = 116.537... ms
    assert got[0, 1] == pytest.approx(0.0012 + 8 * 275_648 / (0.956 * 2e7), rel=1e-9)
    assert fit.predict_seconds(1_000, math.inf) == pytest.approx(TRUE["latency_s"])


def test_model_sizes_are_the_papers_models_on_the_wire():
    assert EMNIST_MODEL_BYTES == 275_508
    assert KERAS_CIFAR_MODEL_BYTES == 5_003_448


def test_validation_table_and_summary():
    fit = fit_communication(synthetic(noise=0.0, repeats=1))
    held = synthetic(noise=0.0, repeats=2, rates=(5e6, 20e6), sizes=(EMNIST_MODEL_BYTES, KERAS_CIFAR_MODEL_BYTES))
    # make one point 10% slower than the model: its error is -1/1.1 = -9.09%
    slow = (held["rate_bits_per_s"] == 5e6) & (held["payload_bytes"] == KERAS_CIFAR_MODEL_BYTES)
    held.loc[slow, "seconds"] *= 1.10
    # and give another point run-to-run noise of +-1%: CV = 1% * sqrt(2) for two repeats
    noisy = (held["rate_bits_per_s"] == 20e6) & (held["payload_bytes"] == EMNIST_MODEL_BYTES)
    held.loc[noisy, "seconds"] *= np.array([0.99, 1.01])
    table = validate_communication(fit, held)
    assert list(table.columns[:3]) == ["direction", "rate_bits_per_s", "payload_bytes"]
    assert len(table) == 4 and (table["n"] == 2).all()
    row = table[(table.rate_bits_per_s == 5e6) & (table.payload_bytes == KERAS_CIFAR_MODEL_BYTES)].iloc[0]
    assert row.error_pct == pytest.approx(-100 * 0.1 / 1.1, rel=1e-6)
    noisy_row = table[(table.rate_bits_per_s == 20e6) & (table.payload_bytes == EMNIST_MODEL_BYTES)].iloc[0]
    assert noisy_row.measured_cv_pct == pytest.approx(math.sqrt(2.0), rel=1e-6)
    summary = summarize_validation(table)
    assert summary.mape_pct == pytest.approx(100 * 0.1 / 1.1 / 4, rel=1e-4)
    assert summary.meets_target and summary.target_pct == HELDOUT_TARGET_PCT
    assert summary.max_abs_pct_error == pytest.approx(100 * 0.1 / 1.1, rel=1e-6)
    assert "held-out MAPE 2.27%" in summary.report()
    assert not summarize_validation(table, target_pct=1.0).meets_target


def test_report_and_coefficients_carry_units_and_errors():
    fit = fit_communication(synthetic(noise=0.01, repeats=3))
    text = fit.report()
    assert "latency_s" in text and "link_efficiency" in text and "message_overhead_bytes" in text
    assert "2, 8, 32 Mbit/s" in text
    coefficients = fit.coefficients()
    assert coefficients["latency_s"]["unit"] == "s"
    assert coefficients["message_overhead_bytes"]["unit"] == "B"
    assert coefficients["link_efficiency"]["stderr"] == fit.link_efficiency_stderr
    with pytest.raises(AttributeError):
        fit.latency_s = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f: f.drop(columns="seconds"), "'frame' must have columns rate_bits_per_s, payload_bytes, seconds"),
    (lambda f: f[f.rate_bits_per_s == 8e6], "'frame' must cover at least two rates"),
    (lambda f: f[f.payload_bytes == 65_536], "'frame' must cover at least two sizes"),
    (lambda f: f.assign(rate_bits_per_s=math.inf), "'frame.rate_bits_per_s' must be finite and > 0 (got inf)"),
    (lambda f: f.assign(seconds=-1.0), "'frame.seconds' must be finite and > 0 (got -1.0)."),
    (lambda f: f.iloc[0:0], "'frame' must hold at least one measured transfer"),
])
def test_bad_frames_get_one_line_errors(mutate, message):
    with pytest.raises(InputError) as caught:
        fit_communication(mutate(synthetic(noise=0.0, repeats=1)))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_time_falling_with_size_is_refused():
    frame = synthetic(noise=0.0, repeats=1)
    frame["seconds"] = 1.0 / frame["payload_bytes"]
    with pytest.raises(InputError, match="fitted 8/link_efficiency must be > 0"):
        fit_communication(frame)


def test_sweep_refuses_held_out_points_the_fit_has_seen():
    with pytest.raises(InputError, match="'heldout_rates_bits_per_s' must differ from every fitting rate"):
        communication_sweep(heldout_rates_bits_per_s=(8e6, 20e6))
    with pytest.raises(InputError, match="'heldout_sizes_bytes' must differ from every fitting size"):
        communication_sweep(heldout_sizes_bytes=(65_536,))
    with pytest.raises(InputError, match="'directions' must hold"):
        communication_sweep(directions=("sideways",))


def test_validate_refuses_a_non_fit():
    with pytest.raises(InputError, match="'fit' must be a CommunicationFit"):
        validate_communication({"latency_s": 0.0}, synthetic(noise=0.0, repeats=1))  # type: ignore[arg-type]


AVAILABLE, WHY = netlab_available()


@pytest.mark.root
@pytest.mark.skipif(not AVAILABLE, reason=f"needs root and ip netns: {WHY}")
def test_small_real_sweep_meets_the_held_out_bar():
    # A scaled-down sweep (about 5 s): fit at 4, 16, 64 Mbit/s with 16-256 KiB, validate at
    # 10 and 40 Mbit/s with the EMNIST model message and a 600 kB one.
    sweep = communication_sweep(fit_rates_bits_per_s=(4e6, 16e6, 64e6), fit_sizes_bytes=(16_384, 65_536, 262_144),
                                heldout_rates_bits_per_s=(10e6, 40e6),
                                heldout_sizes_bytes=(EMNIST_MODEL_BYTES, 600_000), repeats=2,
                                directions=("uplink",), progress=False)
    assert len(sweep.fit_frame) == 3 * 3 * 2 and len(sweep.heldout_frame) == 2 * 2 * 2
    fit = sweep.fit()
    assert isinstance(fit, CommunicationFit)
    # TCP over Ethernet at MTU 1500 carries at most 1448 of every 1514 bytes: efficiency near 0.956
    assert 0.90 < fit.link_efficiency < 1.0
    summary = summarize_validation(sweep.validate(fit))
    assert summary.mape_pct <= HELDOUT_TARGET_PCT, summary.report()
