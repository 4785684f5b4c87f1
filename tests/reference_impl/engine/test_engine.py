"""The in-process engine: protocol structure, exact bytes, the virtual clock, and what Astraea fixes."""

import math

import pytest
import torch

from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.engine.drive import run
from reference_impl.engine.in_process import Engine
from reference_impl.engine.trace import read_run
from reference_impl.protocols import astraea, fedavg

SMALL = dict(dataset="digits", clients=12, clients_per_round=6, gamma=3, rounds=2, batch_size=16, seed=3)


@pytest.fixture(scope="module")
def astraea_run():
    return run(RunConfig(algorithm="astraea", mediator_epochs=2, **SMALL), progress=False)


@pytest.fixture(scope="module")
def fedavg_run():
    return run(RunConfig(algorithm="fedavg", **SMALL), progress=False)


def test_every_model_transfer_carries_exactly_the_serialized_model(astraea_run):
    trace, params = astraea_run.trace, astraea_run.summary["params"]
    models = trace[trace["phase"].isin(["model_broadcast", "client_download", "client_upload", "mediator_upload"])]
    assert (models["bytes"] == 16 + 4 * params).all()
    reports = trace[trace["phase"] == "distribution_report"]
    assert len(reports) == 12 and (reports["bytes"] == 16 + 8 * 10).all()


def test_astraea_messages_per_round_include_the_mediator_epochs(astraea_run):
    # 2*(M + E_m*c) model messages per round: the papers' formula lacks E_m.
    c, gamma, e_m = 6, 3, 2
    m = math.ceil(c / gamma)
    per_round = astraea_run.trace.query("round >= 0 and bytes > 0").groupby("round").size()
    assert (per_round == 2 * (m + e_m * c)).all()


def test_fedavg_traffic_is_two_models_per_client(fedavg_run):
    bytes_per_round = fedavg_run.rounds["bytes"]
    assert (bytes_per_round == 2 * 6 * (16 + 4 * fedavg_run.summary["params"])).all()


def test_fedavg_round_time_is_slowest_client_plus_aggregation(fedavg_run):
    trace = fedavg_run.trace.query("round == 0")
    per_client = trace[trace["entity"].str.startswith("client:")].groupby("entity")["duration_s"].sum()
    aggregation = trace.query("phase == 'aggregation'")["duration_s"].item()
    assert fedavg_run.rounds.loc[0, "round_s"] == pytest.approx(per_client.max() + aggregation, rel=1e-9)


def test_astraea_clients_in_a_mediator_run_one_after_another(astraea_run):
    # on the clock: within a mediator each visit (download, training, upload) starts when the previous
    # one ended, E_m passes over its clients in the same order; different mediators overlap
    round0 = astraea_run.trace.query("round == 0")
    rescheduling_end = round0.query("phase == 'rescheduling'").eval("start_s + duration_s").item()
    broadcasts = round0.query("phase == 'model_broadcast'")
    assert (broadcasts["start_s"] == rescheduling_end).all() and len(broadcasts) == 2
    training = round0.query("phase == 'local_training'")
    assert len(training) == 2 * 6  # E_m = 2 visits of each of the 6 clients
    ends = training.sort_values("start_s").eval("start_s + duration_s").to_numpy()
    starts = training.sort_values("start_s")["start_s"].to_numpy()
    assert sum(starts[i + 1] < ends[i] for i in range(len(training) - 1)) >= 1  # the mediators overlap
    chains = _chains(round0)
    assert len(chains) == 2
    for chain in chains:
        clients = [entity for phase, entity, _, _ in chain if phase == "local_training"]
        assert clients == clients[:3] * 2 and len(set(clients[:3])) == 3   # E_m passes, same order
        for (_, _, _, end), (_, _, start, _) in zip(chain, chain[1:]):
            assert start == pytest.approx(end, abs=1e-12)                   # back to back, in series


def _chains(round_rows):
    """Each mediator's events from its broadcast to its upload, as (phase, entity, start, end) in
    clock order (a mediator's events are contiguous on the clock and no other mediator's event starts
    exactly at one of its ends)."""
    rows = round_rows[round_rows["phase"].isin(["model_broadcast", "client_download", "local_training",
                                                "client_upload", "mediator_upload"])]
    events = [(r.phase, r.entity, r.start_s, r.start_s + r.duration_s) for r in rows.itertuples()]
    chains = []
    for first in [e for e in events if e[0] == "model_broadcast"]:
        chain, end = [first], first[3]
        while chain[-1][0] != "mediator_upload":
            chain.append(next(e for e in events if e[2] == end and e not in chain))
            end = chain[-1][3]
        chains.append(chain)
    return chains


