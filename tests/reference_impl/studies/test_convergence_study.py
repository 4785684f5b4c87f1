"""The convergence study writes the cost model's curves format, and compare's curves.csv is the same runs."""

from __future__ import annotations

import pandas as pd
import pytest

from costmodel.cli import main
from costmodel.contracts.curves_file import load_curves
from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.studies.convergence import COLUMNS, curves_from_comparison, measure_curves

TINY = RunConfig(dataset="digits", clients=6, clients_per_round=4, gamma=2, rounds=2, model="scaled",
                 model_width=0.25)


def test_a_small_study_and_a_small_compare_give_the_same_curves(tmp_path, capsys):
    frame = measure_curves(TINY, [0], algorithms=("astraea", "fedavg"), progress=False)
    assert tuple(frame.columns) == COLUMNS and len(frame) == 4
    path = tmp_path / "study.csv"
    frame.to_csv(path, index=False)
    curves = load_curves(path)                          # the format's own checks pass
    assert curves.algorithms == ("astraea", "fedavg") and curves.frame["round"].tolist() == [1, 2, 1, 2]
    setup = frame.groupby("algorithm")[["setup_seconds", "setup_bytes"]].first()
    # Astraea's setup: six label histograms of 16 + 8*10 bytes on the wire; FedAvg has none
    assert setup.loc["astraea", "setup_bytes"] == 6 * (16 + 8 * 10) and setup.loc["astraea", "setup_seconds"] > 0
    assert setup.loc["fedavg"].tolist() == [0.0, 0]

    out = tmp_path / "cmp"
    status = main(["compare", "--dataset", "digits", "--clients", "6", "--clients-per-round", "4", "--gamma", "2",
                   "--rounds", "2", "--model", "scaled", "--model-width", "0.25", "--seeds", "0", "--quiet",
                   "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    compared = load_curves(out / "curves.csv").frame
    # same data, same seed, same training: the accuracies and bytes are the study's; seconds are timings
    pd.testing.assert_series_equal(compared["accuracy"], frame["accuracy"], check_names=False)
    assert compared["round_bytes"].tolist() == frame["round_bytes"].tolist()
    assert "setup_seconds" not in compared.columns


def test_curves_from_a_comparison_frame():
    rounds = pd.DataFrame({"seed": [1, 0, 0], "algorithm": ["fedavg", "fedavg", "fedavg"], "round": [0, 1, 0],
                           "accuracy": [0.3, 0.5, 0.2], "round_s": [1.0, 2.0, 3.0], "bytes": [10, 20, 30]})
    curves = curves_from_comparison(rounds)
    assert curves.values.tolist() == [["fedavg", 0, 1, 0.2, 3.0, 30], ["fedavg", 0, 2, 0.5, 2.0, 20],
                                      ["fedavg", 1, 1, 0.3, 1.0, 10]]
    with pytest.raises(InputError, match="'rounds' must be a comparison frame"):
        curves_from_comparison(rounds.drop(columns=["bytes"]))


def test_seeds_are_checked_before_any_run():
    with pytest.raises(InputError, match=r"'seeds' must name at least one seed, each once \(got \[1, 1\]\)"):
        measure_curves(TINY, [1, 1], progress=False)
