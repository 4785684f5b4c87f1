"""Datasets and their federated partitions for the reference implementation.

Astraea (Duan et al., "Astraea: Self-balancing Federated Learning for Improving Classification
Accuracy of Mobile Deep Learning Applications", ICCD 2019; "Self-Balancing Federated Learning With
Global Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) is evaluated on data that is
imbalanced twice: *globally* (the class sizes summed over all clients differ) and *locally* (each
client holds a few dominant classes). This module builds both kinds of imbalance, reproducibly, on
three datasets that need no download:

``digits``
    scikit-learn's bundled handwritten digits (1797 real 8x8 images, 10 classes), scaled to [0, 1]
    and resized to 1x28x28 (bilinear) so the papers' EMNIST CNN runs on it unchanged; a stratified,
    seeded 75/25 train/test split. The one set on which accuracy means something.
``emnist-shape``, ``cinic-shape``
    Generated tensors with the shapes of the papers' EMNIST (1x28x28, 47 classes) and CINIC-10
    (3x32x32, 10 classes). For cost work shapes matter and values do not: pixels are uniform in
    [0, 1), labels carry no signal. Their size is a parameter; generating them is cheap.

Global imbalance (:func:`class_fractions`)
    Class ``k`` (its index is its rank: class 0 is the largest) gets a frequency proportional to

    * ``"none"``: 1 (the data as it is; generated sets are then balanced),
    * ``"long-tail"``: ``rho ** (k / (K - 1))`` (exponential decay),
    * ``"half-normal"``: ``rho ** ((k / (K - 1)) ** 2)``, i.e. a half-normal density
      ``exp(-k**2 / (2 s**2))`` over the class rank with its scale ``s = (K - 1) / sqrt(2 ln(1/rho))``
      chosen so that the rarest class has ``rho`` times the largest. This is how TPDS builds its
      imbalanced EMNIST; the paper gives no scale, so ``rho`` (``imbalance_ratio``) is the knob.

    Real data is subsampled per class to these frequencies (:func:`imbalanced_counts`, the largest
    subset that fits); generated data is generated with them. Every class that had a sample keeps at
    least one, so no class vanishes for the augmentation plan.

Local imbalance (``local_imbalance``)
    * ``"classes"`` (default, ``classes_per_client=2``): McMahan et al.'s "pathological non-IID"
      shards. Samples are sorted by label, each client's quota is cut into ``classes_per_client``
      shards, and the shards are laid along the sorted samples in random order; a client therefore
      sees about ``classes_per_client`` classes (one more where a shard straddles a class boundary,
      one fewer where two of its shards fall into the same class). The papers do not say how they
      made clients locally imbalanced; this is the standard choice of the FedAvg literature they
      compare against, and with the defaults the mean KL divergence of a client's label
      distribution from the uniform one is well above 0.5 nats (about ln(K/2)).
    * ``"dirichlet"`` (``dirichlet_alpha``): each client's label proportions are drawn from
      ``Dirichlet(alpha * K * q)``, ``q`` the global class frequencies, so ``alpha = 1`` on balanced
      data is the uniform distribution over the simplex and smaller ``alpha`` concentrates each
      client on fewer classes (Hsu et al., 2019). Clients are filled in random order and without
      replacement; a class that runs out is renormalised away. ``alpha = 2`` gives the TPDS paper's
      mean client KL to uniform of 0.550 nats on its EMNIST setup (47 classes, 500 clients of 225.6
      samples, long tail of ratio 0.09897), where two classes per client give 3.16
      (:mod:`reference_impl.imbalance_study`).
    * ``"none"``: IID (a random split).

Client sizes (``size_skew``)
    ``"equal"`` (sizes differ by at most one) or ``"skewed"``: one sample each plus a share of the
    rest proportional to a lognormal(0, ``size_sigma``) weight. Every client holds at least one sample.

Everything is seeded: the same seed gives the same tensors and the same partition, and every sample
is used at most once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from costmodel.errors import InputError, check_int, check_number, must

__all__ = [
    "DATASETS",
    "DIGITS_TEST_FRACTION",
    "DataConfig",
    "Dataset",
    "DatasetSpec",
    "DatasetSplit",
    "FederatedData",
    "GLOBAL_IMBALANCE_KINDS",
    "LOCAL_IMBALANCE_KINDS",
    "Partition",
    "SIZE_SKEW_KINDS",
    "build_federated_data",
    "class_fractions",
    "client_labels",
    "imbalanced_counts",
    "kl_to_uniform",
    "load_dataset",
    "partition",
]

GLOBAL_IMBALANCE_KINDS: tuple[str, ...] = ("none", "long-tail", "half-normal")
LOCAL_IMBALANCE_KINDS: tuple[str, ...] = ("none", "classes", "dirichlet")
SIZE_SKEW_KINDS: tuple[str, ...] = ("equal", "skewed")

# Independent random streams derived from one user seed.
_STREAM_TEST_SET = 1
_STREAM_PARTITION = 2
_STREAM_LABELS = 3


def _one_of(name: str, value: object, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in sorted(options))
        raise InputError(f"'{name}' must be one of {listed} (got {value!r}).")
    return value


def _derive_seed(seed: int, stream: int) -> int:
    """A seed for an independent stream, reproducible from ``seed``."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint32)[0])


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest-remainder method).

    The parts sum to ``total`` exactly; ties in the remainders go to the lower index.
    """
    weights = np.asarray(weights, dtype=np.float64)
    raw = total * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    short = int(total - parts.sum())
    if short > 0:
        order = np.argsort(-(raw - parts), kind="stable")
        parts[order[:short]] += 1
    return parts


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------

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


def _dataset_spec(name: object) -> DatasetSpec:
    return DATASETS[_one_of("dataset", name, tuple(DATASETS))]


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits as read-only arrays: images (1797, 8, 8) in [0, 1], labels (1797,)."""
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
    from sklearn.model_selection import train_test_split

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
    counts = _apportion(samples, fractions)
    wanted = np.asarray(fractions) > 0
    if samples >= int(wanted.sum()):
        for k in np.flatnonzero((counts == 0) & wanted):
            counts[int(np.argmax(counts))] -= 1
            counts[k] = 1
    return counts


