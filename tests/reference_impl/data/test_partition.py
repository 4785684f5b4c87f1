"""Datasets, global and local imbalance, client partitions, and the federated data of a run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from costmodel.errors import InputError
from reference_impl.data import (
    DATASETS,
    DataConfig,
    Dataset,
    Partition,
    build_federated_data,
    class_fractions,
    imbalanced_counts,
    kl_to_uniform,
    load_dataset,
    partition,
)


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

def test_digits_are_the_real_1797_images_resized_and_split_stratified() -> None:
    split = load_dataset("digits", seed=0)
    assert len(split.train) + len(split.test) == 1797
    assert split.train.sample_shape == (1, 28, 28) == split.test.sample_shape
    assert split.train.x.dtype == torch.float32 and split.train.y.dtype == torch.int64
    assert float(split.train.x.min()) >= 0.0 and float(split.train.x.max()) <= 1.0
    assert float(split.train.x.max()) > 0.99  # scaled from 0..16, not left at 0..1/16
    # Stratified 75/25: every class's test share is within one sample of a quarter.
    train_counts, test_counts = split.train.class_counts(), split.test.class_counts()
    totals = train_counts + test_counts
    assert np.all(np.abs(test_counts - totals * 0.25) <= 1)


def test_digits_resizing_keeps_an_image_recognisable() -> None:
    from sklearn.datasets import load_digits

    raw = load_digits().images[:3] / 16.0
    split = load_dataset("digits", seed=0)
    every = torch.cat([split.train.x, split.test.x])
    down = torch.nn.functional.adaptive_avg_pool2d(every, (8, 8))[:, 0].numpy().reshape(len(every), -1)
    # Each of sklearn's first images is in one of the splits: pooled back to 8x8, its resized copy
    # is nearly a linear function of the original (bilinear up, average down).
    for image in raw.reshape(3, -1):
        nearest = down[np.argmin(np.abs(down - image).mean(axis=1))]
        assert np.corrcoef(nearest, image)[0, 1] > 0.95


def test_digits_split_is_seeded() -> None:
    a, b, c = (load_dataset("digits", seed=s) for s in (3, 3, 4))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.y, c.train.y)


def test_digits_reject_a_size() -> None:
    with pytest.raises(InputError, match=r"^'samples' must be unset for the fixed dataset 'digits' \(got 500\)\.$"):
        load_dataset("digits", seed=0, samples=500)


@pytest.mark.parametrize(("name", "shape", "classes"),
                         [("emnist-shape", (1, 28, 28), 47), ("cinic-shape", (3, 32, 32), 10)])
def test_generated_sets_have_the_papers_shapes_and_the_asked_size(name: str, shape: tuple[int, ...],
                                                                  classes: int) -> None:
    split = load_dataset(name, seed=1, samples=470, test_samples=94)
    assert split.train.sample_shape == shape and split.train.num_classes == classes
    assert len(split.train) == 470 and len(split.test) == 94
    # Balanced by default: 470 / 47 = 10 per class, 94 / 10 -> 9 or 10.
    counts = split.train.class_counts()
    assert counts.max() - counts.min() <= 1 and counts.sum() == 470
    assert split.test.class_counts().max() - split.test.class_counts().min() <= 1
    assert not torch.equal(split.train.x[:5], split.test.x[:5])  # independent streams


def test_generated_sets_are_seeded() -> None:
    a, b, c = (load_dataset("cinic-shape", seed=s, samples=50, test_samples=10) for s in (7, 7, 8))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.train.x, c.train.x)


def test_generated_labels_follow_class_weights_exactly() -> None:
    split = load_dataset("cinic-shape", seed=0, samples=100, test_samples=10,
                         class_weights=[4, 2, 1, 1, 1, 1, 0, 0, 0, 0])
    assert split.train.class_counts().tolist() == [40, 20, 10, 10, 10, 10, 0, 0, 0, 0]


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"^'dataset' must be one of 'cinic-shape', 'digits', "
                                         r"'emnist-shape' \(got 'mnist'\)\.$"):
        load_dataset("mnist", seed=0)


def test_dataset_rejects_labels_out_of_range() -> None:
    with pytest.raises(InputError, match="'y' must hold labels in 0..2"):
        Dataset(name="t", x=torch.zeros(2, 1, 4, 4), y=torch.tensor([0, 3]), num_classes=3)


# ---------------------------------------------------------------------------------------------
# Global imbalance
# ---------------------------------------------------------------------------------------------

def test_long_tail_is_geometric_from_1_to_rho() -> None:
    f = class_fractions("long-tail", 5, 0.0625)
    np.testing.assert_allclose(f, [1, 0.5, 0.25, 0.125, 0.0625])


def test_half_normal_is_a_half_normal_density_over_rank() -> None:
    k, rho = 47, 0.05
    f = class_fractions("half-normal", k, rho)
    scale = (k - 1) / np.sqrt(2 * np.log(1 / rho))
    np.testing.assert_allclose(f, np.exp(-np.arange(k) ** 2 / (2 * scale**2)))
    assert f[0] == 1.0 and f[-1] == pytest.approx(rho)
    # Flat head, steep tail: unlike the long tail, the first step is small.
    long_tail = class_fractions("long-tail", k, rho)
    assert f[1] > long_tail[1] and np.all(np.diff(f) < 0)


def test_no_global_imbalance_and_ratio_one_are_flat() -> None:
    assert class_fractions("none", 4, 0.1).tolist() == [1, 1, 1, 1]
    assert class_fractions("long-tail", 4, 1.0).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("ratio", [0.0, -0.5, 1.5])
def test_ratio_outside_unit_interval_is_refused(ratio: float) -> None:
    with pytest.raises(InputError, match=r"^'imbalance_ratio' must be "):
        class_fractions("long-tail", 10, ratio)


def test_imbalanced_counts_hand_examples() -> None:
    # The largest class limits the scale: s = 100.
    assert imbalanced_counts([100, 100, 100], [1, 0.5, 0.25]).tolist() == [100, 50, 25]
    # The smallest class relative to its fraction limits it: s = min(10/1, 100/0.5, 100/0.25) = 10.
    assert imbalanced_counts([10, 100, 100], [1, 0.5, 0.25]).tolist() == [10, 5, 2]
    # A rare class keeps one sample; an absent class stays absent and does not zero the rest.
    assert imbalanced_counts([100, 100, 0], [1, 0.001, 1]).tolist() == [100, 1, 0]


# ---------------------------------------------------------------------------------------------
# Partitions
# ---------------------------------------------------------------------------------------------

def _balanced_labels(classes: int, per_class: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(classes), per_class))


@pytest.mark.parametrize("local", ["classes", "dirichlet", "none"])
def test_same_seed_same_partition_and_other_seed_another(local: str) -> None:
    labels = _balanced_labels(10, 60)
    kwargs = dict(num_clients=12, global_imbalance="long-tail", imbalance_ratio=0.2,
                  local_imbalance=local, size_skew="skewed")
    a, b, c = (partition(labels, seed=s, **kwargs) for s in (5, 5, 6))
    assert all(np.array_equal(x, y) for x, y in zip(a.client_indices, b.client_indices))
    assert not all(np.array_equal(x, y) for x, y in zip(a.client_indices, c.client_indices))


@pytest.mark.parametrize("local", ["classes", "dirichlet", "none"])
@pytest.mark.parametrize("skew", ["equal", "skewed"])
def test_every_sample_at_most_once_and_histograms_match_the_subsample(local: str, skew: str) -> None:
    labels = _balanced_labels(10, 60)
    part = partition(labels, num_clients=15, global_imbalance="half-normal", imbalance_ratio=0.1,
                     local_imbalance=local, size_skew=skew, seed=0)
    used = np.concatenate(part.client_indices)
    assert len(np.unique(used)) == len(used)
    target = imbalanced_counts(np.full(10, 60), class_fractions("half-normal", 10, 0.1))
    hist = part.label_histograms(10)
    assert hist.sum() == target.sum() == part.num_samples
    assert hist.sum(axis=0).tolist() == target.tolist()
    assert hist.sum(axis=1).tolist() == part.sizes.tolist()
    # Histograms count the labels of the indices, nothing else.
    for client, indices in enumerate(part.client_indices):
        assert np.bincount(labels[indices], minlength=10).tolist() == hist[client].tolist()


def test_equal_sizes_differ_by_at_most_one_and_skewed_sizes_spread() -> None:
    labels = _balanced_labels(10, 100)
    equal = partition(labels, num_clients=30, size_skew="equal", seed=0).sizes
    skewed = partition(labels, num_clients=30, size_skew="skewed", size_sigma=1.0, seed=0).sizes
    assert equal.max() - equal.min() <= 1 and equal.sum() == 1000
    assert skewed.sum() == 1000 and skewed.std() > 5 * equal.std() + 5


def test_skewed_sizes_keep_at_least_one_sample_per_client() -> None:
    labels = _balanced_labels(10, 20)
    sizes = partition(labels, num_clients=150, size_skew="skewed", size_sigma=3.0, seed=1).sizes
    assert sizes.min() >= 1 and sizes.sum() == 200


def test_shards_aligned_with_classes_give_each_client_at_most_its_classes() -> None:
    # 10 classes x 100, 50 clients x 2 shards of 10: shard and class borders coincide.
    labels = _balanced_labels(10, 100)
    hist = partition(labels, num_clients=50, local_imbalance="classes", classes_per_client=2,
                     seed=3).label_histograms(10)
    classes_held = (hist > 0).sum(axis=1)
    assert classes_held.max() == 2 and classes_held.min() >= 1
    assert np.all(hist[hist > 0] % 10 == 0)  # whole shards


def test_dirichlet_concentration_controls_local_skew() -> None:
    labels = _balanced_labels(10, 200)
    kl = {alpha: kl_to_uniform(partition(labels, num_clients=20, local_imbalance="dirichlet",
                                         dirichlet_alpha=alpha, seed=0).label_histograms(10)).mean()
          for alpha in (0.05, 0.5, 100.0)}
    assert kl[0.05] > kl[0.5] > kl[100.0]
    assert kl[100.0] < 0.1  # a very large concentration gives nearly the global distribution


def test_iid_clients_are_close_to_the_global_distribution() -> None:
    labels = _balanced_labels(10, 500)
    hist = partition(labels, num_clients=10, local_imbalance="none", seed=0).label_histograms(10)
    assert kl_to_uniform(hist).max() < 0.05


def test_too_many_clients_for_the_subsample_is_a_clear_error() -> None:
    labels = _balanced_labels(4, 5)
    with pytest.raises(InputError, match=r"^'num_clients' must be <= the 20 samples left after global "
                                         r"imbalance \(got 21\)\.$"):
        partition(labels, num_clients=21, seed=0)


def test_partition_rejects_repeated_indices() -> None:
    with pytest.raises(InputError, match="at most once"):
        Partition(labels=np.zeros(5, dtype=np.int64), client_indices=(np.array([0, 1]), np.array([1, 2])))


def test_kl_to_uniform_hand_values() -> None:
    # One class out of four: ln 4. Uniform: 0. Two of four equally: ln 2. Empty client: 0.
    kl = kl_to_uniform(np.array([[5, 0, 0, 0], [3, 3, 3, 3], [2, 2, 0, 0], [0, 0, 0, 0]]))
    np.testing.assert_allclose(kl, [np.log(4), 0.0, np.log(2), 0.0], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Configuration and federated data
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(num_clients=0), r"^'num_clients' must be >= 1 \(got 0\)\.$"),
    (dict(dataset="cifar"), r"^'dataset' must be one of 'cinic-shape', 'digits', 'emnist-shape'"),
    (dict(imbalance_ratio=0.0), r"^'imbalance_ratio' must be > 0 \(got 0\.0\)\.$"),
    (dict(imbalance_ratio=1.2), r"^'imbalance_ratio' must be <= 1 \(got 1\.2\)\.$"),
    (dict(global_imbalance="zipf"), r"^'global_imbalance' must be one of 'half-normal', 'long-tail', 'none'"),
    (dict(local_imbalance="shards"), r"^'local_imbalance' must be one of 'classes', 'dirichlet', 'none'"),
    (dict(size_skew="pareto"), r"^'size_skew' must be one of 'equal', 'skewed'"),
    (dict(classes_per_client=11), r"^'classes_per_client' must be <= 10 \(got 11\)\.$"),
    (dict(dirichlet_alpha=-1), r"^'dirichlet_alpha' must be > 0 \(got -1\)\.$"),
    (dict(dataset="emnist-shape", samples=50, num_clients=60), r"^'num_clients' must be <= 'samples' \(50\)"),
    (dict(samples=100), r"^'samples' must be unset for the fixed dataset 'digits'"),
])
def test_config_refuses_bad_values_with_one_sentence(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        DataConfig(**kwargs)


def test_config_is_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        DataConfig("digits")  # type: ignore[misc]
    config = DataConfig()
    with pytest.raises(AttributeError):
        config.num_clients = 3  # type: ignore[misc]


def test_config_fills_generated_defaults() -> None:
    config = DataConfig(dataset="emnist-shape")
    assert config.samples == DATASETS["emnist-shape"].default_samples
    assert config.to_dict()["samples"] == config.samples


@pytest.mark.parametrize("dataset", ["digits", "emnist-shape"])
def test_defaults_give_clients_far_from_uniform(dataset: str) -> None:
    data = build_federated_data(DataConfig(dataset=dataset, samples=None if dataset == "digits" else 4700))
    assert kl_to_uniform(data.label_histograms()).mean() >= 0.5


def test_federated_digits_hold_exactly_the_subsample_client_by_client() -> None:
    config = DataConfig(dataset="digits", num_clients=20, global_imbalance="long-tail",
                        imbalance_ratio=0.2, size_skew="skewed", seed=4)
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
    config = DataConfig(dataset="cinic-shape", samples=1000, test_samples=50, num_clients=10,
                        global_imbalance="long-tail", imbalance_ratio=0.1, seed=2)
    data = build_federated_data(config)
    counts = data.train.class_counts()
    assert counts.sum() == 1000 and counts[0] / counts[-1] == pytest.approx(10, rel=0.05)
    assert np.all(np.diff(counts) <= 0)
    assert data.test.class_counts().tolist() == [5] * 10  # the test set stays balanced
    again = build_federated_data(config)
    assert torch.equal(data.train.x, again.train.x) and torch.equal(data.train.y, again.train.y)


def test_client_index_out_of_range_is_refused() -> None:
    data = build_federated_data(DataConfig(dataset="emnist-shape", samples=100, num_clients=5))
    with pytest.raises(InputError, match=r"^'client' must be <= 4 \(got 5\)\.$"):
        data.client_data(5)


def test_run_config_names_the_data_module_s_local_imbalances_and_passes_them_through() -> None:
    from reference_impl.config import LOCAL_IMBALANCES, RunConfig
    from reference_impl.data import LOCAL_IMBALANCE_KINDS
    from reference_impl.engine import data_config

    assert set(LOCAL_IMBALANCES) == set(LOCAL_IMBALANCE_KINDS)
    config = data_config(RunConfig(local_imbalance="dirichlet", dirichlet_alpha=0.7, classes_per_client=3))
    assert (config.local_imbalance, config.dirichlet_alpha, config.classes_per_client) == ("dirichlet", 0.7, 3)
    assert RunConfig().local_imbalance == "classes"   # the default partition is unchanged


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(local_imbalance="shards"), r"^'local_imbalance' must be one of classes, dirichlet, none \(got 'shards'\)\.$"),
    (dict(dirichlet_alpha=0), r"^'dirichlet_alpha' must be > 0 \(got 0\)\.$"),
    (dict(plan="printed"), r"^'plan' must be one of tpds, tpds-printed, iccd, none \(got 'printed'\)\.$"),
])
def test_run_config_refuses_bad_partition_and_plan_values(kwargs: dict, message: str) -> None:
    from reference_impl.config import RunConfig

    with pytest.raises(InputError, match=message):
        RunConfig(**kwargs)
