"""The datasets of the reference implementation: one real, two generated, none downloaded.

Astraea (Duan et al., "Astraea: Self-balancing Federated Learning for Improving Classification
Accuracy of Mobile Deep Learning Applications", ICCD 2019; "Self-Balancing Federated Learning With
Global Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) is evaluated on EMNIST and CINIC-10.
This module provides three datasets that need no download, each a training and a test split:

``digits``
    scikit-learn's bundled handwritten digits (1797 real 8x8 images, 10 classes), scaled to [0, 1]
    and resized to 1x28x28 (bilinear) so the papers' EMNIST CNN runs on it unchanged; a stratified,
    seeded 75/25 train/test split. The one set on which accuracy means something.
``emnist-shape``, ``cinic-shape``
    Generated tensors with the shapes of the papers' EMNIST (1x28x28, 47 classes) and CINIC-10
    (3x32x32, 10 classes). For cost work shapes matter and values do not: pixels are uniform in
    [0, 1), labels carry no signal. Their size is a parameter; generating them is cheap.

:data:`DATASETS` says what each is before it is loaded (shape, classes, whether generated, default
sizes); :func:`load_dataset` loads or generates one. How a dataset is made imbalanced and split among
clients is :mod:`reference_impl.data.partition`; the federated data of a run is
:mod:`reference_impl.data.federated`. Everything is seeded: the same seed gives the same tensors.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from costmodel.errors import InputError, check_int, must
from reference_impl.data.partition import apportion, check_choice

__all__ = [
    "DATASETS",
    "DIGITS_TEST_FRACTION",
    "STREAM_LABELS",
    "STREAM_PARTITION",
    "STREAM_TEST_SET",
    "Dataset",
    "DatasetSpec",
    "DatasetSplit",
    "dataset_spec",
    "derive_stream_seed",
    "generated_images",
    "generated_labels",
    "load_dataset",
]

#: Independent random streams derived from one user seed (:func:`derive_stream_seed`).
STREAM_TEST_SET = 1
STREAM_PARTITION = 2
STREAM_LABELS = 3


def derive_stream_seed(seed: int, stream: int) -> int:
    """A seed for an independent stream, reproducible from ``seed``."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True, eq=False, kw_only=True)
