"""Throttled devices: a worker's cgroup caps its CPU at its speed, every cgroup goes on every exit path,
and without root the refusal is one line. The throttling tests need root and the cgroup v1 cpu
controller and are skipped elsewhere with the reason."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.distributed import options as distributed_options
from reference_impl.distributed.launcher import NETLAB_PREFIX, DistributedRunError, run_distributed
from reference_impl.distributed.options import DistributedOptions, add_network_arguments, options_from_args
from reference_impl.network import cpu_throttle as throttle_module
from reference_impl.network.cpu_throttle import CGROUP_CPU_ROOT, CpuThrottle, cpu_throttle, cpu_throttle_available
from reference_impl.network.namespaces import netlab_available

AVAILABLE, WHY = cpu_throttle_available()
NETLAB, NETLAB_WHY = netlab_available()
needs_root = pytest.mark.skipif(not AVAILABLE, reason=WHY)


def _ours(prefix: str) -> list[str]:
    mine = f"{prefix}-{os.getpid()}-"
    if not CGROUP_CPU_ROOT.exists():
        return []
    return sorted(p.name for p in CGROUP_CPU_ROOT.iterdir() if p.name.startswith(mine))


def _cgroup_of(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text(encoding="ascii").splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
    return ""


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_network_arguments(parser)
    return parser.parse_args(list(argv))


def test_without_root_devices_are_refused_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(throttle_module.os, "geteuid", lambda: 1000)
    with pytest.raises(InputError, match=r"^'devices' cannot be emulated on this machine: throttling devices needs "
                                         r"root for cgroups \(running as uid 1000\)\.$"):
        CpuThrottle({1: 0.5})
    monkeypatch.setattr(distributed_options.namespaces, "netlab_available", lambda: (True, "fine"))
    devices = tmp_path / "devices.csv"
    devices.write_text("speed_factor,uplink_bits_per_s,downlink_bits_per_s\n0.5,1e7,4e7\n0.2,5e6,2e7\n",
                       encoding="utf-8")
    with pytest.raises(InputError, match=r"^'devices' cannot be emulated on this machine: throttling devices"):
        options_from_args(_parse("--network", "emulated", "--devices", str(devices)))


def test_device_rules(tmp_path):
    with pytest.raises(InputError, match=r"^'devices' must only be given with network 'emulated'"):
        DistributedOptions(network="local", devices=((0.5, 1e7, 1e7),))
    with pytest.raises(InputError, match=r"^'devices row 2, speed_factor' must be >= 0.1 \(got 0.05\)\.$"):
        DistributedOptions(network="emulated", devices=((0.5, 1e7, 1e7), (0.05, 1e7, 1e7)))
    with pytest.raises(InputError, match=r"^'devices' must have speeds that sum to at most"):
        DistributedOptions(network="emulated", devices=((1.0, 1e7, 1e7),) * 64)
    bad = tmp_path / "bad.csv"
    bad.write_text("speed_factor,uplink_bits_per_s,downlink_bits_per_s\n0.5,-1,4e7\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv line 2, uplink_bits_per_s' must be a finite number > 0"):
        options_from_args(_parse("--network", "emulated", "--devices", str(bad)))
    slow = DistributedOptions(network="emulated", devices=((0.5, 2e6, 4e7), (0.5, 1e7, 3e6)))
    assert slow.slowest_bits_per_s == 2e6


@needs_root
def test_a_quota_caps_the_cpu_and_every_cgroup_goes_even_on_an_error():
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with pytest.raises(RuntimeError, match="boom"), cpu_throttle({1: 0.2, 2: 0.5}, prefix="ttest") as throttle:
            assert len(_ours("ttest")) == 2
            throttle.add(1, child.pid)
            assert _cgroup_of(child.pid).endswith("-w1")
            start_cpu = _cpu_seconds(child.pid)
            time.sleep(1.0)
            used = _cpu_seconds(child.pid) - start_cpu
            assert 0.12 < used < 0.25          # 20% of a core, not a whole one
            raise RuntimeError("boom")
        assert _ours("ttest") == []
        assert _cgroup_of(child.pid) == "/"     # moved back to the root before the cgroup went
    finally:
        child.kill()
        child.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not (AVAILABLE and NETLAB), reason=f"{WHY}; {NETLAB_WHY}")
def test_a_failed_throttled_run_leaves_no_cgroup_and_no_namespace(tmp_path):
    config = RunConfig(algorithm="fedavg", dataset="emnist-shape", samples=300, clients=3, clients_per_round=3,
                       gamma=3, evaluate=False, rounds=100_000)
    devices = ((0.5, 1e7, 4e7), (0.3, 5e6, 2e7), (0.2, 3e6, 1.2e7))
    seen: list[str] = []

    def kill_a_throttled_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            groups = _ours(NETLAB_PREFIX)
            tasks = [t for g in groups for t in (CGROUP_CPU_ROOT / g / "cgroup.procs").read_text().split()]
            if len(groups) == 3 and len(tasks) >= 3:
                seen.extend(groups)
                time.sleep(3.0)                   # into the rounds
                os.kill(int(tasks[-1]), signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_a_throttled_worker, daemon=True)
    killer.start()
    with pytest.raises(DistributedRunError, match="was killed by SIGKILL"):
        run_distributed(config, network="emulated", workers=3, devices=devices, timeout_s=20, work_dir=tmp_path)
    killer.join(timeout=5)
    assert len(seen) == 3
    assert _ours(NETLAB_PREFIX) == []
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"{NETLAB_PREFIX}-{os.getpid()}-" not in names
