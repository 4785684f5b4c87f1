"""The federated data of a run: its dataset, imbalanced and laid out client by client.

A run's configuration (:class:`~reference_impl.config.RunConfig`) determines its data: the dataset
(:mod:`reference_impl.data.datasets`; ``samples`` for the generated ones, a fixed 2,000-sample
balanced test set for them), the global and local imbalance and the client sizes
(:mod:`reference_impl.data.partition`: ``clients``, ``global_imbalance``, ``imbalance_ratio``,
``local_imbalance``, ``classes_per_client``, ``dirichlet_alpha``, ``size_skew``) and the seed, from
which the data and, through an independent stream, the partition are drawn. :func:`check_data`
checks what only the dataset can tell (its classes, its size), in one place;
:func:`build_federated_data` builds the tensors and :func:`client_labels` only who holds which label.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from costmodel.errors import check_int, must
from reference_impl.config import RunConfig
from reference_impl.data.datasets import (
    STREAM_LABELS,
    STREAM_PARTITION,
    STREAM_TEST_SET,
    Dataset,
    DatasetSpec,
    DatasetSplit,
    dataset_spec,
    derive_stream_seed,
    generated_images,
    generated_labels,
    load_dataset,
)
from reference_impl.data.partition import Partition, class_fractions, partition

__all__ = ["FederatedData", "build_federated_data", "check_data", "client_labels"]


def check_data(config: RunConfig) -> DatasetSpec:
    """The dataset of ``config``, once the data side of ``config`` is checked against it.

    A :class:`RunConfig` checks its fields one by one; what needs the dataset is checked here: the
    seed fits the data's 32-bit streams, ``classes_per_client`` is at most the dataset's classes, and
    a generated dataset has at least one sample per client (``samples >= clients``). ``samples`` is
    ignored for a fixed dataset (the digits). Each failure is a one-sentence ``InputError`` naming
    the ``RunConfig`` field.
    """
    if not isinstance(config, RunConfig):
        raise must("config", "be a RunConfig", type(config).__name__)
    spec = dataset_spec(config.dataset)
    check_int("seed", config.seed, minimum=0, maximum=2**32 - 1)
    check_int("classes_per_client", config.classes_per_client, minimum=1, maximum=spec.num_classes)
    if spec.generated and config.samples < config.clients:
        raise must("clients", f"be <= 'samples' ({config.samples})", config.clients)
    return spec


@dataclass(frozen=True, eq=False, kw_only=True)
class FederatedData:
    """A run's data: the clients' training samples, the test set and who holds what.

    ``train`` holds exactly the samples the clients hold (after global imbalance), client by client:
    client ``k`` owns rows ``offsets[k]:offsets[k + 1]``, so :meth:`client_data` returns views, not
    copies. ``partition`` indexes ``train``; ``source_indices[i]`` is the row of the loaded training
    split that row ``i`` came from (generated sets are generated in this order, so it is ``arange``).
    """

    config: RunConfig
    train: Dataset
    test: Dataset
    partition: Partition = field(repr=False)
    source_indices: np.ndarray = field(repr=False)

    @functools.cached_property
    def offsets(self) -> np.ndarray:
        """Row where each client's samples start, plus the end: shape ``(num_clients + 1,)``."""
        return np.concatenate(([0], np.cumsum(self.partition.sizes)))

    @property
    def num_clients(self) -> int:
        return self.partition.num_clients

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def client_sizes(self) -> np.ndarray:
        return self.partition.sizes

    def client_data(self, client: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Client ``client``'s samples and labels, as views into ``train`` (do not modify in place)."""
        client = check_int("client", client, minimum=0, maximum=self.num_clients - 1)
        start, stop = int(self.offsets[client]), int(self.offsets[client + 1])
        return self.train.x[start:stop], self.train.y[start:stop]

    def label_histograms(self) -> np.ndarray:
        """Per-client label counts ``(num_clients, num_classes)``: the distribution report."""
        return self.partition.label_histograms(self.num_classes)


def _partitioned(config: RunConfig) -> tuple[DatasetSpec, Partition, torch.Tensor, DatasetSplit | None]:
    """The checked dataset and who holds which sample: the partition of the training labels
    (generated sets: the labels alone, no pixels yet), the labels it indexes, and the loaded split
    of a fixed dataset."""
    spec = check_data(config)
    split_kwargs: dict[str, Any] = dict(
        clients=config.clients, local_imbalance=config.local_imbalance,
        classes_per_client=config.classes_per_client, dirichlet_alpha=config.dirichlet_alpha,
        size_skew=config.size_skew, seed=derive_stream_seed(config.seed, STREAM_PARTITION),
        num_classes=spec.num_classes)
    if spec.generated:
        fractions = class_fractions(config.global_imbalance, spec.num_classes, config.imbalance_ratio)
        labels = generated_labels(config.samples, fractions, derive_stream_seed(config.seed, STREAM_LABELS))
        return spec, partition(labels, **split_kwargs), labels, None
    split = load_dataset(spec.name, seed=config.seed)
    source = partition(split.train.y, global_imbalance=config.global_imbalance,
                       imbalance_ratio=config.imbalance_ratio, **split_kwargs)
    return spec, source, split.train.y, split


def client_labels(config: RunConfig) -> tuple[np.ndarray, ...]:
    """Each client's training labels, in the order :func:`build_federated_data` gives them, without
    generating any pixels (a fixed dataset such as the digits is still loaded), for planning a run's
    workload (:mod:`reference_impl.workload`)."""
    _, source, labels, _ = _partitioned(config)
    y = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return tuple(y[np.asarray(indices, dtype=np.int64)] for indices in source.client_indices)


def build_federated_data(config: RunConfig) -> FederatedData:
    """Load or generate ``config.dataset``, impose the imbalances, and lay the clients out.

    Generated sets get their labels drawn with the global-imbalance frequencies (exactly
    ``config.samples`` of them), are partitioned, and only then get their pixels, generated directly
    in client order (no copy). The digits are subsampled and partitioned, then gathered client by
    client once.
    """
    spec, source, labels, split = _partitioned(config)
    if spec.generated:
        test_samples = int(spec.default_test_samples or 0)
        order = np.concatenate(source.client_indices)
        x = generated_images(len(order), spec.sample_shape, config.seed)
        y = labels[torch.from_numpy(order)]
        test_seed = derive_stream_seed(config.seed, STREAM_TEST_SET)
        test = Dataset(name=spec.name, x=generated_images(test_samples, spec.sample_shape, test_seed),
                       y=generated_labels(test_samples, np.ones(spec.num_classes),
                                          derive_stream_seed(test_seed, STREAM_LABELS)),
                       num_classes=spec.num_classes)
        source_indices = np.arange(len(order), dtype=np.int64)
    else:
        order = np.concatenate(source.client_indices)
        index = torch.from_numpy(order)
        x, y = split.train.x[index], split.train.y[index]
        test = split.test
        source_indices = order

    source_indices = source_indices.view()
    source_indices.setflags(write=False)
    train = Dataset(name=spec.name, x=x, y=y, num_classes=spec.num_classes)
    ends = np.cumsum(source.sizes)
    contiguous = Partition(labels=y.numpy(), client_indices=tuple(
        np.arange(end - size, end, dtype=np.int64) for end, size in zip(ends, source.sizes)))
    return FederatedData(config=config, train=train, test=test, partition=contiguous,
                         source_indices=source_indices)
