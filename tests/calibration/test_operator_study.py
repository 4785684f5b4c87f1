"""The measured-layer candidate: its design matrix against a hand derivation, a fit that recovers a
noise-free candidate exactly, and a model without timings refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.family_fit import configuration_table
from calibration.operator_study import CANDIDATE_TERMS, STORED, candidate_design, candidate_table
from costmodel.errors import InputError


@pytest.fixture(scope="module")
def stored() -> tuple[pd.DataFrame, pd.DataFrame]:
    return configuration_table(pd.read_csv(STORED / "visits.csv")), pd.read_csv(STORED / "operator_times.csv")


def test_design_by_hand(stored) -> None:
    table, operators = stored
    row = table.iloc[[0]].reset_index(drop=True)
    op = operators.merge(row[["model", "width", "depth", "sample_shape", "num_classes"]]).iloc[0]
    m, steps = float(row["samples"][0]), float(row["steps"][0])
    expected = [m * (row["train_flops_per_sample"][0] - op["conv_flops"] - op["linear_flops"]),
                m * row["elementwise_values"][0], m * op["conv_sample_s"], m * op["linear_sample_s"], steps,
                steps * row["autograd_nodes"][0], steps * row["conv_calls"][0], steps * op["layer_call_s"],
                steps * op["optimizer_step_s"], 1.0]
    design = candidate_design(row, operators)
    assert design.shape == (1, len(CANDIDATE_TERMS))
    np.testing.assert_allclose(design[0], expected, rtol=1e-12)


def test_a_noise_free_candidate_is_recovered(stored) -> None:
    table, operators = stored
    truth = np.array([2e-12, 3e-9, 1.2, 0.9, 2e-4, 1e-5, 1e-4, 0.8, 1.1, 1e-3])
    exact = table.assign(seconds=candidate_design(table, operators) @ truth)
    result = candidate_table(exact, operators)
    assert set(result["family"]) == {"mlp", "scaled", "resnet", "mobilenet", "vit"}
    assert result["candidate_fit_pct"].max() < 1e-6
    np.testing.assert_allclose(list(result.attrs["candidate_coefficients"].values()), truth, rtol=1e-6)


def test_a_model_without_timings_is_refused(stored) -> None:
    table, operators = stored
    with pytest.raises(InputError, match="'operators' must time every model"):
        candidate_design(table, operators.iloc[1:])
