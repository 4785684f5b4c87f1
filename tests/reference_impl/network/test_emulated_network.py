"""Emulated links: labs come up and go away completely, shaped rates are what was configured, and a
dead peer ends a measurement with a clear error within its timeout.

Everything that builds a lab needs root and network namespaces; it is skipped elsewhere with the
reason. The checks of arguments and token-bucket arithmetic run everywhere.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from costmodel.errors import InputError
from reference_impl.network.lab import INTERFACE, emulated_network
from reference_impl.network.links import ETHERNET_FRAME_BYTES, LinkSpec, tbf_burst_bytes, tbf_limit_bytes
from reference_impl.network.namespaces import NetlabError, netlab_available, remove_stale
from reference_impl.network.transfer_endpoints import FRAME_HEADER_BYTES
from reference_impl.network.transfer_measurement import (
    TRANSFER_COLUMNS,
    LinkTransferError,
    measure_transfers,
    message_timeout_s,
    start_transfer_server,
)

AVAILABLE, WHY = netlab_available()
TEST_PREFIX = "act"
#: What TCP/IPv4 with timestamps over Ethernet at MTU 1500 carries per byte on the link: 1448/1514.
TCP_EFFICIENCY = 1448 / 1514


def _namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _root_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def _assert_gone(run_name: str) -> None:
    assert not [name for name in _namespaces() if name.startswith(run_name)]
    assert run_name not in _root_links()


# ------------------------------------------------------------------------------------------------
# Everywhere
# ------------------------------------------------------------------------------------------------

def test_burst_holds_two_frames_or_two_milliseconds_of_tokens():
    assert tbf_burst_bytes(2e6) == 2 * ETHERNET_FRAME_BYTES  # 2 ms at 2 Mbit/s is only 500 bytes
    assert tbf_burst_bytes(32e6) == 8_000  # 4 MB/s * 2 ms
    assert tbf_burst_bytes(1e9) == 250_000
    assert tbf_limit_bytes(8e6, 3028, 1.0) == 1_000_000 + 3028


def test_linkspec_builds_tbf_arguments_and_leaves_infinite_rates_unshaped():
    spec = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=math.inf)
    assert spec.tbf_args("uplink") == ["tbf", "rate", "8000000bit", "burst", "3028", "limit", "1003028"]
    assert spec.tbf_args("downlink") is None
    fixed = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=8e6, burst_bytes=5000, queue_latency_s=0.5)
    assert fixed.tbf_args("downlink") == ["tbf", "rate", "8000000bit", "burst", "5000", "limit", "505000"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"uplink_bits_per_s": -3.0, "downlink_bits_per_s": 1e6}, "'uplink_bits_per_s' must be > 0 (got -3.0)."),
    ({"uplink_bits_per_s": 1e6, "downlink_bits_per_s": 100.0}, "'downlink_bits_per_s' must be >= 8000"),
    ({"uplink_bits_per_s": 1e6, "downlink_bits_per_s": 1e6, "burst_bytes": 100}, "'burst_bytes' must be >= 1514"),
    ({"uplink_bits_per_s": 1e6, "downlink_bits_per_s": 1e6, "queue_latency_s": 0}, "'queue_latency_s' must be > 0"),
])
def test_linkspec_refuses_bad_values(kwargs, message):
    with pytest.raises(InputError) as caught:
        LinkSpec(**kwargs)
    assert str(caught.value).startswith(message)


def test_emulated_network_refuses_bad_arguments_before_touching_anything():
    link = LinkSpec(uplink_bits_per_s=1e6, downlink_bits_per_s=1e6)
    with pytest.raises(InputError, match=r"'links' must hold 1 or num_hosts=3 LinkSpecs \(got '2 LinkSpecs'\)"):
        with emulated_network(3, [link, link]):
            pass
    with pytest.raises(InputError, match="'num_hosts' must be >= 1"):
        with emulated_network(0, [link]):
            pass
    with pytest.raises(InputError, match="'prefix' must be 1-8 lowercase"):
        with emulated_network(1, [link], prefix="Bad-Prefix"):
            pass
    with pytest.raises(InputError, match="'subnet' must hold 5 host addresses"):
        with emulated_network(4, [link], subnet="10.231.0.0/30"):
            pass


def test_message_timeout_scales_with_the_transfer():
    assert message_timeout_s(1_000_000, 8e6) == pytest.approx(5.0 + 3.0 * 8 * 1_000_008 / 8e6)
    assert message_timeout_s(1_000_000, math.inf) == 5.0


def test_availability_gives_a_reason():
    ok, reason = netlab_available()
    assert isinstance(ok, bool) and reason and "\n" not in reason


# ------------------------------------------------------------------------------------------------
# Root and namespaces
# ------------------------------------------------------------------------------------------------

def root_only(test):
    """Mark a test as needing root and namespaces; skip it elsewhere with the reason."""
    return pytest.mark.root(pytest.mark.skipif(not AVAILABLE, reason=f"needs root and ip netns: {WHY}")(test))


@root_only
def test_two_client_lab_comes_up_wired_and_shaped_then_is_fully_gone():
    link = LinkSpec(uplink_bits_per_s=4e6, downlink_bits_per_s=16e6)
    with emulated_network(2, [link], prefix=TEST_PREFIX) as lab:
        run_name = lab.run_name
        assert run_name.startswith(f"{TEST_PREFIX}-{os.getpid()}-")
        present = set(_namespaces())
        assert set(lab.namespaces) <= present and len(lab.namespaces) == 4
        assert [h.address for h in lab.hosts] == ["10.231.0.1", "10.231.0.2", "10.231.0.3"]
        # every host sees its address on eth0; nothing of the lab exists in the machine's namespace
        for host in lab.hosts:
            out = lab.run(host, "ip", "-o", "-4", "addr", "show", "dev", INTERFACE).stdout
            assert f"{host.address}/16" in out
        assert run_name not in _root_links()
        # uplink shaped on the client's egress, downlink on its bridge port in the hub
        client_qdisc = lab.run(0, "tc", "qdisc", "show", "dev", INTERFACE).stdout
        assert "tbf" in client_qdisc and "4Mbit" in client_qdisc
        hub_qdisc = subprocess.run(["tc", "-n", lab.hub_namespace, "qdisc", "show", "dev", "c1"],
                                   capture_output=True, text=True, check=True).stdout
        assert "tbf" in hub_qdisc and "16Mbit" in hub_qdisc
        # client 0 reaches client 1 through the bridge (a refused connection proves the path)
        probe = ("import socket\ntry:\n socket.create_connection(('10.231.0.3', 9), timeout=3)\n"
                 "except ConnectionRefusedError:\n print('refused')\n")
        assert lab.run(0, sys.executable, "-c", probe).stdout.strip() == "refused"
        env = lab.gloo_env(1, rank=2, world_size=3, port=29500)
        assert env == {"MASTER_ADDR": "10.231.0.1", "MASTER_PORT": "29500", "RANK": "2", "WORLD_SIZE": "3",
                       "GLOO_SOCKET_IFNAME": "eth0"}
    _assert_gone(run_name)
    assert lab.closed
    lab.teardown()  # idempotent
    with pytest.raises(NetlabError, match="is torn down"):
        lab.run(0, "true")


@root_only
def test_lab_is_gone_when_the_body_raises_and_its_processes_are_ended():
    link = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=8e6)
    with pytest.raises(RuntimeError, match="body failed"):
        with emulated_network(2, [link], prefix=TEST_PREFIX) as lab:
            run_name = lab.run_name
            sleeper = lab.popen(1, "sleep", "60")
            raise RuntimeError("body failed")
    _assert_gone(run_name)
    assert sleeper.poll() is not None


@root_only
def test_sigterm_tears_the_lab_down_and_remove_stale_clears_a_killed_run():
    script = (
        "import os, sys, time\n"
        "from reference_impl.network.lab import emulated_network\n"
        "from reference_impl.network.links import LinkSpec\n"
        "with emulated_network(1, [LinkSpec(uplink_bits_per_s=1e6, downlink_bits_per_s=1e6)], prefix='actsig') as lab:\n"
        "    print(lab.run_name, flush=True)\n"
        "    time.sleep(30)\n"
    )
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    for signum in (signal.SIGTERM, signal.SIGKILL):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=repo)
        try:
            run_name = child.stdout.readline().strip()
            assert run_name.startswith("actsig-")
            assert any(name.startswith(run_name) for name in _namespaces())
            child.send_signal(signum)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=5)
            child.stdout.close()
        if signum == signal.SIGTERM:
            _assert_gone(run_name)  # the handler tore the lab down before the process ended
        else:
            assert any(name.startswith(run_name) for name in _namespaces())  # SIGKILL leaves it behind
            removed = remove_stale("actsig")
            assert set(removed) == {f"{run_name}-{part}" for part in ("hub", "srv", "c0")}
            _assert_gone(run_name)


@root_only
def test_one_megabyte_at_8_mbit_takes_about_one_second_both_ways():
    link = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=8e6)
    with emulated_network(1, [link], prefix=TEST_PREFIX) as lab:
        frames = [measure_transfers(lab, [1_000_000], 1, direction, progress=False)
                  for direction in ("uplink", "downlink")]
    for frame in frames:
        assert list(frame.columns) == list(TRANSFER_COLUMNS)
        row = frame.iloc[0]
        assert row.wire_bytes == 1_000_000 + FRAME_HEADER_BYTES and row.rate_bits_per_s == 8e6
        # nominal 1.000 s; TCP/IP/Ethernet headers make it about 1.046 s
        assert row.seconds == pytest.approx(1.0, rel=0.15)
        assert row.seconds == pytest.approx(8 * 1_000_008 / (8e6 * TCP_EFFICIENCY), rel=0.05)


@root_only
def test_uplink_and_downlink_rates_differ_as_configured():
    links = [LinkSpec(uplink_bits_per_s=4e6, downlink_bits_per_s=16e6),
             LinkSpec(uplink_bits_per_s=16e6, downlink_bits_per_s=4e6)]
    size = 262_144
    with emulated_network(2, links, prefix=TEST_PREFIX) as lab:
        up = measure_transfers(lab, [size], 2, "uplink", concurrent=True, progress=False)
        down = measure_transfers(lab, [size], 2, "downlink", concurrent=True, progress=False)
    for frame, direction in ((up, "uplink"), (down, "downlink")):
        assert len(frame) == 4 and set(frame.host) == {0, 1} and set(frame.direction) == {direction}
        # the fastest of the repeats: the link's rate; a slower repeat is the sender losing the CPU
        best = frame.loc[frame.groupby("host").seconds.idxmin()]
        achieved = best.wire_bytes * 8 / best.seconds
        ratio = achieved / (best.rate_bits_per_s * TCP_EFFICIENCY)
        assert ratio.between(0.93, 1.07).all(), best.assign(ratio=ratio)
    assert up.set_index("host").rate_bits_per_s.groupby(level=0).first().to_dict() == {0: 4e6, 1: 16e6}
    assert down.set_index("host").rate_bits_per_s.groupby(level=0).first().to_dict() == {0: 16e6, 1: 4e6}
    # the slow direction takes four times as long as the fast one, per host
    slow_up = up[up.host == 0].seconds.min()
    fast_down = down[down.host == 0].seconds.min()
    assert slow_up / fast_down == pytest.approx(4.0, rel=0.1)


@root_only
def test_a_killed_receiver_ends_the_measurement_with_a_clear_error_within_its_timeout():
    link = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=8e6)
    with emulated_network(1, [link], prefix=TEST_PREFIX) as lab:
        with start_transfer_server(lab, timeout_s=5.0) as server:
            killer = threading.Timer(1.0, server.kill)  # during the first measured 1 MB message
            killer.start()
            started = time.monotonic()
            try:
                with pytest.raises(LinkTransferError) as caught:
                    measure_transfers(lab, [1_000_000], 5, "uplink", server=server, timeout_s=5.0, progress=False)
            finally:
                killer.cancel()
            elapsed = time.monotonic() - started
            assert not server.alive()
    message = str(caught.value)
    assert message.startswith("client:0 (uplink): transfer failed after ")
    assert "\n" not in message
    assert elapsed < 1.0 + 5.0 + 2.0


@root_only
def test_a_stopped_receiver_times_out_instead_of_hanging():
    link = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=8e6)
    with emulated_network(1, [link], prefix=TEST_PREFIX) as lab:
        with start_transfer_server(lab, timeout_s=30.0) as server:
            os.kill(server.process.pid, signal.SIGSTOP)  # alive but silent: no RST, no acknowledgement
            started = time.monotonic()
            try:
                with pytest.raises(LinkTransferError, match=r"client:0 \(downlink\)"):
                    measure_transfers(lab, [100_000], 1, "downlink", server=server, timeout_s=2.0, progress=False)
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            assert time.monotonic() - started < 2.0 * 2 + 12.0