def test_each_visit_of_a_chain_starts_from_the_model_the_previous_one_returned(monkeypatch):
    # the hand-off, bit for bit: the first visit of a mediator starts from the global model, every
    # later one from the model the previous visit returned (after its upload and the next download,
    # which copy the float32 values exactly), E_m passes; the mediator returns the last visit's model
    config = RunConfig(algorithm="astraea", mediator_epochs=2, evaluate=False, **dict(SMALL, rounds=1))
    engine = Engine(config)
    visits = []
    real = Engine.train_visit

    def recorded(self, vector, *, client, round, visit):
        into = vector.clone()             # before: training writes through the parameters into its input
        trained, event = real(self, vector, client=client, round=round, visit=visit)
        visits.append((client, visit, into, trained.clone()))
        return trained, event

    averaged = []
    real_aggregate = Engine.aggregate

    def recorded_aggregate(self, vectors, weights, **kwargs):
        averaged.extend(v.clone() for v in vectors)
        return real_aggregate(self, vectors, weights, **kwargs)

    monkeypatch.setattr(Engine, "train_visit", recorded)
    monkeypatch.setattr(Engine, "aggregate", recorded_aggregate)
    astraea.setup(engine)
    start = engine.global_vector.clone()
    astraea.run_round(engine, round=0, start_s=0.0)
    chains = [visits[i:i + 6] for i in range(0, len(visits), 6)]       # mediators of 3 clients, E_m = 2
    assert len(visits) == 12 and len(chains) == 2 and len(averaged) == 2
    for chain, returned in zip(chains, averaged):
        assert torch.equal(chain[0][2], start)
        for (_, _, _, out), (_, _, into, _) in zip(chain, chain[1:]):
            assert torch.equal(into, out)
        assert [visit for _, visit, _, _ in chain] == [0, 0, 0, 1, 1, 1]
        assert [client for client, *_ in chain[:3]] == [client for client, *_ in chain[3:]]
        assert torch.equal(returned, chain[-1][3])
        assert not torch.equal(chain[0][3], chain[0][2])                # a visit does train


def test_astraea_mediators_are_closer_to_uniform_than_clients(astraea_run):
    rounds = astraea_run.rounds
    assert (rounds["mean_kl_groups"] < 0.5 * rounds["mean_kl_clients"]).all()


def test_same_seed_gives_same_model_and_same_trace_shape():
    config = RunConfig(algorithm="astraea", evaluate=False, **dict(SMALL, rounds=1))
    a, b = run(config, progress=False), run(config, progress=False)
    assert a.summary["final_accuracy"] != a.summary["final_accuracy"]  # NaN: evaluation off
    assert a.trace[["phase", "entity", "bytes", "samples", "steps"]].equals(b.trace[["phase", "entity", "bytes", "samples", "steps"]])


def test_augmentation_grows_the_clients_data(astraea_run):
    s = astraea_run.summary
    assert s["augmented_samples"] > 0
    trained = astraea_run.trace.query("round == 0 and phase == 'local_training'")["samples"].sum()
    assert trained > 0


def test_run_writes_trace_and_summary(astraea_run, tmp_path):
    astraea_run.write(tmp_path)
    back = read_run(tmp_path)
    assert len(back.trace) == len(astraea_run.trace)
    assert back.config["gamma"] == 3 and len(back.summary["rounds"]) == 2


def test_thread_timer_measures_cpu_time_and_wall_timer_is_available():
    config = RunConfig(algorithm="fedavg", evaluate=False, **dict(SMALL, rounds=1))
    assert config.timer == "thread"
    wall = run(RunConfig(algorithm="fedavg", evaluate=False, timer="wall", **dict(SMALL, rounds=1)), progress=False)
    training = wall.trace.query("phase == 'local_training'")["duration_s"]
    assert (training > 0).all()
    with pytest.raises(InputError, match=r"^'timer' must be one of thread, wall \(got 'cpu'\)\.$"):
        RunConfig(timer="cpu")


def test_the_server_averages_into_the_same_buffer_every_round():
    for protocol, algorithm in ((fedavg, "fedavg"), (astraea, "astraea")):
        engine = Engine(RunConfig(algorithm=algorithm, dataset="digits", model="scaled", model_width=0.25, clients=6,
                                  clients_per_round=4, gamma=2, rounds=2, batch_size=32, evaluate=False, threads=1))
        buffer = engine.global_vector.data_ptr()
        before = engine.global_vector.clone()
        if algorithm == "astraea":
            astraea.setup(engine)
        for r in range(2):
            protocol.run_round(engine, round=r, start_s=0.0)
        assert engine.global_vector.data_ptr() == buffer            # no fresh allocation per round
        assert not torch.equal(engine.global_vector, before)         # yet the model did change