def _generated_labels(samples: int, fractions: np.ndarray, seed: int) -> torch.Tensor:
    """Exactly ``_class_sizes_for(samples, fractions)`` labels per class, in seeded random order."""
    counts = _class_sizes_for(samples, fractions)
    labels = np.repeat(np.arange(len(fractions), dtype=np.int64), counts)
    return torch.from_numpy(np.random.default_rng(seed).permutation(labels))


def _generated_images(samples: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
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
        :func:`class_fractions`); the training set then has exactly ``samples`` labels split by the
        largest-remainder method. Default: balanced. Test sets are always balanced, as in the papers'
        evaluation of imbalanced training.
    """
    spec = _dataset_spec(name)
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
    test_seed = _derive_seed(seed, _STREAM_TEST_SET)
    train = Dataset(name=spec.name, x=_generated_images(samples, spec.sample_shape, seed),
                    y=_generated_labels(samples, weights, _derive_seed(seed, _STREAM_LABELS)),
                    num_classes=k)
    test = Dataset(name=spec.name, x=_generated_images(test_samples, spec.sample_shape, test_seed),
                   y=_generated_labels(test_samples, np.ones(k), _derive_seed(test_seed, _STREAM_LABELS)),
                   num_classes=k)
    return DatasetSplit(train=train, test=test)


# --------------------------------------------------------------------------------------------
# Global imbalance
# --------------------------------------------------------------------------------------------

def class_fractions(kind: str, num_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Relative class frequencies of a global-imbalance shape; the largest (class 0) is 1.

    With ``r_k = k / (K - 1)`` the rank of class ``k`` scaled to [0, 1] and ``rho`` the imbalance ratio:
    ``"none"``: ``f_k = 1``; ``"long-tail"``: ``f_k = rho ** r_k``; ``"half-normal"``:
    ``f_k = rho ** (r_k ** 2) = exp(-k**2 / (2 s**2))`` with ``s = (K - 1) / sqrt(2 ln(1 / rho))``.
    In both imbalanced shapes the rarest class has ``rho`` times the samples of the largest.
    """
    kind = _one_of("global_imbalance", kind, GLOBAL_IMBALANCE_KINDS)
    k = check_int("num_classes", num_classes, minimum=1)
    rho = check_number("imbalance_ratio", imbalance_ratio, exclusive_minimum=0.0, maximum=1.0)
    if kind == "none" or k == 1:
        return np.ones(k)
    rank = np.arange(k) / (k - 1)
    exponent = rank if kind == "long-tail" else rank**2
    return rho**exponent


