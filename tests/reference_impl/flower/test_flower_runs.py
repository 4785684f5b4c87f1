"""Flower deployments end to end: the same final model as the in-process engine on the same seed, a trace that
the model on Flower predicts, and a killed SuperNode named in one line with nothing left behind.

Loopback runs need no root; emulated runs (every SuperNode in its own network namespace behind tbf-shaped
links) need root and are skipped elsewhere with the reason. Every run is cleaned up by a fixture, also when a
test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr", reason="Flower is the 'flower' extra: pip install -e '.[flower]'")

from calibration.framework_fit import read_flower_runs  # noqa: E402
from calibration.framework_validation import compare_flower_runs, summarize_flower_validation  # noqa: E402
from calibration.sweep import load_runs  # noqa: E402
from calibration.validate import compare_runs  # noqa: E402
from costmodel.contracts.calibration_file import default_calibration  # noqa: E402
from costmodel.contracts.framework_profile import load_framework_profile  # noqa: E402
from reference_impl.config import RunConfig  # noqa: E402
from reference_impl.engine import wire  # noqa: E402
from reference_impl.engine.in_process import Engine  # noqa: E402
from reference_impl.flower.deployment import NETLAB_PREFIX, RUN_TAG  # noqa: E402
from reference_impl.flower.launcher import MESSAGE_COLUMNS, MESSAGES_FILE, run_flower  # noqa: E402
from reference_impl.flower.options import FlowerOptions  # noqa: E402
from reference_impl.network.namespaces import netlab_available, remove_stale, run_command  # noqa: E402
from reference_impl.protocols import protocol_of  # noqa: E402

AVAILABLE, WHY = netlab_available()
REPO = Path(__file__).resolve().parents[3]
SMALL = dict(dataset="emnist-shape", samples=240, clients=4, batch_size=20, evaluate=False, seed=5)
COMPARED = ["round", "phase", "entity", "samples", "steps", "flops"]


def _flower_processes(under: Path) -> list[int]:
    """Live processes of Flower runs whose folder is under ``under``."""
    needle = f"{RUN_TAG}={under}".encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if any(item.startswith(needle) for item in handle.read().split(b"\0")):
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def _namespaces(pid: int) -> list[str]:
    listed = run_command(["ip", "netns", "list"], check=False).stdout.split()
    return [name for name in listed if name.startswith(f"{NETLAB_PREFIX}-{pid}-")]


@pytest.fixture
def flower_work(tmp_path):
    """A folder for the runs; afterwards, pass or fail, nothing of them may run and no lab may stay."""
    yield tmp_path
    for pid in _flower_processes(tmp_path):
        os.kill(pid, signal.SIGKILL)
    if AVAILABLE:
        remove_stale(NETLAB_PREFIX)


def _in_process(config: RunConfig) -> Engine:
    engine = Engine(config)
    protocol = protocol_of(config.algorithm)
    clock_s = protocol.setup(engine)
    for r in range(config.rounds):
        clock_s, _, _ = protocol.run_round(engine, round=r, start_s=clock_s)
    return engine


@pytest.mark.slow
@pytest.mark.parametrize("changes", [
    dict(algorithm="astraea", clients_per_round=3, gamma=2, mediator_epochs=2),   # report, plan, augmentation, chains
    dict(algorithm="fedprox", clients_per_round=3, mu=0.01),                       # the proximal term
], ids=["astraea", "fedprox"])
def test_on_the_same_seed_flower_ends_with_the_in_process_model_bit_for_bit(flower_work, changes):
    config = RunConfig(**SMALL, rounds=1, **changes)
    outcome = run_flower(config, FlowerOptions(network="local"), work_dir=flower_work)
    local = _in_process(config)
    # tolerance 0: float32 travels as its bytes, and every visit runs the in-process engine's code and seeds
    assert np.array_equal(outcome.global_vector, local.global_vector.numpy())
    flower_rows = outcome.trace[COMPARED].reset_index(drop=True)
    assert flower_rows.equals(local.recorder.to_frame()[COMPARED].reset_index(drop=True))
    trace = outcome.trace.set_index("phase")
    w = wire.message_bytes(local.params)
    if config.algorithm == "astraea":
        assert (trace.loc["model_broadcast", "bytes"] == w).all()      # the virtual mediators stay on the server
        reports = trace.loc["distribution_report", "bytes"]
        assert (reports > wire.message_bytes(local.num_classes, bytes_per_element=8)).all()
    downloads = trace.loc["client_download", "bytes"].to_numpy()
    uploads = trace.loc["client_upload", "bytes"].to_numpy()
    assert ((downloads - w > 500) & (downloads - w < 1000)).all() and (uploads > downloads).all()
    assert (trace.loc["client_download", "duration_s"] > 0.5).all()   # a fresh ClientApp process per message
    assert outcome.summary["engine"] == "flower" and outcome.summary["flwr_version"] == "1.42.0"
    folder = outcome.write(flower_work / "run")
    assert list(outcome.messages.columns[:len(MESSAGE_COLUMNS)]) == list(MESSAGE_COLUMNS)
    assert (folder / MESSAGES_FILE).exists()
    # the calibration's readers take a Flower run as they take any run
    trace_rows, runs = load_runs(flower_work)
    points, _ = compare_runs(trace_rows, runs, default_calibration())
    assert {"local_training", "round", "round_bytes"} <= set(points["phase"])
    assert _flower_processes(flower_work) == []


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(not AVAILABLE, reason=f"needs root and ip netns: {WHY}")
def test_emulated_deployments_of_astraea_and_fedavg_validate_against_the_model_on_flower(flower_work, capsys,
                                                                                       monkeypatch):
    """flower-profile --quick: Flower's profile fitted on two emulated runs predicts two others (other rates,
    clients and chains) within 10% per round and 1% per round's bytes. Fitted here, on this host and its
    load, because a ClientApp's cold start depends on both."""
    from costmodel import cli

    monkeypatch.setattr(tempfile, "tempdir", str(flower_work))     # the runs' folders, for the fixture
    out = flower_work / "profile"
    assert cli.main(["flower-profile", "--quick", "--quiet", "--network", "emulated", "--out", str(out)]) == 0
    assert _namespaces(os.getpid()) == [] and _flower_processes(flower_work) == []
    profile = load_framework_profile(out / "flower_profile.json")
    table = {row["quantity"]: row for row in profile.validation}
    shown = capsys.readouterr().out
    assert table["round (virtual)"]["runs"] == 2
    assert table["round (virtual)"]["mape_percent"] <= 10.0, shown
    assert table["round_bytes"]["max_ape_percent"] <= 1.0, shown
    assert set(profile.fit["concurrency"]) == {2, 3} and profile.machine["network"] == "emulated"
    runs = read_flower_runs(out / "runs")
    points = compare_flower_runs(runs, default_calibration(), profile)
    assert len(summarize_flower_validation(points)) == 7        # every quantity of the fitted and held-out runs


