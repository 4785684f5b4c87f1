"""The framework profile and the model on Flower: the file's contract, what Flower adds by hand, and
``predict --framework flower``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import sympy as sp

from costmodel.analysis.framework import predict_overhead_on, predict_phases_on, predict_rounds_on
from costmodel.analysis.predict import predict_overhead, predict_phases, predict_rounds
from costmodel.contracts.framework_profile import (
    PROFILE_COEFFICIENTS,
    FrameworkProfile,
    load_framework_profile,
    write_framework_profile,
)
from costmodel.errors import InputError
from costmodel.model import blom_z_values
from costmodel.model.bridge import numeric_function
from costmodel.model.framework import profile_symbol, seen_at
from costmodel.model.scenario import Scenario

from cli_runner import run
from hand_coefficients import HAND_COEFFICIENTS

REPO = Path(__file__).resolve().parents[2]
#: Round numbers: 2 s of polls and 1 CPU-second to dispatch (on a host of 2 cores), 1 s to return, 0.8 s
#: spread; Flower's stock object-pull schedule (a retry after 1 s, doubling, at most 10 s apart).
HAND_PROFILE = FrameworkProfile(
    framework="flower", version="1.42.0", created="2026-12-01",
    coefficients={"dispatch_s": 2.0, "dispatch_cpu_s": 1.0, "host_cores": 2.0, "hop_sd_s": 0.8, "return_s": 1.0,
                  "pull_retry_s": 1.0, "pull_retry_cap_s": 10.0, "download_framing_bytes": 600.0,
                  "upload_framing_bytes": 800.0, "report_framing_bytes": 1000.0})
W = 16 + 4 * 68_873       # the default model's wire message


def test_the_embedded_profile_loads_and_every_coefficient_obeys_its_rule():
    profile = load_framework_profile()
    assert profile.framework == "flower" and profile.version.startswith("1.42")
    assert set(profile.coefficients) == {spec.name for spec in PROFILE_COEFFICIENTS}
    assert profile.coefficients["dispatch_s"] > 0 and 300 < profile.coefficients["download_framing_bytes"] < 2000


def test_a_profile_round_trips_and_a_non_finite_noise_is_written_as_null(tmp_path):
    profile = replace(HAND_PROFILE, validation=({"quantity": "round (wall)", "noise_percent": math.nan},))
    path = write_framework_profile(tmp_path / "p.json", profile)
    assert json.loads(path.read_text())["validation"][0]["noise_percent"] is None
    assert load_framework_profile(path).coefficients == HAND_PROFILE.coefficients


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda d: d["coefficients"].pop("return_s"), "must have exactly the coefficients dispatch_s, "
                                                  "dispatch_cpu_s, host_cores, hop_sd_s, return_s, pull_retry_s, "
                                                  "pull_retry_cap_s, download_framing_bytes, upload_framing_bytes, "
                                                  "report_framing_bytes (missing return_s; unknown none)."),
    (lambda d: d["coefficients"]["host_cores"].update(value=0.5), "must have coefficients.host_cores >= 1 (got 0.5)."),
    (lambda d: d["coefficients"]["pull_retry_s"].update(value=0), "must have coefficients.pull_retry_s > 0 (got 0)."),
    (lambda d: d["coefficients"]["dispatch_s"].update(unit="ms"), "must give coefficients.dispatch_s in s (got 'ms')."),
    (lambda d: d["coefficients"]["return_s"].update(value=-1.0), "must have coefficients.return_s >= 0 (got -1.0)."),
    (lambda d: d.update(framework="ray"), "must name a framework of flower (got 'ray')."),
    (lambda d: d.update(schema_version=0), "must have schema_version 1 (got 0)."),
])
def test_a_broken_profile_is_one_line_naming_the_file_and_the_problem(tmp_path, edit, problem):
    data = HAND_PROFILE.to_json_dict()
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        load_framework_profile(path)
    assert str(caught.value) == f"framework profile '{path}' {problem}"


def _z(k: int) -> float:
    return float(blom_z_values(k))


def test_a_reply_is_seen_at_the_first_object_pull_retry_after_its_upload():
    seen = numeric_function(seen_at(sp.Symbol("u", nonnegative=True)))
    values = {profile_symbol("pull_retry_s").name: 1.0, profile_symbol("pull_retry_cap_s").name: 10.0}
    # retries 1, 1+2, 1+2+4, +8, then 10 s apart: 1, 3, 7, 15, 25, 35, 45, 55; after the 8th, the upload's end
    uploads = [0.0, 0.5, 1.0, 1.5, 3.1, 8.0, 16.0, 30.0, 54.9, 60.0]
    assert [float(seen(u=u, **values)) for u in uploads] == [1, 1, 1, 3, 7, 15, 25, 35, 55, 60]


@pytest.mark.parametrize(("one_host", "host_load", "dispatch"), [
    (False, 0.0, 2.0 + 1.0),                 # a device per client: its own core
    (True, 0.0, 2.0 + 1.0 * 5 / 2),          # 5 cold starts share 2 cores
    (True, 3.0, 2.0 + 1.0 * 5 * (3 + 1) / 2),  # ... on the half core 3 other sessions leave the run
])
def test_flower_adds_its_dispatch_return_spread_and_framing_to_fedavg_s_round_by_hand(one_host, host_load, dispatch):
    c, up, down = 5, 4e6, 8e6
    scenario = Scenario(clients_per_round=c, uplink_bits_per_s=up, downlink_bits_per_s=down,
                        server_bits_per_s=math.inf)
    base = predict_rounds(scenario, HAND_COEFFICIENTS, algorithms=("fedavg",)).iloc[0]
    on = predict_rounds_on(HAND_PROFILE, scenario, HAND_COEFFICIENTS, algorithms=("fedavg",), one_host=one_host,
                           host_load=host_load).iloc[0]
    eta, h_net = HAND_COEFFICIENTS["link_efficiency"], HAND_COEFFICIENTS["message_overhead_bytes"]
    priced_upload = 8 * (W + h_net) / (eta * up)          # 0.69 s: the reply is seen at the first retry, 1 s
    assert priced_upload + 8 * 800 / (eta * up) < 1.0
    by_hand = dispatch + 8 * 600 / (eta * down) + (1.0 + 1.0 - priced_upload) + 0.8 * _z(c)
    assert on["round_seconds"] - base["round_seconds"] == pytest.approx(by_hand, rel=1e-12)
    assert on["round_bytes"] - base["round_bytes"] == pytest.approx(c * (600 + 800))
    assert on["setup_seconds"] == base["setup_seconds"] == 0.0


def test_flower_adds_a_chain_of_hops_and_the_reports_to_astraea_by_hand():
    n, c, gamma, e_m, up, down = 40, 12, 4, 2, 4e6, 8e6
    scenario = Scenario(clients_total=n, clients_per_round=c, mediator_size=gamma, mediator_epochs=e_m,
                        uplink_bits_per_s=up, downlink_bits_per_s=down, server_bits_per_s=math.inf)
    base = predict_phases(scenario, HAND_COEFFICIENTS, algorithms=("astraea",)).set_index("phase")
    on = predict_phases_on(HAND_PROFILE, scenario, HAND_COEFFICIENTS, algorithms=("astraea",),
                           one_host=True).set_index("phase")
    added = on[["seconds", "bytes"]] - base[["seconds", "bytes"]]
    eta, m, chain = HAND_COEFFICIENTS["link_efficiency"], 3, e_m * gamma
    h_net = HAND_COEFFICIENTS["message_overhead_bytes"]
    assert added.loc["client_download", "seconds"] == pytest.approx(
        chain * (2.0 + 1.0 * m / 2 + 8 * 600 / (eta * down)) + math.sqrt(chain) * 0.8 * _z(m), rel=1e-12)
    upload = 8 * (W + h_net) / (eta * up)                  # 0.69 s, seen at the first retry after 1 s
    assert added.loc["client_upload", "seconds"] == pytest.approx(chain * (1.0 + 1.0 - upload), rel=1e-12)
    report = 8 * (16 + 8 * 47 + h_net) / (eta * up)
    assert added.loc["distribution_report", "seconds"] == pytest.approx(
        2.0 + 1.0 * n / 2 + 1.0 + 1.0 - report + 0.8 * _z(n), rel=1e-12)
    assert added.loc["augmentation", "seconds"] == pytest.approx(2.0 + 1.0 * n / 2 + 1.0 + 1.0 + 0.8 * _z(n),
                                                                 rel=1e-12)
    assert added.loc["client_download", "bytes"] == e_m * c * 600 and added.loc["client_upload", "bytes"] == e_m * c * 800
    assert added.loc["distribution_report", "bytes"] == n * 1000
    untouched = ["rescheduling", "model_broadcast", "local_training", "mediator_upload", "aggregation",
                 "augmentation_plan"]
    assert (added.loc[untouched] == 0).all().all()


def test_on_flower_the_overhead_categories_still_sum_to_astraea_minus_the_baseline():
    scenario = Scenario(clients_per_round=20, mediator_size=5, uplink_bits_per_s=5e6, server_bits_per_s=math.inf)
    for baseline in ("fedavg", "fedprox"):
        rounds = predict_rounds_on(HAND_PROFILE, scenario, HAND_COEFFICIENTS, algorithms=("astraea", baseline),
                                   one_host=True).set_index("algorithm")
        overhead = predict_overhead_on(HAND_PROFILE, scenario, HAND_COEFFICIENTS, baseline=baseline,
                                       one_host=True).set_index(["scope", "category"])
        for scope in ("round", "setup", "total"):
            assert overhead.loc[scope, "seconds"].sum() == pytest.approx(
                rounds.loc["astraea", f"{scope}_seconds"] - rounds.loc[baseline, f"{scope}_seconds"], rel=1e-9)
            assert overhead.loc[scope, "bytes"].sum() == pytest.approx(
                rounds.loc["astraea", f"{scope}_bytes"] - rounds.loc[baseline, f"{scope}_bytes"], rel=1e-9)
        plain = predict_overhead(scenario, HAND_COEFFICIENTS, baseline=baseline).set_index(["scope", "category"])
        # Flower adds to the hops (communication, coordination), never to training or augmentation's rounds
        assert overhead.loc[("round", "coordination"), "seconds"] > plain.loc[("round", "coordination"), "seconds"]
        for category in ("training_compute", "data_augmentation"):
            assert overhead.loc[("round", category), "seconds"] == plain.loc[("round", category), "seconds"]
        fraction = overhead.loc[("round", "communication"), f"fraction_of_{baseline}"]
        assert fraction == pytest.approx(overhead.loc[("round", "communication"), "seconds"]
                                         / rounds.loc[baseline, "round_seconds"])


def test_on_flower_a_visit_s_additions_are_communication_for_its_own_passes_and_coordination_for_the_rest():
    # the model's rule by cause: Astraea's client makes E_m of the chain's E_m*g visits; FedAvg's visit is its own
    c, gamma, e_m, up, down = 12, 4, 2, 4e6, 8e6
    scenario = Scenario(clients_per_round=c, mediator_size=gamma, mediator_epochs=e_m, uplink_bits_per_s=up,
                        downlink_bits_per_s=down, server_bits_per_s=math.inf)
    on = predict_overhead_on(HAND_PROFILE, scenario, HAND_COEFFICIENTS).set_index(["scope", "category"])
    plain = predict_overhead(scenario, HAND_COEFFICIENTS).set_index(["scope", "category"])
    added = (on["seconds"] - plain["seconds"]).loc["round"]
    eta, h_net = HAND_COEFFICIENTS["link_efficiency"], HAND_COEFFICIENTS["message_overhead_bytes"]
    visit = (2.0 + 1.0 + 8 * 600 / (eta * down)) + (1.0 + 1.0 - 8 * (W + h_net) / (eta * up))
    chain, m = e_m * gamma, c // gamma
    assert added["communication"] == pytest.approx((e_m - 1) * visit, rel=1e-12)
    assert added["coordination"] == pytest.approx((chain - e_m) * visit + math.sqrt(chain) * 0.8 * _z(m)
                                                  - 0.8 * _z(c), rel=1e-12)
    assert added["training_compute"] == added["data_augmentation"] == 0.0
    assert (on["bytes"] - plain["bytes"]).loc[("round", "communication")] == pytest.approx((e_m - 1) * c * 1400)


def test_predict_on_flower_says_so_and_costs_more(capsys):
    status, plain, _ = run(["predict", "--algorithm", "fedavg", "--uplink", "5Mbit/s"], capsys)
    assert status == 0
    status, out, err = run(["predict", "--algorithm", "fedavg", "--uplink", "5Mbit/s", "--framework", "flower"],
                           capsys)
    assert status == 0, err
    assert "; on flower 1.42.0 (profile of " in out and "a device per client)." in out
    status, out, _ = run(["predict", "--algorithm", "fedavg", "--framework", "flower", "--one-host", "--phases"],
                         capsys)
    assert status == 0 and "every client on one host of " in out
    status, out, _ = run(["predict", "--algorithm", "fedavg", "--framework", "flower", "--one-host", "--host-load", "2"],
                         capsys)
    assert status == 0 and "with 2 other busy sessions" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--framework-profile", "x.json"], "'framework-profile' must come with --framework (got 'x.json')."),
    (["--one-host"], "'one-host' must come with --framework (got --one-host alone)."),
    (["--framework", "flower", "--host-load", "2"], "'host-load' must come with --one-host (got '2')."),
    (["--framework", "flower", "--one-host", "--host-load", "-1"],
     "'host-load' must be a number of sessions >= 0 (got '-1')."),
    (["--framework", "flower", "--framework-profile", "/nonexistent/p.json"],
     "framework profile '/nonexistent/p.json' must be readable (No such file or directory)."),
])
def test_bad_framework_options_are_one_line_and_status_2(capsys, argv, message):
    status, out, err = run(["predict", *argv], capsys)
    assert status == 2 and out == ""
    assert err == f"astraea-cost predict: error: {message}\n"


def test_predicting_on_flower_imports_neither_flower_nor_torch():
    code = ("import sys\n"
            "from costmodel import cli\n"
            "status = cli.main(['predict', '--framework', 'flower', '--one-host'])\n"
            "import reference_impl.commands, costmodel.analysis.framework\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('flwr', 'torch'))\n"
            "assert not loaded, loaded\n"
            "sys.exit(status)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
