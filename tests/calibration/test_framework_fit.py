"""Fitting Flower's profile: synthetic Flower runs built from known per-message costs give those costs back."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from calibration.framework_fit import fit_flower_profile, message_residuals, read_flower_runs
from costmodel.contracts.calibration_file import default_calibration
from costmodel.errors import InputError
from costmodel.model import blocks
from costmodel.model.bridge import numeric_function
from costmodel.model.quantities import sym
from reference_impl.engine.trace import TRACE_COLUMNS, RunRecord, write_run
from reference_impl.flower.launcher import MESSAGES_FILE

PARAMS = 68_873
W = 16 + 4 * PARAMS
#: The costs the synthetic runs are made of: dispatch 1.5 s + 2.5 CPU-seconds (stretched on a shared host),
#: return 1.2 s, framing 600 B in, 790 B out, 1000 B per report.
DISPATCH, CPU, RETURN, F_IN, F_OUT, F_REP = 1.5, 2.5, 1.2, 600, 790, 1000


def _transfers(up: float, down: float) -> tuple[float, float]:
    coefficients = dict(default_calibration().coefficients)
    w = blocks.model_message_bytes()
    function = numeric_function([blocks.transfer_seconds(w, sym("downlink_bits_per_s")),
                                 blocks.transfer_seconds(w, sym("uplink_bits_per_s"), upload=True)])
    down_s, up_s = function(params=PARAMS, bytes_per_param=4, message_header_bytes=16, downlink_bits_per_s=down,
                            uplink_bits_per_s=up, **coefficients)
    return float(down_s), float(up_s)


def _write_run(folder, *, algorithm: str, c: int, gamma: int, visits: int, up: float, down: float, jitter: float,
               background: float = 0.0):
    eta, h_net = (default_calibration().coefficients[name] for name in ("link_efficiency", "message_overhead_bytes"))
    k = math.ceil(c / gamma) if algorithm == "astraea" else c
    base_down, base_up = _transfers(up, down)
    link_up = 8 * (W + h_net) / (eta * up)
    assert link_up + 8 * F_OUT / (eta * up) < 1.0          # so the server sees every reply at its first retry, 1 s
    rows, t = [], 1000.0
    for i in range(visits):
        noise = jitter if i % 2 else -jitter        # zero mean over every pair of visits
        download = base_down + 8 * F_IN / (eta * down) + DISPATCH + CPU * max(1.0, k * (background + 1) / 2) + noise
        upload = base_up - link_up + 1.0 + RETURN
        rows.append({"kind": "train", "client": i % c, "round": 0, "bytes": W + F_IN, "reply_bytes": W + F_OUT,
                     "encode_s": 0.0, "push_s": t, "client_process_start_s": t + 2.0, "client_handler_s": t + 3.0,
                     "client_cpu_at_handler_s": 2.2, "client_cpu_at_work_s": CPU + noise / 10,
                     "client_work_start_s": t + download,
                     "client_work_end_s": t + download + 0.5, "seen_s": t + download + 0.5 + upload})
        t += 20.0
    rows.append({"kind": "query.report", "client": 0, "round": -1, "bytes": 160, "reply_bytes": 16 + 8 * 47 + F_REP})
    trace = pd.DataFrame(columns=list(TRACE_COLUMNS))
    summary = {"engine": "flower", "params": PARAMS, "model_message_bytes": W, "num_classes": 47,
               "uplink_bits_per_s": up, "downlink_bits_per_s": down, "flwr_version": "1.42.0", "rounds": [],
               "flower_pull_retry_s": 1.0, "flower_pull_retry_cap_s": 10.0, "host_cores": 2,
               "host_background_groups": background}
    write_run(folder, RunRecord(run_id=folder.name, algorithm=algorithm, trace=trace, summary=summary,
                                config={"algorithm": algorithm, "clients_per_round": c, "gamma": gamma}))
    pd.DataFrame(rows).to_csv(folder / MESSAGES_FILE, index=False)


def test_the_fit_gives_back_the_costs_the_runs_were_made_of(tmp_path):
    _write_run(tmp_path / "a", algorithm="astraea", c=4, gamma=4, visits=8, up=5e6, down=20e6, jitter=0.5)  # 1 core
    _write_run(tmp_path / "b", algorithm="fedavg", c=3, gamma=2, visits=6, up=10e6, down=40e6, jitter=0.5,
               background=1.0)                           # 3 ClientApps on the 1 core another session leaves
    runs = read_flower_runs(tmp_path)
    assert [run.folder.name for run in runs] == ["a", "b"]
    profile = fit_flower_profile(runs, default_calibration(), created="2026-12-01", version="1.42.0")
    c = profile.coefficients
    assert c["dispatch_s"] == pytest.approx(DISPATCH, abs=1e-9)
    assert c["dispatch_cpu_s"] == pytest.approx(CPU, abs=1e-9)        # as the ClientApps measured it
    assert c["host_cores"] == 2.0 and profile.fit["stretch"] == [1.0, 3.0]
    assert c["return_s"] == pytest.approx(RETURN, abs=1e-9)
    assert (c["pull_retry_s"], c["pull_retry_cap_s"]) == (1.0, 10.0)
    assert (c["download_framing_bytes"], c["upload_framing_bytes"], c["report_framing_bytes"]) == (F_IN, F_OUT, F_REP)
    assert c["hop_sd_s"] == pytest.approx(0.5 * math.sqrt(14 / 13), rel=1e-9)   # +-0.5 s, sample sd over 14 visits
    assert profile.fit["concurrency"] == [1, 3] and profile.fit["messages"] == 14
    residuals = message_residuals(runs[1], default_calibration())
    assert (residuals["k"] == 3).all() and residuals["to_handler_s"].tolist() == [3.0] * 6
    (row,) = [r for r in profile.breakdown if r["algorithm"] == "fedavg"]
    assert row["cold_start_s"] == pytest.approx(1.0) and row["cpu_at_handler_s"] == pytest.approx(2.2)


def test_the_dispatch_seconds_are_what_remains_beyond_the_stretched_cpu_work(tmp_path):
    _write_run(tmp_path / "a", algorithm="fedavg", c=4, gamma=2, visits=4, up=5e6, down=20e6, jitter=0.0,
               background=2.0)                 # 4 ClientApps on the 2/3 core two other sessions leave: 6x
    profile = fit_flower_profile(read_flower_runs(tmp_path), default_calibration(), created="2026-12-01",
                                 version="1.42.0")
    assert profile.coefficients["dispatch_cpu_s"] == pytest.approx(CPU)
    assert profile.coefficients["dispatch_s"] == pytest.approx(DISPATCH, abs=1e-9)
    assert profile.fit["stretch"] == [6.0, 6.0] and profile.coefficients["hop_sd_s"] == pytest.approx(0.0, abs=1e-9)


def test_a_run_without_its_host_s_sessions_is_one_line(tmp_path):
    _write_run(tmp_path / "a", algorithm="fedavg", c=2, gamma=2, visits=2, up=5e6, down=20e6, jitter=0.0)
    run_json = tmp_path / "a" / "run.json"
    run_json.write_text(run_json.read_text().replace('"host_background_groups"', '"host_background_other"'))
    with pytest.raises(InputError, match=r"^'runs' must record the other sessions on their host "
                                         r"\(host_background_groups in run\.json\) \(got none in .*a; re-run"):
        fit_flower_profile(read_flower_runs(tmp_path), default_calibration(), created="2026-12-01", version="1.42.0")


def test_a_folder_without_flower_runs_is_one_line(tmp_path):
    write_run(tmp_path / "inprocess", RunRecord(run_id="x", algorithm="fedavg",
                                                trace=pd.DataFrame(columns=list(TRACE_COLUMNS))))
    with pytest.raises(InputError, match=r"^'runs' must hold Flower runs \(run folders with flower_messages\.csv"):
        read_flower_runs(tmp_path)

