"""The distributed engine: same model updates and bytes as the in-process engine, measured links,
one clear error (naming the rank) for a dead or stuck worker, and nothing left behind.

Local runs need only loopback; emulated runs need root and network namespaces and are skipped
elsewhere with the reason.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pandas.testing import assert_frame_equal

from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.distributed import launcher
from reference_impl.distributed.job import clients_of, worker_rank
from reference_impl.distributed.launcher import NETLAB_PREFIX, DistributedRunError, run_distributed, run_with_network
from reference_impl.distributed.options import DistributedOptions, add_network_arguments, options_from_args
from reference_impl.engine.in_process import Engine
from reference_impl.engine.trace import read_run
from reference_impl.network import namespaces
from reference_impl.network.namespaces import netlab_available
from reference_impl.protocols import protocol_of
from reference_impl.protocols.rescheduling import kl_to_uniform

AVAILABLE, WHY = netlab_available()
TINY = dict(dataset="emnist-shape", samples=400, clients=6, clients_per_round=4, gamma=2, evaluate=False)
COMPARED = ["round", "phase", "entity", "bytes", "samples", "steps"]
MODEL_PHASES = ["model_broadcast", "client_download", "client_upload", "mediator_upload"]


def _in_process(config: RunConfig) -> Engine:
    """Run the in-process protocol and keep the engine (its final global model)."""
    engine = Engine(config)
    protocol = protocol_of(config.algorithm)
    clock_s = protocol.setup(engine)
    for r in range(config.rounds):
        clock_s, _, _ = protocol.run_round(engine, round=r, start_s=clock_s)
    return engine


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _rank(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            variables = handle.read().split(b"\0")
    except OSError:
        return None
    for variable in variables:
        if variable.startswith(b"RANK="):
            return int(variable[5:])
    return None


def _ranks_of_children(pid: int, world_size: int, *, within_s: float = 60.0) -> dict[int, int]:
    """Wait until ``pid`` has one child per rank; return rank -> child pid."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        ranks = {rank: child for child in _children(pid) if (rank := _rank(child)) is not None}
        if len(ranks) == world_size:
            return ranks
        time.sleep(0.05)
    raise AssertionError(f"the run did not start {world_size} processes within {within_s} s")


def _wait_for_rounds(server_pid: int, rounds: int, *, within_s: float = 60.0) -> None:
    """Wait until the server (rank 0) has finished ``rounds`` rounds (its progress file says so)."""
    with open(f"/proc/{server_pid}/cmdline", "rb") as handle:
        job_path = Path(handle.read().split(b"\0")[-2].decode())
    progress = job_path.parent / "progress"
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if int(progress.read_text().strip() or 0) >= rounds:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"the run did not finish {rounds} rounds within {within_s} s")


def _gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


def _namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# -- placement and options (everywhere, fast) ---------------------------------------------------

def test_every_client_lives_on_exactly_one_worker():
    for workers in (1, 3, 4):
        hosted = [k for rank in range(1, workers + 1) for k in clients_of(rank, clients=10, workers=workers)]
        assert sorted(hosted) == list(range(10))
        assert all(1 <= worker_rank(k, workers) <= workers for k in range(10))
    assert clients_of(2, clients=10, workers=4) == [1, 5, 9]


def test_options_are_checked_with_one_line_errors():
    with pytest.raises(InputError, match=r"^'workers' must be >= 1 \(got 0\)\.$"):
        DistributedOptions(workers=0)
    with pytest.raises(InputError, match=r"'network' must be one of local, emulated"):
        DistributedOptions(network="inprocess")
    with pytest.raises(InputError, match=r"'timeout_s' must be >= 1 s"):
        DistributedOptions(timeout_s=0.5)
    assert DistributedOptions(network="local").slowest_bits_per_s == math.inf
    assert DistributedOptions(network="emulated", uplink_bits_per_s=5e6, downlink_bits_per_s=2e7).slowest_bits_per_s == 5e6


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_network_arguments(parser)
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(list(argv))


def test_network_arguments_parse_units_and_name_the_flag():
    assert options_from_args(_parse()) is None  # default: the in-process engine
    options = options_from_args(_parse("--network", "emulated", "--uplink", "8 Mbit/s", "--downlink", "2MB/s",
                                       "--workers", "3", "--timeout", "1.5 min"))
    assert options == DistributedOptions(network="emulated", workers=3, uplink_bits_per_s=8e6,
                                         downlink_bits_per_s=16e6, timeout_s=90.0)
    with pytest.raises(InputError, match=r"^'uplink' must be"):
        options_from_args(_parse("--network", "local", "--uplink", "fast"))
    with pytest.raises(InputError, match=r"^'timeout' must be >= 1 s"):
        options_from_args(_parse("--network", "local", "--timeout", "10ms"))


