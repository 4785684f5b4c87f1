"""The bridge: argument order by name, broadcasting, chunking, caching, and agreement with sympy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.model import bridge
from costmodel import model as ex
from costmodel.model.bridge import NumericFunction, argument_names, numeric_function
from costmodel.errors import InputError
from costmodel.model.quantities import COEFFICIENTS, INPUTS, sym
from hand_coefficients import HAND_COEFFICIENTS

COEFFS = HAND_COEFFICIENTS
DEFAULTS = {name: float(q.default) for name, q in INPUTS.items()}


def test_arguments_are_recorded_by_name_in_a_fixed_order() -> None:
    function = numeric_function(ex.round_seconds("fedavg"))
    assert isinstance(function, NumericFunction)
    names = function.arguments
    assert set(names) <= set(INPUTS) | set(COEFFICIENTS)
    order = [*INPUTS, *COEFFICIENTS]
    assert list(names) == sorted(names, key=order.index)
    assert "mediator_size" not in names and "clients_per_round" in names
    assert argument_names(sym("params") * sp.Symbol("zeta") + sym("latency_s")) == ("params", "latency_s", "zeta")


def test_call_with_frame_and_keywords_keywords_win() -> None:
    function = numeric_function(sym("params") * sym("bytes_per_param") + sym("message_header_bytes"))
    frame = pd.DataFrame({"params": [10, 20], "bytes_per_param": [4, 4], "message_header_bytes": [16, 16]})
    np.testing.assert_array_equal(function(frame), [56.0, 96.0])
    np.testing.assert_array_equal(function(frame, bytes_per_param=2), [36.0, 56.0])
    np.testing.assert_array_equal(function(params=1, bytes_per_param=[1, 2, 3], message_header_bytes=0), [1, 2, 3])
    with pytest.raises(InputError, match=r"^'message_header_bytes' must be given: the expression depends on it\.$"):
        function(params=1, bytes_per_param=4)


def test_scalars_give_zero_d_arrays_and_shapes_broadcast() -> None:
    function = numeric_function(sym("params") * sym("bytes_per_param"))
    scalar = function(params=3, bytes_per_param=4)
    assert isinstance(scalar, np.ndarray) and scalar.shape == () and float(scalar) == 12.0
    grid = function(params=np.arange(1, 4)[:, None], bytes_per_param=np.array([2.0, 4.0])[None, :])
    assert grid.shape == (3, 2) and grid[2, 1] == 12.0
    constant = numeric_function(sym("latency_s") * 0 + 7)
    assert float(constant()) == 7.0


def test_cached_on_the_expression() -> None:
    expression = ex.round_seconds("astraea")
    assert numeric_function(expression) is numeric_function(expression)
    pair = numeric_function([expression, ex.round_bytes("astraea")])
    assert pair is numeric_function((expression, ex.round_bytes("astraea")))
    assert pair.outputs == 2


def test_chunked_evaluation_equals_whole_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    function = numeric_function([ex.round_seconds("astraea"), ex.round_seconds("fedavg")])
    size = 3 * bridge.CHUNK + 17
    rng = np.random.default_rng(1)
    values = DEFAULTS | COEFFS | {
        "clients_per_round": rng.integers(1, 500, size).astype(float),
        "mediator_size": rng.integers(1, 30, size).astype(float),
        "samples_per_client_sd": 30.0,
        "uplink_bits_per_s": np.where(rng.random(size) < 0.1, np.inf, rng.uniform(1e5, 1e9, size)),
    }
    chunked = function(**values)
    monkeypatch.setattr(bridge, "CHUNK", 10 * size)
    whole = function(**values)
    for a, b in zip(chunked, whole):
        assert a.shape == (size,)
        np.testing.assert_array_equal(a, b)


def test_min_and_max_print_as_binary_ufuncs() -> None:
    a, b, c = sym("uplink_bits_per_s"), sym("downlink_bits_per_s"), sym("server_bits_per_s")
    function = numeric_function([sp.Min(a, b, c), sp.Max(a, b, c)])
    low, high = function(uplink_bits_per_s=[1, 5, 9], downlink_bits_per_s=[4, 2, 8], server_bits_per_s=3)
    np.testing.assert_array_equal(low, [1, 2, 3])
    np.testing.assert_array_equal(high, [4, 5, 9])
    assert "functools" not in bridge._Printer().doprint(sp.Min(a, b, c))


def test_infinite_bandwidth_is_an_in_process_transfer() -> None:
    w = ex.model_message_bytes()
    function = numeric_function(ex.transfer_seconds(w, sym("uplink_bits_per_s")))
    values = DEFAULTS | COEFFS | {"uplink_bits_per_s": math.inf}
    expected = (COEFFS["message_s"] + COEFFS["latency_s"]
                + COEFFS["serialize_s_per_byte"] * (16 + 4 * DEFAULTS["params"]))
    assert float(function(values)) == pytest.approx(expected, rel=1e-15)


_INPUT_POINTS = st.fixed_dictionaries({
    "clients_total": st.integers(100, 2000), "clients_per_round": st.integers(1, 100),
    "classes": st.integers(2, 200), "samples_per_client": st.floats(1, 1e4),
    "samples_per_client_sd": st.floats(0, 1e3), "local_epochs": st.integers(1, 10),
    "mediator_epochs": st.integers(1, 10), "mediator_size": st.integers(1, 50), "batch_size": st.integers(1, 256),
    "rounds": st.integers(1, 5000), "params": st.integers(1, 100_000_000), "bytes_per_param": st.sampled_from([1, 2, 4]),
    "message_header_bytes": st.floats(0, 128), "train_flops_per_sample": st.floats(1e2, 1e10),
    "sample_values": st.integers(1, 10_000), "conv_input_values": st.integers(0, 200_000),
    "elementwise_values": st.integers(0, 2_000_000), "autograd_nodes": st.integers(0, 500),
    "conv_calls": st.integers(0, 200), "conv_padding_flops": st.floats(0, 1e10),
    "classes_per_client": st.floats(1, 2), "sample_channels": st.integers(1, 3), "plans_augmentation": st.sampled_from([0, 1]),
    "augmented_fraction": st.floats(0, 5), "augmented_fraction_sd": st.floats(0, 2),
    "mediator_load_spread": st.floats(0, 4), "client_load_spread": st.floats(0, 3), "removed_fraction": st.floats(0, 0.99), "uplink_bits_per_s": st.floats(1e3, 1e11),
    "downlink_bits_per_s": st.floats(1e3, 1e11), "server_bits_per_s": st.floats(1e5, 1e12),
})
_COEFFICIENT_POINTS = st.fixed_dictionaries({name: st.floats(1e-12, 1.0) for name in COEFFICIENTS})


@settings(max_examples=100, deadline=None)
@given(_INPUT_POINTS, _COEFFICIENT_POINTS)
def test_numeric_agrees_with_symbolic_at_random_points(inputs: dict, coefficients: dict) -> None:
    point = inputs | coefficients
    expressions = [ex.round_seconds("astraea"), ex.round_seconds("fedavg"), ex.setup_seconds("astraea"),
                   ex.round_bytes("astraea")]
    numeric = numeric_function(expressions)(point)
    substitution = {sym(name): sp.Float(value, 30) if isinstance(value, float) else sp.Integer(value)
                    for name, value in point.items()}
    for expression, value in zip(expressions, numeric):
        exact = float(expression.xreplace(substitution).evalf(30))
        assert float(value) == pytest.approx(exact, rel=1e-9)
