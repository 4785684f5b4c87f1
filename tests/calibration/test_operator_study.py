"""The measured-layer candidate: its design matrix against a hand derivation, a fit that recovers a
noise-free candidate exactly, a model without timings refused, and the stored table and its doc block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.family_fit import configuration_table
from calibration.family_grid import TEST_SETS
from calibration.operator_study import CANDIDATE_TERMS, MODEL_COLUMNS, STORED, candidate_design, candidate_table
from costmodel.errors import InputError
from costmodel.report.operator_tables import load_operator_study, operator_block


@pytest.fixture(scope="module")
def stored() -> tuple[pd.DataFrame, pd.DataFrame]:
    return configuration_table(pd.read_csv(STORED / "visits.csv")), pd.read_csv(STORED / "operator_times.csv")


def test_design_by_hand(stored) -> None:
    table, operators = stored
    row = table.iloc[[0]].reset_index(drop=True)
    op = operators.merge(row[["model", "width", "depth", "sample_shape", "num_classes"]]).iloc[0]
    m, steps = float(row["samples"][0]), float(row["steps"][0])
    expected = {"t_val": m * row["elementwise_values"][0], "a_conv": m * op["conv_sample_s"],
                "a_lin": m * op["linear_sample_s"], "a_attn": m * op["attention_sample_s"], "t_step": steps,
                "t_node": steps * row["autograd_nodes"][0], "t_convcall": steps * row["conv_calls"][0],
                "a_call": steps * op["layer_call_s"], "t_param": steps * row["params"][0], "t_visit": 1.0}
    design = candidate_design(row, operators)
    assert design.shape == (1, len(CANDIDATE_TERMS)) and set(expected) == set(CANDIDATE_TERMS)
    np.testing.assert_allclose(design[0], [expected[name] for name in CANDIDATE_TERMS], rtol=1e-12)


def test_a_noise_free_candidate_is_recovered(stored) -> None:
    table, operators = stored
    truth = np.array([3e-9, 1.2, 0.9, 0.7, 2e-4, 1e-5, 1e-4, 0.8, 3e-9, 1e-3])
    exact = table.assign(seconds=candidate_design(table, operators) @ truth)
    result = candidate_table(exact, operators)
    assert set(result["family"]) == {"mlp", "scaled", "resnet", "mobilenet", "vit"}
    assert result["candidate_fit_pct"].max() < 1e-6
    np.testing.assert_allclose(list(result.attrs["coefficients"].values()), truth, rtol=1e-6)


def test_a_model_without_timings_is_refused(stored) -> None:
    table, operators = stored
    with pytest.raises(InputError, match="'operators' must time every model"):
        candidate_design(table, operators.iloc[1:])


def test_the_stored_table_is_what_the_stored_visits_and_layer_times_give(stored) -> None:
    table, operators = stored
    recomputed = candidate_table(table, operators)
    written = pd.read_csv(STORED / "operator_candidate.csv")
    pd.testing.assert_frame_equal(recomputed.reset_index(drop=True), written, check_dtype=False, rtol=1e-9)
    assert set(written["grid"]) == {"development", *TEST_SETS}
    record = load_operator_study()[1]
    assert set(operators["measured_at"]) == {record["layers_timed"]}
    assert len(operators) == len(table.drop_duplicates(list(MODEL_COLUMNS))) == record["models"]


def test_the_block_prints_both_statements_verdicts_on_the_test_grid() -> None:
    stored = load_operator_study()
    block = operator_block(stored)
    written = pd.read_csv(STORED / "operator_candidate.csv")
    test = written[written["grid"] == TEST_SETS[0]]
    counts, layers = int((test["counts_verdict"] == "pass").sum()), int((test["candidate_verdict"] == "pass").sum())
    assert f"counts {counts} of {len(test)} families pass, measured layers {layers} of {len(test)}" in block
    # a row per family on the development configurations, on the test grid and on each earlier measurement
    assert block.count("| mobilenet |") == 2 + len(stored[1]["earlier"])
    for entry in stored[1]["earlier"]:
        earlier = pd.DataFrame(entry["rows"])
        assert f"measured layers {int((earlier['candidate_verdict'] == 'pass').sum())} of {len(earlier)}." in block
    assert operator_block(None).startswith("Not measured yet")