def test_emulated_without_namespaces_says_why_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(namespaces, "netlab_available", lambda: (False, "needs root (running as uid 1000)"))
    args = _parse("--network", "emulated", "--quiet")
    with pytest.raises(InputError, match=r"^'network' cannot be 'emulated' on this machine: needs root "
                                         r"\(running as uid 1000\)\.$"):
        options_from_args(args)   # before any output folder exists
    with pytest.raises(InputError, match=r"^'network' cannot be 'emulated' on this machine"):
        run_distributed(RunConfig(**TINY, rounds=1), network="emulated", progress=False)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_failed_distributed_run_exits_with_one_line(monkeypatch, tmp_path):
    def fail(*args, **kwargs):
        raise DistributedRunError("distributed run failed: rank 2 (worker) was killed by SIGKILL (logs in /x).")

    monkeypatch.setattr(launcher, "run_distributed", fail)
    with pytest.raises(SystemExit, match=r"^astraea-cost run: error: distributed run failed: rank 2 \(worker\)"):
        run_with_network(options_from_args(_parse("--network", "local")), RunConfig(**TINY, rounds=1), tmp_path,
                         progress=False)


def test_run_with_network_inprocess_writes_the_run(tmp_path):
    result = run_with_network(None, RunConfig(algorithm="fedavg", **TINY, rounds=1), tmp_path, progress=False)
    stored = read_run(tmp_path)
    assert stored.run_id == result.run_id and len(stored.trace) == len(result.trace)


# -- local network: equivalence with the in-process engine --------------------------------------

@pytest.fixture(scope="module", params=[("astraea", 2), ("fedavg", 3)], ids=["astraea", "fedavg"])
def pair(request):
    algorithm, workers = request.param
    config = RunConfig(algorithm=algorithm, rounds=2, mediator_epochs=2, **TINY)
    return config, _in_process(config), run_distributed(config, network="local", workers=workers, timeout_s=20)


def test_distributed_run_trains_the_same_model_as_the_in_process_engine(pair):
    config, engine, distributed = pair
    expected = engine.global_vector.numpy()
    assert distributed.global_vector.shape == expected.shape
    assert float(np.abs(distributed.global_vector - expected).max()) < 1e-5
    assert not np.array_equal(expected, Engine(config).global_vector.numpy())  # it did train


def test_distributed_trace_has_the_in_process_rows_and_bytes(pair):
    config, engine, distributed = pair
    expected = engine.recorder.to_frame()[COMPARED].reset_index(drop=True)
    got = distributed.trace[COMPARED].reset_index(drop=True)
    assert_frame_equal(got, expected)
    params = distributed.summary["params"]
    models = got[got["phase"].isin(MODEL_PHASES)]
    assert len(models) > 0 and (models["bytes"] == 16 + 4 * params).all()
    if config.algorithm == "astraea":
        reports = got[got["phase"] == "distribution_report"]
        assert len(reports) == config.clients and (reports["bytes"] == 16 + 8 * 47).all()


def test_distributed_rounds_carry_virtual_and_wall_time(pair):
    config, engine, distributed = pair
    rounds = distributed.rounds
    assert list(rounds["round"]) == [0, 1]
    assert (rounds["round_s"] > 0).all() and (rounds["wall_s"] > 0).all()
    trace = distributed.trace
    for r, row in rounds.iterrows():
        assert row["bytes"] == trace.loc[trace["round"] == r, "bytes"].sum()
        events = trace[trace["round"] == r]
        end = (events["start_s"] + events["duration_s"]).max()
        begin = events["start_s"].min()
        assert row["round_s"] == pytest.approx(end - begin, rel=1e-9)
    # KL statistics come from the histograms the clients reported; they match the engine's own
    selected = engine.select_clients(0)
    assert rounds.loc[0, "mean_kl_clients"] == pytest.approx(float(np.mean(kl_to_uniform(engine.histograms(selected)))))
    # measured transfers: a download covers a real send and an acknowledgement, never zero time
    downloads = trace[trace["phase"] == "client_download"]
    assert (downloads["duration_s"] > 0).all()


# -- failures end the run with one line naming the rank; nothing is left behind -----------------

LONG = dict(TINY, rounds=100_000)


def test_a_killed_worker_ends_the_run_within_the_timeout_and_leaves_no_process(tmp_path):
    config = RunConfig(algorithm="fedavg", **LONG)
    seen: dict[int, int] = {}
    killed_at: list[float] = []

    def kill_rank_2() -> None:
        seen.update(_ranks_of_children(os.getpid(), 3))
        _wait_for_rounds(seen[0], 2)  # well into the rounds
        killed_at.append(time.monotonic())
        os.kill(seen[2], signal.SIGKILL)

    killer = threading.Thread(target=kill_rank_2, daemon=True)
    killer.start()
    with pytest.raises(DistributedRunError) as failure:
        run_distributed(config, network="local", workers=2, timeout_s=10, work_dir=tmp_path)
    ended = time.monotonic()
    killer.join(timeout=5)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("distributed run failed: rank 2 (worker) was killed by SIGKILL")
    assert ended - killed_at[0] < 10
    assert all(_gone(pid) for pid in seen.values())
    assert not _children(os.getpid())


