"""The rescheduling probe: the greedy timed alone at chosen c, rows the fit reads like trace rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.rescheduling_probe import PROBE_FILE, load_probe, measure_rescheduling, probe_histograms
from calibration.fit import fit_group
from calibration.fit.rows import design_matrix, group_rows
from reference_impl.engine.trace import TRACE_COLUMNS
from reference_impl.protocols.rescheduling import form_mediators


def test_rows_count_what_the_greedy_did_and_are_interleaved(tmp_path):
    rows = measure_rescheduling(tmp_path, clients=(20, 40), mixes=("classes", "none"), repetitions=3,
                                progress=False)
    assert set(TRACE_COLUMNS) <= set(rows.columns)
    assert len(rows) == 2 * 2 * 3 and (rows["phase"] == "rescheduling").all() and (rows["duration_s"] > 0).all()
    for (c, mix), part in rows.groupby(["samples", "local_imbalance"]):
        assignment = form_mediators(probe_histograms(c, mix), gamma=10)
        assert c * (c + 1) // 2 == assignment.kl_evaluations
        assert (part["steps"] == assignment.kl_evaluations).all()
        assert (part["flops"] == assignment.class_updates).all()
    held = {mix: rows[(rows.samples == 40) & (rows.local_imbalance == mix)]["flops"].iloc[0] for mix in ("classes", "none")}
    assert held["none"] > 2 * held["classes"]           # IID clients of 10 samples hold more classes
    # interleaved: every round visits every configuration before the next round starts
    assert [set(rows.iloc[i:i + 4]["config_key"]) for i in (0, 4, 8)] == [set(rows["config_key"])] * 3


def test_the_probe_is_kept_and_only_redone_for_another_design_or_engine(tmp_path):
    first = measure_rescheduling(tmp_path, clients=(20,), mixes=("classes",), repetitions=2, progress=False)
    again = measure_rescheduling(tmp_path, clients=(20,), mixes=("classes",), repetitions=2, progress=False)
    pd.testing.assert_frame_equal(first.reset_index(drop=True), again.reset_index(drop=True), check_dtype=False)
    stale = pd.read_csv(tmp_path / PROBE_FILE).assign(measurement_version=-1)
    stale.to_csv(tmp_path / PROBE_FILE, index=False)
    assert load_probe(tmp_path) is None
    other = measure_rescheduling(tmp_path, clients=(30,), mixes=("classes",), repetitions=2, progress=False)
    assert set(other["samples"]) == {30}


def test_the_fit_reads_probe_rows_like_trace_rows(tmp_path):
    rows = measure_rescheduling(tmp_path, clients=(20, 60, 120), mixes=("classes", "none"), repetitions=2,
                                progress=False)
    fit = fit_group("rescheduling", rows, bootstrap=0)
    prediction = design_matrix("rescheduling", group_rows("rescheduling", rows)) @ np.asarray(fit.values)
    assert fit.r2 > 0.9 and np.median(np.abs(prediction / rows["duration_s"].to_numpy() - 1)) < 0.1
