"""The event statements: each cost stated once, and everything that prices an event derived from it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sympy as sp

from calibration.fit.rows import design_matrix, group_rows
from costmodel import model as ex
from costmodel.contracts.vocabulary import MODEL_PHASES
from costmodel.model.bridge import numeric_function
from costmodel.model.events import EVENT_STATEMENTS, GROUP_OF_PHASE, EventStatement, column, statement
from costmodel.model.protocols import ALGORITHM_COSTS, AlgorithmCost, register
from costmodel.model.quantities import COEFFICIENTS, sym


def test_every_priced_event_phase_has_exactly_one_statement() -> None:
    phases = [phase for s in EVENT_STATEMENTS.values() for phase in s.phases]
    assert len(phases) == len(set(phases))
    assert set(phases) == set(MODEL_PHASES)
    assert all(GROUP_OF_PHASE[phase] == s.group for s in EVENT_STATEMENTS.values() for phase in s.phases)


@pytest.mark.parametrize("group", list(EVENT_STATEMENTS))
def test_each_statement_is_linear_in_its_coefficients_and_the_regressors_rebuild_it(group: str) -> None:
    s = statement(group)
    assert s.linear_coefficients[-1] == s.fixed
    assert set(s.linear_coefficients) | set(s.boundaries) == set(s.coefficients)
    # seconds == sum over linear coefficients of parameter * regressor, at random points
    rng = np.random.default_rng(hash(group) % 2**32)
    regressors = s.regressors()
    for _ in range(5):
        point = {column(name): float(rng.uniform(1, 1e4)) for name in s.columns}
        point.update({sym(name): float(rng.uniform(1e-9, 1e-3)) for name in s.linear_coefficients})
        point.update({sym(name): float(rng.uniform(1e3, 1e5)) for name in s.boundaries})
        total = float(s.seconds.xreplace(point))
        rebuilt = 0.0
        for name in s.linear_coefficients:
            parameter = 1 / point[sym(name)] if name in s.inverse else point[sym(name)]
            rebuilt += parameter * float(regressors[name].xreplace(point))
        assert rebuilt == pytest.approx(total, rel=1e-12)


def test_a_statement_that_is_not_linear_is_refused() -> None:
    flops, theta, t_visit = column("flops"), sym("flops_per_s"), sym("train_s_per_visit")
    with pytest.raises(ValueError, match="not linear in flops_per_s"):
        EventStatement(group="bad", phases=("local_training",), columns={"flops": "flops"},
                       seconds=t_visit + flops * theta**2, fixed="train_s_per_visit")
    with pytest.raises(ValueError, match="neither columns nor model quantities: bogus"):
        EventStatement(group="bad", phases=("local_training",), columns={}, seconds=t_visit + sp.Symbol("bogus"),
                       fixed="train_s_per_visit")


def test_the_models_building_blocks_are_the_statements_at_model_quantities() -> None:
    n, e, b, f, p = (sym(x) for x in ("samples_per_client", "local_epochs", "batch_size", "train_flops_per_sample",
                                      "params"))
    by_hand = (sym("train_s_per_visit") + e * n * (f + sym("conv_padding_flops")) / sym("flops_per_s")
               + e * n * (sym("conv_input_values") * sym("train_s_per_conv_value")
                          + sym("elementwise_values") * sym("train_s_per_elementwise_value"))
               + e * sp.ceiling(n / b) * (sym("step_overhead_s") + sym("autograd_nodes") * sym("train_s_per_autograd_node")
                                          + sym("conv_calls") * sym("train_s_per_conv_call")
                                          + p * sym("step_s_per_param")))
    assert sp.expand(ex.training_seconds(n) - by_hand) == 0
    c, k_c, m = sym("clients_per_round"), sym("classes_per_client"), sp.ceiling(sym("clients_per_round")
                                                                                / sym("mediator_size"))
    assert sp.expand(ex.rescheduling_seconds() - (sym("reschedule_s_per_round") + sym("reschedule_s_per_step") * c
                                                   + sym("kl_s_per_evaluation") * c * (c + 1) / 2
                                                   + sym("reschedule_s_per_class_update") * k_c * c * (c - m) / 2)) == 0


def _trace_rows() -> pd.DataFrame:
    rows = [dict(run_id="r", phase="local_training", entity="client:0", duration_s=1.0, bytes=0, flops=2e6,
                 samples=40, steps=4, params=7e4, conv_input_values=2962, elementwise_values=7815, autograd_nodes=25,
                 conv_calls=6, conv_padding_flops=4_140_528, sample_values=784, num_classes=47),
            dict(run_id="r", phase="client_upload", entity="client:0", duration_s=1e-3, bytes=280_016, flops=0,
                 samples=0, steps=0, params=7e4, conv_input_values=2962, sample_values=784, num_classes=47),
            dict(run_id="r", phase="model_broadcast", entity="mediator:0", duration_s=1e-3, bytes=280_016, flops=0,
                 samples=0, steps=0, params=7e4, conv_input_values=2962, sample_values=784, num_classes=47)]
    return pd.DataFrame(rows)


def test_the_fits_design_matrix_is_the_statements_regressors_on_trace_rows() -> None:
    trace = _trace_rows()
    training = group_rows("local_training", trace)
    x = design_matrix("local_training", training)
    names = statement("local_training").linear_coefficients
    # 1/theta multiplies the FLOPs and the padding FLOPs alike
    expected = {"flops_per_s": 2e6 + 40 * 4_140_528, "train_s_per_conv_value": 40 * 2962,
                "train_s_per_elementwise_value": 40 * 7815,
                "step_overhead_s": 4, "train_s_per_autograd_node": 4 * 25, "train_s_per_conv_call": 4 * 6,
                "step_s_per_param": 4 * 7e4, "train_s_per_visit": 1}
    assert dict(zip(names, x[0])) == pytest.approx({n: expected[n] for n in names if n in expected} |
                                                   {n: 0.0 for n in names if n not in expected})
    transfers = group_rows("serialization", trace)
    x = design_matrix("serialization", transfers, boundary_bytes=100_000)
    names = statement("serialization").linear_coefficients
    assert dict(zip(names, x[0])) == {"serialize_s_per_byte": 280_016, "serialize_s_per_uncached_byte": 180_016,
                                      "upload_message_s": 1.0, "message_s": 1.0}
    assert dict(zip(names, x[1]))["upload_message_s"] == 0.0            # a broadcast is no upload
    no_regime = design_matrix("serialization", transfers)                # boundary at infinity
    assert (no_regime[:, names.index("serialize_s_per_uncached_byte")] == 0).all()


def test_the_numeric_statement_agrees_with_sympy() -> None:
    s = statement("aggregation")
    values = {"models": 5.0, "params": 2e5, "bytes_per_param": 4.0}
    coefficients = {name: 1e-9 * (i + 1) for i, name in enumerate(s.coefficients)} | {"aggregate_large_bytes": 5e5}
    function = numeric_function(s.seconds)
    fast = float(function(**{a: {**values, **coefficients}[a] for a in function.arguments}))
    exact = float(s.seconds.xreplace({column(k): v for k, v in values.items()} |
                                     {sym(k): v for k, v in coefficients.items()}))
    assert fast == pytest.approx(exact, rel=1e-14)
    assert math.isfinite(fast)


def test_the_algorithm_registry_refuses_half_declarations() -> None:
    astraea, fedavg = ALGORITHM_COSTS["astraea"], ALGORITHM_COSTS["fedavg"]
    with pytest.raises(ValueError, match="'fedavg' is registered twice"):
        register(astraea, fedavg, fedavg)
    with pytest.raises(ValueError, match="exactly one algorithm must be the subject"):
        register(fedavg)
    odd = AlgorithmCost(name="odd", title="Odd", citation="", role="baseline", parts=fedavg.parts,
                        setup=lambda: {"evaluation": None}, color="k", marker="x")
    with pytest.raises(ValueError, match="'odd' prices setup phases outside the vocabulary: evaluation"):
        register(astraea, odd)
    with pytest.raises(ValueError, match="has role 'boss'"):
        register(astraea, AlgorithmCost(name="b", title="B", citation="", role="boss", parts=fedavg.parts,
                                        setup=dict, color="k", marker="x"))
    assert set(COEFFICIENTS) >= {name for s in EVENT_STATEMENTS.values() for name in s.coefficients}