def imbalanced_counts(available: Sequence[int] | np.ndarray, fractions: Sequence[float] | np.ndarray) -> np.ndarray:
    """The largest per-class subsample of ``available`` whose sizes follow ``fractions``.

    ``n_k = max(1, floor(s * f_k))`` capped at ``available_k``, with the scale
    ``s = min_k available_k / f_k`` over the classes that have samples (classes with none stay empty).
    """
    available = np.asarray(available, dtype=np.int64)
    fractions = np.asarray(fractions, dtype=np.float64)
    if available.shape != fractions.shape:
        raise InputError(f"'fractions' must have one entry per class ({len(available)}) (got {len(fractions)}).")
    present = available > 0
    if not present.any():
        return np.zeros_like(available)
    scale = float(np.min(available[present] / fractions[present]))
    counts = np.floor(scale * fractions * (1 + 1e-12)).astype(np.int64)
    counts = np.minimum(np.maximum(counts, 1), available)
    return np.where(present, counts, 0)


# --------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------

def kl_to_uniform(histograms: np.ndarray) -> np.ndarray:
    """KL(P_i || uniform) in nats for each row of label histograms (``0 log 0 = 0``).

    ``KL = sum_y p_y ln(K p_y)``; an empty row has KL 0.
    """
    histograms = np.asarray(histograms, dtype=np.float64)
    k = histograms.shape[-1]
    totals = histograms.sum(axis=-1, keepdims=True)
    p = np.divide(histograms, totals, out=np.zeros_like(histograms), where=totals > 0)
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p * k, 1.0)), 0.0)
    return terms.sum(axis=-1)


@dataclass(frozen=True, eq=False, kw_only=True)
class Partition:
    """Which samples each client holds.

    Parameters
    ----------
    labels : numpy.ndarray
        Labels of the whole dataset the indices point into (stored read-only).
    client_indices : tuple of numpy.ndarray
        For each client, the int64 indices of its samples; no index appears twice.
    """

    labels: np.ndarray = field(repr=False)
    client_indices: tuple[np.ndarray, ...] = field(repr=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels).view()
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        frozen = []
        for indices in self.client_indices:
            arr = np.asarray(indices, dtype=np.int64).view()
            arr.setflags(write=False)
            frozen.append(arr)
        object.__setattr__(self, "client_indices", tuple(frozen))
        if not frozen:
            raise must("client_indices", "hold at least one client", 0)
        used = np.concatenate(frozen)
        if len(used) and (used.min() < 0 or used.max() >= len(labels)):
            raise must("client_indices", f"lie in 0..{len(labels) - 1}", (int(used.min()), int(used.max())))
        if len(np.unique(used)) != len(used):
            raise InputError("'client_indices' must use every sample at most once (some index repeats).")

    @property
    def num_clients(self) -> int:
        return len(self.client_indices)

    @property
    def sizes(self) -> np.ndarray:
        """Samples per client, shape ``(num_clients,)``."""
        return np.array([len(i) for i in self.client_indices], dtype=np.int64)

    @property
    def num_samples(self) -> int:
        """Samples held by all clients together."""
        return int(self.sizes.sum())

    def label_histograms(self, num_classes: int) -> np.ndarray:
        """Per-client label counts, int64 array ``(num_clients, num_classes)``: what clients report."""
        k = check_int("num_classes", num_classes, minimum=1)
        sizes = self.sizes
        owner = np.repeat(np.arange(len(sizes)), sizes)
        labels = self.labels[np.concatenate(self.client_indices)].astype(np.int64)
        if len(labels) and labels.max() >= k:
            raise must("num_classes", f"exceed the largest label {int(labels.max())}", k)
        flat = np.bincount(owner * k + labels, minlength=len(sizes) * k)
        return flat.reshape(len(sizes), k).astype(np.int64)


def _client_sizes(total: int, num_clients: int, size_skew: str, size_sigma: float,
                  rng: np.random.Generator) -> np.ndarray:
    if size_skew == "equal":
        return _apportion(total, np.ones(num_clients))
    weights = rng.lognormal(mean=0.0, sigma=size_sigma, size=num_clients)
    return 1 + _apportion(total - num_clients, weights)


