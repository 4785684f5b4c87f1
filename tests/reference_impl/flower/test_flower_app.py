"""The Flower app's parts without a deployment: payloads and their bytes, the run config, the message loop's
errors, and the ``--engine flower`` options."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import replace

import numpy as np
import pytest

flwr = pytest.importorskip("flwr", reason="Flower is the 'flower' extra: pip install -e '.[flower]'")

import torch  # noqa: E402
from flwr.app import Error, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from costmodel.errors import InputError  # noqa: E402
from reference_impl.config import RunConfig  # noqa: E402
from reference_impl.engine import wire  # noqa: E402
from reference_impl.flower import deployment, records  # noqa: E402
from reference_impl.flower.exchange import Exchange, FlowerRunError, Outgoing  # noqa: E402
from reference_impl.flower.job import FlowerJob, write_app  # noqa: E402
from reference_impl.flower.options import FlowerOptions, flower_options  # noqa: E402


@pytest.fixture
def task_identity():
    """Messages can only be built inside a Flower process; pose as one for the test."""
    names = ("_run_id", "_node_id", "_task_id")
    saved = [getattr(TaskIdentity, name) for name in names]
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 7, 1, 3
    yield
    for name, value in zip(names, saved):
        setattr(TaskIdentity, name, value)


def test_a_model_travels_bit_for_bit_in_the_wire_format(task_identity):
    vector = torch.randn(68_873, generator=torch.Generator().manual_seed(3))
    record = records.vector_record(vector)
    assert bytes(record["wire"].data) == wire.encode_vector(vector)          # the payload is the wire message
    assert torch.equal(records.vector_from_record(record), vector)
    counts = np.array([5, 0, 17, 2**40], dtype=np.int64)
    assert np.array_equal(records.counts_from_record(records.counts_record(counts)), counts)
    x, y = torch.randn(3, 1, 4, 4), torch.tensor([2, 0, 1])
    x2, y2 = records.samples_from_record(records.samples_record(x, y))
    assert torch.equal(x2, x) and torch.equal(y2, y) and y2.dtype == torch.int64


def test_flower_bytes_are_the_payload_plus_a_few_hundred_bytes_of_object_framing(task_identity):
    sizes = {}
    for params in (1_000, 68_873, 2_000_000):       # the last one spans two 5 MiB chunks
        message = Message(RecordDict({"model": records.vector_record(torch.zeros(params))}), dst_node_id=5,
                          message_type="train")
        objects = records.message_objects(message)
        sizes[params] = records.message_bytes(message) - wire.message_bytes(params)
        assert records.message_bytes(message) == sum(objects.values())
        assert len(objects) == (6 if params == 2_000_000 else 5)   # Message, RecordDict, ArrayRecord, Array, chunk(s)
    assert 500 < sizes[1_000] <= sizes[68_873] < 700, sizes       # the length fields grow by a digit or two
    assert 60 < sizes[2_000_000] - sizes[68_873] < 120, sizes      # one more chunk object and its id


def test_the_job_survives_the_app_s_pyproject_as_flower_reads_it(tmp_path):
    config = RunConfig(algorithm="fedprox", mu=0.01, dataset="emnist-shape", samples=300, clients=5,
                       clients_per_round=3, evaluate=False, timer="wall")
    job = FlowerJob(config=config, run_id="fedprox-abc", folder=str(tmp_path / "run \"x\""), timeout_s=30.0,
                    slowest_bits_per_s=math.inf)
    app = write_app(tmp_path, job)
    project = tomllib.loads((app / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["tool"]["flwr"]["app"]["components"] == {
        "serverapp": "reference_impl.flower.server_app:app", "clientapp": "reference_impl.flower.client_app:app"}
    back = FlowerJob.from_run_config(project["tool"]["flwr"]["app"]["config"])
    assert back == job
    finite = replace(job, slowest_bits_per_s=5e6)
    assert finite.deadline_s(275_508) == pytest.approx(30.0 + 4 * 8 * 275_508 / 5e6)


class _Grid:
    """Just enough of a Grid: every pushed message is answered at the next pull by ``answer``."""

    def __init__(self, answer):
        self.answer, self.pending, self.pulls = answer, [], 0

    def push_messages(self, messages):
        ids = []
        for message in messages:
            message.metadata.__dict__["_message_id"] = message.object_id   # as Flower's Grid does
            self.pending.append(message)
            ids.append(message.metadata.message_id)
        return ids

    def pull_messages(self, ids):
        self.pulls += 1
        answered = [self.answer(m) for m in self.pending if m.metadata.message_id in ids]
        self.pending = []
        return [a for a in answered if a is not None]


def _ok(message: Message) -> Message:
    return Message(RecordDict({"timing": MetricRecord({"work-start-s": 1.0})}), reply_to=message)


def test_the_exchange_sends_a_chain_s_next_message_as_soon_as_its_reply_is_seen(task_identity):
    grid = _Grid(_ok)
    exchange = Exchange(grid, {0: 101, 1: 102}, poll_s=0.0)
    order = []

    def next_of(reply):
        order.append(reply.outgoing.client)
        return [Outgoing(client=1, kind="train", content=RecordDict(), round=0)] if reply.outgoing.client == 0 else []

    replies = exchange.run([Outgoing(client=0, kind="train", content=RecordDict(), round=0)], next_of)
    assert order == [0, 1] and len(replies) == 2 and grid.pulls == 2
    assert [row["client"] for row in exchange.log] == [0, 1]
    assert all(row["bytes"] > 0 and row["reply_bytes"] > 0 and row["seen_s"] >= row["push_s"] for row in exchange.log)
    assert exchange.log[0]["client_work_start_s"] == 1.0


def test_an_error_reply_names_the_client_its_node_and_flower_s_reason(task_identity):
    grid = _Grid(lambda m: Message(Error(code=5, reason="Node Unavailable — no\nheartbeat"), reply_to=m))
    exchange = Exchange(grid, {2: 77}, poll_s=0.0)
    with pytest.raises(FlowerRunError) as caught:
        exchange.run([Outgoing(client=2, kind="train", content=RecordDict())])
    assert str(caught.value) == "client 2 (node 77) failed on train: Flower error 5: Node Unavailable — no heartbeat"


def test_a_message_left_unanswered_past_its_deadline_names_the_client(task_identity):
    exchange = Exchange(_Grid(lambda m: None), {4: 9}, poll_s=0.01)
    with pytest.raises(FlowerRunError, match=r"^client 4 \(node 9\) did not answer query\.report within 0 s$"):
        exchange.run([Outgoing(client=4, kind="query.report", content=RecordDict(), deadline_s=0.05)])


@pytest.mark.parametrize(("network", "changes", "message"), [
    ("inprocess", {}, "'network' must be one of local, emulated with --engine flower (one SuperNode process per "
                      "client) (got 'inprocess')."),
    ("local", {"uplink_bits_per_s": 7_999.0}, "'uplink' must be >= 8000 (tc cannot shape slower links sensibly) "
                                             "(got 7999.0)."),
    ("emulated", {"timeout_s": 9.5}, "'timeout' must be >= 10 s for --engine flower (a fresh ClientApp process "
                                     "starts for every message) (got 9.5)."),
])
def test_bad_flower_options_name_the_argument_the_rule_and_the_value(network, changes, message):
    values = dict(uplink_bits_per_s=5e6, downlink_bits_per_s=20e6, timeout_s=60.0) | changes
    with pytest.raises(InputError) as caught:
        flower_options(network, **values)
    assert str(caught.value) == message
    assert FlowerOptions(network="emulated", uplink_bits_per_s=2e6).slowest_bits_per_s == 2e6
    assert FlowerOptions(network="local").slowest_bits_per_s == math.inf


@pytest.mark.parametrize(("argv", "message"), [
    ([], "'network' must be one of local, emulated with --engine flower (one SuperNode process per client) "
         "(got 'inprocess')."),
    (["--network", "local", "--downlink", "2kbit/s"], "'downlink' must be >= 8000 (tc cannot shape slower links "
                                                      "sensibly) (got 2000.0)."),
    (["--network", "local", "--timeout", "soon"], "'timeout' must be a duration such as '1.5 s' or '500 ms' (got 'soon')."),
    (["--network", "local", "--algorithm", "fedprox"], "'mu' must be > 0 for fedprox, whose local steps carry a "
                                                       "proximal term mu/2*||w - w_t||^2 (got 0.0)."),
])
def test_run_on_flower_refuses_bad_input_in_one_line_before_any_output(tmp_path, capsys, argv, message):
    from costmodel import cli

    out = tmp_path / "out"
    assert cli.main(["run", "--engine", "flower", "--out", str(out), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"astraea-cost run: error: {message}\n" and captured.out == ""
    assert not out.exists()


@pytest.mark.skipif(not deployment._autogroups_enabled(),
                    reason="needs Linux autogroups (kernel.sched_autogroup_enabled)")
def test_the_load_sample_counts_a_session_once_however_many_processes_it_runs():
    # Linux shares the cores between sessions: two busy processes of one other session are one competitor
    spin = f"{sys.executable} -c 'while True: pass'"
    session = subprocess.Popen(["sh", "-c", f"{spin} & {spin} & wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10.0
        while len(children := _children(session.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(children) == 2
        groups = {deployment._group_of(pid, True) for pid in children}
        assert len(groups) == 1 and groups != {deployment._group_of(os.getpid(), True)}
        assert all(deployment._has_running_task(str(pid)) for pid in children)
        assert not deployment._has_running_task(str(session.pid))          # the shell only waits
    finally:
        os.killpg(session.pid, signal.SIGKILL)
        session.wait()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
        return [int(word) for word in handle.read().split()]


def test_after_its_warm_up_a_fresh_client_app_times_a_visit_without_one_time_imports():
    """A ClientApp is a fresh process: what its first visit would do once (the first optimizer step imports
    torch._dynamo, 0.8 s of CPU) belongs to the warm-up, not to the visit's timed training, which the
    calibration prices warm. Run in a fresh interpreter, as Flower runs it; the warm-up leaves the weights."""
    script = """
import json, sys, torch
from reference_impl.config import RunConfig
from reference_impl.flower.device import ClientDevice
from torch.nn.utils import parameters_to_vector
for mu in (0.0, 0.01):
    config = RunConfig(dataset="emnist-shape", samples=40, clients=2, clients_per_round=2, batch_size=10,
                       evaluate=False, seed=3, algorithm="fedprox" if mu else "fedavg", mu=mu)
    device = ClientDevice(config, 0)
    before = parameters_to_vector(device.model.parameters()).detach().clone()
    device.warm_up()
    assert torch.equal(parameters_to_vector(device.model.parameters()), before)
    loaded = set(sys.modules)
    _, event = device.train_visit(before.clone(), client=0, round=0, visit=0)
    print(json.dumps({"mu": mu, "steps": event.steps, "imported": sorted(set(sys.modules) - loaded)}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["mu"] for o in outcomes] == [0.0, 0.01] and all(o["steps"] == 2 for o in outcomes)
    assert [o["imported"] for o in outcomes] == [[], []], outcomes
