"""Inputs, coefficients and scenarios: names, rules, presets and the one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from costmodel.contracts.calibration_file import NONNEGATIVE_COEFFICIENTS
from costmodel.errors import InputError
from costmodel.model.quantities import (
    COEFFICIENTS,
    INPUTS,
    NAME_OF,
    SYMBOL_OF,
    check_coefficients,
    check_input_array,
    check_input_value,
    sym,
)
from costmodel.model.scenario import Scenario
from fixed_names import COEFFICIENT_NAMES, INPUT_NAMES


def good_coefficients() -> dict[str, float]:
    return {**{name: 0.5 for name in COEFFICIENT_NAMES}, "flops_per_s": 1e9}


def test_names_are_the_fixed_ones_and_kept_apart() -> None:
    assert tuple(INPUTS) == INPUT_NAMES
    assert tuple(COEFFICIENTS) == COEFFICIENT_NAMES
    assert not set(INPUTS) & set(COEFFICIENTS)
    assert all(q.kind == "input" and q.default is not None for q in INPUTS.values())
    assert all(q.kind == "coefficient" and q.default is None for q in COEFFICIENTS.values())


def test_symbols_are_unique_and_carry_sign_assumptions() -> None:
    symbols = [q.symbol for q in (*INPUTS.values(), *COEFFICIENTS.values())]
    assert len(set(symbols)) == len(symbols) == len(NAME_OF)
    for name, symbol in SYMBOL_OF.items():
        assert NAME_OF[symbol] == name
        assert symbol.is_nonnegative
        if name not in ("samples_per_client_sd", "augmented_fraction", "plans_augmentation", "augmented_fraction_sd",
                        "mediator_load_spread", "conv_input_values", "elementwise_values", "autograd_nodes", "conv_calls",
                        "conv_padding_flops", "client_load_spread",
                        "removed_fraction",
                        "message_header_bytes", *NONNEGATIVE_COEFFICIENTS):
            assert symbol.is_positive, name
    assert sym("clients_per_round").is_integer and sym("mediator_size").is_integer
    with pytest.raises(InputError, match=r"^'clients' is not an input or coefficient"):
        sym("clients")


def test_every_quantity_has_unit_and_meaning() -> None:
    for q in (*INPUTS.values(), *COEFFICIENTS.values()):
        assert q.unit and q.meaning and "\n" not in q.meaning


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def test_emnist_preset_matches_the_tpds_cnn_by_hand() -> None:
    # conv 12@5x5/2, conv 18@3x3/2, conv 24@2x2/1, dense 150, dense 47, no padding, 28x28x1.
    s1 = _conv_out(28, 5, 2)
    s2 = _conv_out(s1, 3, 2)
    s3 = _conv_out(s2, 2, 1)
    params = (12 * 25 + 12) + (18 * 9 * 12 + 18) + (24 * 4 * 18 + 24) + (s3 * s3 * 24 * 150 + 150) + (150 * 47 + 47)
    macs = s1 * s1 * 12 * 25 + s2 * s2 * 18 * 9 * 12 + s3 * s3 * 24 * 4 * 18 + s3 * s3 * 24 * 150 + 150 * 47
    scenario = Scenario.emnist()
    assert params == scenario.params == 68_873
    first_layer_macs = s1 * s1 * 12 * 25  # its input needs no gradient: 2x forward, not 3x
    assert scenario.train_flops_per_sample == 3 * 2 * macs - 2 * first_layer_macs == 1_018_188
    assert (scenario.classes, scenario.clients_total, scenario.clients_per_round) == (47, 500, 50)
    assert (scenario.mediator_size, scenario.batch_size, scenario.sample_values) == (10, 10, 784)
    assert Scenario() == scenario  # the defaults are the EMNIST setup


def test_cinic10_preset_matches_the_keras_cifar10_cnn_by_hand() -> None:
    # conv32 same, conv32 valid, pool, conv64 same, conv64 valid, pool, dense 512, dense 10; 32x32x3.
    params = (3 * 9 * 32 + 32) + (32 * 9 * 32 + 32) + (32 * 9 * 64 + 64) + (64 * 9 * 64 + 64) \
        + (6 * 6 * 64 * 512 + 512) + (512 * 10 + 10)
    macs = 32 * 32 * 32 * 27 + 30 * 30 * 32 * 288 + 15 * 15 * 64 * 288 + 13 * 13 * 64 * 576 + 2304 * 512 + 512 * 10
    scenario = Scenario.cinic10()
    assert params == scenario.params == 1_250_858
    assert scenario.train_flops_per_sample == 6 * macs - 2 * (32 * 32 * 32 * 27) == 122_677_248  # first layer 2x
    assert (scenario.classes, scenario.clients_total, scenario.clients_per_round, scenario.mediator_size,
            scenario.batch_size, scenario.sample_values) == (10, 100, 20, 4, 50, 3072)


def test_presets_take_overrides_and_replace_validates() -> None:
    scenario = Scenario.emnist(mediator_epochs=3)
    assert scenario.mediator_epochs == 3 and isinstance(scenario.mediator_epochs, int)
    assert scenario.replace(clients_per_round=20).clients_per_round == 20
    with pytest.raises(InputError, match=r"^'mediator_size' must be >= 1 \(got 0\)\.$"):
        scenario.replace(mediator_size=0)
    with pytest.raises(InputError, match=r"^'gamma' is not an input of the cost model"):
        Scenario.cinic10(gamma=4)
    with pytest.raises(AttributeError):
        scenario.rounds = 3  # type: ignore[misc]


@pytest.mark.parametrize(("changes", "message"), [
    ({"clients_per_round": 0}, "'clients_per_round' must be >= 1 (got 0)."),
    ({"mediator_size": 0}, "'mediator_size' must be >= 1 (got 0)."),
    ({"clients_per_round": 600}, "'clients_per_round' must be <= clients_total (500) (got 600)."),
    ({"uplink_bits_per_s": -3.0}, "'uplink_bits_per_s' must be >= 1 bit/s (got -3.0)."),
    ({"server_bits_per_s": 0}, "'server_bits_per_s' must be >= 1 bit/s (got 0)."),
    ({"downlink_bits_per_s": -math.inf}, "'downlink_bits_per_s' must be > 0 or inf (got -inf)."),
    ({"params": math.inf}, "'params' must be finite (got inf)."),
    ({"batch_size": 2.5}, "'batch_size' must be an integer (got 2.5)."),
    ({"removed_fraction": 1.0}, "'removed_fraction' must be < 1 (got 1.0)."),
    ({"augmented_fraction": -0.1}, "'augmented_fraction' must be >= 0 (got -0.1)."),
    ({"samples_per_client": 0}, "'samples_per_client' must be > 0 (got 0)."),
    ({"local_epochs": True}, "'local_epochs' must be a number (got True)."),
    ({"rounds": "ten"}, "'rounds' must be a number (got 'ten')."),
    ({"samples_per_client_sd": math.nan}, "'samples_per_client_sd' must be a number (got nan)."),
])
def test_bad_scenarios_raise_one_line_errors(changes: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        Scenario(**changes)
    assert str(caught.value) == message


def test_infinite_bandwidth_means_in_process_and_is_allowed() -> None:
    scenario = Scenario(uplink_bits_per_s=math.inf, downlink_bits_per_s=math.inf, server_bits_per_s=math.inf)
    assert math.isinf(scenario.uplink_bits_per_s)


def test_whole_floats_become_ints_for_integer_inputs() -> None:
    assert check_input_value("clients_per_round", 20.0) == 20
    assert isinstance(check_input_value("clients_per_round", np.int64(20)), int)
    assert isinstance(check_input_value("samples_per_client", 20), float)


def test_array_check_names_the_first_bad_value() -> None:
    good = check_input_array("mediator_size", [1, 2, 3])
    assert good.dtype == np.float64 and good.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(InputError, match=r"^'mediator_size' must be >= 1 \(got 0\)\.$"):
        check_input_array("mediator_size", np.array([3, 0, -1]))
    with pytest.raises(InputError, match=r"^'uplink_bits_per_s' must be >= 1 bit/s \(got -5\.0\)\.$"):
        check_input_array("uplink_bits_per_s", [1e6, np.inf, -5.0])
    assert np.isinf(check_input_array("uplink_bits_per_s", [np.inf])[0])


def test_coefficients_all_required_positive_and_extra_keys_ignored() -> None:
    checked = check_coefficients({**good_coefficients(), "fit_r2": 0.99})
    assert set(checked) == set(COEFFICIENT_NAMES)
    missing = good_coefficients()
    del missing["latency_s"]
    with pytest.raises(InputError, match=r"^'latency_s' must be given"):
        check_coefficients(missing)
    with pytest.raises(InputError, match=r"^'flops_per_s' must be >= 1000 FLOP/s \(got -1\.0\)\.$"):
        check_coefficients({**good_coefficients(), "flops_per_s": -1.0})
    with pytest.raises(InputError, match=r"^'flops_per_s' must be <= 1e\+18 FLOP/s \(got 1e\+300\)\.$"):
        check_coefficients({**good_coefficients(), "flops_per_s": 1e300})
    with pytest.raises(InputError, match=r"^'step_overhead_s' must be <= 1000 s \(got 1e\+20\)\.$"):
        check_coefficients({**good_coefficients(), "step_overhead_s": 1e20})
    # Fixed per-event costs and the latency may be 0 (a fitted 0 is legitimate), not below.
    zeros = check_coefficients({**good_coefficients(), **{name: 0.0 for name in NONNEGATIVE_COEFFICIENTS}})
    assert all(zeros[name] == 0.0 for name in NONNEGATIVE_COEFFICIENTS)
    with pytest.raises(InputError, match=r"^'latency_s' must be >= 0 \(got -1e-06\)\.$"):
        check_coefficients({**good_coefficients(), "latency_s": -1e-6})
    with pytest.raises(InputError, match=r"^'step_s_per_param' must be > 0 \(got 0\.0\)\.$"):
        check_coefficients({**good_coefficients(), "step_s_per_param": 0.0})
    with pytest.raises(InputError, match=r"^'link_efficiency' must be <= 1 \(got 1\.5\)\.$"):
        check_coefficients({**good_coefficients(), "link_efficiency": 1.5})
    with pytest.raises(InputError, match=r"^'coefficients' must be a mapping"):
        check_coefficients([1.0, 2.0])  # type: ignore[arg-type]


def test_as_dict_round_trips() -> None:
    scenario = Scenario.cinic10(mediator_epochs=2)
    assert Scenario(**scenario.as_dict()) == scenario
    assert list(scenario.as_dict()) == list(INPUTS)
    assert isinstance(sym("params"), sp.Symbol)


def test_every_input_is_bounded_to_what_is_physically_meaningful() -> None:
    # Every input has an upper bound (a bandwidth may also be inf: in process); integer bounds stay
    # below 2**53, so counts travel exactly as float64.
    from costmodel.model.quantities import MAX_EXACT_INTEGER
    for name, quantity in INPUTS.items():
        assert quantity.maximum is not None, name
        if quantity.integer:
            assert quantity.maximum < MAX_EXACT_INTEGER, name
    assert check_input_value("rounds", 1e9) == 10**9
    for call in (lambda: check_input_value("rounds", 1e20), lambda: check_input_array("rounds", [10, 1e20])):
        with pytest.raises(InputError, match=r"^'rounds' must be <= 1e\+09 \(got 1e\+20\)\.$"):
            call()
    with pytest.raises(InputError, match=r"^'params' must be <= 1e\+13 \(got 1e\+300\)\.$"):
        check_input_value("params", 1e300)
    with pytest.raises(InputError, match=r"^'bytes_per_param' must be <= 16 B/param \(got 1e\+300\)\.$"):
        check_input_value("bytes_per_param", 1e300)
    assert math.isinf(check_input_value("uplink_bits_per_s", math.inf))