def _dirichlet_counts(class_sizes: np.ndarray, client_sizes: np.ndarray, alpha: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Count matrix (clients x classes): rows sum to ``client_sizes``, columns to ``class_sizes``."""
    k = len(class_sizes)
    present = class_sizes > 0
    prior = class_sizes / class_sizes.sum()
    proportions = np.zeros((len(client_sizes), k))
    proportions[:, present] = rng.dirichlet(alpha * k * prior[present], size=len(client_sizes))
    proportions = np.nan_to_num(proportions)
    remaining = class_sizes.astype(np.int64).copy()
    counts = np.zeros((len(client_sizes), k), dtype=np.int64)
    for client in rng.permutation(len(client_sizes)):
        need = int(client_sizes[client])
        row = counts[client]
        while need > 0:
            open_ = remaining - row > 0
            weights = proportions[client] * open_
            if weights.sum() <= 0:
                weights = open_.astype(np.float64)
            drawn = rng.multinomial(need, weights / weights.sum())
            taken = np.minimum(drawn, remaining - row)
            row += taken
            need -= int(taken.sum())
        remaining -= row
    return counts


def partition(labels: Sequence[int] | np.ndarray | torch.Tensor, *, num_clients: int,
              global_imbalance: str = "none", imbalance_ratio: float = 1.0,
              local_imbalance: str = "classes", classes_per_client: int = 2,
              dirichlet_alpha: float = 0.5, size_skew: str = "equal", size_sigma: float = 1.0,
              seed: int, num_classes: int | None = None) -> Partition:
    """Split a labelled dataset among clients, imbalanced globally and locally.

    Parameters
    ----------
    labels : array of int
        Labels of the dataset, ``0 .. K - 1``.
    num_clients : int
        Clients to create; each receives at least one sample.
    global_imbalance, imbalance_ratio : str, float
        Shape of the class frequencies and rarest/largest ratio rho in (0, 1]
        (:func:`class_fractions`); the dataset is subsampled per class to it (:func:`imbalanced_counts`).
    local_imbalance : {"classes", "dirichlet", "none"}
        How far each client's label distribution is from the global one (see the module docstring).
    classes_per_client : int
        Shards per client for ``"classes"``.
    dirichlet_alpha : float
        Concentration for ``"dirichlet"``: client proportions ~ ``Dirichlet(alpha * K * q)``.
    size_skew, size_sigma : str, float
        ``"equal"`` sizes, or ``"skewed"``: ``1 + share of (N - M)`` proportional to lognormal(0, sigma).
    seed : int
        Seeds everything random here.
    num_classes : int, optional
        K; default ``max(labels) + 1``.

    Returns
    -------
    Partition
        Client index arrays into ``labels``, each in random order.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise must("labels", "be a one-dimensional array of integers", f"{labels.dtype} of shape {labels.shape}")
    labels = labels.astype(np.int64, copy=False)
    if len(labels) and labels.min() < 0:
        raise must("labels", "be >= 0", int(labels.min()))
    k = int(labels.max()) + 1 if num_classes is None and len(labels) else int(num_classes or 1)
    k = check_int("num_classes", k, minimum=1)
    if len(labels) and labels.max() >= k:
        raise must("num_classes", f"exceed the largest label {int(labels.max())}", k)
    num_clients = check_int("num_clients", num_clients, minimum=1)
    global_imbalance = _one_of("global_imbalance", global_imbalance, GLOBAL_IMBALANCE_KINDS)
    local_imbalance = _one_of("local_imbalance", local_imbalance, LOCAL_IMBALANCE_KINDS)
    classes_per_client = check_int("classes_per_client", classes_per_client, minimum=1, maximum=k)
    dirichlet_alpha = check_number("dirichlet_alpha", dirichlet_alpha, exclusive_minimum=0.0)
    size_skew = _one_of("size_skew", size_skew, SIZE_SKEW_KINDS)
    size_sigma = check_number("size_sigma", size_sigma, minimum=0.0)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    fractions = class_fractions(global_imbalance, k, imbalance_ratio)
    rng = np.random.default_rng(seed)

    # Samples sorted by label, random within a class; keep each class's first class_sizes[k]
    # ("none" keeps the data as it is).
    pool = rng.permutation(len(labels))
    pool = pool[np.argsort(labels[pool], kind="stable")]
    available = np.bincount(labels, minlength=k)
    class_sizes = available if global_imbalance == "none" else imbalanced_counts(available, fractions)
    starts = np.concatenate(([0], np.cumsum(available)[:-1]))
    sorted_labels = labels[pool]
    rank_in_class = np.arange(len(pool)) - starts[sorted_labels]
    pool = pool[rank_in_class < class_sizes[sorted_labels]]
    total = len(pool)
    if total < num_clients:
        raise InputError(f"'num_clients' must be <= the {total} samples left after global imbalance "
                         f"(got {num_clients}).")

    sizes = _client_sizes(total, num_clients, size_skew, size_sigma, rng)
    if local_imbalance == "none":
        owner = rng.permutation(np.repeat(np.arange(num_clients), sizes))
    elif local_imbalance == "classes":
        # Client i's quota in classes_per_client near-equal shards (some empty if it is smaller).
        shard_sizes = (sizes // classes_per_client)[:, None] + (
            np.arange(classes_per_client)[None, :] < (sizes % classes_per_client)[:, None])
        shard_owner = np.repeat(np.arange(num_clients), classes_per_client)
        order = rng.permutation(num_clients * classes_per_client)
        owner = np.repeat(shard_owner[order], shard_sizes.ravel()[order])
    else:
        counts = _dirichlet_counts(class_sizes, sizes, dirichlet_alpha, rng)
        owner = np.repeat(np.tile(np.arange(num_clients), k), counts.T.ravel())

    # Random order within each client, then one index array per client.
    shuffle = rng.permutation(total)
    pool, owner = pool[shuffle], owner[shuffle]
    grouped = pool[np.argsort(owner, kind="stable")]
    return Partition(labels=labels, client_indices=tuple(np.split(grouped, np.cumsum(sizes)[:-1])))


# --------------------------------------------------------------------------------------------
# Configuration and the federated data of a run
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Everything that determines a run's federated data.

    Parameters
    ----------
    dataset : str
        A key of :data:`DATASETS`.
    samples, test_samples : int, optional
        Generated sets only: training samples (after global imbalance) and test samples.
    num_clients : int
        Clients to create (the papers: 500 for EMNIST, 100 for CINIC-10).
    global_imbalance, imbalance_ratio : str, float
        Class-frequency shape and rarest/largest ratio in (0, 1]. Default: TPDS's half-normal, 0.1.
    local_imbalance, classes_per_client, dirichlet_alpha : str, int, float
        Per-client label skew; default two shards (classes) per client.
    size_skew, size_sigma : str, float
        Client sizes: ``"equal"`` or lognormal-``"skewed"`` with this sigma.
    seed : int
        One seed for the data and, through an independent stream, the partition.
    """

    dataset: str = "digits"
    samples: int | None = None
    test_samples: int | None = None
    num_clients: int = 100
    global_imbalance: str = "half-normal"
    imbalance_ratio: float = 0.1
    local_imbalance: str = "classes"
    classes_per_client: int = 2
    dirichlet_alpha: float = 0.5
    size_skew: str = "equal"
    size_sigma: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        spec = _dataset_spec(self.dataset)
        set_ = functools.partial(object.__setattr__, self)
        set_("num_clients", check_int("num_clients", self.num_clients, minimum=1))
        set_("seed", check_int("seed", self.seed, minimum=0, maximum=2**32 - 1))
        _one_of("global_imbalance", self.global_imbalance, GLOBAL_IMBALANCE_KINDS)
        set_("imbalance_ratio", check_number("imbalance_ratio", self.imbalance_ratio,
                                             exclusive_minimum=0.0, maximum=1.0))
        _one_of("local_imbalance", self.local_imbalance, LOCAL_IMBALANCE_KINDS)
        set_("classes_per_client", check_int("classes_per_client", self.classes_per_client,
                                             minimum=1, maximum=spec.num_classes))
        set_("dirichlet_alpha", check_number("dirichlet_alpha", self.dirichlet_alpha, exclusive_minimum=0.0))
        _one_of("size_skew", self.size_skew, SIZE_SKEW_KINDS)
        set_("size_sigma", check_number("size_sigma", self.size_sigma, minimum=0.0))
        if spec.generated:
            samples = spec.default_samples if self.samples is None else self.samples
            set_("samples", check_int("samples", samples, minimum=1))
            test_samples = spec.default_test_samples if self.test_samples is None else self.test_samples
            set_("test_samples", check_int("test_samples", test_samples, minimum=1))
            if self.samples < self.num_clients:
                raise must("num_clients", f"be <= 'samples' ({self.samples})", self.num_clients)
        else:
            for arg in ("samples", "test_samples"):
                if getattr(self, arg) is not None:
                    raise must(arg, f"be unset for the fixed dataset {spec.name!r}", getattr(self, arg))

    @property
    def spec(self) -> DatasetSpec:
        return DATASETS[self.dataset]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for a run's ``run.json``."""
        return asdict(self)


@dataclass(frozen=True, eq=False, kw_only=True)
class FederatedData:
    """A run's data: the clients' training samples, the test set and who holds what.

    ``train`` holds exactly the samples the clients hold (after global imbalance), client by client:
    client ``k`` owns rows ``offsets[k]:offsets[k + 1]``, so :meth:`client_data` returns views, not
    copies. ``partition`` indexes ``train``; ``source_indices[i]`` is the row of the loaded training
    split that row ``i`` came from (generated sets are generated in this order, so it is ``arange``).
    """

    config: DataConfig
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


def _partitioned(config: DataConfig) -> tuple[Partition, torch.Tensor, DatasetSplit | None]:
    """Who holds which sample: the partition of the training labels (generated sets: the labels
    alone, no pixels yet), the labels it indexes, and the loaded split of a fixed dataset."""
    if not isinstance(config, DataConfig):
        raise must("config", "be a DataConfig", type(config).__name__)
    spec = config.spec
    split_kwargs: dict[str, Any] = dict(
        num_clients=config.num_clients, local_imbalance=config.local_imbalance,
        classes_per_client=config.classes_per_client, dirichlet_alpha=config.dirichlet_alpha,
        size_skew=config.size_skew, size_sigma=config.size_sigma,
        seed=_derive_seed(config.seed, _STREAM_PARTITION), num_classes=spec.num_classes)
    if spec.generated:
        fractions = class_fractions(config.global_imbalance, spec.num_classes, config.imbalance_ratio)
        labels = _generated_labels(int(config.samples or 0), fractions, _derive_seed(config.seed, _STREAM_LABELS))
        return partition(labels, **split_kwargs), labels, None
    split = load_dataset(spec.name, seed=config.seed)
    source = partition(split.train.y, global_imbalance=config.global_imbalance,
                       imbalance_ratio=config.imbalance_ratio, **split_kwargs)
    return source, split.train.y, split


def client_labels(config: DataConfig) -> tuple[np.ndarray, ...]:
    """Each client's training labels, in the order :func:`build_federated_data` gives them, without
    generating any pixels (a fixed dataset such as the digits is still loaded), for planning a run's
    workload (:mod:`reference_impl.workload`)."""
    source, labels, _ = _partitioned(config)
    y = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return tuple(y[np.asarray(indices, dtype=np.int64)] for indices in source.client_indices)


def build_federated_data(config: DataConfig) -> FederatedData:
    """Load or generate ``config.dataset``, impose the imbalances, and lay the clients out.

    Generated sets get their labels drawn with the global-imbalance frequencies (exactly
    ``config.samples`` of them), are partitioned, and only then get their pixels, generated directly
    in client order (no copy). The digits are subsampled and partitioned, then gathered client by
    client once.
    """
    source, labels, split = _partitioned(config)
    spec = config.spec
    if spec.generated:
        test_samples = int(config.test_samples or 0)  # set by DataConfig
        order = np.concatenate(source.client_indices)
        x = _generated_images(len(order), spec.sample_shape, config.seed)
        y = labels[torch.from_numpy(order)]
        test_seed = _derive_seed(config.seed, _STREAM_TEST_SET)
        test = Dataset(name=spec.name, x=_generated_images(test_samples, spec.sample_shape, test_seed),
                       y=_generated_labels(test_samples, np.ones(spec.num_classes),
                                           _derive_seed(test_seed, _STREAM_LABELS)),
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

