"""Global imbalance by class, local imbalance and client sizes: who holds which sample."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.errors import InputError
from reference_impl.data.partition import Partition, class_fractions, imbalanced_counts, partition
from reference_impl.protocols.rescheduling import kl_to_uniform


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
    kwargs = dict(clients=12, global_imbalance="long-tail", imbalance_ratio=0.2,
                  local_imbalance=local, size_skew=1.0)
    a, b, c = (partition(labels, seed=s, **kwargs) for s in (5, 5, 6))
    assert all(np.array_equal(x, y) for x, y in zip(a.client_indices, b.client_indices))
    assert not all(np.array_equal(x, y) for x, y in zip(a.client_indices, c.client_indices))


@pytest.mark.parametrize("local", ["classes", "dirichlet", "none"])
@pytest.mark.parametrize("skew", [0.0, 1.0])
def test_every_sample_at_most_once_and_histograms_match_the_subsample(local: str, skew: float) -> None:
    labels = _balanced_labels(10, 60)
    part = partition(labels, clients=15, global_imbalance="half-normal", imbalance_ratio=0.1,
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
    equal = partition(labels, clients=30, size_skew=0.0, seed=0).sizes
    skewed = partition(labels, clients=30, size_skew=1.0, seed=0).sizes
    assert equal.max() - equal.min() <= 1 and equal.sum() == 1000
    assert skewed.sum() == 1000 and skewed.std() > 5 * equal.std() + 5


def test_skewed_sizes_keep_at_least_one_sample_per_client() -> None:
    labels = _balanced_labels(10, 20)
    sizes = partition(labels, clients=150, size_skew=3.0, seed=1).sizes
    assert sizes.min() >= 1 and sizes.sum() == 200


def test_shards_aligned_with_classes_give_each_client_at_most_its_classes() -> None:
    # 10 classes x 100, 50 clients x 2 shards of 10: shard and class borders coincide.
    labels = _balanced_labels(10, 100)
    hist = partition(labels, clients=50, local_imbalance="classes", classes_per_client=2,
                     seed=3).label_histograms(10)
    classes_held = (hist > 0).sum(axis=1)
    assert classes_held.max() == 2 and classes_held.min() >= 1
    assert np.all(hist[hist > 0] % 10 == 0)  # whole shards


def test_dirichlet_concentration_controls_local_skew() -> None:
    labels = _balanced_labels(10, 200)
    kl = {alpha: kl_to_uniform(partition(labels, clients=20, local_imbalance="dirichlet",
                                         dirichlet_alpha=alpha, seed=0).label_histograms(10)).mean()
          for alpha in (0.05, 0.5, 100.0)}
    assert kl[0.05] > kl[0.5] > kl[100.0]
    assert kl[100.0] < 0.1  # a very large concentration gives nearly the global distribution


def test_iid_clients_are_close_to_the_global_distribution() -> None:
    labels = _balanced_labels(10, 500)
    hist = partition(labels, clients=10, local_imbalance="none", seed=0).label_histograms(10)
    assert kl_to_uniform(hist).max() < 0.05


def test_too_many_clients_for_the_subsample_is_a_clear_error() -> None:
    labels = _balanced_labels(4, 5)
    with pytest.raises(InputError, match=r"^'clients' must be <= the 20 samples left after global "
                                         r"imbalance \(got 21\)\.$"):
        partition(labels, clients=21, seed=0)


def test_partition_rejects_repeated_indices() -> None:
    with pytest.raises(InputError, match="at most once"):
        Partition(labels=np.zeros(5, dtype=np.int64), client_indices=(np.array([0, 1]), np.array([1, 2])))