def test_a_stuck_worker_ends_the_run_at_the_deadline_naming_its_rank(tmp_path):
    config = RunConfig(algorithm="fedavg", **LONG)
    seen: dict[int, int] = {}
    stopped_at: list[float] = []

    def stop_rank_1() -> None:
        seen.update(_ranks_of_children(os.getpid(), 3))
        _wait_for_rounds(seen[0], 2)
        stopped_at.append(time.monotonic())
        os.kill(seen[1], signal.SIGSTOP)

    stopper = threading.Thread(target=stop_rank_1, daemon=True)
    stopper.start()
    with pytest.raises(DistributedRunError,
                       match=r"^distributed run failed: rank 0 \(server\): rank 1 \(worker\) did not answer "
                             r"within 4 s while [^\n]+$"):
        run_distributed(config, network="local", workers=2, timeout_s=4, work_dir=tmp_path)
    elapsed = time.monotonic() - stopped_at[0]
    stopper.join(timeout=5)
    assert elapsed < 4 + 4 / 4 + 3  # the deadline, one keep-alive period, and the controller's margin
    assert all(_gone(pid) for pid in seen.values())
    assert not _children(os.getpid())


_INTERRUPTED = """
import sys
from reference_impl.config import RunConfig
from reference_impl.distributed.launcher import run_distributed
config = RunConfig(algorithm="fedavg", dataset="emnist-shape", samples=400, clients=6, clients_per_round=4,
                   gamma=2, evaluate=False, rounds=100000)
run_distributed(config, network=sys.argv[1], workers=2, timeout_s=10, work_dir=sys.argv[2])
"""


@pytest.mark.parametrize("network", [
    "local",
    pytest.param("emulated", marks=[pytest.mark.root, pytest.mark.skipif(not AVAILABLE, reason=WHY)]),
])
def test_ctrl_c_ends_every_process_and_tears_the_network_down(network, tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(_INTERRUPTED, encoding="utf-8")
    root = str(Path(__file__).resolve().parents[3])
    controller = subprocess.Popen([sys.executable, str(script), network, str(tmp_path)], cwd=root,
                                  env=dict(os.environ, PYTHONPATH=root), stderr=subprocess.PIPE)
    try:
        ranks = _ranks_of_children(controller.pid, 3)
        if network == "emulated":
            assert any(name.startswith(f"{NETLAB_PREFIX}-{controller.pid}-") for name in _namespaces())
        _wait_for_rounds(ranks[0], 1)
        controller.send_signal(signal.SIGINT)
        _, stderr = controller.communicate(timeout=30)
    finally:
        if controller.poll() is None:
            controller.kill()
            controller.wait()
    assert b"KeyboardInterrupt" in stderr
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in ranks.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in ranks.values())
    if network == "emulated":
        assert not [name for name in _namespaces() if name.startswith(f"{NETLAB_PREFIX}-{controller.pid}-")]


# -- emulated network: transfer times follow the shaped rates ---------------------------------

@pytest.mark.root
@pytest.mark.skipif(not AVAILABLE, reason=WHY)
def test_emulated_transfers_take_bytes_over_rate_and_the_lab_is_gone():
    uplink, downlink = 8e6, 16e6
    config = RunConfig(algorithm="fedavg", rounds=1, **TINY)
    before = set(_namespaces())
    result = run_distributed(config, network="emulated", workers=4, uplink_bits_per_s=uplink,
                             downlink_bits_per_s=downlink, timeout_s=20)
    trace = result.trace
    for phase, rate in (("client_download", downlink), ("client_upload", uplink)):
        rows = trace[trace["phase"] == phase]
        assert len(rows) == 4 and (rows["bytes"] == 16 + 4 * result.summary["params"]).all()
        ideal_s = rows["bytes"] * 8 / rate
        assert ((rows["duration_s"] / ideal_s).between(0.8, 1.2)).all(), (phase, rows["duration_s"].tolist())
    # How the round's wall clock compares with its virtual clock is a timing claim, measured with its
    # noise by `astraea-cost validate-network` (rows "round (wall)" and "round (virtual)"), not here.
    left = [name for name in set(_namespaces()) - before if name.startswith(f"{NETLAB_PREFIX}-{os.getpid()}-")]
    assert not left
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert f"{NETLAB_PREFIX}-{os.getpid()}-" not in links
