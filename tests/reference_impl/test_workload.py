"""Planning a run's data side from its configuration gives exactly what the run does."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.data.federated import build_federated_data, client_labels
from reference_impl.engine.drive import run
from reference_impl.workload import plan_workload

SKEWED = dict(dataset="emnist-shape", samples=600, model="scaled", model_width=0.25, clients=12, clients_per_round=8,
              gamma=3, rounds=2, batch_size=16, evaluate=False, threads=1, seed=5, size_skew=0.6,
              global_imbalance="long-tail", imbalance_ratio=0.1, mediator_epochs=2)


def _entity_ids(entities) -> list[int]:
    return [int(e.split(":")[1]) for e in entities]


def test_client_labels_are_the_labels_each_client_holds_in_a_run():
    config = RunConfig(algorithm="fedavg", **SKEWED)
    data = build_federated_data(config)
    labels = client_labels(config)
    assert len(labels) == 12
    for k, y in enumerate(labels):
        assert np.array_equal(y, data.client_data(k)[1].numpy())


#: The papers' regime: Dirichlet clients and the printed TPDS target (much more augmentation).
DIRICHLET_PRINTED = {**SKEWED, "size_skew": 0.0, "local_imbalance": "dirichlet", "dirichlet_alpha": 0.5,
                     "plan": "tpds-printed", "tau_d": 3.5}


@pytest.fixture(scope="module", params=[SKEWED, DIRICHLET_PRINTED], ids=["skewed-tpds", "dirichlet-printed"])
def astraea_run(request):
    config = RunConfig(algorithm="astraea", **request.param)
    return config, run(config, progress=False).trace


def test_planned_sizes_are_the_run_s_reported_and_trained_sizes(astraea_run):
    config, trace = astraea_run
    planned = plan_workload(config)
    reports = trace[trace["phase"] == "distribution_report"]
    assert np.array_equal(planned.original_sizes[_entity_ids(reports["entity"])], reports["samples"].to_numpy())
    augmentation = trace[trace["phase"] == "augmentation"]
    assert np.array_equal(planned.augmented_sizes[_entity_ids(augmentation["entity"])],
                          augmentation["samples"].to_numpy())
    visits = trace[trace["phase"] == "local_training"]
    assert np.array_equal(planned.trained_sizes[_entity_ids(visits["entity"])],
                          visits["samples"].to_numpy() // config.local_epochs)
    assert planned.augmented_sizes.sum() > 0
    if config.size_skew > 0:
        assert len(set(planned.original_sizes)) > 1
    hist = planned.trained_histograms
    assert np.array_equal(hist.sum(axis=1), planned.trained_sizes)
    assert np.array_equal(planned.original_histograms.sum(axis=1), planned.original_sizes)


def test_dirichlet_printed_run_holds_the_planned_labels_and_adds_the_papers_volume():
    config = RunConfig(algorithm="astraea", **DIRICHLET_PRINTED)
    planned = plan_workload(config)
    data = build_federated_data(config)
    assert np.array_equal(planned.original_histograms, data.label_histograms())
    assert (planned.original_histograms > 0).sum(axis=1).mean() < 20     # skewed: far fewer than 47 classes each
    assert planned.augmented_sizes.sum() / planned.original_sizes.sum() > 0.5


def test_planned_mediators_are_the_run_s_mediators_in_training_order(astraea_run):
    config, trace = astraea_run
    planned = plan_workload(config)
    for round_plan in planned.rounds:
        rows = trace[trace["round"] == round_plan.round]
        chains, current = [], None
        for phase, entity in zip(rows["phase"], rows["entity"]):
            if phase == "model_broadcast":
                current = []
                chains.append(current)
            elif phase == "local_training":
                current.append(int(entity.split(":")[1]))
        # E_m = 2: each mediator trains its clients twice, in the same order
        assert chains == [[*m.tolist(), *m.tolist()] for m in round_plan.mediators]
        assert np.array_equal(np.sort(np.concatenate(round_plan.mediators)), round_plan.clients)
        loads = round_plan.mediator_samples(planned.trained_sizes)
        assert loads.tolist() == [float(planned.trained_sizes[m].sum()) for m in round_plan.mediators]


def test_fedavg_plans_no_augmentation_and_the_same_client_selection():
    fedavg = RunConfig(algorithm="fedavg", **SKEWED)
    planned = plan_workload(fedavg)
    trace = run(fedavg, progress=False).trace
    assert planned.augmented_sizes.sum() == planned.removed_sizes.sum() == 0
    assert np.array_equal(planned.trained_sizes, planned.original_sizes)
    for round_plan in planned.rounds:
        visits = trace[(trace["round"] == round_plan.round) & (trace["phase"] == "local_training")]
        assert sorted(_entity_ids(visits["entity"])) == round_plan.clients.tolist()
        assert round_plan.mediators == ()
    astraea = plan_workload(RunConfig(algorithm="astraea", **SKEWED))
    assert all(np.array_equal(a.clients, f.clients) for a, f in zip(astraea.rounds, planned.rounds))


def test_planning_refuses_what_is_not_a_run_configuration():
    with pytest.raises(InputError, match="'config' must be a RunConfig"):
        plan_workload({"algorithm": "astraea"})
