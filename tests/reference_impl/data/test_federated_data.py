"""The federated data of a run: built from the run's configuration, checked against its dataset, laid
out client by client."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from costmodel.errors import InputError
from reference_impl.config import LOCAL_IMBALANCES, RunConfig
from reference_impl.data.datasets import DATASETS, STREAM_PARTITION, derive_stream_seed, load_dataset
from reference_impl.data.federated import build_federated_data, check_data, client_labels
from reference_impl.data.partition import LOCAL_IMBALANCE_KINDS, class_fractions, imbalanced_counts, partition
from reference_impl.protocols.rescheduling import kl_to_uniform


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(clients=0), r"^'clients' must be >= 1 \(got 0\)\.$"),
    (dict(dataset="cifar"), r"^'dataset' must be one of digits, emnist-shape, cinic-shape \(got 'cifar'\)\.$"),
    (dict(imbalance_ratio=0.0), r"^'imbalance_ratio' must be > 0 \(got 0\.0\)\.$"),
    (dict(imbalance_ratio=1.2), r"^'imbalance_ratio' must be <= 1 \(got 1\.2\)\.$"),
    (dict(global_imbalance="zipf"), r"^'global_imbalance' must be one of 'half-normal', 'long-tail', 'none'"),
    (dict(local_imbalance="shards"), r"^'local_imbalance' must be one of classes, dirichlet, none"),
    (dict(size_skew="pareto"), r"^'size_skew' must be a number \(got 'pareto'\)\.$"),
    (dict(classes_per_client=11), r"^'classes_per_client' must be <= 10 \(got 11\)\.$"),
    (dict(dirichlet_alpha=-1), r"^'dirichlet_alpha' must be > 0 \(got -1\)\.$"),
    (dict(dataset="emnist-shape", samples=50, clients=60), r"^'clients' must be <= 'samples' \(50\) \(got 60\)\.$"),
    (dict(seed=2**32), r"^'seed' must be <= 4294967295 \(got 4294967296\)\.$"),
])
def test_a_run_s_data_side_is_refused_with_one_sentence_naming_the_run_s_field(kwargs: dict, message: str) -> None:
    # Field by field in RunConfig, against the dataset in check_data; planning and building agree.
    with pytest.raises(InputError, match=message):
        client_labels(RunConfig(**kwargs))
    with pytest.raises(InputError, match=message):
        build_federated_data(RunConfig(**kwargs))


def test_a_fixed_dataset_ignores_samples_and_a_generated_one_has_exactly_them() -> None:
    digits = build_federated_data(RunConfig(dataset="digits", samples=100))
    assert len(digits.train) == len(build_federated_data(RunConfig(dataset="digits")).train) > 100
    generated = build_federated_data(RunConfig(dataset="emnist-shape", samples=470, clients=10))
    assert len(generated.train) == 470
    assert len(generated.test) == DATASETS["emnist-shape"].default_test_samples
    assert check_data(RunConfig(dataset="cinic-shape")) is DATASETS["cinic-shape"]


def test_two_shards_per_client_give_clients_far_from_uniform_on_both_kinds_of_data() -> None:
    for dataset in ("digits", "emnist-shape"):
        data = build_federated_data(RunConfig(dataset=dataset, samples=4700, clients=100,
                                              global_imbalance="half-normal"))
        assert kl_to_uniform(data.label_histograms()).mean() >= 0.5


def test_federated_digits_hold_exactly_the_subsample_client_by_client() -> None:
    config = RunConfig(dataset="digits", clients=20, global_imbalance="long-tail", imbalance_ratio=0.2, size_skew=1.0,
                       seed=4)
    data = build_federated_data(config)
    source = load_dataset("digits", seed=4).train
    expected = imbalanced_counts(source.class_counts(), class_fractions("long-tail", 10, 0.2))
    assert data.train.class_counts().tolist() == expected.tolist()
    assert len(data.train) == data.client_sizes.sum() == data.offsets[-1]
    # Rows are the source rows named by source_indices, each used once.
    assert len(np.unique(data.source_indices)) == len(data.source_indices)
    assert torch.equal(data.train.x, source.x[torch.from_numpy(np.array(data.source_indices))])
    # Each client's tensors are views of its contiguous rows, and histograms match them.
    hist = data.label_histograms()
    for client in range(data.num_clients):
        x, y = data.client_data(client)
        assert x.untyped_storage().data_ptr() == data.train.x.untyped_storage().data_ptr()
        assert len(x) == len(y) == data.client_sizes[client]
        assert np.bincount(y.numpy(), minlength=10).tolist() == hist[client].tolist()
    assert len(data.test) == 1797 - len(source)  # the test split is untouched


def test_federated_generated_data_follow_the_global_shape_exactly() -> None:
    config = RunConfig(dataset="cinic-shape", samples=1000, clients=10, global_imbalance="long-tail",
                       imbalance_ratio=0.1, seed=2)
    data = build_federated_data(config)
    counts = data.train.class_counts()
    assert counts.sum() == 1000 and counts[0] / counts[-1] == pytest.approx(10, rel=0.05)
    assert np.all(np.diff(counts) <= 0)
    assert data.test.class_counts().tolist() == [200] * 10  # the 2,000 test samples stay balanced
    again = build_federated_data(config)
    assert torch.equal(data.train.x, again.train.x) and torch.equal(data.train.y, again.train.y)


def test_client_index_out_of_range_is_refused() -> None:
    data = build_federated_data(RunConfig(dataset="emnist-shape", samples=100, clients=5, clients_per_round=5))
    with pytest.raises(InputError, match=r"^'client' must be <= 4 \(got 5\)\.$"):
        data.client_data(5)


def test_the_run_s_partition_fields_reach_the_partition_unchanged() -> None:
    assert set(LOCAL_IMBALANCES) == set(LOCAL_IMBALANCE_KINDS)
    config = RunConfig(local_imbalance="dirichlet", dirichlet_alpha=0.7, classes_per_client=3, size_skew=0.5, seed=6)
    train = load_dataset("digits", seed=6).train
    expected = partition(train.y, clients=20, global_imbalance="long-tail", imbalance_ratio=0.1,
                         local_imbalance="dirichlet", classes_per_client=3, dirichlet_alpha=0.7, size_skew=0.5,
                         seed=derive_stream_seed(6, STREAM_PARTITION), num_classes=10)
    labels = client_labels(config)
    assert len(labels) == 20
    for y, indices in zip(labels, expected.client_indices):
        assert np.array_equal(y, train.y.numpy()[indices])
    assert RunConfig().local_imbalance == "classes"   # the default partition is unchanged


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(local_imbalance="shards"), r"^'local_imbalance' must be one of classes, dirichlet, none \(got 'shards'\)\.$"),
    (dict(dirichlet_alpha=0), r"^'dirichlet_alpha' must be > 0 \(got 0\)\.$"),
    (dict(plan="printed"), r"^'plan' must be one of tpds, tpds-printed, iccd, none \(got 'printed'\)\.$"),
])
def test_run_config_refuses_bad_partition_and_plan_values(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        RunConfig(**kwargs)


def test_run_config_is_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        RunConfig("astraea")  # type: ignore[misc]
    config = RunConfig()
    with pytest.raises(AttributeError):
        config.clients = 3  # type: ignore[misc]
