"""The symbolic model: traffic identities, the papers' time ratio, hand-derived rounds, the overhead split."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import model as ex
from costmodel.model.bridge import numeric_function
from costmodel.errors import InputError
from costmodel.contracts.vocabulary import CATEGORIES, ROUND_PHASES, SETUP_PHASES
from costmodel.model.quantities import COEFFICIENTS, INPUTS, sym
from costmodel.model.scenario import Scenario
from costmodel.model.order_statistic import _normal_quantile as normal_quantile

c, gamma, e_m, n_total, k_classes = (sym(x) for x in ("clients_per_round", "mediator_size", "mediator_epochs",
                                                      "clients_total", "classes"))
W = ex.model_message_bytes()


def numeric(expression: sp.Expr, values: dict[str, float]) -> float:
    """Evaluate exactly with sympy (no bridge), so these tests stand on their own."""
    return float(expression.subs({sym(name): value for name, value in values.items()}).evalf(30))


COEFFS = {
    "flops_per_s": 2.0e9, "step_overhead_s": 3.0e-4, "step_s_per_param": 2.0e-9, "augment_s_per_value": 5.0e-9, "augment_s_per_pixel": 2.0e-9,
    "augment_plan_s_per_class": 1.0e-6, "kl_s_per_evaluation": 4.0e-8, "reschedule_s_per_class_update": 3.0e-9, "reschedule_s_per_step": 2.0e-5,
    "aggregate_s_per_param": 1.5e-9, "serialize_s_per_byte": 1.0e-9, "latency_s": 2.0e-3,
    "link_efficiency": 0.8, "message_overhead_bytes": 100.0,
    "train_s_per_elementwise_value": 1.1e-9, "train_s_per_autograd_node": 2.0e-5, "train_s_per_conv_call": 1.7e-4,
    "train_s_per_visit": 3.0e-4, "augment_s_per_client": 4.0e-4,
    "augment_plan_s": 1.8e-4, "reschedule_s_per_round": 1.7e-4, "aggregate_s_per_round": 5.0e-5, "message_s": 3.0e-6,
    "augment_s_per_data_value": 1.5e-9, "serialize_s_per_uncached_byte": 1.2e-10, "cache_bytes": 2.0e5,
    "upload_message_s": 4.0e-5, "train_time_cv": 0.05, "aggregate_s_per_large_param": 1.8e-9,
    "aggregate_large_bytes": 1.0e6, "aggregate_s_per_model": 1.7e-6, "aggregate_s_per_output_param": 2.2e-10,
    "train_s_per_conv_value": 3.0e-9,
}


def test_traffic_per_round_matches_the_protocol_symbolically() -> None:
    assert sp.simplify(ex.round_bytes("fedavg") - 2 * c * W) == 0
    assert sp.simplify(ex.round_bytes("astraea") - 2 * W * (sp.ceiling(c / gamma) + e_m * c)) == 0
    # With E_m = 1 ours is the paper's formula; with E_m > 1 the paper misses (E_m - 1)*2*c*|w|.
    assert sp.simplify(ex.round_bytes("astraea").subs(e_m, 1) - ex.paper_round_bytes("astraea")) == 0
    assert sp.simplify(ex.round_bytes("astraea") - ex.paper_round_bytes("astraea") - 2 * W * c * (e_m - 1)) == 0
    assert sp.simplify(ex.paper_round_bytes("fedavg") - ex.round_bytes("fedavg")) == 0


def test_setup_traffic_is_one_histogram_report_per_client() -> None:
    assert sp.simplify(ex.setup_bytes("astraea") - n_total * (sym("message_header_bytes") + 8 * k_classes)) == 0
    assert numeric(ex.setup_bytes("astraea"), {"clients_total": 500, "classes": 47, "message_header_bytes": 16}) \
        == 500 * (16 + 8 * 47)
    assert ex.setup_bytes("fedavg") == 0 and ex.setup_seconds("fedavg") == 0


def test_model_message_is_header_plus_payload() -> None:
    assert numeric(W, {"params": 68_873, "bytes_per_param": 4, "message_header_bytes": 16}) == 16 + 4 * 68_873


def test_training_time_ratio_is_em_gamma_for_equal_clients_without_overheads() -> None:
    d = sp.Symbol("d", positive=True)  # c = gamma + d > gamma: full mediators
    ideal = {
        sym("samples_per_client_sd"): 0, sym("augmented_fraction"): 0, sym("removed_fraction"): 0,
        sym("latency_s"): 0, sym("serialize_s_per_byte"): 0, sym("uplink_bits_per_s"): sp.oo,
        sym("downlink_bits_per_s"): sp.oo, sym("server_bits_per_s"): sp.oo, sym("reschedule_s_per_step"): 0,
        sym("kl_s_per_evaluation"): 0, sym("reschedule_s_per_class_update"): 0, sym("aggregate_s_per_param"): 0, sym("augmented_fraction_sd"): 0,
        sym("message_s"): 0, sym("reschedule_s_per_round"): 0, sym("aggregate_s_per_round"): 0,
        sym("serialize_s_per_uncached_byte"): 0, sym("upload_message_s"): 0, sym("train_time_cv"): 0,
        sym("aggregate_s_per_large_param"): 0, sym("aggregate_s_per_model"): 0,
        sym("aggregate_s_per_output_param"): 0,
    }
    ratio = (ex.round_seconds("astraea") / ex.round_seconds("fedavg")).subs(ideal).subs(c, gamma + d)
    assert sp.simplify(ratio - ex.paper_time_ratio()) == 0
    assert sp.simplify(ex.paper_round_seconds("astraea") / ex.paper_round_seconds("fedavg")
                       - ex.paper_time_ratio()) == 0
    # Below gamma clients there is one mediator of c clients: the ratio is E_m*c.
    small = (ex.round_seconds("astraea") / ex.round_seconds("fedavg")).subs(ideal).subs(gamma, c + d)
    assert sp.simplify(small - e_m * c) == 0


def steps(m: float, spread: float, batch: float) -> float:
    # the ceiling for equal clients, the uniform-remainder mean once sizes spread over B/2, linear between
    weight = min(1.0, 2 * spread / batch)
    return (1 - weight) * math.ceil(m / batch) + weight * (m / batch + (batch - 1) / (2 * batch))


def aggregate(v: dict[str, float], k: dict[str, float], models: float) -> float:
    # in place: a call per model, the average's own parameters once, every model's parameters; a model
    # beyond aggregate_large_bytes pays the dearer rate on every parameter of every model (a step)
    large = v["params"] * v["bytes_per_param"] > k["aggregate_large_bytes"]
    rate = k["aggregate_s_per_param"] + (k["aggregate_s_per_large_param"] if large else 0.0)
    return (k["aggregate_s_per_round"] + k["aggregate_s_per_model"] * models
            + k["aggregate_s_per_output_param"] * v["params"] + rate * v["params"] * models)


def _hand_fedavg(v: dict[str, float], k: dict[str, float]) -> float:
    w = v["message_header_bytes"] + v["params"] * v["bytes_per_param"]

    def transfer(bits: float, upload: bool = False) -> float:
        return (k["message_s"] + k["latency_s"] + k["serialize_s_per_byte"] * w
                + k["serialize_s_per_uncached_byte"] * max(0.0, w - k["cache_bytes"])
                + (k["upload_message_s"] if upload else 0.0)
                + 8 * (w + k["message_overhead_bytes"]) / (k["link_efficiency"] * bits))

    share = v["server_bits_per_s"] / v["clients_per_round"]
    step = (k["step_overhead_s"] + v["autograd_nodes"] * k["train_s_per_autograd_node"]
            + v["conv_calls"] * k["train_s_per_conv_call"] + v["params"] * k["step_s_per_param"])
    per_sample = ((v["train_flops_per_sample"] + v["conv_padding_flops"]) / k["flops_per_s"]
                  + v["conv_input_values"] * k["train_s_per_conv_value"]
                  + v["elementwise_values"] * k["train_s_per_elementwise_value"])
    train = k["train_s_per_visit"] + v["local_epochs"] * (v["samples_per_client"] * per_sample
                                                          + steps(v["samples_per_client"], v["samples_per_client_sd"],
                                                                  v["batch_size"]) * step)
    slope = v["local_epochs"] * (per_sample + step / v["batch_size"])
    z = NormalDist().inv_cdf((v["clients_per_round"] - 0.375) / (v["clients_per_round"] + 0.25))
    jitter = k["train_time_cv"] * train                    # the slowest client also drew the longest time
    return (transfer(min(v["downlink_bits_per_s"], share)) + train + (slope * v["samples_per_client_sd"] * v["client_load_spread"] + jitter) * z
            + transfer(min(v["uplink_bits_per_s"], share), upload=True)
            + aggregate(v, k, v["clients_per_round"]))


def _hand_astraea(v: dict[str, float], k: dict[str, float]) -> float:
    w = v["message_header_bytes"] + v["params"] * v["bytes_per_param"]
    mediators = math.ceil(v["clients_per_round"] / v["mediator_size"])
    g = min(v["mediator_size"], v["clients_per_round"])

    def transfer(bits: float, upload: bool = False) -> float:
        return (k["message_s"] + k["latency_s"] + k["serialize_s_per_byte"] * w
                + k["serialize_s_per_uncached_byte"] * max(0.0, w - k["cache_bytes"])
                + (k["upload_message_s"] if upload else 0.0)
                + 8 * (w + k["message_overhead_bytes"]) / (k["link_efficiency"] * bits))

    share = v["server_bits_per_s"] / mediators
    growth = 1 + v["augmented_fraction"] - v["removed_fraction"]
    n_eff = v["samples_per_client"] * growth
    # spreads of original size and of augmented fraction added (the model's documented upper bound)
    spread = v["samples_per_client_sd"] * growth + v["samples_per_client"] * v["augmented_fraction_sd"]
    step = (k["step_overhead_s"] + v["autograd_nodes"] * k["train_s_per_autograd_node"]
            + v["conv_calls"] * k["train_s_per_conv_call"] + v["params"] * k["step_s_per_param"])
    per_sample = ((v["train_flops_per_sample"] + v["conv_padding_flops"]) / k["flops_per_s"]
                  + v["conv_input_values"] * k["train_s_per_conv_value"]
                  + v["elementwise_values"] * k["train_s_per_elementwise_value"])
    train = k["train_s_per_visit"] + v["local_epochs"] * (n_eff * per_sample
                                                          + steps(n_eff, spread, v["batch_size"]) * step)
    slope = v["local_epochs"] * (per_sample + step / v["batch_size"])
    z = NormalDist().inv_cdf((mediators - 0.375) / (mediators + 0.25))
    c_ = v["clients_per_round"]
    m_ = math.ceil(c_ / v["mediator_size"])
    resched = (k["reschedule_s_per_round"] + k["reschedule_s_per_step"] * c_ + k["kl_s_per_evaluation"] * c_ * (c_ + 1) / 2
               + k["reschedule_s_per_class_update"] * v["classes_per_client"] * c_ * (c_ - m_) / 2)
    in_server = (k["message_s"] + k["latency_s"] + k["serialize_s_per_byte"] * w
                 + k["serialize_s_per_uncached_byte"] * max(0.0, w - k["cache_bytes"]))
    chain = v["mediator_epochs"] * g * (transfer(min(v["downlink_bits_per_s"], share)) + train
                                        + transfer(min(v["uplink_bits_per_s"], share), upload=True))
    jitter = math.sqrt(v["mediator_epochs"] * g) * k["train_time_cv"] * train   # E_m*g independent draws
    # the greedy's mediators spread kappa times as much as randomly grouped clients would
    straggler = (v["mediator_epochs"] * math.sqrt(g) * slope * spread * v["mediator_load_spread"] + jitter) * z
    aggregation = aggregate(v, k, mediators)
    return resched + in_server + chain + straggler + in_server + aggregation


HAND_CASES = [
    # c not a multiple of gamma, server link binding for FedAvg only, heterogeneous clients, E_m = 2;
    # a model of 1.2 MB is beyond aggregate_large_bytes (1 MB); the second case's default (275 kB) is not.
    dict(clients_per_round=23, mediator_size=5, mediator_epochs=2, samples_per_client=333.0,
         samples_per_client_sd=40.0, augmented_fraction_sd=0.3, mediator_load_spread=1.7, client_load_spread=1.3,
         params=300_000,
         server_bits_per_s=1.0e8,
         uplink_bits_per_s=1.0e7, downlink_bits_per_s=3.0e7),
    # c < gamma: one mediator of c clients; the server link binds nothing.
    dict(clients_per_round=3, mediator_size=10, mediator_epochs=1, samples_per_client=50.0,
         samples_per_client_sd=0.0, server_bits_per_s=1.0e10, uplink_bits_per_s=1.0e6, downlink_bits_per_s=1.0e6),
]


@pytest.mark.parametrize("case", HAND_CASES)
def test_round_time_matches_a_hand_computation(case: dict[str, float]) -> None:
    values = {name: float(q.default) for name, q in INPUTS.items()} | {k: float(v) for k, v in case.items()}
    assert numeric(ex.round_seconds("fedavg"), values | COEFFS) == pytest.approx(_hand_fedavg(values, COEFFS),
                                                                                rel=1e-12)
    assert numeric(ex.round_seconds("astraea"), values | COEFFS) == pytest.approx(_hand_astraea(values, COEFFS),
                                                                                 rel=1e-12)


def test_steps_are_the_ceiling_for_equal_clients_and_the_remainder_mean_for_spread_ones() -> None:
    m, sd, b = sp.Symbol("m", positive=True), sym("samples_per_client_sd"), sym("batch_size")
    steps_of = sp.lambdify((m, sd, b), ex.optimizer_steps(m, sd))
    assert steps_of(24.2, 0.0, 12) == 3                        # equal clients: all take 3 steps
    assert steps_of(24.2, 6.0, 12) == pytest.approx(24.2 / 12 + 11 / 24)   # spread >= B/2: 2.475
    assert steps_of(24.2, 3.0, 12) == pytest.approx(0.5 * 3 + 0.5 * (24.2 / 12 + 11 / 24))
    # against a simulation: normal sizes around 32.4 with sd 5 (>= B/2) at B = 8
    rng = np.random.default_rng(0)
    sizes = np.maximum(1, np.round(rng.normal(32.4, 5.0, 200_000)))
    assert steps_of(32.4, 5.0, 8) == pytest.approx(np.ceil(sizes / 8).mean(), rel=0.02)


def test_phases_add_up_to_the_round_and_have_the_right_scope() -> None:
    assert ex.MODEL_PHASES == SETUP_PHASES + ROUND_PHASES
    assert ex.PHASE_SCOPE["rescheduling"] == "round"
    assert {ex.PHASE_SCOPE[p] for p in ("distribution_report", "augmentation_plan", "augmentation")} == {"setup"}
    for algorithm in ("astraea", "fedavg"):
        costs = ex.phase_costs(algorithm)
        assert tuple(costs) == ex.MODEL_PHASES
        rounds = sp.Add(*(costs[p].seconds for p in ex.MODEL_PHASES if ex.PHASE_SCOPE[p] == "round"))
        assert sp.simplify(rounds - ex.round_seconds(algorithm)) == 0
        assert sp.simplify(ex.communication_seconds(algorithm) + ex.compute_seconds(algorithm)
                           - ex.round_seconds(algorithm)) == 0
    fedavg = ex.phase_costs("fedavg")
    for phase in ("distribution_report", "augmentation_plan", "augmentation", "rescheduling", "model_broadcast",
                  "mediator_upload"):
        assert fedavg[phase] == ex.PhaseCost(0, 0, 0)


def test_training_flops_count_every_visit_and_augmented_sample() -> None:
    n, a, r, e, f = (sym(x) for x in ("samples_per_client", "augmented_fraction", "removed_fraction",
                                      "local_epochs", "train_flops_per_sample"))
    astraea = ex.phase_costs("astraea")["local_training"].flops
    assert sp.simplify(astraea - e_m * c * e * n * (1 + a - r) * f) == 0
    assert sp.simplify(ex.phase_costs("fedavg")["local_training"].flops - c * e * n * f) == 0


def test_in_process_transfer_keeps_message_cost_latency_and_serialization_only() -> None:
    seconds = ex.transfer_seconds(W, sp.oo)
    uncached = sym("serialize_s_per_uncached_byte") * sp.Max(0, W - sym("cache_bytes"))
    assert sp.simplify(seconds - (sym("message_s") + sym("latency_s") + sym("serialize_s_per_byte") * W
                                  + uncached)) == 0
    upload = ex.transfer_seconds(W, sp.oo, upload=True)
    assert sp.simplify(upload - seconds - sym("upload_message_s")) == 0
    broadcast = ex.phase_costs("astraea")["model_broadcast"].seconds
    assert sp.simplify(broadcast - seconds) == 0


def test_server_link_is_shared_by_concurrent_transfers() -> None:
    values = {name: float(q.default) for name, q in INPUTS.items()} | COEFFS
    down = ex.phase_costs("fedavg")["client_download"].seconds
    # 50 clients on a 1 Gbit/s server link get 20 Mbit/s each: the 20 Mbit/s downlink is not the limit...
    at_20 = numeric(down, values)
    assert numeric(down, values | {"downlink_bits_per_s": 1e12}) == pytest.approx(at_20, rel=1e-12)
    # ...but a 10 Mbit/s downlink is.
    assert numeric(down, values | {"downlink_bits_per_s": 1e7}) > at_20


def test_storage_growth_per_client() -> None:
    # net: augmented samples kept, downsampled ones deleted (as the reference implementation does)
    value = numeric(ex.storage_bytes_per_client(), {"samples_per_client": 200, "augmented_fraction": 0.5,
                                                    "removed_fraction": 0.1, "sample_values": 784})
    assert value == pytest.approx(4 * 200 * (0.5 - 0.1) * 784, rel=1e-15)


def test_blom_order_statistic() -> None:
    assert ex.BlomZ(1) == 0
    assert float(ex.BlomZ(10).evalf()) == pytest.approx(NormalDist().inv_cdf(9.625 / 10.25), rel=1e-14)
    # Close to the exact expected maximum of k standard normals (k=2: 1/sqrt(pi); k=3: 3/(2 sqrt(pi)); k=5).
    for k, exact in ((2, 1 / math.sqrt(math.pi)), (3, 1.5 / math.sqrt(math.pi)), (5, 1.16296)):
        assert abs(float(ex.BlomZ(k).evalf()) - exact) < 0.03
    k = sp.Symbol("k", positive=True)
    derivative = float(ex.BlomZ(k).diff(k).subs(k, 7).evalf())
    finite = (float(ex.BlomZ(7 + 1e-6).evalf(30)) - float(ex.BlomZ(7 - 1e-6).evalf(30))) / 2e-6
    assert derivative == pytest.approx(finite, rel=1e-7)
    assert sp.latex(ex.BlomZ(c)) == "z_{c}"
    assert ex.BlomZ(c).is_nonnegative


def test_blom_numeric_table_and_direct_paths_agree_with_normal_quantile() -> None:
    ks = np.array([1, 2, 3, 10, 50, 999, 5000, 70000], dtype=float)
    expected = [0.0] + [NormalDist().inv_cdf((k - 0.375) / (k + 0.25)) for k in ks[1:]]
    np.testing.assert_allclose(ex.blom_z_values(ks), expected, rtol=1e-14, atol=0)  # table path
    np.testing.assert_allclose(ex.blom_z_values(ks + 0.5),  # direct AS241 path (non-integers)
                               [NormalDist().inv_cdf((k - 0.375) / (k + 0.25)) for k in ks + 0.5], rtol=1e-13)
    assert ex.blom_z_values(50) == pytest.approx(expected[4], rel=1e-15)
    assert ex.blom_z_values(np.array([], dtype=float)).shape == (0,)
    flawed = ex.blom_z_values(np.array([1.0, np.nan, np.inf]))  # no warning (warnings are errors here)
    assert flawed[0] == 0.0 and np.isnan(flawed[1:]).all()


def test_normal_quantile_covers_all_three_as241_regions() -> None:
    p = np.array([1e-300, 1e-20, 0.01, 0.2, 0.5, 0.9, 0.999, 1 - 1e-12])
    np.testing.assert_allclose(normal_quantile(p), [NormalDist().inv_cdf(x) for x in p], rtol=1e-13)


_VALUE_STRATEGY = {
    "clients_total": st.integers(200, 1000), "clients_per_round": st.integers(1, 200),
    "classes": st.integers(2, 100), "samples_per_client": st.floats(1, 5000),
    "samples_per_client_sd": st.floats(0, 500), "local_epochs": st.integers(1, 5),
    "mediator_epochs": st.integers(1, 5), "mediator_size": st.integers(1, 30), "batch_size": st.integers(1, 64),
    "rounds": st.integers(1, 1000), "params": st.integers(1, 10_000_000), "bytes_per_param": st.sampled_from([2, 4]),
    "message_header_bytes": st.floats(0, 64), "train_flops_per_sample": st.floats(1e3, 1e9),
    "sample_values": st.integers(1, 4000), "conv_input_values": st.integers(0, 100_000),
    "elementwise_values": st.integers(0, 1_000_000), "autograd_nodes": st.integers(0, 300),
    "conv_calls": st.integers(0, 100), "conv_padding_flops": st.floats(0, 1e9),
    "classes_per_client": st.floats(1, 2), "sample_channels": st.integers(1, 3), "plans_augmentation": st.sampled_from([0, 1]),
    "augmented_fraction": st.floats(0, 3), "augmented_fraction_sd": st.floats(0, 1),
    "mediator_load_spread": st.floats(0, 4), "client_load_spread": st.floats(0, 3), "removed_fraction": st.floats(0, 0.9), "uplink_bits_per_s": st.floats(1e5, 1e10),
    "downlink_bits_per_s": st.floats(1e5, 1e10), "server_bits_per_s": st.floats(1e6, 1e11),
}


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries(_VALUE_STRATEGY), st.lists(st.floats(1e-10, 1.0), min_size=len(COEFFICIENTS),
                                                        max_size=len(COEFFICIENTS)))
def test_overhead_categories_sum_to_the_difference(values: dict, coefficients: list) -> None:
    # Numerically at random points (the bridge is checked against sympy in test_bridge.py).
    point = values | dict(zip(COEFFICIENTS, coefficients))
    for scope, astraea, fedavg in (
            ("round", ex.round_seconds("astraea"), ex.round_seconds("fedavg")),
            ("setup", ex.setup_seconds("astraea"), ex.setup_seconds("fedavg")),
            ("total", ex.total_seconds("astraea"), ex.total_seconds("fedavg"))):
        parts = ex.overhead(scope)
        assert tuple(parts) == CATEGORIES
        split = numeric_function([parts[cat].seconds for cat in CATEGORIES])(point)
        a_s, f_s = numeric_function([astraea, fedavg])(point)
        # The difference of two large, nearly equal times loses digits: compare at their scale.
        assert float(sum(split)) == pytest.approx(float(a_s - f_s), rel=1e-9, abs=1e-12 * float(a_s + f_s))
    byte_split = numeric_function([ex.overhead("total")[cat].bytes for cat in CATEGORIES])(point)
    byte_difference = numeric_function(ex.total_bytes("astraea") - ex.total_bytes("fedavg"))(point)
    assert float(sum(byte_split)) == pytest.approx(float(byte_difference), rel=1e-12)


def test_overhead_categories_sum_to_the_difference_symbolically() -> None:
    for scope, difference in (("round", ex.round_seconds("astraea") - ex.round_seconds("fedavg")),
                              ("setup", ex.setup_seconds("astraea") - ex.setup_seconds("fedavg"))):
        total = sp.Add(*(ex.overhead(scope)[cat].seconds for cat in CATEGORIES))
        assert sp.expand(total - difference) == 0
    round_bytes = sp.Add(*(ex.overhead("round")[cat].bytes for cat in CATEGORIES))
    assert sp.simplify(round_bytes - 2 * W * (sp.ceiling(c / gamma) + e_m * c - c)) == 0


def test_overhead_categories_have_their_documented_content() -> None:
    # the rule of costmodel.model.overhead, by hand: compute = own passes on own data, augmentation =
    # the added samples of every visit in series, communication = own transfers and server messages,
    # coordination = the other visits of a chain, rescheduling, the slowest branch, averaging
    n, s_n, a, r = (sym(x) for x in ("samples_per_client", "samples_per_client_sd", "augmented_fraction",
                                     "removed_fraction"))
    g, m = ex.mediator_clients(), ex.mediators()
    t_a = ex.training_seconds(ex.effective_samples(), ex.effective_samples_sd())
    t_f = ex.training_seconds(n, s_n)
    slope = ex.training_seconds_per_sample()
    a_parts, f_parts = ex.round_parts("astraea"), ex.round_parts("fedavg")
    round_parts = ex.overhead("round")
    assert sp.expand(round_parts["data_augmentation"].seconds - e_m * g * (t_a - t_f)) == 0
    assert sp.simplify(round_parts["training_compute"].seconds - (e_m * t_f - t_f)) == 0
    in_server = ex.transfer_seconds(W, sp.oo)
    assert sp.expand(round_parts["communication"].seconds
                     - (e_m * (a_parts.download + a_parts.upload) + 2 * in_server
                        - (f_parts.download + f_parts.upload))) == 0
    coordination = ((g - 1) * e_m * (a_parts.download + t_f + a_parts.upload) + ex.rescheduling_seconds()
                    + (e_m * sp.sqrt(g) * slope * (s_n * (1 + a - r) + n * sym("augmented_fraction_sd"))
                       * sym("mediator_load_spread")
                       + sp.sqrt(e_m * g) * sym("train_time_cv") * t_a) * ex.BlomZ(m)
                    - (slope * s_n * sym("client_load_spread") + sym("train_time_cv") * t_f) * ex.BlomZ(c)
                    + ex.aggregation_seconds(m) - ex.aggregation_seconds(c))
    assert sp.expand(round_parts["coordination"].seconds - coordination) == 0
    setup_parts = ex.overhead("setup")
    assert setup_parts["data_augmentation"].storage_bytes == ex.storage_bytes_per_client()
    assert setup_parts["data_augmentation"].bytes == ex.setup_bytes("astraea")
    assert all(setup_parts[cat].seconds == 0 for cat in CATEGORIES if cat != "data_augmentation")


def test_bad_algorithm_and_scope_raise_input_errors() -> None:
    with pytest.raises(InputError, match=r"^'algorithm' must be one of astraea, fedavg, fedprox \(got 'scaffold'\)\.$"):
        ex.phase_costs("scaffold")
    with pytest.raises(InputError, match=r"^'scope' must be one of round, setup, total \(got 'epoch'\)\.$"):
        ex.overhead("epoch")


def test_without_an_augmentation_plan_the_setup_is_the_distribution_report_alone() -> None:
    # the reference implementation's plan 'none' skips the plan and the augmentation (it still reports:
    # the rescheduling needs the histograms)
    costs = ex.phase_costs("astraea")
    plain = Scenario.emnist(plans_augmentation=0, augmented_fraction=0, augmented_fraction_sd=0)
    values = {**plain.as_dict(), **COEFFS}
    assert numeric(costs["augmentation_plan"].seconds, values) == 0
    assert numeric(costs["augmentation"].seconds, values) == 0
    assert numeric(ex.setup_seconds("astraea"), values) == pytest.approx(
        numeric(costs["distribution_report"].seconds, values), rel=1e-15)
    assert numeric(ex.storage_bytes_per_client(), values) == 0
    with pytest.raises(InputError, match=r"^'augmented_fraction' must be 0 when plans_augmentation is 0 "):
        Scenario.emnist(plans_augmentation=0)
    with pytest.raises(InputError, match=r"^'classes_per_client' must be <= classes \(47\) \(got 48\)\.$"):
        Scenario.emnist(classes_per_client=48)