class Dataset:
    """Samples and labels of one split.

    Parameters
    ----------
    name : str
        The registry name of the dataset it came from.
    x : torch.Tensor
        float32 samples, shape ``(N, C, H, W)``.
    y : torch.Tensor
        int64 labels in ``0 .. num_classes - 1``, shape ``(N,)``.
    num_classes : int
        K, the number of classes of the task (some may have no sample here).
    """

    name: str
    x: torch.Tensor = field(repr=False)
    y: torch.Tensor = field(repr=False)
    num_classes: int

    def __post_init__(self) -> None:
        if self.x.dtype != torch.float32 or self.x.dim() != 4:
            raise InputError(f"'x' must be a float32 tensor of shape (N, C, H, W) "
                             f"(got {self.x.dtype} of shape {tuple(self.x.shape)}).")
        if self.y.dtype != torch.int64 or self.y.dim() != 1 or len(self.y) != len(self.x):
            raise InputError(f"'y' must be an int64 tensor of shape ({len(self.x)},) "
                             f"(got {self.y.dtype} of shape {tuple(self.y.shape)}).")
        check_int("num_classes", self.num_classes, minimum=1)
        if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= self.num_classes):
            raise must("y", f"hold labels in 0..{self.num_classes - 1}",
                       (int(self.y.min()), int(self.y.max())))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of one sample."""
        return tuple(int(s) for s in self.x.shape[1:])

    def class_counts(self) -> np.ndarray:
        """Samples per class, shape ``(num_classes,)``."""
        return np.bincount(self.y.numpy(), minlength=self.num_classes).astype(np.int64)


@dataclass(frozen=True, eq=False, kw_only=True)
class DatasetSplit:
    """A training and a test split, kept apart."""

    train: Dataset
    test: Dataset


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """What the registry knows about a dataset before loading it."""

    name: str
    sample_shape: tuple[int, int, int]
    num_classes: int
    generated: bool
    default_samples: int | None
    default_test_samples: int | None
    description: str


DATASETS: dict[str, DatasetSpec] = {
    "cinic-shape": DatasetSpec(
        name="cinic-shape", sample_shape=(3, 32, 32), num_classes=10, generated=True,
        default_samples=10_000, default_test_samples=2_000,
        description="generated tensors shaped like CINIC-10 (3x32x32, 10 classes)"),
    "digits": DatasetSpec(
        name="digits", sample_shape=(1, 28, 28), num_classes=10, generated=False,
        default_samples=None, default_test_samples=None,
        description="scikit-learn's 1797 handwritten digits, resized to 1x28x28"),
    "emnist-shape": DatasetSpec(
        name="emnist-shape", sample_shape=(1, 28, 28), num_classes=47, generated=True,
        default_samples=10_000, default_test_samples=2_000,
        description="generated tensors shaped like EMNIST balanced (1x28x28, 47 classes)"),
}

#: Fraction of the digits held out for testing (stratified).
DIGITS_TEST_FRACTION = 0.25


def dataset_spec(name: object) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``; any other name is a one-sentence ``InputError``."""
    return DATASETS[check_choice("dataset", name, tuple(DATASETS))]


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits as read-only arrays: images (1797, 8, 8) in [0, 1], labels (1797,).

    scikit-learn is imported here, not at the top: it serves the digits alone and its import takes
    about a second, which every process of a run on a generated dataset (every distributed rank)
    would otherwise pay.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _resize(images: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(N, H, W) in [0, 1] -> float32 (N, 1, *size), bilinear; values stay in [0, 1]."""
    tensor = torch.from_numpy(np.array(images, dtype=np.float32)).unsqueeze(1)
    resized = torch.nn.functional.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
    return resized.clamp_(0.0, 1.0).contiguous()


def _load_digits(seed: int) -> DatasetSplit:
    from sklearn.model_selection import train_test_split  # only for the digits: see _digits_arrays

    images, labels = _digits_arrays()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=DIGITS_TEST_FRACTION, stratify=labels, random_state=seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    x = _resize(images, (28, 28))
    y = torch.from_numpy(labels.copy())
    return DatasetSplit(
        train=Dataset(name="digits", x=x[train_idx], y=y[train_idx], num_classes=10),
        test=Dataset(name="digits", x=x[test_idx], y=y[test_idx], num_classes=10),
    )


def _class_sizes_for(samples: int, fractions: np.ndarray) -> np.ndarray:
    """Class sizes summing to ``samples``, proportional to ``fractions``.

    A class with a positive fraction gets at least one sample (taken from the largest) when there
    are enough samples; a zero fraction means no sample.
    """
    counts = apportion(samples, fractions)
    wanted = np.asarray(fractions) > 0
    if samples >= int(wanted.sum()):
        for k in np.flatnonzero((counts == 0) & wanted):
            counts[int(np.argmax(counts))] -= 1
            counts[k] = 1
    return counts


def generated_labels(samples: int, fractions: np.ndarray, seed: int) -> torch.Tensor:
    """Exactly ``_class_sizes_for(samples, fractions)`` labels per class, in seeded random order."""
    counts = _class_sizes_for(samples, fractions)
    labels = np.repeat(np.arange(len(fractions), dtype=np.int64), counts)
    return torch.from_numpy(np.random.default_rng(seed).permutation(labels))


def generated_images(samples: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((samples, *shape), generator=generator, dtype=torch.float32)


def load_dataset(name: str, *, seed: int, samples: int | None = None, test_samples: int | None = None,
                 class_weights: Sequence[float] | np.ndarray | None = None) -> DatasetSplit:
    """Load (or generate) a dataset by registry name, with its test split kept apart.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    seed : int
        Seeds the digits split and the generated tensors.
    samples, test_samples : int, optional
        Generated sets only: training and test sizes (defaults in :data:`DATASETS`).
    class_weights : sequence of float, optional
        Generated sets only: relative training-class frequencies (e.g. from
        :func:`~reference_impl.data.partition.class_fractions`); the training set then has exactly
        ``samples`` labels split by the largest-remainder method. Default: balanced. Test sets are always balanced, as in the papers'
        evaluation of imbalanced training.
    """
    spec = dataset_spec(name)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    if not spec.generated:
        for arg, value in (("samples", samples), ("test_samples", test_samples),
                           ("class_weights", class_weights)):
            if value is not None:
                raise must(arg, f"be unset for the fixed dataset {spec.name!r}", value)
        return _load_digits(seed)

    samples = check_int("samples", spec.default_samples if samples is None else samples, minimum=1)
    test_samples = check_int("test_samples",
                             spec.default_test_samples if test_samples is None else test_samples, minimum=1)
    k = spec.num_classes
    if class_weights is None:
        weights = np.ones(k)
    else:
        weights = np.asarray(class_weights, dtype=np.float64)
        if weights.shape != (k,) or not np.all(np.isfinite(weights)) or (weights < 0).any() \
                or weights.sum() <= 0:
            raise must("class_weights", f"be {k} finite non-negative numbers, not all zero",
                       weights.tolist())
    test_seed = derive_stream_seed(seed, STREAM_TEST_SET)
    train = Dataset(name=spec.name, x=generated_images(samples, spec.sample_shape, seed),
                    y=generated_labels(samples, weights, derive_stream_seed(seed, STREAM_LABELS)),
                    num_classes=k)
    test = Dataset(name=spec.name, x=generated_images(test_samples, spec.sample_shape, test_seed),
                   y=generated_labels(test_samples, np.ones(k), derive_stream_seed(test_seed, STREAM_LABELS)),
                   num_classes=k)
    return DatasetSplit(train=train, test=test)