def _supernodes(under: Path) -> dict[int, int]:
    found = {}
    for pid in _flower_processes(under):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        if any(word.endswith(b"flower-supernode") for word in words[:3]):
            client = [w for w in words if w.startswith(b"partition-id=")][0].split()[0].split(b"=")[1]
            found[int(client)] = pid
    return found


@pytest.mark.slow
@pytest.mark.parametrize("network", [
    "local",
    pytest.param("emulated", marks=[pytest.mark.root, pytest.mark.skipif(not AVAILABLE, reason=f"needs root: {WHY}")]),
])
def test_a_killed_supernode_is_one_line_naming_the_client_and_nothing_is_left(flower_work, network):
    out = flower_work / "out"
    command = [sys.executable, "-m", "costmodel.cli", "run", "--engine", "flower", "--network", network,
               "--algorithm", "fedavg", "--dataset", "emnist-shape", "--samples", "180", "--clients", "3",
               "--clients-per-round", "3", "--rounds", "50", "--no-eval", "--quiet", "--out", str(out)]
    env = dict(os.environ, TMPDIR=str(flower_work))      # the run's folder, so the fixture finds its processes
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(nodes := _supernodes(flower_work)) < 3:
            assert process.poll() is None and time.monotonic() < deadline, "the deployment did not start"
            time.sleep(0.2)
        time.sleep(8.0)                                   # the federation is at work
        os.kill(nodes[1], signal.SIGKILL)
        killed = time.monotonic()
        _, err = process.communicate(timeout=60)
        ended = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 2
    assert err == f"astraea-cost run: error: client 1: its SuperNode (pid {nodes[1]}) was killed by SIGKILL\n"
    assert ended - killed < 20.0      # stated: the line within 20 s of the kill, every process ended and reaped
    assert not out.exists()
    assert _flower_processes(flower_work) == []
    if network == "emulated":
        assert _namespaces(process.pid) == []             # the lab, and with it every veth and tbf, is gone
